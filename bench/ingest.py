"""Redis ingest: EventStore.append (the idempotent Lua path, pipelined) against raw redis-py.

Against a real ``redis-server`` (EmbeddedRedis: AOF on, ``appendfsync always``, as in
production) started in a temporary directory and stopped at the end. Events are real ones parsed
from the documents (formats mixed round-robin; cloned under new ids when more are needed), in
batches of 100, one pipeline per batch:

- ``append-new``: EventStore.append on an empty database; includes fingerprint() and to_json(),
  which the worker pays for on every poll. Every event must come back "new".
- ``append-repoll``: the same events again; every one must come back "seen".
- ``raw-xadd``: pipelined XADD of the same events, serialised beforehand (the baseline).
- ``serialise``: fingerprint() + to_json() alone, no Redis, to show where the time goes.

Between timed passes the database is flushed and the AOF rewritten (both untimed), so each pass
starts from the same state and the AOF never triggers a rewrite in the middle of a pass.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis
import redis.utils

from bench.timing import Candidate, Timing, compare
from domain.store.streams import EventKeys, EventStore, supersedes_of
from feeds.model import Event
from watchfloor.redis_server import EmbeddedRedis

BATCH = 100
RAW_STREAM = "bench:raw-xadd"


@dataclass
class IngestResult:
    events: int
    batch: int
    timings: dict[str, Timing]
    redis_version: str
    hiredis: bool
    checks: dict[str, object]

    def rate(self, name: str) -> float:
        return self.events / self.timings[name].per_call

    def to_json(self) -> dict[str, object]:
        return {
            "events_per_pass": self.events,
            "batch": self.batch,
            "redis_server": self.redis_version,
            "hiredis": self.hiredis,
            "checks": self.checks,
            "rates": {name: self.rate(name) for name in self.timings},
            "seconds_per_pass": {name: t.per_call for name, t in self.timings.items()},
            "spread": {name: t.spread for name, t in self.timings.items()},
            "ratios": {
                "append-new/raw-xadd": self.rate("append-new") / self.rate("raw-xadd"),
                "append-repoll/raw-xadd": self.rate("append-repoll") / self.rate("raw-xadd"),
            },
        }


def event_pool(by_group: dict[str, list[Event]], count: int) -> list[Event]:
    """``count`` distinct events, taken round-robin across formats; cloned under new ids when short."""
    unique: dict[str, Event] = {}
    for group in itertools.zip_longest(*by_group.values()):
        for event in group:
            if event is not None and event.id not in unique:
                unique[event.id] = event
    base = list(unique.values())
    if not base:
        raise RuntimeError("no events to ingest")
    out = base[:count]
    copy = 1
    while len(out) < count:
        out.extend(e.replace(id=f"{e.id}~{copy}") for e in base[: count - len(out)])
        copy += 1
    return out


def _wait_for_rewrite(client: redis.Redis, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = client.info("persistence")
        if not info.get("aof_rewrite_in_progress") and not info.get("aof_rewrite_scheduled"):
            return
        time.sleep(0.01)


def reset(client: redis.Redis) -> None:
    """Empty database and a compact AOF, so every pass starts alike (untimed)."""
    client.flushdb()
    _wait_for_rewrite(client)
    try:
        client.bgrewriteaof()
    except redis.ResponseError:
        pass
    _wait_for_rewrite(client)


def run_ingest(by_group: dict[str, list[Event]], *, count: int, min_time: float, runs: int) -> IngestResult:
    events = event_pool(by_group, count)
    batches = [events[i : i + BATCH] for i in range(0, len(events), BATCH)]
    # the baseline sends the same bytes the EventStore stores, serialised before the clock starts
    raw_batches = [
        [{"id": e.id, "op": "new", "e": e.to_json(), "sup": " ".join(supersedes_of(e))} for e in batch]
        for batch in batches
    ]
    with tempfile.TemporaryDirectory(prefix="wf-bench-redis-") as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis")
        server.start()
        client = redis.Redis.from_url(server.url)
        try:
            store = EventStore(client)
            checks: dict[str, object] = {}

            def append_all() -> None:
                for batch in batches:
                    store.append(batch)

            def new_setup() -> None:
                reset(client)

            def repoll_setup() -> None:
                if store.count() != len(events):
                    reset(client)
                    append_all()

            def raw_xadd() -> None:
                for batch in raw_batches:
                    pipe = client.pipeline(transaction=False)
                    for fields in batch:
                        pipe.xadd(RAW_STREAM, fields)
                    pipe.execute()

            def raw_setup() -> None:
                client.delete(RAW_STREAM)

            def serialise() -> None:
                for event in events:
                    event.fingerprint()
                    event.to_json()
                    supersedes_of(event)

            # correctness first: all new, then all seen, and the stream holds each event once
            reset(client)
            new = [store.append(b) for b in batches]
            checks["first_pass_new"] = sum(c.new for c in new)
            checks["stream_length"] = int(client.xlen(EventKeys.EVENTS))
            again = [store.append(b) for b in batches]
            checks["repoll_seen"] = sum(c.seen for c in again)
            checks["stream_length_after_repoll"] = int(client.xlen(EventKeys.EVENTS))
            checks["ok"] = (
                checks["first_pass_new"] == len(events)
                and checks["repoll_seen"] == len(events)
                and checks["stream_length"] == checks["stream_length_after_repoll"] == len(events)
            )
            raw_xadd()  # warm-up of the baseline path

            timings = compare(
                [
                    Candidate("append-new", append_all, new_setup),
                    Candidate("append-repoll", append_all, repoll_setup),
                    Candidate("raw-xadd", raw_xadd, raw_setup),
                    Candidate("serialise", serialise),
                ],
                min_time=min_time,
                runs=runs,
            )
            version = str(client.info("server").get("redis_version", "?"))
        finally:
            client.close()
            server.stop()
    return IngestResult(
        events=len(events),
        batch=BATCH,
        timings=timings,
        redis_version=version,
        hiredis=bool(redis.utils.HIREDIS_AVAILABLE),
        checks=checks,
    )
