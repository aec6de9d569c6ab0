"""``python -m bench --profile``: where the time goes, by cProfile, for the same workloads.

Prints, per group, the functions with the most own time (tottime) and, for the ingest path, the
client side of EventStore.append. cProfile slows Python code several-fold, so read the shares,
not the absolute times.
"""

from __future__ import annotations

import cProfile
import pstats
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import redis

from bench.documents import Group
from bench.ingest import BATCH, event_pool
from bench.parsing import FEED
from domain.store.streams import EventStore
from feeds.model import Event
from feeds.sources import get_source
from watchfloor.redis_server import EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent


def _where(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    if filename == "~":
        return name
    if "site-packages/" in filename:
        filename = filename.split("site-packages/", 1)[1]
    elif filename.startswith(str(ROOT) + "/"):
        filename = filename[len(str(ROOT)) + 1 :]
    else:
        filename = "/".join(Path(filename).parts[-2:])
    return f"{filename}:{line}({name})"


def top(profile: cProfile.Profile, limit: int) -> list[str]:
    stats = pstats.Stats(profile)
    total = stats.total_tt or 1e-9  # type: ignore[attr-defined]
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)  # type: ignore[attr-defined]
    lines = [f"    {'own %':>6} {'cum %':>6} {'calls':>9}  function"]
    for func, (_cc, ncalls, tottime, cumtime, _callers) in rows[:limit]:
        lines.append(f"    {tottime / total * 100:6.1f} {cumtime / total * 100:6.1f} {ncalls:>9}  {_where(func)}")
    return lines


def profile_group(group: Group, seconds: float, limit: int) -> list[str]:
    source = get_source(group.format)
    fetched = datetime.now(UTC)
    datas = [d.data for d in group.documents]
    for data in datas:
        source.parse(data, FEED, fetched)
    profile = cProfile.Profile()
    deadline = time.perf_counter() + seconds
    rounds = 0
    profile.enable()
    while time.perf_counter() < deadline or rounds == 0:
        for data in datas:
            source.parse(data, FEED, fetched)
        rounds += 1
    profile.disable()
    return [f"  {group.key} ({rounds} rounds under cProfile)", *top(profile, limit)]


def profile_ingest(by_group: dict[str, list[Event]], count: int, limit: int) -> list[str]:
    events = event_pool(by_group, count)
    batches = [events[i : i + BATCH] for i in range(0, len(events), BATCH)]
    lines = []
    with tempfile.TemporaryDirectory(prefix="wf-bench-redis-") as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis").start()
        client = redis.Redis.from_url(server.url)
        try:
            store = EventStore(client)
            for label in ("new events", "re-poll"):
                profile = cProfile.Profile()
                profile.enable()
                for batch in batches:
                    store.append(batch)
                profile.disable()
                lines += [f"  EventStore.append, {label} ({len(events)} events, client side)", *top(profile, limit)]
        finally:
            client.close()
            server.stop()
    return lines
