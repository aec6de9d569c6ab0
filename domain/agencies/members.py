"""Who belongs to which agency, and who may manage whom.

Every person and display screen belongs to one agency: field ``agency`` of its account hash
(``wf:user:<name>``, domain/access/keys.py). An account without one belongs to the **host fusion
center**: it sees public items and what agencies share with all partners, never an agency's
restricted items (domain/agencies/access.py). The agency's TLP ceiling caps what its members receive
(domain/access/tlp.py max_marking).

An **agency administrator** is an admin whose account has an agency: it manages only the people and
sources of its own agency. The host center's admins (no agency) manage every agency and person.
"""

from __future__ import annotations

from typing import Any

import redis

from domain.access.accounts import AccountStore, Role, User
from domain.access.keys import AccountKeys
from domain.agencies.store import AgencyStore
from domain.errors import AboveMarking

__all__ = ["HOST", "OtherAgency", "agency_of", "can_manage", "manages_agency", "members", "set_agency", "visible_accounts"]

HOST = "host fusion center"


class OtherAgency(AboveMarking):
    """403: an agency administrator acting on another agency's people or sources."""


def agency_of(client: redis.Redis, name: str) -> str | None:
    stored = client.hget(AccountKeys.user(name), "agency")
    return stored.decode() if stored else None


def set_agency(client: redis.Redis, name: str, code: str | None, *, by: Any = None) -> User:
    """Make account ``name`` a member of agency ``code`` (None or "none": the host center).

    ``by`` (an admin account) must be allowed to manage both the person and the agency (Forbidden)."""
    accounts = AccountStore(client)
    user = accounts.require(name)
    target = None if code is None or str(code).strip().lower() in ("", "none", "host") else AgencyStore(client).require(code).code
    if by is not None and not (can_manage(by, user) and manages_agency(by, target)):
        raise OtherAgency(f"agency: {by.name} manages only the people of {by.agency or HOST}")
    if target is None:
        client.hdel(AccountKeys.user(name), "agency")
    else:
        client.hset(AccountKeys.user(name), "agency", target)
    return accounts.require(name)


def members(client: redis.Redis, code: str) -> list[User]:
    agency = AgencyStore(client).require(code)
    return [u for u in AccountStore(client).list() if u.agency == agency.code]


def manages_agency(admin: Any, code: str | None) -> bool:
    """True when ``admin`` may act for agency ``code`` (None: the host center)."""
    role = getattr(admin, "role", None)
    if role is not Role.ADMIN:
        return False
    mine = getattr(admin, "agency", "") or None
    return mine is None or mine == code


def can_manage(admin: Any, user: User) -> bool:
    """True when ``admin`` may list, add, disable or re-assign ``user``."""
    return manages_agency(admin, user.agency or None)


def visible_accounts(client: redis.Redis, admin: Any) -> list[User]:
    """The accounts ``admin`` may list: every one for the host center's admins, its own agency's else."""
    return [u for u in AccountStore(client).list() if can_manage(admin, u)]
