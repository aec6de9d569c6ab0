"""What partner agencies pushed to ``POST /api/ingest``: each push's record (a capped stream per
agency, what its page shows), per-source counts, the health line of each pushed source, and the
per-agency rate limit (counted in Redis, so every web process shares it).

A pushed source is named by the agency (``source=`` on the push, default ``default``); its reports
carry the feed id ``push:<CODE>:<source>`` and its health is kept like a polled feed's
(``wf:feed:push:<CODE>:<source>``), so the feed-health panel and ``watchfloor health`` list it,
marked as pushed: stale after three of its expected intervals when the agency gave one
(``interval=`` on the push), else never stale, only "last seen".
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import redis

from domain.agencies.keys import AgencyKeys
from domain.errors import Invalid
from domain.store.streams import FeedKeys, load_health

__all__ = ["PUSH_LOG", "PushRecord", "PushThrottle", "check_source", "feed_id", "pushed_feed_status", "recent",
           "record", "source_stats"]

PUSH_LOG = 500  # pushes kept per agency (their counts live on in the per-source hash)
FEED_PREFIX = "push:"
STALE_AFTER = 3  # expected intervals without a push before a pushed source is stale
WINDOW_SECONDS = 60
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_COUNTERS = ("pushes", "accepted", "unchanged", "refused", "errors", "bytes")


def check_source(name: str | None) -> str:
    """The source name lower-cased; Invalid naming what a source name may hold."""
    value = (name or "default").strip().lower()
    if not _SOURCE.match(value):
        raise Invalid(f"source: {value[:40]!r} is not a source name; use 1 to 32 letters, digits, - and _")
    return value


def feed_id(code: str, source: str) -> str:
    return f"{FEED_PREFIX}{code}:{source}"


@dataclass
class PushRecord:
    """One push as the agency's page shows it. ``status`` is the HTTP answer (200, 400, 413, 429...);
    ``reasons`` what was refused, one line each (at most ten kept)."""

    source: str
    token: str
    status: int
    accepted: int = 0
    unchanged: int = 0
    refused: int = 0
    reasons: list[str] = field(default_factory=list)
    bytes: int = 0
    format: str = ""
    time: float = field(default_factory=time.time)

    def fields(self) -> dict[str, str]:
        data = asdict(self)
        data["reasons"] = orjson.dumps([str(r)[:300] for r in self.reasons[:10]]).decode()
        return {k: str(v) for k, v in data.items()}

    @classmethod
    def from_fields(cls, raw: dict[bytes, bytes]) -> PushRecord:
        data = {k.decode(): v.decode("utf-8", "replace") for k, v in raw.items()}
        try:
            reasons = [str(r) for r in orjson.loads(data.get("reasons") or "[]")]
        except orjson.JSONDecodeError:
            reasons = []
        ints = {k: int(float(data.get(k) or 0)) for k in ("status", "accepted", "unchanged", "refused", "bytes")}
        return cls(source=data.get("source", ""), token=data.get("token", ""), reasons=reasons,
                   format=data.get("format", ""), time=float(data.get("time") or 0), **ints)


def record(client: redis.Redis, code: str, push: PushRecord, *, interval: int | None = None) -> None:
    """Keep one push: its record, and its source's counts (and expected interval, when given)."""
    key = AgencyKeys.source(code, push.source)
    ok = 200 <= push.status < 300
    with client.pipeline(transaction=True) as pipe:
        pipe.xadd(AgencyKeys.pushes(code), push.fields(), maxlen=PUSH_LOG, approximate=True)
        pipe.sadd(AgencyKeys.pushed_sources(code), push.source)
        for name, value in (("pushes", 1), ("accepted", push.accepted), ("unchanged", push.unchanged),
                            ("refused", push.refused), ("errors", 0 if ok else 1), ("bytes", push.bytes)):
            if value:
                pipe.hincrby(key, name, value)
        pipe.hset(key, "last" if ok else "last_error", f"{push.time:.3f}")
        if interval:
            pipe.hset(key, "interval", str(interval))
        pipe.execute()


def recent(client: redis.Redis, code: str, count: int = 50) -> list[PushRecord]:
    """The agency's latest pushes, newest first."""
    return [PushRecord.from_fields(raw) for _, raw in client.xrevrange(AgencyKeys.pushes(code), count=count)]


def source_stats(client: redis.Redis, code: str) -> list[dict[str, Any]]:
    """Per source the agency pushed: its counts, last push and last refusal (epoch seconds), interval."""
    names = sorted(n.decode() for n in client.smembers(AgencyKeys.pushed_sources(code)))
    with client.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.hgetall(AgencyKeys.source(code, name))
        raws = pipe.execute()
    out = []
    for name, raw in zip(names, raws, strict=True):
        data = {k.decode(): v.decode() for k, v in raw.items()}
        row: dict[str, Any] = {"source": name, "feed": feed_id(code, name)}
        row.update({k: int(data.get(k) or 0) for k in _COUNTERS})
        row.update({k: float(data.get(k) or 0) for k in ("last", "last_error")})
        row["interval"] = int(data.get("interval") or 0)
        out.append(row)
    return out


def _when(epoch: float) -> str | None:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if epoch else None


def pushed_feed_status(client: redis.Redis, now: float | None = None) -> dict[str, dict[str, Any]]:
    """The feed-health lines of every pushed source (the shape of domain.picture.health.feed_status,
    with ``pushed``, ``agency`` and ``source``), keyed by feed id."""
    now = time.time() if now is None else now
    feeds = sorted(f.decode() for f in client.smembers(FeedKeys.FEEDS) if f.startswith(FEED_PREFIX.encode()))
    out: dict[str, dict[str, Any]] = {}
    for fid in feeds:
        code, _, source = fid[len(FEED_PREFIX):].partition(":")
        health = load_health(client, fid)
        interval = int(client.hget(AgencyKeys.source(code, source), "interval") or 0)
        stale = bool(interval) and now - health.last_success > interval * STALE_AFTER
        out[fid] = {
            "name": f"{code} · {source} (pushed)", "status": health.status, "reason": health.reason,
            "stale": stale, "exercise": False, "pushed": True, "agency": code, "source": source,
            "interval": interval or None, "last_attempt": _when(health.last_attempt),
            "last_success": _when(health.last_success), "last_error": _when(health.last_error_at),
            "http_status": health.http_status or None, "items": health.items, "new": health.new,
            "updated": health.updated, "already_seen": health.seen, "not_live": health.not_live,
            "unplaced": health.unplaced, "failures": health.failures, "next_attempt": None,
            "warnings": health.warnings,
        }
    return out


@dataclass(frozen=True)
class Verdict:
    """``retry_after`` seconds when the push must wait (None: go ahead); ``first_refusal`` for the one
    push of a window that crossed the limit (the one audited)."""

    retry_after: int | None = None
    first_refusal: bool = False


class PushThrottle:
    """At most ``per_minute`` pushes per agency in each clock minute, whichever token or process."""

    def __init__(self, client: redis.Redis, per_minute: int) -> None:
        self.client = client
        self.per_minute = per_minute

    def attempt(self, code: str, now: float | None = None) -> Verdict:
        now = time.time() if now is None else now
        minute = int(now // WINDOW_SECONDS)
        key = AgencyKeys.push_window(code, minute)
        with self.client.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, WINDOW_SECONDS * 2)
            count, _ = pipe.execute()
        if int(count) <= self.per_minute:
            return Verdict()
        return Verdict(max(1, int((minute + 1) * WINDOW_SECONDS - now + 0.999)), int(count) == self.per_minute + 1)
