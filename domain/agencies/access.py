"""The one check: may this reader see this item? TLP *and* the owner's sharing rule.

A **reader** is worked out once per request (:func:`reader_for`): the account's maximum marking
(already capped by its agency's ceiling, domain/access/tlp.py max_marking) and its agency. Every
screen, API, export and product asks :func:`may_see` (or, with the reader in hand,
:meth:`Reader.sees`), so the two halves are never checked apart.

Items carry their owner as they are stored::

    annotation, alert, report, entity    {"agency": "MBTA", "sharing": "own", "tlp": ...}
    incident                             {"owners": [{"agency", "sharing", "event_id"}], "reports": [...]}

An item without an owner is public (shared with all). An incident is seen when TLP allows it and at
least one of its reports is: a public report (no entry in ``owners``) always is; an owned one when its
rule allows the reader's agency. A reader who sees only some reports gets the incident trimmed to
them (:func:`redact`). A reader with no agency is the host fusion center: it sees public items and
those shared with all partners, never an agency's "own" or listed items (being made a member of
that agency, or listed in its rule, is how one sees them). A plain TLP label given where a reader
is expected is such a reader, so a forgotten reader never widens what is shown.

The sharing half is a string comparison or a set lookup (rules are parsed once per text), so the
check stays cheap on pictures of 100,000 incidents (bench/sharing.py measures it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import redis

from domain.access.keys import AccountKeys
from domain.access.tlp import TLP, TLPError, max_marking, parse
from domain.agencies.keys import AgencyKeys
from domain.agencies.sharing import parse_rule
from domain.errors import AboveMarking, Invalid

__all__ = ["SERVER", "NotShared", "Reader", "agency_allows", "as_reader", "may_see", "owner_fields", "owner_text",
           "reader_for", "redact", "refuse_unshared", "shared_with", "visible_reports"]


class NotShared(AboveMarking):
    """403, like a TLP refusal: the owner's sharing rule does not include the reader's agency."""


@dataclass(frozen=True)
class Reader:
    """Who reads: a TLP ceiling and an agency (None: the host center). Stands in for a TLP ceiling
    (``allows``, ``value``, ``rank``), so code that filtered by a ceiling filters by both halves."""

    ceiling: TLP = TLP.CLEAR
    agency: str | None = None
    everything: bool = False  # the server's own computations (never a person)
    labels: frozenset[str] = field(default=frozenset(), compare=False, repr=False)  # the labels it may receive

    def __post_init__(self) -> None:
        # Worked out once per reader: the TLP half is then a set lookup, not a parse per incident.
        object.__setattr__(self, "labels", frozenset(m.value for m in TLP if m.rank <= self.ceiling.rank))

    @property
    def value(self) -> str:
        return self.ceiling.value

    @property
    def rank(self) -> int:
        return self.ceiling.rank

    def allows(self, marking: TLP | str) -> bool:
        return self.ceiling.allows(marking)

    def sees(self, item: dict[str, Any] | None) -> bool:
        """TLP and the sharing rule both allow ``item`` (an incident, annotation, alert, report...)."""
        if not isinstance(item, dict):
            return False
        label = item.get("tlp") or (item.get("extra") or {}).get("tlp") or "TLP:CLEAR"
        if label not in self.labels:  # (a malformed label is in no set: fail closed)
            return False
        return self.everything or shared_with(item, self.agency)


SERVER = Reader(TLP.RED, None, everything=True)


@lru_cache(maxsize=1024)
def _listed(text: str) -> frozenset[str] | None:
    """The agencies a stored ``agencies:...`` rule lists; None for a damaged rule."""
    try:
        return parse_rule(text).agencies
    except Invalid:
        return None


def agency_allows(owner: str | None, sharing: str | None, reader: str | None) -> bool:
    """The sharing half for one owned thing: public, the reader's own, shared with all, or listed."""
    if not owner or owner == reader or not sharing or sharing == "all":
        return True
    if reader is None or sharing == "own":
        return False
    listed = _listed(sharing)
    return listed is not None and reader in listed  # a damaged rule shares nothing (fail closed)


def shared_with(item: dict[str, Any], reader: str | None) -> bool:
    owners = item.get("owners")
    if not owners:
        return agency_allows(item.get("agency"), item.get("sharing"), reader)
    owned = {o.get("event_id") for o in owners}
    if any(r.get("event_id") not in owned for r in item.get("reports") or []):
        return True  # a public report: the incident is everyone's (its owned reports may still be hidden)
    return any(agency_allows(o.get("agency"), o.get("sharing"), reader) for o in owners)


def visible_reports(incident: dict[str, Any], reader: Reader) -> list[dict[str, Any]]:
    """The incident's reports this reader may see (every one for the server)."""
    reports = incident.get("reports") or []
    owners = incident.get("owners")
    if reader.everything or not owners:
        return list(reports)
    hidden = {o.get("event_id") for o in owners if not agency_allows(o.get("agency"), o.get("sharing"), reader.agency)}
    return [r for r in reports if r.get("event_id") not in hidden]


def redact(incident: dict[str, Any], reader: Reader) -> dict[str, Any]:
    """The incident as this reader may see it: only its visible reports and their owners; the title of
    its public reports when some are hidden (the same dict when nothing is hidden)."""
    owners = incident.get("owners")
    if not owners or reader.everything:
        return incident
    reports = visible_reports(incident, reader)
    if len(reports) == len(incident.get("reports") or []):
        return incident
    kept = {r.get("event_id") for r in reports}
    out = dict(incident, reports=reports, owners=[o for o in owners if o.get("event_id") in kept],
               corroboration=len({r.get("source") for r in reports}))
    if incident.get("open_title"):
        out["title"] = incident["open_title"]
    return out


def _account_agency(user: Any, client: redis.Redis | None) -> str | None:
    known = getattr(user, "agency", None)
    if known is not None:
        return known or None
    if client is None or not getattr(user, "name", None):
        return None
    stored = client.hget(AccountKeys.user(user.name), "agency")
    return stored.decode() if stored else None


def reader_for(user: Any, client: redis.Redis | None = None) -> Reader:
    """The reader ``user`` is (worked out once per request): its capped ceiling and its agency.

    ``user`` may be an account, a TLP label (a reader of no agency), a Reader, or None (TLP:CLEAR)."""
    if isinstance(user, Reader):
        return user
    if user is None:
        return Reader(TLP.CLEAR)
    if isinstance(user, (TLP, str)):
        try:
            return Reader(parse(user))
        except TLPError:
            return Reader(TLP.CLEAR)
    return Reader(max_marking(user, client), _account_agency(user, client))


as_reader = reader_for


def may_see(item: dict[str, Any] | None, user: Any, client: redis.Redis | None = None) -> bool:
    """True when ``user`` (an account, a Reader or a TLP label) may see ``item``: TLP and sharing."""
    return reader_for(user, client).sees(item)


def owner_fields(client: redis.Redis, user: Any, sharing: Any = None) -> dict[str, str]:
    """What a new annotation, alert, report or entity records of its owner: ``agency`` (the maker's)
    and ``sharing`` (``sharing`` when given, SharingError if malformed; else the agency's default).
    Nothing for a maker of no agency (the host center): the item is shared with all, as before."""
    agency = _account_agency(user, client) if user is not None and not isinstance(user, (TLP, str)) else None
    if not agency:
        return {}
    if sharing is not None and str(sharing).strip():
        return {"agency": agency, "sharing": str(parse_rule(str(sharing)))}
    stored = client.hget(AgencyKeys.agency(agency), "sharing")
    try:
        rule = parse_rule(stored.decode()) if stored else parse_rule("all")
    except Invalid:
        rule = parse_rule("own")
    return {"agency": agency, "sharing": str(rule)}


def refuse_unshared(item: dict[str, Any], reader: Reader, what: str) -> None:
    """NotShared (403, audited by the API like a TLP refusal) when the rule hides ``item``."""
    if not reader.everything and not shared_with(item, reader.agency):
        raise NotShared(f"the {what} is shared with its owner's agency ({item.get('agency') or 'its owners'}) "
                        "and not with yours")


def owner_text(item: dict[str, Any]) -> str:
    """One line for provenance: "MBTA, own agency only" ("public" for an item nobody owns)."""
    if not item.get("agency"):
        return "public"
    rule = item.get("sharing") or "all"
    try:
        said = parse_rule(rule).describe()
    except Invalid:
        said = "own agency only"
    return f"{item['agency']}, {said}"
