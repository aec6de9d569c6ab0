"""Cross-source fusion: quality on the labelled pairs and Correlator throughput.

``run_fusion_bench(quick)`` returns a plain dict (the lead wires it into ``python -m bench``):

* ``pairs``: precision/recall of :func:`feeds.fuse.should_merge` on bench/fusion/pairs.jsonl,
  overall, corpus vs synthetic, per variant, the physical score alone, and a threshold sweep
  (absent, with a reason, when the corpus is not there);
* ``incidents``: the same pairs judged by incident membership after one Correlator has read every
  report of the set in time order (what a duty officer sees: a news report that names only a town
  joins the GDACS alert through the USGS report of the same quake);
* ``throughput``: events/s adding events to a Correlator pre-loaded with incidents in the window
  (100,000 incidents and 10,000 events; quick: 20,000 and 2,000), half of them reports of quakes
  already held, half new quakes;
* ``fuser``: the live fuser (:mod:`workers.fusion`) rebuilding from a real ``wf:events`` stream
  (20,000 events; not in quick runs): first start (writes every incident) and a restart (writes nothing).
"""

from __future__ import annotations

import os
import random
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.fusion.pairset import destination, load_pairs, score
from domain.picture.keys import IncidentKeys
from feeds.fuse import MERGE_THRESHOLD, Correlator, should_merge, similarity
from feeds.model import Event, Kind

ROOT = Path(__file__).resolve().parent.parent


def _corpus() -> Path | None:
    env = os.environ.get("WATCHFLOOR_CORPUS")
    path = Path(env) if env else ROOT.parent / "shared" / "corpus"
    return path if path.is_dir() else None


def pair_quality(corpus: Path) -> dict[str, Any]:
    pairs = load_pairs(corpus)
    result: dict[str, Any] = {"overall": score(pairs, should_merge)}
    result["physics_only"] = score(pairs, lambda a, b: similarity(a, b) >= MERGE_THRESHOLD)
    by_origin: dict[str, list[Any]] = defaultdict(list)
    by_variant: dict[str, list[Any]] = defaultdict(list)
    for pair in pairs:
        by_origin[pair.origin].append(pair)
        by_variant[f"{pair.variant} ({'same' if pair.same else 'different'})"].append(pair)
    result["by_origin"] = {k: score(v, should_merge) for k, v in sorted(by_origin.items())}
    result["by_variant"] = {
        k: {"pairs": len(v), "merged": sum(should_merge(p.a, p.b) for p in v)} for k, v in sorted(by_variant.items())
    }
    result["sweep"] = {
        f"{t:.2f}": {
            k: round(v, 4)
            for k, v in score(pairs, lambda a, b, t=t: should_merge(a, b, t)).items()
            if k in ("precision", "recall")
        }
        for t in (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7)
    }
    # incident level: every report of the set through one correlator, in time order
    events: dict[str, Event] = {}
    for pair in pairs:
        events.setdefault(pair.a.id, pair.a)
        events.setdefault(pair.b.id, pair.b)
    correlator = Correlator()
    for event in sorted(events.values(), key=lambda e: (e.time, e.id)):
        correlator.add(event)

    def together(a: Event, b: Event) -> bool:
        ia, ib = correlator.incident_of(a.id), correlator.incident_of(b.id)
        return ia is not None and ia is ib

    result["incidents"] = {
        "reports": len(events),
        "incidents": len(correlator),
        "overall": score(pairs, together),
        "by_origin": {k: score(v, together) for k, v in sorted(by_origin.items())},
    }
    return result


def _quake(rng: random.Random, n: int, start: datetime, window_s: float) -> Event:
    lat, lon = rng.uniform(-60, 70), rng.uniform(-180, 180)
    mag = round(rng.uniform(2.5, 6.5), 1)
    return Event(
        id=f"usgs:bench{n}",
        source="usgs-geojson",
        kind=Kind.EARTHQUAKE,
        title=f"M {mag} - {n % 997} km N of Place{n % 5000}, Region{n % 200}",
        time=start + timedelta(seconds=rng.uniform(0, window_s)),
        lat=round(lat, 4),
        lon=round(lon, 4),
        magnitude=mag,
        place=f"Place{n % 5000}, Region{n % 200}",
        feed="usgs-all-day",
        extra={"ids": [f"bench{n}"]},
    )


def _second_report(rng: random.Random, base: Event, n: int) -> Event:
    lat, lon = destination(base.lat or 0.0, base.lon or 0.0, rng.uniform(0, 30), rng.uniform(0, 360))
    return Event(
        id=f"quakeml:bench/{n}",
        source="quakeml",
        kind=Kind.EARTHQUAKE,
        title=f"M {base.magnitude} - REGION",
        time=base.time + timedelta(seconds=rng.uniform(-20, 20)),
        lat=lat,
        lon=lon,
        magnitude=round((base.magnitude or 0) + rng.uniform(-0.2, 0.2), 1),
        feed="second-network",
    )


def throughput(preload: int, events: int, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    window_s = 48 * 3600.0
    base = [_quake(rng, n, start, window_s) for n in range(preload)]
    correlator = Correlator()
    began = time.perf_counter()
    for event in base:
        correlator.add(event)
    preload_s = time.perf_counter() - began
    preload_incidents = len(correlator)  # < preload when chance neighbours (same place, minute, size) merged
    batch: list[Event] = []
    expected: dict[str, str] = {}  # second report id -> the id of the quake it reports
    for n in range(events):
        if n % 2:
            quake = base[rng.randrange(preload)]
            batch.append(_second_report(rng, quake, n))
            expected[batch[-1].id] = quake.id
        else:
            batch.append(_quake(rng, preload + n, start, window_s))
    merged = 0
    began = time.perf_counter()
    outcomes = [correlator.add(event) for event in batch]
    elapsed = time.perf_counter() - began
    # Which merges were right: a second report must join its own quake's incident; a new quake must
    # join nothing (at this density, 50x the real global rate, a chance neighbour is possible).
    right = wrong = missed = 0
    for event, (incident, joined) in zip(batch, outcomes, strict=True):
        merged += joined
        if event.id in expected:
            if expected[event.id] in incident.events:
                right += 1
            else:
                missed += 1
        elif joined:
            wrong += 1
    return {
        "quakes_preloaded": preload,
        "incidents_before": preload_incidents,
        "window_hours": window_s / 3600,
        "preload_events_per_s": round(preload / preload_s),
        "events": events,
        "events_per_s": round(events / elapsed),
        "merged": merged,
        "second_reports_joined": right,
        "second_reports_missed": missed,
        "new_quakes_joined_wrongly": wrong,
        "incidents_after": len(correlator),
    }


def fuser_rebuild(count: int, seed: int = 11) -> dict[str, Any]:
    """The live fuser (workers.fusion) on a real redis-server: ``count`` events appended with
    EventStore (half second reports of quakes already held), then one rebuild from the stream that
    writes every incident (first start), then a second rebuild that must write nothing (a restart)."""
    import tempfile

    from redis import Redis

    from domain.store.streams import EventStore
    from watchfloor.redis_server import EmbeddedRedis
    from workers.fusion import Fuser

    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    base = [_quake(rng, n, start, 48 * 3600.0) for n in range(count // 2)]
    events = base + [_second_report(rng, b, n) for n, b in enumerate(base)]
    with tempfile.TemporaryDirectory(prefix="wf-bench-fusion-") as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis").start()
        try:
            client = Redis.from_url(server.url)
            store = EventStore(client)
            for i in range(0, len(events), 500):
                store.append(events[i : i + 500])
            timings = []
            for _ in range(2):
                fuser = Fuser(client, window_hours=24 * 365 * 10)
                assert fuser.acquire()
                changes_before = client.xlen(IncidentKeys.INCIDENT_CHANGES)
                began = time.perf_counter()
                fuser.rebuild()
                timings.append((time.perf_counter() - began, client.xlen(IncidentKeys.INCIDENT_CHANGES) - changes_before))
                fuser.release()
            incidents = client.hlen(IncidentKeys.INCIDENTS)
            client.close()
        finally:
            server.stop()
    (first_s, first_changes), (second_s, second_changes) = timings
    return {
        "events": len(events),
        "incidents": incidents,
        "first_rebuild_events_per_s": round(len(events) / first_s),
        "first_rebuild_changes": first_changes,
        "restart_rebuild_events_per_s": round(len(events) / second_s),
        "restart_rebuild_changes": second_changes,
    }


def run_fusion_bench(quick: bool, redis: bool = True) -> dict[str, Any]:
    """Fusion quality on the labelled pairs, Correlator throughput and, with ``redis``, the live
    fuser's rebuild rate on a real redis-server (see the module docstring)."""
    result: dict[str, Any] = {}
    corpus = _corpus()
    if corpus is None:
        result["pairs"] = {"skipped": "feed corpus not present (../shared/corpus or $WATCHFLOOR_CORPUS)"}
    else:
        result["pairs"] = pair_quality(corpus)
    result["throughput"] = throughput(20_000, 2_000) if quick else throughput(100_000, 10_000)
    if redis and not quick:  # a redis-server of its own costs seconds to start and stop: full runs only
        result["fuser"] = fuser_rebuild(20_000)
    return result


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run_fusion_bench("--quick" in sys.argv), indent=1))
