"""Per-source sharing defaults, and the one resolver of the rule a new report carries.

An agency may mark one of its sources (a pushed feed, or a configured feed it owns) with its own
rule: ``watchfloor agency source CODE SOURCE RULE`` or the admin page. The rule a report carries is
resolved once, when it is ingested (pushed or polled), in this order::

    the item's own rule (a pushed item's override)  >  the source's default  >  the agency's default

and stored on the event (``event.agency``, ``event.sharing``), so readers never resolve it again.
"""

from __future__ import annotations

import re

import redis

from domain.agencies.keys import AgencyKeys
from domain.agencies.sharing import ALL, OWN, Rule, parse_rule
from domain.agencies.store import AgencyError, AgencyStore, check_code
from domain.errors import Invalid, NotFound

__all__ = ["check_source", "clear_source_rule", "rule_for", "set_source_rule", "source_rules"]

_SOURCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,79}$")


def check_source(source_id: str) -> str:
    """The source id as given, or AgencyError saying what one may hold."""
    value = (source_id or "").strip()
    if not _SOURCE.match(value):
        raise AgencyError(f"source: {source_id[:30]!r} is not a source id; use up to 80 letters, digits and . _ : -")
    return value


def set_source_rule(client: redis.Redis, code: str, source_id: str, rule: str | Rule) -> Rule:
    """Store agency ``code``'s default rule for its source ``source_id``; the parsed rule."""
    agency = AgencyStore(client).require(code)
    parsed = parse_rule(rule)
    client.hset(AgencyKeys.sources(agency.code), check_source(source_id), str(parsed))
    return parsed


def clear_source_rule(client: redis.Redis, code: str, source_id: str) -> None:
    """Forget a source's own rule (its reports fall back to the agency's default)."""
    agency = AgencyStore(client).require(code)
    if not client.hdel(AgencyKeys.sources(agency.code), check_source(source_id)):
        raise NotFound(f"source: {agency.code} has no rule for {source_id[:30]!r}")


def source_rules(client: redis.Redis, code: str) -> dict[str, str]:
    """Every source of agency ``code`` that has its own rule: source id -> rule text."""
    agency = AgencyStore(client).require(code)
    raw = client.hgetall(AgencyKeys.sources(agency.code))
    return {k.decode(): v.decode() for k, v in sorted(raw.items())}


def rule_for(client: redis.Redis, agency_code: str | None, source_id: str | None = None,
             item_rule: str | Rule | None = None) -> Rule:
    """The rule a report of ``agency_code``'s source ``source_id`` carries: the item's own rule when
    given (SharingError when malformed: refuse the item), else the source's default, else the agency's.

    No agency: :data:`ALL` (a public report). An agency that no longer exists, or a damaged stored
    rule: :data:`OWN` (fail closed)."""
    if item_rule is not None and str(item_rule).strip():
        return parse_rule(item_rule, field="sharing")
    if not agency_code:
        return ALL
    try:
        code = check_code(agency_code)
    except AgencyError:
        return OWN
    with client.pipeline(transaction=False) as pipe:
        pipe.hget(AgencyKeys.sources(code), source_id or "")
        pipe.hget(AgencyKeys.agency(code), "sharing")
        pipe.exists(AgencyKeys.agency(code))
        by_source, by_agency, exists = pipe.execute()
    if not exists:
        return OWN
    for stored in (by_source, by_agency):
        if stored:
            try:
                return parse_rule(stored.decode())
            except Invalid:
                return OWN
    return ALL
