"""Push tokens: how a partner agency's system proves who it is to ``POST /api/ingest``.

A token is made for one agency (``watchfloor agency token create CODE``), shown once, and kept only
as its SHA-256 digest. It can be listed (id, label, who made it, when, last use) and revoked; revoking
or removing the agency makes it fail at once, on every web process, since it is read from Redis on
every use.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any

import orjson
import redis

from domain.agencies.keys import AgencyKeys
from domain.agencies.store import AgencyError, AgencyStore
from domain.errors import NotFound

__all__ = ["PREFIX", "create", "digest_of", "listing", "mark_used", "resolve", "revoke"]

PREFIX = "wfa_"
_MAX_TOKEN = 200


def digest_of(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def create(client: redis.Redis, code: str, *, by: str = "", label: str = "") -> tuple[str, str]:
    """A new push token for agency ``code``: (the token, shown once; its id)."""
    agency = AgencyStore(client).require(code)
    label = " ".join(label.split())[:80]
    if any(ord(ch) < 32 or ch in "<>" for ch in label):
        raise AgencyError("label: holds markup or control characters")
    token = PREFIX + secrets.token_urlsafe(32)
    token_id = secrets.token_hex(4)
    digest = digest_of(token)
    record = {"digest": digest, "label": label, "by": by, "created": time.time(), "revoked": 0.0}
    with client.pipeline() as pipe:
        pipe.hset(AgencyKeys.tokens(agency.code), token_id, orjson.dumps(record))
        pipe.set(AgencyKeys.token(digest), f"{agency.code} {token_id}")
        pipe.execute()
    return token, token_id


def listing(client: redis.Redis, code: str) -> list[dict[str, Any]]:
    """The agency's tokens, newest first (never the token itself)."""
    agency = AgencyStore(client).require(code)
    rows = []
    for token_id, raw in client.hgetall(AgencyKeys.tokens(agency.code)).items():
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        record.pop("digest", None)
        rows.append({"id": token_id.decode(), **record})
    return sorted(rows, key=lambda r: -float(r.get("created") or 0))


def revoke(client: redis.Redis, code: str, token_id: str) -> dict[str, Any]:
    """Revoke one token; it fails at once. NotFound for an unknown id."""
    agency = AgencyStore(client).require(code)
    raw = client.hget(AgencyKeys.tokens(agency.code), token_id)
    if raw is None:
        raise NotFound(f"token: no token {token_id[:20]!r} for {agency.code}; `watchfloor agency token list "
                       f"{agency.code}` shows them")
    record = orjson.loads(raw)
    if not record.get("revoked"):
        record["revoked"] = time.time()
    with client.pipeline() as pipe:
        pipe.hset(AgencyKeys.tokens(agency.code), token_id, orjson.dumps(record))
        pipe.delete(AgencyKeys.token(str(record.get("digest", ""))))
        pipe.execute()
    record.pop("digest", None)
    return {"id": token_id, **record}


def resolve(client: redis.Redis, token: str | None) -> tuple[str, str] | None:
    """(agency code, token id) for a live token; None for a missing, unknown or revoked one, or one
    whose agency was removed."""
    if not token or len(token) > _MAX_TOKEN or not token.startswith(PREFIX):
        return None
    found = client.get(AgencyKeys.token(digest_of(token)))
    if not found:
        return None
    code, _, token_id = found.decode().partition(" ")
    raw = client.hget(AgencyKeys.tokens(code), token_id)
    if raw is None:
        return None
    record = orjson.loads(raw)
    if record.get("revoked") or not hmac.compare_digest(str(record.get("digest", "")), digest_of(token)):
        return None
    return code, token_id


def mark_used(client: redis.Redis, code: str, token_id: str) -> None:
    """Record a token's last use (shown in ``agency token list``)."""
    raw = client.hget(AgencyKeys.tokens(code), token_id)
    if raw is None:
        return
    record = orjson.loads(raw)
    record["used"] = time.time()
    client.hset(AgencyKeys.tokens(code), token_id, orjson.dumps(record))
