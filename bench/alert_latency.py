"""Operator alert to banner: how long from the operator's POST until the banner is on each screen.

    python -m bench.alert_latency                  20 alerts, wall + desk + tablet open at once
    python -m bench.alert_latency --alerts 40 --one-screen     also each screen alone, in turn

Starts the whole stack (`watchfloor up`, built-in scenario), opens the wall (display token, 1920x1080),
the desk (1440x900) and the tablet (1024x768) in headless Chromium, and pushes alerts the way the
desk does (POST /api/alerts with an operator's session). Each page timestamps the banner's arrival
itself (a MutationObserver, same machine clock as the POST), so the figure is what a person at the
screen would see: server, push stream, callback, render. Each alert is withdrawn (DELETE) after it
was seen everywhere, so the banner never stacks up. Not in `make bench` (it takes minutes).

The issue's target is "every open wall, desk and tablet in scope shows it within a second".
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.live_stack import CHROMIUM, CHROMIUM_ARGS, display_url, http_session_cookie, percentile, start_stack

RESULTS = Path(__file__).resolve().parent / "results"
SCREENS = (("wall", "wall", (1920, 1080)), ("desk", "", (1440, 900)), ("tablet", "tablet", (1024, 768)))
PASSWORD = "bench alert latency password"

WATCH = """(text) => { window.__bannerAt = null;
  const seen = () => Array.from(document.querySelectorAll('.wf-banner .wf-alert-headline'))
    .some(h => h.textContent.includes(text));
  new MutationObserver((_m, obs) => { if (!window.__bannerAt && seen()) { window.__bannerAt = Date.now(); obs.disconnect(); } })
    .observe(document.body, {subtree: true, childList: true, characterData: true}); }"""


def _request(stack: Any, cookie: str, method: str, path: str, body: dict | None = None) -> dict[str, Any]:
    req = urllib.request.Request(stack.url + path, method=method, data=json.dumps(body).encode() if body else None,
                                 headers={"Content-Type": "application/json", "Accept": "application/json",
                                          "Cookie": cookie, "Origin": stack.url.rstrip("/")})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"{}")


def _open(stack: Any, browser: Any, screen: str, path: str, size: tuple[int, int]) -> Any:
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    if screen == "wall":
        page.goto(display_url(stack, f"bench-wall-{int(time.time() * 1000)}"))
    else:
        stack.sign_in(page, "bench-op", PASSWORD, path)
    page.wait_for_selector(f".wf-{screen} .wf-conn-live", timeout=60_000)
    return page


def _round(pages: dict[str, Any], stack: Any, cookie: str, n: int) -> dict[str, float]:
    """One alert: POST, wait for every page's banner, withdraw; seconds per screen."""
    headline = f"Bench alert {n} {int(time.time() * 1000)}"
    for page in pages.values():
        page.evaluate(WATCH, headline)
    sent_ms = time.time() * 1000
    alert = _request(stack, cookie, "POST", "api/alerts", {"headline": headline, "severity": "severe",
                                                          "scope": "floor", "tlp": "TLP:GREEN"})
    out: dict[str, float] = {}
    for screen, page in pages.items():
        page.wait_for_function("() => window.__bannerAt !== null", timeout=30_000)
        out[screen] = (page.evaluate("() => window.__bannerAt") - sent_ms) / 1000
    _request(stack, cookie, "DELETE", f"api/alerts/{alert['id']}")
    for page in pages.values():
        page.wait_for_function("""(text) => !Array.from(document.querySelectorAll('.wf-banner .wf-alert-headline'))
            .some(h => h.textContent.includes(text))""", arg=headline, timeout=30_000)
    return out


def _summary(samples: dict[str, list[float]]) -> dict[str, Any]:
    return {screen: {"n": len(v), "p50_s": round(percentile(v, 50), 3), "p95_s": round(percentile(v, 95), 3),
                     "max_s": round(max(v), 3), "under_1s": round(sum(x < 1.0 for x in v) / len(v), 3)}
            for screen, v in samples.items() if v}


def run(alerts: int, one_screen: bool, gap: float) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="wf-alert-bench-"))
    stack = start_stack(tmp)
    result: dict[str, Any] = {"alerts": alerts}
    try:
        stack.add_user("bench-op", "operator", PASSWORD)
        # Pushed by another operator: whoever pushes an alert has acknowledged it on their own screens.
        stack.add_user("bench-sender", "operator", PASSWORD)
        cookie = http_session_cookie(stack, "bench-sender", PASSWORD)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            pages = {screen: _open(stack, browser, screen, path, size) for screen, path, size in SCREENS}
            _round(pages, stack, cookie, -1)  # warm-up, not counted
            together: dict[str, list[float]] = {s: [] for s in pages}
            for n in range(alerts):
                for screen, seconds in _round(pages, stack, cookie, n).items():
                    together[screen].append(seconds)
                time.sleep(gap)
            result["three_screens_at_once"] = _summary(together)
            if one_screen:
                for page in pages.values():
                    page.context.close()
                alone: dict[str, list[float]] = {}
                for screen, path, size in SCREENS:  # only this screen renders on the machine
                    page = _open(stack, browser, screen, path, size)
                    alone[screen] = [_round({screen: page}, stack, cookie, 1000 + n)[screen] for n in range(alerts)]
                    page.context.close()
                result["one_screen_at_a_time"] = _summary(alone)
            browser.close()
    finally:
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.alert_latency", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--alerts", type=int, default=20, help="alerts to push (default 20)")
    parser.add_argument("--gap", type=float, default=1.0, help="seconds between alerts (default 1)")
    parser.add_argument("--one-screen", action="store_true", help="also measure each screen open alone")
    args = parser.parse_args(argv)
    if args.alerts < 1:
        print("--alerts must be at least 1", file=sys.stderr)
        return 2
    result = run(args.alerts, args.one_screen, args.gap)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "alert-latency.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    for part in ("three_screens_at_once", "one_screen_at_a_time"):
        for screen, s in (result.get(part) or {}).items():
            print(f"{part:24} {screen:7} p50 {s['p50_s']:.3f} s  p95 {s['p95_s']:.3f} s  max {s['max_s']:.3f} s  "
                  f"under 1 s: {s['under_1s']:.0%} of {s['n']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
