"""Wall memory soak: does a wall left open for hours grow in memory?

    python -m bench.wall_soak --minutes 60          the real run (writes bench/results/wall-soak.json)
    python -m bench.wall_soak --minutes 3 --sample-seconds 15     a trial

Starts the whole stack (`watchfloor up`, built-in scenario, default refresh) in a temporary data
directory, signs a display screen in with a display token (as a wall is deployed: exempt from the
idle timeout), opens /wall at 1920x1080 in headless Chromium, and keeps the picture changing: an
ad-hoc inject every ~10 s through the exercise server's POST /inject, so each one travels the whole
path (feed poll, parse, ingest, fuser, poll callback, render). Every sample period it records
``performance.memory.usedJSHeapSize`` (precise, --enable-precise-memory-info), the same after a
forced garbage collection (CDP HeapProfiler.collectGarbage, read after the first value), the RSS
and PSS summed over every Chromium process, the web process's RSS, and how many markers the page
holds. The JSON is rewritten after every sample, so an interrupted run still leaves its data.

Growth is the least-squares slope over the last two thirds of the run (the first third is
warm-up: caches, JIT, the scenario's first burst), in MB per hour.
Not in `make bench`: it takes as long as you ask.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.live_stack import (
    CHROMIUM,
    CHROMIUM_ARGS,
    chromium_processes,
    display_url,
    least_squares_slope,
    repo_state,
    start_stack,
    tmp_root,
    web_process,
)
from bench.report import RESULTS, machine

MB = 1024 * 1024
MAP = ".wf-wall .wf-map-graph .js-plotly-plot"
DRAWN = """(sel) => { const gd = document.querySelector(sel);
  return !!(gd && gd.data && gd.data[0] && gd.data[0].lat && gd.data[0].lat.some(v => v !== null)); }"""
PAGE_STATE = """(sel) => {
  const gd = document.querySelector(sel);
  const t = gd && gd.data && gd.data[0];
  const st = window.__watchfloor && window.__watchfloor.wall;
  const m = performance.memory;
  return {
    used: m ? m.usedJSHeapSize : null, total: m ? m.totalJSHeapSize : null,
    markers: t && t.customdata ? t.customdata.length : 0,
    placed: t && t.lat ? t.lat.filter(v => v !== null).length : 0,
    rows: st ? st.rows.length : 0,
    dom_nodes: document.getElementsByTagName('*').length,
    live: !!document.querySelector('.wf-wall .wf-conn-live'),
    conn: ((document.querySelector('.wf-wall .wf-conn') || {}).textContent || '').slice(0, 80),
    view: (document.querySelector('.wf-wall') || {}).className || '',
  };
}"""


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.wall_soak", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="how long to watch the wall (default 60)")
    parser.add_argument("--sample-seconds", type=float, default=60.0, help="time between samples (default 60)")
    parser.add_argument("--inject-seconds", type=float, default=10.0, help="mean time between injects (default 10)")
    parser.add_argument("--refresh-ms", type=int, default=2000, help="WATCHFLOOR_REFRESH_MS (default 2000)")
    parser.add_argument("--json", type=Path, default=RESULTS / "wall-soak.json", help="results file")
    return parser.parse_args(argv)


class Injector(threading.Thread):
    """An ad-hoc inject every ~``every`` seconds (jittered), spread over the globe and channels."""

    def __init__(self, stack: Any, every: float) -> None:
        super().__init__(name="injector", daemon=True)
        self.stack, self.every = stack, every
        self.stop = threading.Event()
        self.sent = 0
        self.failed: list[str] = []
        self.rng = random.Random(7)

    def _inject(self) -> dict[str, Any]:
        n, rng = self.sent, self.rng
        lat, lon = round(rng.uniform(-55, 65), 4), round(rng.uniform(-170, 170), 4)
        if n % 2 == 0:
            return {"channel": "usgs", "kind": "earthquake", "title": f"EXERCISE soak quake {n}",
                    "place": f"soak area {n}", "lat": lat, "lon": lon, "magnitude": round(rng.uniform(3, 6.5), 1),
                    "depth_km": 10.0, "severity": rng.choice(["minor", "moderate", "severe"])}
        return {"channel": "news", "kind": rng.choice(["security", "incident", "fire", "flood"]),
                "title": f"EXERCISE soak report {n}", "place": f"soak town {n}", "lat": lat, "lon": lon,
                "severity": rng.choice(["minor", "moderate", "severe"])}

    def run(self) -> None:
        while not self.stop.wait(self.every * self.rng.uniform(0.7, 1.3)):
            try:
                self.stack.inject(self._inject())
            except Exception as exc:  # keep soaking; the JSON says how many failed
                self.failed.append(f"{type(exc).__name__}: {exc}"[:200])
            self.sent += 1


def _chromium_memory() -> dict[str, float]:
    import psutil

    rss = pss = 0
    procs = chromium_processes()
    for proc in procs:
        try:
            info = proc.memory_full_info()
            rss += info.rss
            pss += getattr(info, "pss", 0)
        except psutil.Error:
            continue
    return {"chromium_rss_mb": rss / MB, "chromium_pss_mb": pss / MB, "chromium_processes": len(procs)}


def _slopes(samples: list[dict[str, Any]], minutes: float) -> dict[str, Any]:
    """MB/hour over the samples after the first third of the run."""
    start = minutes * 60 / 3
    tail = [s for s in samples if s["t_s"] >= start and s.get("used_mb") is not None]
    out: dict[str, Any] = {"fit_from_s": round(start), "fit_points": len(tail)}
    for key in ("used_mb", "used_after_gc_mb", "chromium_rss_mb", "chromium_pss_mb", "web_rss_mb"):
        xs = [s["t_s"] / 3600 for s in tail if s.get(key) is not None]
        ys = [s[key] for s in tail if s.get(key) is not None]
        out[key.replace("_mb", "_mb_per_hour")] = round(least_squares_slope(xs, ys), 3) if len(xs) >= 2 else None
    return out


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or value != value else f"{value:+.2f}"


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    import psutil
    from playwright.sync_api import sync_playwright

    tmp = tmp_root()
    started_at = datetime.now(UTC)
    results: dict[str, Any] = {
        "what": "wall memory soak: /wall at 1920x1080 in headless Chromium, whole stack, changing picture",
        "when": started_at.isoformat(), "minutes": args.minutes, "sample_seconds": args.sample_seconds,
        "inject_seconds": args.inject_seconds, "refresh_ms": args.refresh_ms, "machine": machine(),
        "repo": repo_state(), "chromium_args": CHROMIUM_ARGS, "samples": [], "finished": False,
    }
    out: Path = args.json
    out.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        results["growth"] = _slopes(results["samples"], args.minutes)
        out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")

    stack = start_stack(tmp, env={"WATCHFLOOR_REFRESH_MS": str(args.refresh_ms)})
    injector = Injector(stack, args.inject_seconds)
    errors: list[str] = []
    try:
        web = web_process(stack)
        url = display_url(stack, "soak-wall")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.on("pageerror", lambda exc: errors.append(str(exc)[:300]))
            cdp = page.context.new_cdp_session(page)
            page.goto(url)
            page.wait_for_url(lambda u: "display_token" not in u and "/login" not in u, timeout=30_000)
            page.wait_for_function(DRAWN, arg=MAP, timeout=120_000)
            injector.start()
            print(f"wall open ({page.url}); sampling every {args.sample_seconds:g} s for {args.minutes:g} min; "
                  f"results: {out}", flush=True)
            t0 = time.monotonic()
            end = t0 + args.minutes * 60
            next_at = t0
            while True:
                now = time.monotonic()
                if now < next_at:
                    time.sleep(min(5.0, next_at - now))
                    continue
                state = page.evaluate(PAGE_STATE, MAP)
                try:
                    cdp.send("HeapProfiler.collectGarbage")
                    after_gc = page.evaluate("() => performance.memory ? performance.memory.usedJSHeapSize : null")
                except Exception:  # noqa: BLE001 - the plain reading still stands
                    after_gc = None
                sample = {
                    "t_s": round(now - t0, 1),
                    "used_mb": state["used"] / MB if state["used"] is not None else None,
                    "total_mb": state["total"] / MB if state["total"] is not None else None,
                    "used_after_gc_mb": after_gc / MB if after_gc is not None else None,
                    **_chromium_memory(),
                    "web_rss_mb": web.memory_info().rss / MB if web.is_running() else None,
                    "markers": state["markers"], "placed": state["placed"], "rows": state["rows"],
                    "dom_nodes": state["dom_nodes"], "live": state["live"], "conn": state["conn"], "injects": injector.sent,
                    "page_errors": len(errors),
                }
                results["samples"].append(sample)
                save()
                print(f"{sample['t_s'] / 60:6.1f} min  heap {sample['used_mb']:.1f} MB "
                      f"(after GC {sample['used_after_gc_mb'] or 0:.1f})  chromium RSS {sample['chromium_rss_mb']:.0f} MB "
                      f"PSS {sample['chromium_pss_mb']:.0f} MB  web RSS {sample['web_rss_mb'] or 0:.0f} MB  "
                      f"markers {sample['markers']}  {'LIVE' if sample['live'] else 'NOT LIVE'}", flush=True)
                if now >= end:
                    break
                next_at += args.sample_seconds
                if next_at > end:
                    next_at = end
            injector.stop.set()
            browser.close()
        results["finished"] = True
    finally:
        injector.stop.set()
        results["page_errors"] = errors[:20]
        results["inject_failures"] = injector.failed[:20]
        results["injects"] = injector.sent
        if not results["finished"]:
            results["stack_log_tail"] = stack.log()
        save()
        stack.stop()
        for proc in psutil.Process().children(recursive=True):
            if proc.is_running() and "chrom" in proc.name().lower():
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)

    g = results["growth"]
    print()
    print(f"Wall soak: {args.minutes:g} min, {len(results['samples'])} samples, {injector.sent} injects "
          f"({len(injector.failed)} failed), {len(errors)} page errors; fit over t >= {g['fit_from_s']} s "
          f"({g['fit_points']} points)")
    print(f"  JS heap (usedJSHeapSize)        {_fmt(g['used_mb_per_hour'])} MB/hour")
    print(f"  JS heap after forced GC         {_fmt(g['used_after_gc_mb_per_hour'])} MB/hour")
    print(f"  Chromium RSS (all processes)    {_fmt(g['chromium_rss_mb_per_hour'])} MB/hour")
    print(f"  Chromium PSS (all processes)    {_fmt(g['chromium_pss_mb_per_hour'])} MB/hour")
    print(f"  web process RSS (server side)   {_fmt(g['web_rss_mb_per_hour'])} MB/hour")
    print(f"results written to {out}")
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
