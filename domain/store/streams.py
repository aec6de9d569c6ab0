"""The report stream, the current picture and feed health: their Redis keys and formats.

Every key starts with ``wf:`` (so one Redis can be shared with other tenants by prefix). Each concern's
keys live next to what owns them: these in :class:`EventKeys` and :class:`FeedKeys`; incidents, the
fuser, processes and threat caches in ``domain.picture.keys``; accounts, sessions and audit in
``domain.access.keys``; annotations, intelligence, alerts, outbound and rules in
``domain.operations.keys``; learned places in ``workers.places``. ``tests/test_architecture.py`` checks
that no two of them name the same key.

Keys::
    wf:events              stream   every new or changed event: fields id, op (new|update), e (event JSON),
                                    sup (space-separated ids this event supersedes, CAP Update/Cancel)
    wf:current             hash     event id -> latest event JSON (the current picture)
    wf:fp                  hash     event id -> fingerprint of the latest version (idempotent ingest)
    wf:superseded          hash     event id -> id of the event that superseded it
    wf:metrics:ingested    hash     feed id -> reports it added or revised, ever (/metrics)
    wf:feeds               set      ids of feeds that have reported health
    wf:feed:<id>           hash     feed health (see FeedHealth)
    wf:feed:<id>:lock      string   poll lock, one poll per feed per interval across all schedulers
    wf:feed:<id>:followed  hash     documents a feed's index pointed to that were already read

Ingest is idempotent: a Lua script compares the event's fingerprint with the stored one and, only
when it differs, updates ``wf:current`` and appends to ``wf:events`` in the same atomic step. A
re-poll or a retried job therefore never appends twice, and an update (a revised magnitude) appends
exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis

from feeds.model import Event

PREFIX = "wf"


class EventKeys:
    """The report stream and the current picture (owned by :class:`EventStore`)."""

    EVENTS = f"{PREFIX}:events"
    CURRENT = f"{PREFIX}:current"
    FINGERPRINTS = f"{PREFIX}:fp"
    SUPERSEDED = f"{PREFIX}:superseded"
    METRICS_INGESTED = f"{PREFIX}:metrics:ingested"  # feed id -> reports it added or revised, ever (/metrics)


class FeedKeys:
    """Each feed's health, poll lock and followed documents (owned by :class:`FeedHealth` and the poller)."""

    FEEDS = f"{PREFIX}:feeds"

    @staticmethod
    def feed(feed_id: str) -> str:
        return f"{PREFIX}:feed:{feed_id}"

    @staticmethod
    def poll_lock(feed_id: str) -> str:
        return f"{PREFIX}:feed:{feed_id}:lock"

    @staticmethod
    def followed(feed_id: str) -> str:
        return f"{PREFIX}:feed:{feed_id}:followed"


# KEYS: fp hash, current hash, events stream, superseded hash
# ARGV: id, fingerprint, event json, supersedes (space separated, may be empty)
# Returns 0 (already seen), 1 (new), 2 (update).
_APPEND_LUA = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old == ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
local op = 'new'
if old then op = 'update' end
if ARGV[4] ~= '' then
  for ref in string.gmatch(ARGV[4], '%S+') do
    if ref ~= ARGV[1] then redis.call('HSET', KEYS[4], ref, ARGV[1]) end
  end
end
redis.call('XADD', KEYS[3], '*', 'id', ARGV[1], 'op', op, 'e', ARGV[3], 'sup', ARGV[4])
if old then return 2 end
return 1
"""


@dataclass
class AppendCounts:
    new: int = 0
    updated: int = 0
    seen: int = 0
    changed: set[str] = field(default_factory=set)  # ids of the new and updated events

    def add(self, result: int, event_id: str = "") -> None:
        if result == 1:
            self.new += 1
        elif result == 2:
            self.updated += 1
        else:
            self.seen += 1
            return
        self.changed.add(event_id)


@dataclass(frozen=True)
class StreamEntry:
    """One entry of ``wf:events`` as readers see it."""

    stream_id: str
    id: str
    op: str
    event: dict[str, Any]
    supersedes: tuple[str, ...] = ()


def supersedes_of(event: Event) -> list[str]:
    cap = event.extra.get("cap") if isinstance(event.extra, dict) else None
    refs = cap.get("references_ids") if isinstance(cap, dict) else None
    return [r for r in (refs or []) if isinstance(r, str) and r and " " not in r]


class EventStore:
    """Appends events idempotently and reads them back by stream cursor."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._append = client.register_script(_APPEND_LUA)

    def append(self, events: Iterable[Event]) -> AppendCounts:
        counts = AppendCounts()
        batch = list(events)
        if not batch:
            return counts
        pipe = self.client.pipeline(transaction=False)
        keys = [EventKeys.FINGERPRINTS, EventKeys.CURRENT, EventKeys.EVENTS, EventKeys.SUPERSEDED]
        for event in batch:
            raw, fingerprint = event.encoded()
            self._append(keys=keys, args=[event.id, fingerprint, raw, " ".join(supersedes_of(event))], client=pipe)
        for event, result in zip(batch, pipe.execute(), strict=True):
            counts.add(int(result), event.id)
        return counts

    def count(self) -> int:
        return int(self.client.hlen(EventKeys.CURRENT))

    def last_id(self) -> str:
        """The id of the newest stream entry, "0-0" when the stream is empty."""
        newest = self.client.xrevrange(EventKeys.EVENTS, count=1)
        return newest[0][0].decode() if newest else "0-0"

    def read_after(self, cursor: str, count: int = 1000) -> list[StreamEntry]:
        """Entries strictly after ``cursor`` (exclusive range), oldest first."""
        start = "(" + cursor if cursor and cursor != "0-0" else "-"
        rows = self.client.xrange(EventKeys.EVENTS, min=start, max="+", count=count)
        return [decode_entry(stream_id, fields) for stream_id, fields in rows]

    def current(self) -> list[dict[str, Any]]:
        """The latest version of every event that has not been superseded."""
        superseded = {k.decode() for k in self.client.hkeys(EventKeys.SUPERSEDED)}
        events = []
        for raw in self.client.hvals(EventKeys.CURRENT):
            data = orjson.loads(raw)
            if data["id"] not in superseded:
                events.append(data)
        return events

    def get(self, event_id: str) -> dict[str, Any] | None:
        raw = self.client.hget(EventKeys.CURRENT, event_id)
        return orjson.loads(raw) if raw else None


def decode_entry(stream_id: bytes | str, fields: dict[bytes, bytes]) -> StreamEntry:
    sid = stream_id.decode() if isinstance(stream_id, bytes) else stream_id
    sup = fields.get(b"sup", b"").decode()
    return StreamEntry(
        stream_id=sid,
        id=fields[b"id"].decode(),
        op=fields.get(b"op", b"new").decode(),
        event=orjson.loads(fields[b"e"]),
        supersedes=tuple(sup.split()) if sup else (),
    )


@dataclass
class FeedHealth:
    """Health of one feed as stored in ``wf:feed:<id>``. Times are epoch seconds (0: never)."""

    feed_id: str
    status: str = "never"  # ok | never | a failure word from feeds.fetch / parsing
    reason: str = ""
    last_attempt: float = 0.0
    last_success: float = 0.0
    last_error_at: float = 0.0
    http_status: int = 0
    items: int = 0
    new: int = 0
    updated: int = 0
    seen: int = 0
    not_live: int = 0
    unplaced: int = 0
    failures: int = 0
    next_attempt: float = 0.0
    etag: str = ""
    last_modified: str = ""
    warnings: list[str] = field(default_factory=list)

    _INTS = ("http_status", "items", "new", "updated", "seen", "not_live", "unplaced", "failures")
    _FLOATS = ("last_attempt", "last_success", "last_error_at", "next_attempt")

    def to_redis(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = orjson.dumps(value).decode() if name == "warnings" else str(value)
        return out

    @classmethod
    def from_redis(cls, feed_id: str, raw: dict[bytes, bytes]) -> FeedHealth:
        health = cls(feed_id=feed_id)
        data = {k.decode(): v.decode() for k, v in raw.items()}
        for name in cls._INTS:
            if name in data:
                setattr(health, name, int(float(data[name] or 0)))
        for name in cls._FLOATS:
            if name in data:
                setattr(health, name, float(data[name] or 0))
        for name in ("status", "reason", "etag", "last_modified"):
            if name in data:
                setattr(health, name, data[name])
        if data.get("warnings"):
            health.warnings = list(orjson.loads(data["warnings"]))
        return health

    def is_stale(self, interval: int, stale_after: int, now: float | None = None) -> bool:
        """No success for ``stale_after`` intervals (a feed that never succeeded is stale too)."""
        now = time.time() if now is None else now
        return now - self.last_success > interval * stale_after


def load_health(client: redis.Redis, feed_id: str) -> FeedHealth:
    return FeedHealth.from_redis(feed_id, client.hgetall(FeedKeys.feed(feed_id)))


def save_health(client: redis.Redis, health: FeedHealth) -> None:
    pipe = client.pipeline(transaction=True)
    pipe.hset(FeedKeys.feed(health.feed_id), mapping=health.to_redis())
    pipe.sadd(FeedKeys.FEEDS, health.feed_id)
    pipe.execute()
