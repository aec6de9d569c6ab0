"""Share links: a read-only link to one incident, one workspace or a briefing, scoped and expiring.

A link carries a random 256-bit token; only its SHA-256 is stored (``wf:share:<digest>``, expiring
with the link), so a copy of the store cannot be turned back into links. Each link has a **ceiling**:
the highest TLP marking its holder may receive, at most its creator's own. What the link shows is
computed when it is opened, at that ceiling: an incident since marked above it is refused, and a
workspace or briefing leaves out what is above it. So a link handed on is useless for content above
its level. Links expire (at most MAX_HOURS), are revoked by their creator or a supervisor, and every
use, refused ones included, is in the audit trail.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

import orjson
import redis

from domain.access.audit import audit
from domain.access.tlp import TLP, TLPError, max_marking
from domain.access.tlp import parse as parse_tlp
from domain.agencies.access import reader_for
from domain.errors import AboveMarking, Invalid, NotFound
from domain.picture.keys import IncidentKeys
from domain.products.keys import ProductKeys

KINDS = ("incident", "workspace", "briefing")
MAX_HOURS = 7 * 24
DEFAULT_HOURS = 24


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(client: redis.Redis, *, kind: str, target: str, creator: Any, hours: float = DEFAULT_HOURS,
           tlp: str | None = None, recipient: str = "", source: str | None = None) -> tuple[str, dict[str, Any]]:
    """A new link; (the token, shown once; the record). ``creator`` is a user (or None: the host's CLI)."""
    if kind not in KINDS:
        raise Invalid(f"kind: one of {', '.join(KINDS)}")
    target = str(target or "").strip()[:200]
    if not target and kind != "briefing":
        raise Invalid(f"target: name the {kind} to share (its id)")
    try:
        hours = float(hours)
    except (TypeError, ValueError):
        raise Invalid("hours: a number of hours") from None
    if not 0 < hours <= MAX_HOURS:
        raise Invalid(f"hours: between a few minutes and {MAX_HOURS} (a week)")
    top = max_marking(creator, client) if creator is not None else TLP.RED
    try:
        ceiling = parse_tlp(tlp) if tlp else top
    except TLPError as exc:
        raise Invalid(f"tlp: {exc}") from None
    if not top.allows(ceiling):
        raise AboveMarking(f"tlp: {ceiling.value} is above your own maximum {top.value}")
    if kind == "incident":
        raw = client.hget(IncidentKeys.INCIDENTS, target)
        found = orjson.loads(raw) if raw is not None else None
        mine = creator is None or reader_for(creator, client).sees(found)
        if found is None or not mine or not reader_for(ceiling).sees(found):  # (a link's holder is of no agency)
            raise NotFound(f"target: no incident {target[:60]!r} at or below {ceiling.value}")
    token = secrets.token_urlsafe(32)
    now = time.time()
    record = {"id": secrets.token_hex(4), "kind": kind, "target": target, "tlp": ceiling.value,
              "by": getattr(creator, "name", "cli"), "to": str(recipient or "").strip()[:200], "created": now,
              "expires": now + hours * 3600, "revoked": False}
    seconds = int(hours * 3600) + 1
    with client.pipeline() as pipe:
        pipe.set(ProductKeys.share(digest(token)), orjson.dumps(record), ex=seconds)
        pipe.set(ProductKeys.share_id(record["id"]), digest(token), ex=seconds)
        pipe.zadd(ProductKeys.SHARES, {record["id"]: record["expires"]})
        pipe.execute()
    audit("share.create", record=record["id"], reason=f"{kind} {target[:80]} at {ceiling.value} for {hours:g} h "
          f"to {record['to'] or '(not said)'}", user=record["by"], source=source, client=client)
    return token, record


def use(client: redis.Redis, token: str, *, source: str | None = None) -> dict[str, Any]:
    """The link's record when it may be used; NotFound otherwise (unknown, expired, revoked). Audited."""
    raw = client.get(ProductKeys.share(digest(token or ""))) if token else None
    record = orjson.loads(raw) if raw else None
    if record is None or record["revoked"] or record["expires"] < time.time():
        why = "unknown or expired" if record is None or not record["revoked"] else "revoked"
        audit("share.use", record=(record or {}).get("id", "?"), outcome="refused", reason=why, user="link",
              source=source, client=client)
        raise NotFound("this link is not valid: it has expired or been withdrawn; ask the sender for a new one")
    audit("share.use", record=record["id"], reason=f"{record['kind']} {record['target'][:80]}", user="link",
          source=source, client=client)
    return record


def revoke(client: redis.Redis, share_id: str, user: Any, *, source: str | None = None) -> dict[str, Any]:
    """Withdraw a link (its creator, or a supervisor and above)."""
    key_digest = client.get(ProductKeys.share_id(share_id))
    raw = client.get(ProductKeys.share(key_digest.decode())) if key_digest else None
    if raw is None:
        raise NotFound(f"no live share link {share_id[:20]!r}")
    record = orjson.loads(raw)
    role = getattr(getattr(user, "role", None), "value", None)
    if user is not None and record["by"] != user.name and role not in ("supervisor", "admin"):
        raise AboveMarking("only its creator or a supervisor withdraws a share link")
    record["revoked"] = True
    client.set(ProductKeys.share(key_digest.decode()), orjson.dumps(record), keepttl=True)
    audit("share.revoke", record=share_id, reason=f"{record['kind']} {record['target'][:80]}",
          user=getattr(user, "name", "cli"), source=source, client=client)
    return record


def listing(client: redis.Redis) -> list[dict[str, Any]]:
    """Live links (not expired), newest first, without tokens."""
    out = []
    now = time.time()
    for raw_id, _expires in client.zrevrangebyscore(ProductKeys.SHARES, "+inf", now, withscores=True):
        key_digest = client.get(ProductKeys.share_id(raw_id.decode()))
        raw = client.get(ProductKeys.share(key_digest.decode())) if key_digest else None
        if raw:
            out.append(orjson.loads(raw))
    client.zremrangebyscore(ProductKeys.SHARES, "-inf", now)
    return out
