"""A Redis Sentinel failover under load: what the floor sees and what it keeps.

Real processes: a primary, a replica and three sentinels (``watchfloor.redis_ha.SentinelSet``,
what ``watchfloor up --ha`` starts), the web app on loopback watching ``/api/health`` (the same
``health_report`` the screens' DEGRADED banner comes from), and a writer appending reports one at a
time through ``EventStore.append`` (the workers' path, WAIT 1 included) and recording those
acknowledged. Part way through, the primary is killed with SIGKILL; the sentinels promote the
replica; the dead node is started again as a replica (what the supervisor does). Then every
acknowledged report is looked for on the new primary.

python -m bench.failover [--quick] [--events N]     bench/results/failover.json

Measured: seconds from the kill to the health answering DEGRADED (503, redis false) and back to
LIVE (200), the longest pause in acknowledged writes, reports acknowledged before the kill and
after, found after, lost (acknowledged but missing: must be 0) and duplicated (must be 0).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from domain.store.connection import connect
from domain.store.streams import EventKeys, EventStore
from feeds.model import Event, Kind, Severity
from tests.domain.test_access import make_config, serve, stop
from watchfloor.redis_ha import SentinelSet

RESULTS = Path(__file__).resolve().parent / "results"
T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def report(i: int) -> Event:
    return Event(id=f"failover:{i}", source="usgs", kind=Kind.EARTHQUAKE, title=f"M 4.{i % 10} quake {i}", time=T0,
                 lat=35.6, lon=-117.7, magnitude=4.0, severity=Severity.MINOR)


class Writer(threading.Thread):
    """Appends reports one by one; one is acknowledged when ``append`` returns. A failed append (the
    store unreachable, or not confirmed on the replica) is tried again, as a failed poll would be."""

    def __init__(self, url: str, events: int, deadline: float) -> None:
        super().__init__(daemon=True)
        self.url, self.events, self.deadline = url, events, deadline
        self.acked: list[tuple[str, float]] = []  # (id, monotonic time)
        self.failures: dict[str, int] = {}
        self.failed_at: list[tuple[float, float, str]] = []  # (tried at, failed at, why)

    def run(self) -> None:
        store = EventStore(connect(self.url))
        for i in range(self.events):
            while time.monotonic() < self.deadline:
                started = time.monotonic()
                try:
                    store.append([report(i)])
                    self.acked.append((f"failover:{i}", time.monotonic()))
                    break
                except (redis.RedisError, OSError) as exc:
                    name = type(exc).__name__
                    self.failures[name] = self.failures.get(name, 0) + 1
                    self.failed_at.append((started, time.monotonic(), f"{name}: {str(exc)[:80]}"))
                    time.sleep(0.05)


class HealthWatch(threading.Thread):
    """``GET /api/health`` every 0.1 s: (monotonic time, HTTP status)."""

    def __init__(self, web: Any) -> None:
        super().__init__(daemon=True)
        self.web, self.seen, self.done = web, [], threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                status = self.web.get("/api/health").status
            except OSError:
                status = 0
            self.seen.append((time.monotonic(), status))
            time.sleep(0.1)


def _transitions(seen: list[tuple[float, int]], kill_at: float) -> tuple[float | None, float | None]:
    """Seconds from the kill to the first DEGRADED answer, and to the first LIVE one after it."""
    degraded = next((t for t, s in seen if t >= kill_at and s == 503), None)
    live = next((t for t, s in seen if degraded is not None and t > degraded and s == 200), None)
    return (None if degraded is None else degraded - kill_at), (None if live is None else live - kill_at)


def run_failover(folder: Path, *, events: int = 300, kill_after: int = 100, timeout: float = 45.0) -> dict[str, Any]:
    ha = SentinelSet(folder / "ha", down_after_ms=1000, failover_ms=3000, wait_ms=1000).start()
    web = serve(__import__("dashboard").create_app(make_config(ha.url)).server)
    watch = HealthWatch(web)
    writer = Writer(ha.url, events, time.monotonic() + timeout)
    try:
        watch.start()
        writer.start()
        while len(writer.acked) < kill_after and writer.is_alive():
            time.sleep(0.01)
        old = ha.current_primary()
        assert old is not None, "no primary before the kill"
        acked_before = len(writer.acked)
        ha.kill_node(old)
        kill_at = time.monotonic()
        promoted_at = None
        while time.monotonic() - kill_at < timeout:
            ha.keep_alive()  # as the supervisor does: the dead node comes back as a replica
            if promoted_at is None and ha.current_primary() not in (None, old):
                promoted_at = time.monotonic()
            to_degraded, to_live = _transitions(list(watch.seen), kill_at)
            if not writer.is_alive() and to_live is not None:
                break
            time.sleep(0.2)
        writer.join(timeout)
        watch.done.set()
        watch.join(5)
        stream = connect(ha.url).xrange(EventKeys.EVENTS)
        found = [fields[b"id"].decode() for _, fields in stream]
        acked = [eid for eid, _ in writer.acked]
        times = [kill_at] + [t for _, t in writer.acked if t >= kill_at]
        to_degraded, to_live = _transitions(watch.seen, kill_at)
        return {
            "events": events, "acknowledged_before_kill": acked_before, "acknowledged": len(acked),
            "found": len(set(found)), "lost": sorted(set(acked) - set(found))[:20],
            "duplicates": len(found) - len(set(found)),
            "promoted_s": None if promoted_at is None else round(promoted_at - kill_at, 2),
            "to_degraded_s": None if to_degraded is None else round(to_degraded, 2),
            "to_live_s": None if to_live is None else round(to_live, 2),
            "longest_write_pause_s": round(max(b - a for a, b in zip(times, times[1:], strict=False)) if len(times) > 1
                                           else 0.0, 2),
            "failed_appends": writer.failures,
            "failures_after_kill_s": [(round(a - kill_at, 2), round(b - kill_at, 2), why) for a, b, why in writer.failed_at],
            "new_primary": ha.current_primary(), "old_primary": old,
        }
    finally:
        watch.done.set()
        stop(web)
        ha.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.failover", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="smoke run (fewer reports)")
    parser.add_argument("--events", type=int, default=0, help="reports to append (default 600, quick 120)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    events = args.events or (120 if args.quick else 600)
    with tempfile.TemporaryDirectory(prefix="wf-failover-") as tmp:
        result = run_failover(Path(tmp), events=events, kill_after=events // 3)
    result["mode"] = "quick" if args.quick else "full"
    result["date"] = datetime.now(UTC).strftime("%Y-%m-%d")
    print(format_result(result))
    out = args.json or RESULTS / ("failover-quick.json" if args.quick else "failover.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0 if not result["lost"] and not result["duplicates"] else 1


def format_result(r: dict[str, Any]) -> str:
    return "\n".join([
        "== Sentinel failover (primary killed with SIGKILL; 1 replica, 3 sentinels, down-after 1 s) ==",
        f"acknowledged before the kill {r['acknowledged_before_kill']}, in all {r['acknowledged']} of {r['events']}; "
        f"found after {r['found']}; lost {len(r['lost'])}; duplicated {r['duplicates']}",
        f"DEGRADED after {r['to_degraded_s']} s, replica promoted after {r['promoted_s']} s, LIVE again after "
        f"{r['to_live_s']} s; longest pause in acknowledged writes {r['longest_write_pause_s']} s",
        f"failed appends (retried): {r['failed_appends'] or 'none'}",
    ])


if __name__ == "__main__":
    raise SystemExit(main())
