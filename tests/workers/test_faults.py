"""Faults against real processes: Redis killed with SIGKILL mid-burst loses no acknowledged event."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
import redis

from domain.store.connection import connect
from domain.store.streams import EventKeys, EventStore
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
        stored = {k.decode() for k in client.hkeys(EventKeys.CURRENT)}
        stream_ids = [f[b"id"].decode() for _, f in client.xrange(EventKeys.EVENTS)]
    finally:
        server.stop()
    assert before_kill > 100, "the burst should have been under way when Redis was killed"
    assert errors, "the producer should have seen Redis go away"
    assert len(acknowledged) > before_kill, "the producer should have resumed after the restart"
    lost = acknowledged - stored
    assert not lost, f"{len(lost)} acknowledged events lost"
    assert len(stream_ids) == len(set(stream_ids)), "an event was appended twice"


@pytest.fixture
def small_disk(tmp_path):
    """A real filesystem of 1 MB (tmpfs) that fills up. Mounting needs root: CI runs as root; on a
    developer's machine without it the test is skipped, saying why."""
    import os
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("mounting a 1 MB tmpfs to fill up needs root (CI runs as root)")
    where = tmp_path / "disk"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(where)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.fail(f"could not mount a tmpfs as root: {mounted.stderr.strip()}")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_full_disk_is_named_on_the_screens_and_loses_nothing_acknowledged(small_disk, tmp_path):
    from dashboard.panels.status import feeds_panel
    from domain.config.loader import load_config
    from domain.picture.health import health_report
    from domain.store.connection import store_problem
    from watchfloor.supervisor import Supervisor

    data = small_disk / "var"
    server = EmbeddedRedis(data / "redis").start()
    client = connect(server.url, timeout=2.0)
    acknowledged = []
    with pytest.raises((redis.ConnectionError, redis.ResponseError)):  # refused: never acknowledged
        for i in range(100_000):
            acknowledged.append(client.xadd(EventKeys.EVENTS, {"id": f"r{i}", "e": "x" * 1000}))
    server.process.wait(timeout=10)  # Redis cannot write its append-only file: it stops

    config = load_config(env={"WATCHFLOOR_DATA_DIR": str(data), "WATCHFLOOR_EXERCISE": "false"})
    supervisor = Supervisor(config, "watchfloor.toml")
    supervisor.redis = server
    supervisor._restart_store(time.monotonic(), 0.0)  # what `watchfloor up` does on seeing it stop
    problem = store_problem(config)
    assert problem and problem.startswith("data store stopped at ") and "disk full" in problem, problem
    assert "\n" not in problem
    report = health_report(config, None)  # health and every screen say why, while it is down
    assert report["reason"] == problem
    assert problem in feeds_panel(report["feeds"], None, None, [problem])[0].children
    # Space is freed (here: the filesystem grown); the next attempt starts the store, which has every
    # write it acknowledged, and the screens stop naming the trouble once it has run a while.
    import subprocess

    subprocess.run(["mount", "-o", "remount,size=8m", str(small_disk)], check=True)
    supervisor._restart_store(time.monotonic() + 120, 0.0)
    assert server.process.poll() is None
    reread = connect(server.url, timeout=2.0)
    stored = {entry_id for entry_id, _ in reread.xrange(EventKeys.EVENTS)}
    assert len(acknowledged) > 100 and set(acknowledged) <= stored
    supervisor._store_recovered()
    assert store_problem(config) is None
    server.stop()
