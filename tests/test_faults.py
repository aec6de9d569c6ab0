"""Faults against real processes: Redis killed with SIGKILL mid-burst loses no acknowledged event."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
import redis

from domain.store.connection import connect
from domain.store.streams import EventStore, Keys
from feeds.model import Event, Kind
from watchfloor.redis_server import EmbeddedRedis

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def event(i: int) -> Event:
    return Event(id=f"burst:{i}", source="test", kind=Kind.INCIDENT, title=f"report {i}",
                 time=datetime(2026, 11, 22, tzinfo=UTC), lat=42.35, lon=-71.08)


def test_sigkill_during_ingest_loses_no_acknowledged_event(tmp_path):
    server = EmbeddedRedis(tmp_path / "redis").start()
    acknowledged: set[str] = set()
    errors: list[str] = []
    stop = threading.Event()

    def producer() -> None:
        client = connect(server.url, timeout=1.0)
        store = EventStore(client)
        i = 0
        while not stop.is_set():
            batch = [event(n) for n in range(i, i + 20)]
            try:
                store.append(batch)
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                errors.append(type(exc).__name__)
                time.sleep(0.05)
                continue  # not acknowledged: the same batch is sent again (idempotent)
            acknowledged.update(e.id for e in batch)
            i += 20

    thread = threading.Thread(target=producer, daemon=True)
    thread.start()
    time.sleep(1.0)
    before_kill = len(acknowledged)
    server.kill()
    time.sleep(0.5)
    server.start()  # same port, same data dir: the append-only file replays
    time.sleep(1.0)
    stop.set()
    thread.join(timeout=10)
    try:
        client = redis.Redis.from_url(server.url)
        stored = {k.decode() for k in client.hkeys(Keys.CURRENT)}
        stream_ids = [f[b"id"].decode() for _, f in client.xrange(Keys.EVENTS)]
    finally:
        server.stop()
    assert before_kill > 100, "the burst should have been under way when Redis was killed"
    assert errors, "the producer should have seen Redis go away"
    assert len(acknowledged) > before_kill, "the producer should have resumed after the restart"
    lost = acknowledged - stored
    assert not lost, f"{len(lost)} acknowledged events lost"
    assert len(stream_ids) == len(set(stream_ids)), "an event was appended twice"
