"""The link-analysis page (#15): a 2-hop neighbourhood of about 500 nodes, drawn in Chromium.

    python -m bench.links [--quick] [--runs N]      bench/results/links.json

It starts the whole stack (`watchfloor up` on loopback) like the screens bench and stores, through
domain.reports.store, one vehicle seen in 98 reports, each naming its own phone, e-mail and person
and an address: 491 nodes two steps from the vehicle. One of those phones is also in 9 reports
without the vehicle, so expanding it adds 9 nodes (500, the page's limit).

1. Server: ``graph.neighbourhood(vehicle, depth=2, limit=500)`` for a supervisor, and the page's whole
   view (dashboard.links.view.build_view, with the marking), called in this process on the stack's
   Redis; median of repeated calls.
2. First draw: a signed-in Chromium page opens ``/links?node=<vehicle>``; from navigation start to
   cytoscape holding all 491 nodes with their places (checked on every animation frame in the page,
   performance.now()). Each run is a fresh page.
3. Expand: tap the phone, press "Expand its neighbours"; from the button's click event (stamped in
   the page) to the 500th node drawn, and to the callback's answer (the browser's resource timing).
4. For the record, why the page keeps the force layout (cose) to FORCE_MAX nodes: cose on the 491
   drawn nodes, and on FORCE_MAX of them, run in the page; the main thread is blocked that long.

The numbers are what this machine did in this run; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench.live_stack import CHROMIUM, CHROMIUM_ARGS, redis_client, repo_state, start_stack
from dashboard.links.elements import FORCE_MAX
from dashboard.links.view import Query, build_view, marking
from domain.access.accounts import Role
from domain.reports import entities, graph, store

RESULTS = Path(__file__).resolve().parent / "results"
PASSWORD = "graph drawing passphrase 42"
REPORTS = 98
EXTRA = 9
ANALYST = SimpleNamespace(name="bench", role=Role.SUPERVISOR)

DRAWN = """(n) => { const cy = window.cy; if (!cy || cy.nodes().length < n || cy.nodes().boundingBox().w <= 0) return false;
  window.__wfDrawnAt = performance.now(); return true; }"""
NODE_AT = """(id) => { const n = window.cy.getElementById(id); const p = n.renderedPosition();
  const r = window.cy.container().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }"""
PHASES = """(drawn) => { const nav = performance.getEntriesByType('navigation')[0];
  const answers = performance.getEntriesByType('resource').filter((e) => e.name.includes('_dash-update-component')
    && e.responseEnd <= drawn);
  return [nav.domContentLoadedEventEnd, Math.max(0, ...answers.map((e) => e.responseEnd))]; }"""
PRESS_CLOCK = """(id) => { document.getElementById(id).addEventListener('click',
  () => { window.__wfPressedAt = performance.now(); }, {once: true, capture: true}); }"""
ANSWERED_AFTER = """(since) => { const answers = performance.getEntriesByType('resource').filter((e) =>
    e.name.includes('_dash-update-component') && e.startTime >= since);
  return Math.max(0, ...answers.map((e) => e.responseEnd)) - since; }"""
COSE = """(n) => { const nodes = window.cy.nodes().slice(0, n); const t = performance.now();
  nodes.union(nodes.edgesWith(nodes)).layout({name: 'cose', animate: false, randomize: true, fit: false}).run();
  return performance.now() - t; }"""


def seed(client: Any) -> dict[str, str]:
    """The vehicle's neighbourhood; returns the vehicle's and the shared phone's node ids."""
    born = date(1960, 1, 1)
    for i in range(REPORTS):
        data = {"category": "SURVL", "narrative": f"Grey van seen again near gate {i}, driver photographing the fence.",
                "time": f"2026-04-{1 + i % 28:02d}T{i % 24:02d}:15:00Z", "location": {"lat": 42.34 + i * 1e-3,
                                                                                      "lon": -71.09 - i * 1e-3},
                "vehicles": [{"plate": "ABC 123", "state": "MA"}], "phones": [f"617-555-{1000 + i}"],
                "emails": [f"contact{i}@example.org"], "addresses": [f"{10 + i} Stadium Way"],
                "subjects": [{"name": f"Subject Number{i}", "dob": (born + timedelta(days=97 * i)).isoformat()}]}
        store.save_new(client, store.build(data, kind="sar", by="bench", channel="bench"))
    for i in range(EXTRA):
        data = {"category": "ELICIT", "narrative": f"Caller {i} asked the ticket office about the gate rota.",
                "time": "2026-05-02T10:00:00Z", "phones": ["617-555-1000"]}
        store.save_new(client, store.build(data, kind="sar", by="bench", channel="bench"))
    return {"vehicle": "E:" + entities.find(client, "vehicle:MA:ABC123"),
            "phone": "E:" + entities.find(client, "phone:+16175551000")}


def server_times(client: Any, vehicle: str, runs: int) -> dict[str, Any]:
    def timed(fn: Any) -> tuple[float, Any]:
        started = time.perf_counter()
        out = fn()
        return (time.perf_counter() - started) * 1000, out

    walk = [timed(lambda: graph.neighbourhood(client, vehicle, ANALYST, depth=2, limit=500)) for _ in range(runs)]
    page = [timed(lambda: (v := build_view(client, ANALYST, Query(start=vehicle)), marking(client, v))) for _ in range(runs)]
    return {"nodes": len(walk[0][1]["nodes"]), "edges": len(walk[0][1]["edges"]),
            "neighbourhood_ms": round(statistics.median(t for t, _ in walk), 1),
            "page_view_ms": round(statistics.median(t for t, _ in page), 1)}


def browser_times(stack: Any, ids: dict[str, str], nodes: int, runs: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    first, expand, phases, answered, cose = [], [], [], [], {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1920, "height": 1080})
        page = context.new_page()
        stack.sign_in(page, "bench", PASSWORD, "")
        page.close()
        for run in range(runs):
            page = context.new_page()
            page.goto(stack.url + f"links?node={ids['vehicle']}")
            page.wait_for_function(DRAWN, arg=nodes, timeout=120_000, polling="raf")
            first.append(page.evaluate("() => window.__wfDrawnAt"))
            phases.append(page.evaluate(PHASES, first[-1]))
            x, y = page.evaluate(NODE_AT, ids["phone"])
            page.mouse.click(x, y)
            page.wait_for_selector(f".wf-links-detail .wf-links-id:text-is('{ids['phone']}')", timeout=60_000)
            page.evaluate(PRESS_CLOCK, "wf-links-expand")
            page.click("#wf-links-expand")
            page.wait_for_function(DRAWN, arg=nodes + EXTRA, timeout=120_000, polling="raf")
            pressed = page.evaluate("() => window.__wfPressedAt")
            expand.append(page.evaluate("() => window.__wfDrawnAt") - pressed)
            answered.append(page.evaluate(ANSWERED_AFTER, pressed))
            if run == runs - 1:
                cose = {"cose_limit_ms": round(page.evaluate(COSE, FORCE_MAX)),
                        "cose_all_ms": round(page.evaluate(COSE, 10_000))}
            page.close()
        browser.close()
    return {"first_draw_ms": round(statistics.median(first)), "first_draw_all_ms": [round(t) for t in first],
            "dom_ready_ms": round(statistics.median(p[0] for p in phases)),
            "graph_answer_ms": round(statistics.median(p[1] for p in phases)),
            "expand_ms": round(statistics.median(expand)), "expand_answer_ms": round(statistics.median(answered)), "expand_all_ms": [round(t) for t in expand], **cose}


def run_links(quick: bool = False, runs: int | None = None) -> dict[str, Any]:
    runs = runs or (2 if quick else 5)
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(Path(tmp), env={"WATCHFLOOR_WORKERS": "1"})
        try:
            stack.add_user("bench", "supervisor", PASSWORD)
            client = redis_client(stack)
            started = time.perf_counter()
            ids = seed(client)
            seeded = time.perf_counter() - started
            server = server_times(client, ids["vehicle"], 3 if quick else 15)
            result = {"reports": REPORTS + EXTRA, "seed_s": round(seeded, 2), "server": server,
                      "browser": browser_times(stack, ids, server["nodes"], runs), "runs": runs, "repo": repo_state()}
        finally:
            stack.stop()
    return result


def print_report(result: dict[str, Any]) -> None:
    s, b = result["server"], result["browser"]
    print(f"  2-hop neighbourhood: {s['nodes']} nodes, {s['edges']} links ({result['reports']} reports stored in "
          f"{result['seed_s']} s)")
    print(f"  server: graph.neighbourhood {s['neighbourhood_ms']} ms; the page's whole view with its marking "
          f"{s['page_view_ms']} ms (median)")
    print(f"  Chromium: first draw {b['first_draw_ms']} ms from navigation (runs {b['first_draw_all_ms']}; page "
          f"scripts ready {b['dom_ready_ms']} ms, the graph's callback answered {b['graph_answer_ms']} ms); "
          f"expand one node (+{EXTRA} to 500) {b['expand_ms']} ms from the press (runs {b['expand_all_ms']}; "
          f"the callback answered {b['expand_answer_ms']} ms)")
    if "cose_all_ms" in b:
        print(f"  force layout (cose) in the page, main thread blocked: {b['cose_all_ms']} ms for all {s['nodes']} "
              f"nodes, {b['cose_limit_ms']} ms for {FORCE_MAX} (the page uses it up to {FORCE_MAX})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.links", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="2 browser runs, 3 server calls")
    parser.add_argument("--runs", type=int, default=None, help="browser runs (default 5)")
    args = parser.parse_args(argv)
    print("Link analysis (the whole stack; headless Chromium; bench/results/links.json)")
    result = run_links(args.quick, args.runs)
    print_report(result)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "links.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
