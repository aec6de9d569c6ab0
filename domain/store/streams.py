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
    wf:events:archived     hash     through (last stream id written to the archive), trimmed_before (the
                                    XTRIM MINID of the last trim), folder (where the archive is), at
                                    (epoch seconds): see domain/store/archive.py, workers/retention.py
    wf:feeds               set      ids of feeds that have reported health
    wf:feed:<id>           hash     feed health (see FeedHealth)
    wf:feed:<id>:lock      string   poll lock, one poll per feed per interval across all schedulers
    wf:feed:<id>:followed  hash     documents a feed's index pointed to that were already read
    wf:feed:<id>:row:<event id>  string  fingerprint of that report as last parsed and stored (before
                                    placing) and 1/0 (stored placed or not), kept a day: a re-poll
                                    skips it before placing it again

Ingest is idempotent: a Lua script compares the event's fingerprint with the stored one and, only
when it differs, updates ``wf:current`` and appends to ``wf:events`` in the same atomic step. A
re-poll or a retried job therefore never appends twice, and an update (a revised magnitude) appends
exactly once. One script call appends a batch of events (in order, as if one by one).

A re-poll of a big document (a 100,000-row fire file) should cost little: the worker asks
:meth:`EventStore.unchanged_rows` which rows it stored unchanged (``wf:feed:<id>:row:<event id>``,
the report's fingerprint as parsed, written by the same script that appended it) and places and
appends only the others.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis

from domain.store import durability
from feeds.model import Event

PREFIX = "wf"


class EventKeys:
    """The report stream and the current picture (owned by :class:`EventStore`)."""

    EVENTS = f"{PREFIX}:events"
    CURRENT = f"{PREFIX}:current"
    FINGERPRINTS = f"{PREFIX}:fp"
    SUPERSEDED = f"{PREFIX}:superseded"
    METRICS_INGESTED = f"{PREFIX}:metrics:ingested"  # feed id -> reports it added or revised, ever (/metrics)
    ARCHIVED = f"{PREFIX}:events:archived"  # through (last id archived), trimmed_before, folder, at (retention)


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

    @staticmethod
    def row(feed_id: str, event_id: str) -> str:
        return f"{PREFIX}:feed:{feed_id}:row:{event_id}"


# KEYS: fp hash, current hash, events stream, superseded hash, then one feed-row key per event
# ARGV: seconds a feed-row key is kept, then five per event: id, fingerprint, event json, supersedes
#       (space separated, may be empty), row fingerprint (the report as parsed, before placing; '' for none)
# Returns one result per event: 0 (already seen), 1 (new), 2 (update). Events are applied in order, so
# one batch behaves exactly as the same events appended one by one.
_APPEND_LUA = """
local ttl = tonumber(ARGV[1])
local out = {}
local n = (#ARGV - 1) / 5
for i = 0, n - 1 do
  local b = 1 + i * 5
  local id, fp, ev, sup, row = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4], ARGV[b + 5]
  local old = redis.call('HGET', KEYS[1], id)
  local result = 0
  if old ~= fp then
    redis.call('HSET', KEYS[1], id, fp)
    redis.call('HSET', KEYS[2], id, ev)
    if sup ~= '' then
      for ref in string.gmatch(sup, '%S+') do
        if ref ~= id then redis.call('HSET', KEYS[4], ref, id) end
      end
    end
    local op = 'new'
    result = 1
    if old then op = 'update'; result = 2 end
    redis.call('XADD', KEYS[3], '*', 'id', id, 'op', op, 'e', ev, 'sup', sup)
  end
  if row ~= '' then redis.call('SET', KEYS[5 + i], row, 'EX', ttl) end
  out[i + 1] = result
end
return out
"""
APPEND_BATCH = 200  # events per script call: one call, not one per event, is most of the speed-up
ROW_TTL = 86_400  # a feed row is remembered as stored for a day (then placed once more, and remembered again)


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

    def append(self, events: Iterable[Event], *, feed_id: str = "", rows: list[str] | None = None,
               atomic: bool = False) -> AppendCounts:
        """Append what is new or changed, idempotently. With ``rows`` (one fingerprint per event of
        the report as parsed, before placing) and ``feed_id``, each row is remembered as stored (see
        :meth:`unchanged_rows`) in the same atomic step as its event. ``atomic``: every batch in one
        MULTI/EXEC, all or nothing (a partner's push: nothing partial is stored)."""
        counts = AppendCounts()
        batch = list(events)
        if not batch:
            return counts
        if rows is not None and len(rows) != len(batch):
            raise ValueError("rows must give one fingerprint per event")
        pipe = self.client.pipeline(transaction=atomic)
        head = [EventKeys.FINGERPRINTS, EventKeys.CURRENT, EventKeys.EVENTS, EventKeys.SUPERSEDED]
        for start in range(0, len(batch), APPEND_BATCH):
            chunk = batch[start : start + APPEND_BATCH]
            keys, args = list(head), [ROW_TTL]
            for offset, event in enumerate(chunk):
                raw, fingerprint = event.encoded()
                row = f"{rows[start + offset]} {1 if event.placed else 0}" if rows is not None and feed_id else ""
                keys.append(FeedKeys.row(feed_id, event.id) if row else head[0])
                args += [event.id, fingerprint, raw, " ".join(supersedes_of(event)), row]
            self._append(keys=keys, args=args, client=pipe)
        added = durability.confirm_in(pipe, self.client)  # acknowledged only once on the replicas asked for
        results = [int(r) for reply in durability.check(pipe.execute(), added, self.client) for r in reply]
        for event, result in zip(batch, results, strict=True):
            counts.add(result, event.id)
        return counts

    def unchanged_rows(self, feed_id: str, rows: list[tuple[str, str]]) -> list[bool | None]:
        """For each (event id, row fingerprint) of a document just parsed: None unless that very row
        was stored from this feed within :data:`ROW_TTL`; else whether it was stored placed (the
        re-poll of an unchanged report, which needs neither placing nor appending again)."""
        out: list[bool | None] = []
        for start in range(0, len(rows), 5000):
            chunk = rows[start : start + 5000]
            stored = self.client.mget([FeedKeys.row(feed_id, event_id) for event_id, _ in chunk])
            for (_, fp), value in zip(chunk, stored, strict=True):
                kept, _, placed = (value or b"").decode().partition(" ")
                out.append(placed == "1" if value is not None and kept == fp else None)
        return out

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
