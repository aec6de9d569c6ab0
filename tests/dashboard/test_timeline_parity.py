"""The timeline's "near a workspace" test runs in the browser (assets/wf-20-filters.js nearSpace) and
on the server (layers/zones.py Workspace.proximity, behind threat levels and bins). They must agree:
this runs the browser's functions in Node on the same points."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from pathlib import Path

from domain.config.loader import load_config
from domain.config.workspaces import workspaces_for
from layers.zones import Venue, Workspace

ROOT = Path(__file__).resolve().parents[2]
JS_FUNCTIONS = ("haversineKm", "segmentKm", "nearSpace")


def _browser_source() -> str:
    # the browser code, assets/wf-*.js in the order Dash loads them (by name)
    js = "\n".join(f.read_text(encoding="utf-8") for f in sorted((ROOT / "assets").glob("wf-*.js")))
    consts = re.search(r"var EARTH_KM = [^;]+;", js)
    assert consts, "EARTH_KM/RAD constants not found in assets/wf-*.js"
    parts = [consts.group(0)]
    for name in JS_FUNCTIONS:
        m = re.search(r"\n(\s*)function " + name + r"\(.*?\n\1\}", js, re.S)
        assert m, f"function {name} not found in assets/wf-*.js"
        parts.append(m.group(0))
    return "\n".join(parts)


def _as_browser_space(space: Workspace) -> dict:
    # the same shape dashboard/screens.py sends to the page
    return {"venues": [[v.lat, v.lon, v.radius_km] for v in space.venues], "route": [list(p) for p in space.route],
            "routeKm": space.route_km, "nearKm": space.near_km}


def test_browser_and_server_agree_on_what_is_near_a_workspace() -> None:
    node = shutil.which("node")
    assert node, "Node.js is needed (make install uses npm for the basemap and gazetteer)"
    spaces = list(workspaces_for(load_config(env={})))
    spaces.append(Workspace(id="summit", name="Summit", venues=(Venue("hall", 51.5, -0.12, 0.8), Venue("hotel", 51.52, -0.1, 0.2)),
                            route=(), near_km=3.0))
    assert any(s.route for s in spaces), "the exercise marathon (a course) should be among them"
    rng = random.Random(7)
    cases = []
    for space in spaces:
        lat0, lon0 = space.focus()
        for _ in range(1500):
            lat, lon = lat0 + rng.uniform(-0.15, 0.15), lon0 + rng.uniform(-0.2, 0.2)
            cases.append((space, lat, lon))
    payload = json.dumps([[_as_browser_space(s), lat, lon] for s, lat, lon in cases])
    script = _browser_source() + (
        "\nconst cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "\nprocess.stdout.write(JSON.stringify(cases.map(c => nearSpace(c[0], {lat: c[1], lon: c[2]}))));"
    )
    done = subprocess.run([node, "-e", script], input=payload, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    browser = json.loads(done.stdout)
    near = disagree = 0
    for (space, lat, lon), in_browser in zip(cases, browser, strict=True):
        on_server = space.proximity(lat, lon)[0] > 0
        near += on_server
        if in_browser != on_server:
            d, _ = space.distance(lat, lon)
            # the server rounds its weight to 3 decimals: a point within a metre of the edge may differ
            if abs(d - space.near_km) > 0.01:
                disagree += 1
    assert 200 < near < len(cases) - 200, "the points should fall on both sides of the edge"
    assert disagree == 0, f"{disagree} of {len(cases)} points judged differently by browser and server"
    # nobody near: both say no for an unplaced report
    assert subprocess.run([node, "-e", _browser_source() + "\nprocess.exit(nearSpace({venues: [[0,0,1]]}, {lat: null}) ? 1 : 0)"],
                          timeout=30).returncode == 0


def test_the_brush_is_read_from_either_form_plotly_reports_it_in() -> None:
    """A drag reports "xaxis.range[0]"/"[1]", a programmatic or range-slider change "xaxis.range": [a, b];
    reading only the first lost the brush (assets/wf-40-render.js brushOf)."""
    node = shutil.which("node")
    assert node, "Node.js is needed (make install uses npm for the basemap and gazetteer)"
    js = "\n".join(f.read_text(encoding="utf-8") for f in sorted((ROOT / "assets").glob("wf-*.js")))
    parts = []
    for name in ("utcText", "brushOf"):
        m = re.search(r"\n(\s*)function " + name + r"\(.*?\n\1\}", js, re.S)
        assert m, f"function {name} not found in assets/wf-*.js"
        parts.append(m.group(0))
    script = "\n".join(parts) + """
const st = {};
const out = [brushOf(st, {"xaxis.range[0]": "2026-12-04 05:10:00.5", "xaxis.range[1]": "2026-12-04 06:00:00"}),
             brushOf(st, {"xaxis.range": ["2026-12-04 01:00:00", "2026-12-04 02:00:00"]}),
             brushOf(st, {"dragmode": "zoom"}),
             brushOf(st, {"xaxis.autorange": true})];
process.stdout.write(JSON.stringify(out));"""
    done = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        ["2026-12-04T05:10:00.5Z", "2026-12-04T06:00:00Z"],
        ["2026-12-04T01:00:00Z", "2026-12-04T02:00:00Z"],
        ["2026-12-04T01:00:00Z", "2026-12-04T02:00:00Z"],  # an unrelated relayout keeps the brush
        None,
    ]
