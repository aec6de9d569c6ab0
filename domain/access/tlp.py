"""TLP 2.0 sharing markings, enforced on the server.

Every incident, annotation, alert and export carries exactly one label, spelled exactly as FIRST
spells it: ``TLP:CLEAR`` < ``TLP:GREEN`` < ``TLP:AMBER`` < ``TLP:AMBER+STRICT`` < ``TLP:RED``.

Every account (people, display screens, partners) has a **maximum marking**: the highest label it
may receive. It is stored on the account (field ``tlp`` of ``wf:user:<name>``, set with
``watchfloor tlp set NAME LABEL``); without one the role decides:
    display, viewer          TLP:GREEN   (a wall is seen by visitors; a viewer is not on the need-to-know list)
    operator                 TLP:AMBER
    supervisor, admin        TLP:RED

A stored value can lower or raise that. Incidents from public feeds are ``TLP:CLEAR`` unless their
event says otherwise (``tlp`` field); an annotation's marking applies to the annotation.

``visible(marking, user)`` is the one check; whatever is above the user's maximum is never
returned (the API answers 403 and writes an audit record).
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import redis

from domain.access.accounts import AccountStore
from domain.access.audit import request_context
from domain.access.keys import AccountKeys
from domain.agencies.keys import AgencyKeys
from domain.errors import WatchfloorError


class TLPError(WatchfloorError, ValueError):
    """Not a TLP 2.0 label; the message lists the five."""


class TLP(str, Enum):
    CLEAR = "TLP:CLEAR"
    GREEN = "TLP:GREEN"
    AMBER = "TLP:AMBER"
    AMBER_STRICT = "TLP:AMBER+STRICT"
    RED = "TLP:RED"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, marking: TLP | str) -> bool:
        """True when a holder of this maximum may receive ``marking``."""
        return parse(marking).rank <= self.rank

    @classmethod
    def labels(cls) -> list[str]:
        return [m.value for m in cls]


_RANK = {m: i for i, m in enumerate(TLP)}

ROLE_DEFAULT = {
    "display": TLP.GREEN,
    "viewer": TLP.GREEN,
    "operator": TLP.AMBER,
    "supervisor": TLP.RED,
    "admin": TLP.RED,
}
DEFAULT_INCIDENT = TLP.CLEAR


def parse(value: TLP | str | None) -> TLP:
    """The label spelled exactly (``TLP:AMBER+STRICT``); anything else is a TLPError."""
    if isinstance(value, TLP):
        return value
    for member in TLP:
        if member.value == value:
            return member
    raise TLPError(f"{str(value)[:40]!r} is not a TLP 2.0 label; use one of {', '.join(TLP.labels())}")


def highest(*markings: TLP | str | None) -> TLP:
    """The most restrictive of the labels given (None ignored); TLP:CLEAR for none."""
    found = [parse(m) for m in markings if m]
    return max(found, key=lambda m: m.rank) if found else TLP.CLEAR


def _client(client: redis.Redis | None) -> redis.Redis | None:
    if client is not None:
        return client

    ctx = request_context.get()
    return ctx.get_client() if ctx is not None else None


def max_marking(user: Any, client: redis.Redis | None = None) -> TLP:
    """The highest label ``user`` may receive: the account's stored ``tlp``, else its role's default,
    capped by the ceiling of the account's agency (field ``agency``) when it has one.

    ``user`` is a domain.access.accounts.User (or anything with ``name`` and ``role``), or a TLP label
    (a ceiling given directly, e.g. a channel's). No user: TLP:CLEAR."""
    if user is None:
        return TLP.CLEAR
    if isinstance(user, (TLP, str)):
        return parse(user)
    role = getattr(getattr(user, "role", None), "value", getattr(user, "role", "viewer"))
    default = ROLE_DEFAULT.get(str(role), TLP.CLEAR)
    redis_client = _client(client)
    if redis_client is None:
        return default
    stored, agency = redis_client.hmget(AccountKeys.user(user.name), ["tlp", "agency"])
    try:
        mine = parse(stored.decode()) if stored else default
    except TLPError:
        return TLP.CLEAR  # a damaged value grants nothing
    if not agency:
        return mine
    # The agency's ceiling caps its members (a member of an agency since removed receives TLP:CLEAR).
    cap = redis_client.hget(AgencyKeys.agency(agency.decode()), "tlp")
    try:
        ceiling = parse(cap.decode()) if cap else TLP.CLEAR
    except TLPError:
        ceiling = TLP.CLEAR
    return min(mine, ceiling, key=lambda m: m.rank)


def visible(marking: TLP | str | None, user: Any, client: redis.Redis | None = None) -> bool:
    """True when ``user`` (or a ceiling label) may receive something marked ``marking``.

    A missing marking counts as TLP:CLEAR; a malformed one as TLP:RED (fail closed)."""
    try:
        label = parse(marking) if marking else TLP.CLEAR
    except TLPError:
        label = TLP.RED
    return max_marking(user, client).allows(label)


def set_max_marking(client: redis.Redis, name: str, marking: TLP | str | None) -> TLP:
    """Store an account's maximum marking (None: back to the role's default); the effective one.

    Takes effect on the next request: the marking is read from Redis every time."""

    store = AccountStore(client)
    user = store.require(name)
    if marking is None:
        client.hdel(AccountKeys.user(name), "tlp")
    else:
        client.hset(AccountKeys.user(name), "tlp", parse(marking).value)
    return max_marking(user, client)


def incident_marking(record: dict[str, Any] | None) -> TLP:
    """The label of an incident or event dict: its ``tlp`` (or ``extra.tlp``), else TLP:CLEAR."""
    if not isinstance(record, dict):
        return DEFAULT_INCIDENT
    value = record.get("tlp") or (record.get("extra") or {}).get("tlp")
    if not value:
        return DEFAULT_INCIDENT
    try:
        return parse(value)
    except TLPError:
        return TLP.RED
