"""Agencies: the organisations a fusion center brings together, as first-class records.

An agency has a short code (``BFD``, ``MBTA``: upper-case letters, digits and ``-``, up to 16), a
name, a kind (:data:`KINDS`), a contact, its own TLP ceiling (none of its people or screens receives
more, whatever their own maximum says) and its default sharing rule (domain/agencies/sharing.py) for
what it contributes. Records live in Redis (domain/agencies/keys.py), so every web process and worker
reads the same ones.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis

from domain.access.tlp import TLP, TLPError, parse
from domain.agencies.keys import AgencyKeys
from domain.agencies.sharing import ALL, Rule, parse_rule
from domain.errors import Invalid, NotFound

__all__ = ["KINDS", "Agency", "AgencyError", "AgencyStore", "UnknownAgency", "check_code"]

KINDS = {
    "law-enforcement": "law enforcement",
    "fire-ems": "fire and EMS",
    "emergency-management": "emergency management",
    "public-health": "public health",
    "transit": "transit",
    "private-sector": "private sector",
    "federal": "federal",
}
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,15}$")
_MAX_NAME = 120


class AgencyError(Invalid):
    """An agency record that cannot be made as asked; the message names the field."""


class UnknownAgency(NotFound):
    """No agency with that code."""


def check_code(code: str) -> str:
    """The code upper-cased, or AgencyError saying what a code may hold."""
    value = (code or "").strip().upper()
    if not _CODE.match(value):
        raise AgencyError(f"code: {code[:20]!r} is not an agency code; use 1 to 16 letters, digits and -, "
                          "starting with a letter or digit (e.g. BFD)")
    return value


def _clean_text(name: str, value: str, limit: int, required: bool) -> str:
    text = " ".join((value or "").split())
    if required and not text:
        raise AgencyError(f"{name}: is empty")
    if len(text) > limit:
        raise AgencyError(f"{name}: longer than {limit} characters")
    if any(ord(ch) < 32 or ch in "<>" or 0x202A <= ord(ch) <= 0x202E or 0x2066 <= ord(ch) <= 0x2069 for ch in text):
        raise AgencyError(f"{name}: holds markup, control or direction characters")
    return text


def _kind(value: str) -> str:
    kind = (value or "").strip().lower().replace(" ", "-").replace("_", "-")
    if kind not in KINDS:
        raise AgencyError(f"kind: {value[:30]!r} is not one of {', '.join(KINDS)}")
    return kind


def _ceiling(value: str | TLP | None) -> TLP:
    try:
        return parse(value or TLP.AMBER)
    except TLPError as exc:
        raise AgencyError(f"tlp: {exc}") from None


@dataclass(frozen=True)
class Agency:
    code: str
    name: str
    kind: str = "law-enforcement"
    contact: str = ""
    tlp: TLP = TLP.AMBER
    sharing: Rule = field(default=ALL)
    created: float = 0.0
    by: str = ""

    def public(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "kind": self.kind, "kind_title": KINDS.get(self.kind, self.kind),
                "contact": self.contact, "tlp": self.tlp.value, "sharing": str(self.sharing),
                "sharing_title": self.sharing.describe(), "created": self.created, "by": self.by}

    @classmethod
    def from_hash(cls, code: str, raw: dict[bytes, bytes]) -> Agency:
        data = {k.decode(): v.decode("utf-8", "replace") for k, v in raw.items()}
        try:
            sharing = parse_rule(data.get("sharing"))
        except Invalid:
            sharing = parse_rule("own")  # a damaged rule shares nothing beyond the owner (fail closed)
        try:
            ceiling = parse(data.get("tlp") or TLP.CLEAR)
        except TLPError:
            ceiling = TLP.CLEAR  # a damaged ceiling grants nothing
        return cls(code=code, name=data.get("name", code), kind=data.get("kind", ""), contact=data.get("contact", ""),
                   tlp=ceiling, sharing=sharing, created=float(data.get("created") or 0), by=data.get("by", ""))


class AgencyStore:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def add(self, code: str, name: str, *, kind: str = "law-enforcement", contact: str = "",
            tlp: str | TLP | None = None, sharing: str | Rule | None = None, by: str = "") -> Agency:
        agency = Agency(code=check_code(code), name=_clean_text("name", name, _MAX_NAME, True), kind=_kind(kind),
                        contact=_clean_text("contact", contact, 200, False), tlp=_ceiling(tlp),
                        sharing=parse_rule(sharing), created=time.time(), by=by)
        key = AgencyKeys.agency(agency.code)
        if not self.client.hsetnx(key, "name", agency.name):  # the code is taken: change nothing
            existing = self.get(agency.code)
            raise AgencyError(f"code: {agency.code} already names {existing.name if existing else 'an agency'}; "
                              f"`watchfloor agency update {agency.code}` changes it")
        with self.client.pipeline() as pipe:
            pipe.hset(key, mapping={"kind": agency.kind, "contact": agency.contact, "tlp": agency.tlp.value,
                                    "sharing": str(agency.sharing), "created": agency.created, "by": by})
            pipe.sadd(AgencyKeys.AGENCIES, agency.code)
            pipe.execute()
        return agency

    def update(self, code: str, *, name: str | None = None, kind: str | None = None, contact: str | None = None,
               tlp: str | TLP | None = None, sharing: str | Rule | None = None) -> Agency:
        agency = self.require(code)
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = _clean_text("name", name, _MAX_NAME, True)
        if kind is not None:
            changes["kind"] = _kind(kind)
        if contact is not None:
            changes["contact"] = _clean_text("contact", contact, 200, False)
        if tlp is not None:
            changes["tlp"] = _ceiling(tlp).value
        if sharing is not None:
            changes["sharing"] = str(parse_rule(sharing))
        if changes:
            self.client.hset(AgencyKeys.agency(agency.code), mapping=changes)
        return self.require(agency.code)

    def get(self, code: str | None) -> Agency | None:
        if not code:
            return None
        value = str(code).strip().upper()
        if not _CODE.match(value):
            return None
        raw = self.client.hgetall(AgencyKeys.agency(value))
        return Agency.from_hash(value, raw) if raw else None

    def require(self, code: str) -> Agency:
        agency = self.get(check_code(code))
        if agency is None:
            raise UnknownAgency(f"no agency {code.strip().upper()[:20]}; `watchfloor agency list` shows them")
        return agency

    def list(self) -> list[Agency]:
        codes = sorted(c.decode() for c in self.client.smembers(AgencyKeys.AGENCIES))
        with self.client.pipeline(transaction=False) as pipe:
            for code in codes:
                pipe.hgetall(AgencyKeys.agency(code))
            raws = pipe.execute()
        return [Agency.from_hash(code, raw) for code, raw in zip(codes, raws, strict=True) if raw]

    def remove(self, code: str) -> Agency:
        """Remove an agency and every push token it holds (its tokens stop working at once)."""
        agency = self.require(code)
        digests = [_token_digest(v) for v in self.client.hvals(AgencyKeys.tokens(agency.code))]
        with self.client.pipeline() as pipe:
            pipe.delete(AgencyKeys.agency(agency.code), AgencyKeys.tokens(agency.code), AgencyKeys.sources(agency.code),
                        AgencyKeys.pushed_sources(agency.code), AgencyKeys.pushes(agency.code))
            pipe.srem(AgencyKeys.AGENCIES, agency.code)
            for digest in digests:
                if digest:
                    pipe.delete(AgencyKeys.token(digest))
            pipe.execute()
        return agency


def _token_digest(raw: bytes) -> str:
    """The digest field of a stored token record ('' when damaged)."""
    try:
        return str(orjson.loads(raw).get("digest", ""))
    except (orjson.JSONDecodeError, AttributeError):
        return ""
