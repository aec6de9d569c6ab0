"""What an administrator may do to agencies, people and sources: the rules the admin page applies
(the CLI runs as the host, with every right).

    host center's admin (no agency)   add, change and remove agencies (ceiling included); assign anyone;
                                      set any agency's per-source rules
    agency administrator              its own agency's contact and default sharing rule (never its TLP
                                      ceiling: that is the host's to grant); its own people; its own sources
    anyone else                       nothing (OtherAgency, 403)
"""

from __future__ import annotations

from typing import Any

import redis

from domain.access.accounts import Role, User
from domain.agencies.members import HOST, OtherAgency, can_manage, manages_agency, set_agency, visible_accounts
from domain.agencies.sources import set_source_rule, source_rules
from domain.agencies.store import Agency, AgencyStore, check_code

__all__ = ["add_agency", "assign", "manageable", "manages", "people", "remove_agency", "set_source", "sources_of", "update_agency"]


def _host_only(admin: Any, what: str) -> None:
    if not manages_agency(admin, None):
        raise OtherAgency(f"{what}: only an administrator of the {HOST} may do this; "
                          f"you administer {getattr(admin, 'agency', '') or 'nothing'}")


def _own(admin: Any, code: str, what: str) -> str:
    value = check_code(code)
    if not manages_agency(admin, value):
        raise OtherAgency(f"{what}: you administer {getattr(admin, 'agency', '') or 'nothing'}, not {value}")
    return value


def add_agency(client: redis.Redis, admin: Any, code: str, name: str, *, kind: str, contact: str = "",
               tlp: str | None = None, sharing: str | None = None) -> Agency:
    _host_only(admin, "add an agency")
    return AgencyStore(client).add(code, name, kind=kind, contact=contact, tlp=tlp, sharing=sharing, by=admin.name)


def update_agency(client: redis.Redis, admin: Any, code: str, *, tlp: str | None = None, sharing: str | None = None,
                  contact: str | None = None) -> Agency:
    value = _own(admin, code, "change an agency")
    current = AgencyStore(client).require(value)
    if tlp is not None and tlp != current.tlp.value:
        _host_only(admin, "tlp")
    return AgencyStore(client).update(value, tlp=tlp, sharing=sharing, contact=contact)


def remove_agency(client: redis.Redis, admin: Any, code: str) -> Agency:
    _host_only(admin, "remove an agency")
    return AgencyStore(client).remove(code)


def assign(client: redis.Redis, admin: Any, name: str, code: str | None) -> User:
    """Make ``name`` a member of ``code`` (None: the host center), within ``admin``'s rights."""
    return set_agency(client, name, code, by=admin)


def people(client: redis.Redis, admin: Any) -> list[User]:
    """The accounts ``admin`` manages (its own agency's, or everyone's for the host's admins)."""
    return visible_accounts(client, admin) if getattr(admin, "role", None) is Role.ADMIN else []


def set_source(client: redis.Redis, admin: Any, code: str, source_id: str, rule: str) -> str:
    value = _own(admin, code, "set a source's sharing")
    return str(set_source_rule(client, value, source_id, rule))


def sources_of(client: redis.Redis, admin: Any) -> dict[str, dict[str, str]]:
    """Per-source rules of the agencies ``admin`` manages: {code: {source: rule}}."""
    return {a.code: source_rules(client, a.code) for a in AgencyStore(client).list() if manages_agency(admin, a.code)}


def manageable(admin: Any, user: User) -> bool:
    return can_manage(admin, user)


def manages(admin: Any, code: str | None) -> bool:
    """True when ``admin`` acts for agency ``code`` (its members are counted for it, for one)."""
    return manages_agency(admin, code)
