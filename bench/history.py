"""A year of history (#19): the fuser's restart and the screens' threat tick at 10k, 100k and 1M events.

``python -m bench.history [--sizes 10000,100000,1000000] [--whole-max N]``; a section of
``python -m bench`` (full runs: 10k and 100k). Against a real ``redis-server`` (EmbeddedRedis,
``appendfsync everysec`` so that building a million-entry store takes minutes, not hours) in a
temporary directory, for each size N:

* the store as a floor running for a while has it: N reports in ``wf:events`` at one every 31.5 s of
  stream time (a million is a year), ending now; half are quakes, half a second source's report of
  one (so N/2 incidents), fused as they arrived by the live fuser (default 72 h window), which
  then stops cleanly (its checkpoint holds everything). From ``--fast-from`` (a million) only the
  last 30,000 are fused live (see :func:`build`): the "before" tick and whole replay are not run;
* ``tick, before``: the threat tick as it was, reading every incident (``live_incidents_with_areas``
  without its window) and assessing them, on the store as built (nothing aged);
* 1,000 more reports arrive while no fuser runs; ``restart``: a new fuser's start (resume from the
  checkpoint, replay the 1,000), against ``raw XRANGE``: reading the whole stream in pages of 1,000
  (the baseline the issue used), and ``whole replay``: the start without a checkpoint (what every
  start cost before; up to ``--whole-max`` events, it takes minutes at a million);
* ``retention``: one run of the fuser's retention (default 30 days: age incidents out, archive and
  trim the stream), then ``tick, after``: the threat tick as it is now (the incidents of its 7 h
  through the time index), and the restart again on the trimmed stream.

Ratios are measured in the same run; times are medians of 3 (ticks: of 5).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import redis

from bench.report import RESULTS, machine
from domain.picture import incidents
from domain.picture.keys import IncidentKeys, ThreatKeys
from domain.picture.threat import FUTURE_SLACK as THREAT_AHEAD
from domain.picture.threat import THREAT_WINDOW, assess
from domain.store.streams import EventKeys
from feeds.model import Event, Kind, Severity
from watchfloor.redis_server import EmbeddedRedis
from workers import checkpoint
from workers.fusion import Fuser
from workers.retention import DAY_MS, Retention

SECONDS_APART = 31.536  # a million reports a year
LATE = 1000  # reports that arrive while no fuser runs
FAST_TAIL = 30_000  # reports fused live in a fast build (about eleven days)


def report(n: int, rng: random.Random, at: datetime) -> Event:
    """Quake n//2, or (odd n) a second source's report of it 20 s later."""
    q = n // 2
    lat, lon = -60.0 + (q * 7.31) % 120, -179.0 + (q * 13.73) % 358
    severity = rng.choice([Severity.MINOR] * 6 + [Severity.MODERATE] * 3 + [Severity.SEVERE])
    if n % 2:
        return Event(id=f"gdacs:EQ{q}", source="gdacs", kind=Kind.EARTHQUAKE, time=at, title=f"Earthquake (M 5.1) {q}",
                     lat=lat + 0.05, lon=lon + 0.05, magnitude=5.1, severity=severity, feed="gdacs")
    return Event(id=f"usgs:b{q}", source="usgs-geojson", kind=Kind.EARTHQUAKE, time=at, title=f"M 5.0 - {q}",
                 lat=lat, lon=lon, magnitude=5.0, severity=severity, feed="usgs", extra={"ids": [f"b{q}"]})


def append_reports(client: redis.Redis, first: int, last: int, end: datetime, total: int) -> None:
    """Reports first..last-1 of ``total`` (even numbers), the last of them at ``end``, each with the
    stream id of its arrival: a quake every 2 x SECONDS_APART, its second report 20 s after it."""
    rng = random.Random(first)
    quakes = total // 2
    pipe = client.pipeline(transaction=False)
    for n in range(first, last):
        at = end - timedelta(seconds=2 * SECONDS_APART * (quakes - 1 - n // 2)) + timedelta(seconds=20 * (n % 2))
        event = report(n, rng, at)
        raw, _ = event.encoded()
        pipe.xadd(EventKeys.EVENTS, {"id": event.id, "op": "new", "e": raw, "sup": ""},
                  id=f"{int(at.timestamp() * 1000)}-0")
        if len(pipe) >= 2000:
            pipe.execute()
    pipe.execute()


def build(client: redis.Redis, size: int, end: datetime, total: int, *, fast: bool = False) -> None:
    """Reports arriving while the live fuser runs (each incident stored while in its window, as on a
    floor), 5,000 at a time; then a clean stop (its checkpoint holds everything).

    ``fast`` (a million: the live build takes a quarter of an hour here): all but the last FAST_TAIL
    reports are only appended, and the fuser starts at the first of those from a checkpoint with an
    empty window (what its 72 h window would hold of a stream that old: nothing older than it). The
    older incidents are then not stored, so the "before" tick and the whole replay are not measured."""
    first = 0
    if fast:
        first = size - FAST_TAIL
        for start in range(0, first, 20_000):
            append_reports(client, start, min(first, start + 20_000), end, total)
        seed = Fuser(client)
        assert seed.acquire()
        try:
            seed.cursor = client.xrevrange(EventKeys.EVENTS, count=1)[0][0].decode()
            seed._last_ms = int(seed.cursor.split("-")[0])
            checkpoint.save(seed)
        finally:
            seed.release()
    fuser = Fuser(client, batch=5000, checkpoint_seconds=3600)
    assert fuser.acquire()
    try:
        fuser.rebuild()
        for start in range(first, size, 5000):
            append_reports(client, start, min(size, start + 5000), end, total)
            while fuser.step(block_ms=1):
                pass
        fuser.save_checkpoint()
    finally:
        fuser.release()


def restart(client: redis.Redis, retention: Retention | None = None) -> tuple[float, int]:
    fuser = Fuser(client, retention=retention)
    assert fuser.acquire()
    try:
        began = time.perf_counter()
        replayed = fuser.rebuild()
        return time.perf_counter() - began, replayed
    finally:
        fuser.release()


def raw_xrange(client: redis.Redis) -> float:
    began, start = time.perf_counter(), "-"
    while True:
        rows = client.xrange(EventKeys.EVENTS, min=start, max="+", count=1000)
        if len(rows) < 1000:
            return time.perf_counter() - began
        start = "(" + rows[-1][0].decode()


def tick(client: redis.Redis, *, windowed: bool) -> float:
    """One threat tick of one screen (the 4 s cache emptied first): read, then assess."""
    client.delete(*(ThreatKeys.threat_cache(m) for m in ("TLP:RED",)))
    began = time.perf_counter()
    now = datetime.now(UTC)
    between = ((now - THREAT_WINDOW).timestamp(), (now + THREAT_AHEAD).timestamp()) if windowed else None
    assess(incidents.live_incidents_with_areas(client, between=between), None, now)
    return time.perf_counter() - began


def median(f: Callable[[], float], runs: int) -> float:
    return statistics.median(f() for _ in range(runs))


def measure(size: int, whole_max: int, fast_from: int) -> dict[str, Any]:
    end = datetime.now(UTC) - timedelta(minutes=5)
    out: dict[str, Any] = {"events": size, "history_days": round(size * SECONDS_APART / 86400, 1)}
    with tempfile.TemporaryDirectory(prefix="wf-bench-history-") as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis", fsync="everysec").start()
        client = redis.Redis.from_url(server.url)
        try:
            began = time.perf_counter()
            fast = size >= fast_from
            build(client, size, end, size + LATE, fast=fast)
            out["build_s"] = round(time.perf_counter() - began, 1)
            out["fast_build"] = fast
            out["incidents"] = client.hlen(IncidentKeys.INCIDENTS)
            if not fast:
                out["tick_before_s"] = median(lambda: tick(client, windowed=False), 5)
            append_reports(client, size, size + LATE, end, size + LATE)
            out["raw_xrange_s"] = median(lambda: raw_xrange(client), 3)
            runs = [restart(client) for _ in range(3)]  # the first resumes and replays LATE; the others nothing
            out["restart_s"], out["restart_replayed"] = runs[0][0], runs[0][1]
            out["restart_again_s"] = statistics.median(r[0] for r in runs[1:])
            out["checkpoint_bytes"] = int(client.hget(IncidentKeys.FUSION_STATE, "checkpoint_bytes") or 0)
            if size <= whole_max and not fast:
                client.delete(IncidentKeys.FUSION_CHECKPOINT)
                out["whole_replay_s"], _ = restart(client)
            retention = Retention(events_ms=30 * DAY_MS, incident_age_ms=30 * DAY_MS, archive=Path(tmp) / "archive",
                                  budget=10_000_000)
            fuser = Fuser(client, retention=retention)
            assert fuser.acquire()
            try:
                fuser.rebuild()
                began = time.perf_counter()
                out["retention"] = retention.run(fuser)
                out["retention_s"] = round(time.perf_counter() - began, 2)
            finally:
                fuser.release()
            out["live_incidents_after"] = client.hlen(IncidentKeys.INCIDENTS)
            out["stream_after"] = client.xlen(EventKeys.EVENTS)
            out["tick_after_s"] = median(lambda: tick(client, windowed=True), 5)
            out["tick_after_full_read_s"] = median(lambda: tick(client, windowed=False), 5)
            out["restart_after_trim_s"] = statistics.median(restart(client, retention)[0] for _ in range(3))
        finally:
            client.close()
            server.stop()
    out["ratios"] = {"restart/raw_xrange": round(out["restart_s"] / out["raw_xrange_s"], 3)}
    if "tick_before_s" in out:
        out["ratios"]["tick_after/tick_before"] = round(out["tick_after_s"] / out["tick_before_s"], 4)
    if "whole_replay_s" in out:
        out["ratios"]["whole_replay/raw_xrange"] = round(out["whole_replay_s"] / out["raw_xrange_s"], 2)
    return out


def print_report(rows: list[dict[str, Any]]) -> None:
    print("History (#19): fuser restart and threat tick against the size of the history (one report every "
          f"{SECONDS_APART:g} s of stream time; a million is a year)")
    print(f"  {'events':>9} {'days':>6} {'build':>7} {'raw XRANGE':>10} {'restart':>8} {'(replayed)':>10} "
          f"{'whole replay':>12} {'ckpt MB':>7} {'tick before':>11} {'tick after':>10} {'live after':>10} "
          f"{'restart trimmed':>15}")
    for r in rows:
        whole = f"{r['whole_replay_s']:.2f} s" if "whole_replay_s" in r else "not run"
        before = f"{r['tick_before_s'] * 1000:.0f}ms" if "tick_before_s" in r else "not run"
        print(f"  {r['events']:>9,} {r['history_days']:>6} {r['build_s']:>6.0f}s {r['raw_xrange_s']:>9.2f}s "
              f"{r['restart_s']:>7.2f}s {r['restart_replayed']:>10,} {whole:>12} {r['checkpoint_bytes'] / 1e6:>7.1f} "
              f"{before:>11} {r['tick_after_s'] * 1000:>8.1f}ms {r['live_incidents_after']:>10,} "
              f"{r['restart_after_trim_s']:>14.2f}s")
    for r in rows:
        print(f"ratio fuser-restart/raw-xrange[{r['events']}] {r['ratios']['restart/raw_xrange']:.3f}")
        if "whole_replay/raw_xrange" in r["ratios"]:
            print(f"ratio whole-replay/raw-xrange[{r['events']}] {r['ratios']['whole_replay/raw_xrange']:.2f}")
        if "tick_after/tick_before" in r["ratios"]:
            print(f"ratio threat-tick-after/before[{r['events']}] {r['ratios']['tick_after/tick_before']:.4f}")
    if any(r.get("fast_build") for r in rows):
        print(f"  (fast build: only the last {FAST_TAIL:,} reports fused live; see the module docstring)")


def run_history(sizes: list[int], whole_max: int, fast_from: int = 1_000_000) -> list[dict[str, Any]]:
    rows = []
    for size in sizes:
        rows.append(measure(size, whole_max, fast_from))
        print(f"  ({size:,} events measured: {orjson.dumps(rows[-1]).decode()})", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.history", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated numbers of events")
    parser.add_argument("--whole-max", type=int, default=100_000, help="largest size whose whole replay is timed")
    parser.add_argument("--fast-from", type=int, default=1_000_000, help="sizes from this one are built fast "
                        "(only the last reports fused live)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = run_history([int(s) for s in args.sizes.split(",")], args.whole_max, args.fast_from)
    print_report(rows)
    print(f"bench.history took {time.perf_counter() - started:.0f} s")
    out = RESULTS / "history.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"when": datetime.now(UTC).isoformat(), "machine": machine(), "sizes": rows}, indent=1)
                   + "\n")
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
