"""Replay (#16): 24 hours of history replayed at 60x. What building the replay costs (time, memory),
what one frame costs the server (ms) and sends (bytes) with patches against whole figures every frame,
both in the same run; and, in the full run, the frame time in headless Chromium (request to drawn,
p50/p95 ms) on the real stack, patches against whole figures (``/replay?frames=full``).

    python -m bench.replay [--hours 24] [--per-hour 800] [--browser-seconds 60]   bench/results/replay.json
    python -m bench.replay --quick      smoke: 2 hours, server side only (tests/test_bench.py runs it)

History is synthetic and fused like the live picture: reports around the Boston marathon course and
the world, a fifth of them told again by a second source (they fuse), written to ``wf:events`` with
stream ids spread over the window (ingest time), so the replay's fusion, prunes and frames see the
same shape a day of feeds gives. At 60x a frame every 500 ms moves the replay 30 s: 24 hours are 2,880
frames; the server side measures every tenth (each against the frame before it), the smoke run all.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import plotly.io
import psutil
import redis

from bench.live_stack import CHROMIUM, CHROMIUM_ARGS, percentile, redis_client, start_stack
from dashboard.panels.figures import map_figure, timeline_figure
from dashboard.replay.view import figure_patches, full_figures, map_rows
from domain.access.tlp import TLP
from domain.replay.frames import frame
from domain.replay.picture import Replay, Window
from domain.store.streams import EventKeys
from feeds.model import Event, Kind, Severity
from watchfloor.redis_server import EmbeddedRedis

RESULTS = Path(__file__).resolve().parent / "results"
FRAME_MS = 500
SPEED = 60
PASSWORD = "after action review 7 x"
KINDS = (Kind.FIRE, Kind.MEDICAL, Kind.SECURITY, Kind.TRAFFIC, Kind.WEATHER)
SEVERITIES = (Severity.MINOR, Severity.MODERATE, Severity.SEVERE, Severity.EXTREME)


def seed(client: redis.Redis, hours: float, per_hour: int, end_ms: int, seed_value: int = 16) -> int:
    """Write ``hours`` of reports ending at ``end_ms`` into wf:events; returns how many."""
    rng = random.Random(seed_value)
    count = int(hours * per_hour)
    start_ms = end_ms - int(hours * 3_600_000)
    pipe = client.pipeline(transaction=False)
    written = 0
    for n in range(count):
        ms = start_ms + int(n * (end_ms - start_ms) / count)
        near = rng.random() < 0.7
        lat, lon = (42.25 + rng.random() * 0.12, -71.5 + rng.random() * 0.45) if near else \
            (rng.uniform(-50, 60), rng.uniform(-170, 170))
        when = datetime.fromtimestamp(ms / 1000, UTC)
        kind, severity = rng.choice(KINDS), rng.choice(SEVERITIES)
        first = Event(id=f"bench:{n}", source="cap", kind=kind, time=when, title=f"{kind.value} {n} on the course",
                      lat=lat, lon=lon, severity=severity, feed="bench-cap")
        batch = [(first, ms)]
        if rng.random() < 0.2:  # a second source tells it a minute later: the same incident
            batch.append((Event(id=f"bench-news:{n}", source="rss", kind=kind, time=when,
                                title=f"{kind.value} {n} on the course", lat=lat + 0.001, lon=lon + 0.001,
                                severity=severity, feed="bench-news"), ms + 1))
        for event, at in batch:
            raw, _ = event.encoded()
            pipe.xadd(EventKeys.EVENTS, {"id": event.id, "op": "new", "e": raw, "sup": ""}, id=f"{at}-{written % 7}")
            written += 1
        if written % 1000 < 2:
            pipe.execute()
    pipe.execute()
    return written


def server_side(client: redis.Redis, window: Window, every: int = 1) -> dict[str, Any]:
    """Build the replay (time, resident memory), then the frames of playing it at 60x (every
    ``every``-th one, each against the frame before it): server ms and bytes, patches against whole
    figures, measured in the same loop."""
    rss = psutil.Process().memory_info().rss
    began = time.perf_counter()
    replay = Replay.build(client, window)
    build_s = time.perf_counter() - began
    peak = psutil.Process().memory_info().rss - rss  # what the replay holds (and the fusion left), resident
    base_map, base_timeline = map_figure([]), timeline_figure([])
    patch_ms, full_ms, patch_bytes, full_bytes, frame_ms = [], [], [], [], []
    step = SPEED * FRAME_MS
    frames = list(range(window.start_ms, window.end_ms + 1, step))
    sampled = frames[::every]
    after: list[dict[str, Any]] = []
    for t in sampled:  # each sampled frame against the frame before it, as the browser asks for them
        map_rows(client, replay, t - step, TLP.AMBER)  # (the frame the browser shows: kept from the last answer)
        began = time.perf_counter()
        after = map_rows(client, replay, t, TLP.AMBER, base_ms=t - step)
        rows_s = time.perf_counter() - began
        began = time.perf_counter()
        shown = map_rows(client, replay, t - step, TLP.AMBER) if t > window.start_ms else []
        map_patch, timeline_patch, _ = figure_patches(shown, after, replay.born, t)
        body = orjson.dumps([map_patch.to_plotly_json(), timeline_patch.to_plotly_json()])
        patch_ms.append((rows_s + time.perf_counter() - began) * 1000)
        patch_bytes.append(len(body))
        began = time.perf_counter()
        whole = full_figures(base_map, base_timeline, after, t)
        text = plotly.io.json.to_json_plotly(list(whole))
        full_ms.append((rows_s + time.perf_counter() - began) * 1000)
        full_bytes.append(len(text))
        began = time.perf_counter()
        frame(client, replay, datetime.fromtimestamp(t / 1000, UTC), TLP.AMBER, [])
        frame_ms.append((time.perf_counter() - began) * 1000)
    before = after
    return {"build_s": round(build_s, 2), "build_rss_mb": round(peak / 1e6, 1), "entries": replay.entries_read,
            "changes": len(replay.changes), "frames": len(frames), "frames_measured": len(patch_ms),
            "keyframes": len(replay.keyframes),
            "incidents_at_end": len(before),
            "patch_ms_p50": round(statistics.median(patch_ms), 2), "patch_ms_p95": round(percentile(patch_ms, 95), 2),
            "full_ms_p50": round(statistics.median(full_ms), 2), "full_ms_p95": round(percentile(full_ms, 95), 2),
            "panels_ms_p50": round(statistics.median(frame_ms), 2), "panels_ms_p95": round(percentile(frame_ms, 95), 2),
            "patch_bytes_p50": int(statistics.median(patch_bytes)), "full_bytes_p50": int(statistics.median(full_bytes)),
            "bytes_ratio_full_to_patch": round(statistics.median(full_bytes) / max(1, statistics.median(patch_bytes)), 1)}


def browser_side(hours: float, per_hour: int, seconds: float) -> dict[str, Any]:
    """The real stack, headless Chromium: play at 60x for ``seconds`` with patches, then with whole
    figures (frames=full), from the same instants; each frame's time from request to drawn."""
    from playwright.sync_api import sync_playwright  # (only the full run needs a browser)

    with tempfile.TemporaryDirectory(prefix="wf-bench-replay-") as tmp:
        stack = start_stack(Path(tmp), env={"WATCHFLOOR_EXERCISE": "false", "WATCHFLOOR_WORKERS": "1"})
        try:
            stack.add_user("bench", "supervisor", PASSWORD)
            end_ms = int(time.time() * 1000) - 60_000
            written = seed(redis_client(stack), hours, per_hour, end_ms)
            start = datetime.fromtimestamp((end_ms - hours * 3_600_000) / 1000, UTC)
            end = datetime.fromtimestamp(end_ms / 1000, UTC)
            out: dict[str, Any] = {"entries": written}
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for mode in ("patch", "full"):
                    page = browser.new_page(viewport={"width": 1440, "height": 900})
                    at = start + timedelta(hours=hours / 2)
                    query = urllib.parse.urlencode({"from": f"{start:%Y-%m-%dT%H:%M:%SZ}", "to": f"{end:%Y-%m-%dT%H:%M:%SZ}",
                                                    "at": f"{at:%Y-%m-%dT%H:%M:%SZ}", "speed": str(SPEED), "play": "1",
                                                    **({"frames": "full"} if mode == "full" else {})})
                    stack.sign_in(page, "bench", PASSWORD, urllib.parse.quote("replay?" + query, safe="/"))
                    page.wait_for_function("() => window.__wfreplay && window.__wfreplay.times.length > 2", timeout=180_000)
                    page.evaluate("() => { window.__wfreplay.times = []; }")
                    time.sleep(seconds)
                    times = page.evaluate("() => window.__wfreplay.times.slice()")
                    out[mode] = {"frames": len(times), "p50_ms": round(statistics.median(times), 1),
                                 "p95_ms": round(percentile(times, 95), 1), "banner": page.inner_text(".wf-replay-banner")}
                    page.close()
                browser.close()
            out["p50_ratio_full_to_patch"] = round(out["full"]["p50_ms"] / max(0.1, out["patch"]["p50_ms"]), 2)
            return out
        finally:
            stack.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replay", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--per-hour", type=int, default=400, help="reports a hour (a fifth told twice)")
    parser.add_argument("--every", type=int, default=10, help="measure every N-th frame on the server (1: all)")
    parser.add_argument("--browser-seconds", type=float, default=60.0, help="seconds of play in Chromium per mode")
    parser.add_argument("--quick", action="store_true", help="smoke: 2 hours, server side only")
    args = parser.parse_args(argv)
    hours = 2.0 if args.quick else args.hours
    per_hour = 200 if args.quick else args.per_hour
    with tempfile.TemporaryDirectory(prefix="wf-bench-replay-") as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis").start()
        try:
            client = redis.Redis.from_url(server.url)
            end_ms = int(time.time() * 1000) - 60_000
            written = seed(client, hours, per_hour, end_ms)
            window = Window(datetime.fromtimestamp((end_ms - hours * 3_600_000) / 1000, UTC),
                            datetime.fromtimestamp(end_ms / 1000, UTC))
            result: dict[str, Any] = {"hours": hours, "reports": written, "speed": SPEED, "frame_ms": FRAME_MS,
                                      "server": server_side(client, window, 1 if args.quick else args.every)}
        finally:
            server.stop()
    s = result["server"]
    print(f"Replay of {hours:g} h ({written:,} reports, {s['changes']:,} incident changes) at {SPEED}x, a frame every "
          f"{FRAME_MS} ms ({s['frames']:,} frames, {s['frames_measured']:,} measured):")
    print(f"  build {s['build_s']} s (the fusion of the whole history), {s['build_rss_mb']} MB more resident; {s['incidents_at_end']:,} incidents on the map at the end")
    print(f"  server per frame, map+timeline: patch p50 {s['patch_ms_p50']} ms p95 {s['patch_ms_p95']} ms; whole figures "
          f"p50 {s['full_ms_p50']} ms p95 {s['full_ms_p95']} ms; side panels (threat, alerts, notes; at most every "
          f"2 s while playing) p50 {s['panels_ms_p50']} ms")
    print(f"  bytes per frame: patch p50 {s['patch_bytes_p50']:,}, whole figures p50 {s['full_bytes_p50']:,} "
          f"(ratio {s['bytes_ratio_full_to_patch']})")
    if not args.quick:
        b = result["browser"] = browser_side(hours, per_hour, args.browser_seconds)
        print(f"  Chromium frame (request to drawn), {args.browser_seconds:g} s at {SPEED}x each: patch p50 "
              f"{b['patch']['p50_ms']} ms p95 {b['patch']['p95_ms']} ms ({b['patch']['frames']} frames); whole figures "
              f"p50 {b['full']['p50_ms']} ms p95 {b['full']['p95_ms']} ms ({b['full']['frames']} frames); ratio "
              f"{b['p50_ratio_full_to_patch']}")
    RESULTS.mkdir(exist_ok=True)
    name = "replay-quick.json" if args.quick else "replay.json"
    (RESULTS / name).write_text(json.dumps({"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **result},
                                           indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
