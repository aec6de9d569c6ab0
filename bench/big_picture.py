"""A big picture stays fast (#19 item 4): the desk at 10k, 100k and 250k live incidents (1M with
``--sizes``), the whole stack as ``watchfloor up`` runs it, in real headless Chromium.

``python -m bench.big_picture [--quick] [--sizes 10000,100000,250000] [--probes 20] [--idle 30]``
(``--quick``: a smoke run, small pictures, for tests/test_bench.py). For each size N:

* the store is seeded straight into Redis as the fuser writes it (``wf:incidents`` with its time
  and geo indexes and one ``wf:incident-changes`` entry per incident): random places all over the
  world, 0.5 s apart ending now (as bench.screens seeds, so a quarter of a million span 35 hours and
  the threat window of 6 h holds about 43,000 of them), mostly minor and moderate, a few severe and
  extreme, a tenth marked TLP:GREEN or TLP:AMBER. The fuser does not hold seeded incidents;
* ``first render``: a fresh signed-in page to the figure holding the picture (Plotly has it), the
  first load after seeding (cold: the web process catches up with the new incidents) and the next;
* ``pan``: the map moved 20 degrees east, to MapLibre idle again;
* ``new incident``: an extreme quake appended to ``wf:events`` (through the real fuser) to its dot
  on the map, p50/p95 over ``--probes``;
* ``idle desk``: CPU of the web process (psutil) over ``--idle`` seconds with one desk open and
  nothing changing (from 11 s after the last probe: the threat levels it changed are worked out
  first), in cores; the web process's RSS after it.

Then the fuser's memory: a real :class:`workers.fusion.Fuser` on its own Redis fusing N reports
all inside its window, bytes per incident held (tracemalloc), and the same N spread over 30 days
(held: what its window keeps). Results: bench/results/big-picture.json.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench.live_stack import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    http_session_cookie,
    percentile,
    redis_client,
    start_stack,
    tmp_root,
    web_process,
)
from bench.report import RESULTS, machine
from bench.screens import AGG_DRAWN, AGG_PAINTED, MAP, SEEN, SEEN_AT, WATCH, WATCHER, _fused
from domain.picture.keys import IncidentKeys
from domain.store.streams import EventKeys, EventStore
from feeds.model import Event, Kind, Severity

PASSWORD = "big picture probe 42"
KINDS = ("earthquake", "wildfire", "flood", "storm", "other")
SEVERITIES = ("minor",) * 60 + ("moderate",) * 34 + ("severe",) * 4 + ("extreme",) * 1 + ("unknown",) * 1
MARKINGS = ("TLP:CLEAR",) * 18 + ("TLP:GREEN", "TLP:AMBER")
PAN = """(sel) => { const gd = document.querySelector(sel); window.__panned = null;
  const m = gd._fullLayout.map._subplot.map; const c = gd._fullLayout.map.center;
  const t0 = performance.now();
  m.once('idle', () => { window.__panned = performance.now() - t0; });
  Plotly.relayout(gd, {'map.center': {lon: ((c.lon + 200) % 360) - 180, lat: c.lat}}); return true; }"""


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.big_picture", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: small pictures, 3 probes, 3 s idle")
    parser.add_argument("--sizes", type=str, default=None, help="live incidents, e.g. 10000,100000,250000")
    parser.add_argument("--probes", type=int, default=None, help="new incidents timed per size (default 20)")
    parser.add_argument("--idle", type=float, default=None, help="seconds of idle desk measured (default 30)")
    parser.add_argument("--fuser-sizes", type=str, default=None, help="reports fused for the fuser's memory")
    parser.add_argument("--json", type=Path, default=None, help="results file (default bench/results/big-picture.json)")
    return parser.parse_args(argv)


def seed(client: Any, first: int, last: int, now: float) -> None:
    """Incidents ``first``..``last - 1``, as the fuser stores them, incident i 0.5*i s before ``now``."""
    rng = random.Random(first)
    pipe = client.pipeline(transaction=False)
    for i in range(first, last):
        t = now - 0.5 * i
        lat, lon = round(rng.uniform(-60, 70), 4), round(rng.uniform(-179, 179), 4)
        iid, at = f"inc:big:{i}", datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        doc = {"id": iid, "kind": rng.choice(KINDS), "title": f"big picture {i}", "time": at, "lat": lat, "lon": lon,
               "magnitude": None, "severity": rng.choice(SEVERITIES), "place": f"place {i}", "placed_by": None,
               "precision": None, "areas": [], "corroboration": 1, "exercise": False, "tlp": rng.choice(MARKINGS),
               "superseded": [], "reports": [{"event_id": f"big:{i}", "source": "bench", "feed": "bench", "time": at,
                                              "fields": ["lat", "lon", "time", "title"]}]}
        pipe.hset(IncidentKeys.INCIDENTS, iid, orjson.dumps(doc, option=orjson.OPT_SORT_KEYS))
        pipe.zadd(IncidentKeys.INCIDENT_TIME, {iid: t})
        pipe.geoadd(IncidentKeys.INCIDENT_GEO, [lon, lat, iid])
        pipe.xadd(IncidentKeys.INCIDENT_CHANGES, {"id": iid, "op": "upsert"})
        if len(pipe) >= 4000:
            pipe.execute()
    pipe.execute()


def probe_event(i: int, rng: random.Random) -> Event:
    """An extreme quake now, at a random spot: the most important incident, so a dot, never binned."""
    return Event(id=f"bigprobe:{i}", source="bench", kind=Kind.EARTHQUAKE, title=f"big picture probe {i}",
                 time=datetime.now(UTC), severity=Severity.EXTREME, lat=round(rng.uniform(-50, 60), 4),
                 lon=round(rng.uniform(-170, 170), 4), magnitude=7.5, depth_km=10.0, feed="bench", place=f"probe {i}")


def _cpu_seconds(proc: Any) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def first_render(stack: Any, browser: Any) -> dict[str, Any]:
    """A fresh signed-in desk: seconds from navigation start to the picture in the figure, and to MapLibre idle."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)[:300]))
    stack.sign_in(page, "bench", PASSWORD, "api/session")
    page.goto(stack.url, wait_until="commit", timeout=600_000)
    page.wait_for_function(AGG_DRAWN, arg=[MAP, False], polling="raf", timeout=900_000)
    page.wait_for_function(AGG_PAINTED, arg=MAP, polling=100, timeout=600_000)
    drawn, painted = page.evaluate("() => [window.__drawnAt, window.__paintedAt]")
    # The server's share: the longest request of the page (the document or the callback carrying the snapshot).
    counts = page.evaluate("""(sel) => { const gd = document.querySelector(sel);
      const spans = performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
        .filter((e) => e.startTime < window.__drawnAt).map((e) => e.responseEnd - e.requestStart);
      return {dots: gd.data[0].lat.filter((v) => v !== null).length, bins: gd.data[2] ? gd.data[2].lat.length : 0,
              server_s: Math.max(0, ...spans) / 1000}; }""", MAP)
    return {"page": page, "context": context, "drawn_s": drawn / 1000, "painted_s": (painted or drawn) / 1000,
            "errors": errors, **counts}


def pan_seconds(page: Any) -> float:
    page.evaluate(PAN, MAP)
    page.wait_for_function("() => window.__panned !== null", polling=50, timeout=120_000)
    return float(page.evaluate("() => window.__panned")) / 1000


def new_incident_seconds(page: Any, client: Any, probes: int, rng: random.Random, tag: int,
                         fused: list[float]) -> list[float]:
    """Append-to-dot seconds of each probe (a missed one counts as 30 s). The dot watched is the
    incident the fuser placed the report in (``wf:incident-of``), whatever its id; ``fused`` gets
    append-to-change-entry seconds (the fuser's share)."""
    page.evaluate(WATCHER, MAP)
    store, out = EventStore(client), []
    for k in range(probes):
        event = probe_event(tag * 1000 + k, rng)
        ids = [event.id, f"inc:{event.id}"]
        page.evaluate(WATCH, ids)
        appended = time.time()
        store.append([event])
        while time.time() - appended < 30 and not page.evaluate(SEEN, ids):
            placed = client.hget(IncidentKeys.INCIDENT_OF, event.id)
            if placed and placed.decode() not in ids:
                ids.append(placed.decode())
                page.evaluate(WATCH, ids)
            time.sleep(0.05)
        seen_ms = page.evaluate(SEEN_AT, ids)
        out.append(min(30.0, seen_ms / 1000 - appended) if seen_ms != float("inf") and seen_ms else 30.0)
        _incident, changed_ms = _fused(client, event.id)
        fused.append(changed_ms / 1000 - appended if changed_ms else float("nan"))
        time.sleep(rng.uniform(0.2, 1.2))  # de-phase from the poll timer
    return out


def measure_size(stack: Any, browser: Any, client: Any, n: int, probes: int, idle_s: float) -> dict[str, Any]:
    web = web_process(stack)
    cold = first_render(stack, browser)
    cold["context"].close()
    warm = first_render(stack, browser)
    page = warm["page"]
    page.wait_for_timeout(1500)
    shots = ROOT / "test-artifacts"
    shots.mkdir(exist_ok=True)
    page.screenshot(path=str(shots / f"bench-big-picture-{n}.png"))
    pans = [pan_seconds(page) for _ in range(3)]
    fused: list[float] = []
    latencies = new_incident_seconds(page, client, probes, random.Random(n), n, fused)
    # The probes' updates settle, and the threat levels they changed are worked out (at the next 5 s
    # panels tick, at most CACHE_SECONDS later): what follows is a desk with nothing changing.
    page.wait_for_timeout(11_000)
    before, began = _cpu_seconds(web), time.monotonic()
    page.wait_for_timeout(int(idle_s * 1000))
    idle = (_cpu_seconds(web) - before) / (time.monotonic() - began)
    rss = web.memory_info().rss
    warm["context"].close()
    return {"incidents": client.hlen(IncidentKeys.INCIDENTS), "first_render_cold_s": cold["drawn_s"],
            "first_render_s": warm["drawn_s"], "painted_s": warm["painted_s"], "dots": warm["dots"],
            "longest_request_cold_s": cold["server_s"], "longest_request_s": warm["server_s"],
            "bins": warm["bins"], "pan_s": percentile(pans, 50), "new_incident_p50_s": percentile(latencies, 50),
            "new_incident_p95_s": percentile(latencies, 95), "missed": sum(1 for s in latencies if s >= 30),
            "fused_p50_s": percentile([f for f in fused if f == f], 50) if any(f == f for f in fused) else None,
            "idle_web_cores": idle, "web_rss_mb": rss / 1e6, "page_errors": (cold["errors"] + warm["errors"])[:3]}


def run_screens(sizes: list[int], probes: int, idle_s: float, env: dict[str, str]) -> list[dict[str, Any]]:
    from playwright.sync_api import sync_playwright

    tmp = tmp_root()
    stack = start_stack(tmp, env={"WATCHFLOOR_EXERCISE": "false", **env})
    rows: list[dict[str, Any]] = []
    try:
        stack.add_user("bench", "operator", PASSWORD)
        http_session_cookie(stack, "bench", PASSWORD)  # the account signs in
        client = redis_client(stack)
        now, have = time.time(), 0
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for n in sizes:
                began = time.perf_counter()
                for first in range(have, n, 20_000):
                    seed(client, first, min(n, first + 20_000), now)
                have = max(have, n)
                print(f"   seeded {n:,} incidents in {time.perf_counter() - began:.1f} s", flush=True)
                row = measure_size(stack, browser, client, n, probes, idle_s)
                rows.append(row)
                print(f"   {row['incidents']:>8,} live: first render {row['first_render_cold_s']:.1f} s cold, "
                      f"{row['first_render_s']:.1f} s next ({row['dots']:,} dots, {row['bins']:,} bins; longest request "
                      f"{row['longest_request_cold_s']:.2f} s cold, {row['longest_request_s']:.2f} s next); pan "
                      f"{row['pan_s']:.2f} s; new incident p50 {row['new_incident_p50_s']:.2f} s p95 "
                      f"{row['new_incident_p95_s']:.2f} s ({row['missed']} missed; fused p50 {row['fused_p50_s'] or 0:.2f} s); idle desk "
                      f"{row['idle_web_cores']:.3f} core; web RSS {row['web_rss_mb']:,.0f} MB", flush=True)
            browser.close()
    finally:
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def _fuser_reports(client: Any, n: int, span_s: float) -> None:
    """``n`` quakes far apart (each its own incident), evenly over the ``span_s`` seconds ending now."""
    rng = random.Random(n)
    end = time.time()
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        at = datetime.fromtimestamp(end - span_s * (n - i) / n, UTC)
        event = Event(id=f"fmem:{i}", source="usgs-geojson", kind=Kind.EARTHQUAKE, time=at, title=f"M 5.0 - {i}",
                      lat=round(rng.uniform(-60, 70), 4), lon=round(rng.uniform(-179, 179), 4), magnitude=5.0,
                      severity=Severity.MODERATE, feed="usgs")
        raw, _ = event.encoded()
        pipe.xadd(EventKeys.EVENTS, {"id": event.id, "op": "new", "e": raw, "sup": ""},
                  id=f"{int(at.timestamp() * 1000)}-{i}")
        if len(pipe) >= 2000:
            pipe.execute()
    pipe.execute()


def fuser_memory(n: int, span_hours: float) -> dict[str, Any]:
    """A real fuser fusing ``n`` reports spread over ``span_hours``: bytes it holds (tracemalloc) per incident."""
    import redis

    from watchfloor.redis_server import EmbeddedRedis
    from workers.fusion import Fuser

    data = Path(tempfile.mkdtemp(prefix="wf-fmem-"))
    server = EmbeddedRedis(data, fsync="no")
    server.start()
    try:
        client = redis.Redis.from_url(server.url)
        _fuser_reports(client, n, span_hours * 3600)
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        fuser = Fuser(client, batch=5000, checkpoint_seconds=3600, lock_ttl=3600)
        assert fuser.acquire()
        try:
            fuser.rebuild()
            while fuser.step(block_ms=1):
                pass
            held_bytes = tracemalloc.get_traced_memory()[0] - base
            held = len(fuser.correlator)
        finally:
            fuser.release()
            tracemalloc.stop()
        return {"reports": n, "span_hours": span_hours, "incidents_stored": client.hlen(IncidentKeys.INCIDENTS),
                "incidents_held": held, "held_mb": held_bytes / 1e6, "bytes_per_stored_incident": held_bytes / max(1, n)}
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    if not Path(CHROMIUM).exists():
        print(f"big picture: {CHROMIUM} missing (`make browser` installs it)", file=sys.stderr)
        return 1
    try:
        sizes = [int(s) for s in (args.sizes or ("600,1500" if args.quick else "10000,100000,250000")).split(",")]
        fuser_sizes = [int(s) for s in (args.fuser_sizes or ("2000" if args.quick else "20000,100000")).split(",")]
    except ValueError:
        print("big picture: --sizes and --fuser-sizes are comma-separated whole numbers", file=sys.stderr)
        return 2
    probes = args.probes or (3 if args.quick else 20)
    idle_s = args.idle or (3.0 if args.quick else 30.0)
    env = {"WATCHFLOOR_MAP_MAX_POINTS": "500"} if args.quick else {}  # the smoke run still aggregates
    started = time.perf_counter()
    print(f"Big picture (#19): the desk at {', '.join(f'{s:,}' for s in sizes)} live incidents")
    screens = run_screens(sizes, probes, idle_s, env)
    print("Fuser memory (a real Fuser, tracemalloc)")
    fuser = []
    for n in fuser_sizes:
        for span in (24.0, 24.0 * 30):
            row = fuser_memory(n, span)
            fuser.append(row)
            print(f"   {n:>8,} reports over {span / 24:g} d: holds {row['incidents_held']:,} incidents, "
                  f"{row['held_mb']:.1f} MB, {row['bytes_per_stored_incident']:,.0f} B per stored incident", flush=True)
    out = {"mode": "quick" if args.quick else "full", "machine": machine(), "date": datetime.now(UTC).isoformat(),
           "screens": screens, "fuser": fuser, "seconds": time.perf_counter() - started}
    path = args.json or RESULTS / ("big-picture-quick.json" if args.quick else "big-picture.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1, default=str), encoding="utf-8")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
