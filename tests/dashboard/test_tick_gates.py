"""The page's tick gates (assets/wf-*.js): what a screen asks the server on its 5 s panels tick.
Run in Node, as the browser runs them: the vetting queue line on the first tick and every third
after; the open-alerts list only while it lists an alert; the vetted-reports layer only when shown."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

from tests.stack import ROOT

NO = "NO_UPDATE"


def _gates(calls: str) -> list:
    node = shutil.which("node")
    assert node, "Node.js is needed (make install uses npm for the basemap and gazetteer)"
    js = "\n".join(f.read_text(encoding="utf-8") for f in sorted((ROOT / "assets").glob("wf-*.js")))
    parts = []
    for name in ("QUEUE_REFRESH_TICKS", "REPORTS_REFRESH_TICKS"):
        m = re.search(r"\n\s*var " + name + r" = [^\n]+;\n", js)
        assert m, f"var {name} not found in assets/wf-*.js"
        parts.append(m.group(0))
    for name in ("queueTick", "sentTick", "reportsTick"):
        m = re.search(r"\n(\s*)function " + name + r"\(.*?\n\1\}", js, re.S)
        assert m, f"function {name} not found in assets/wf-*.js"
        parts.append(m.group(0))
    script = f"""
const window = {{dash_clientside: {{no_update: "{NO}"}}}};
let listed = false;
const document = {{getElementById: () => ({{querySelector: () => (listed ? {{}} : null)}})}};
{chr(10).join(parts)}
process.stdout.write(JSON.stringify({calls}));"""
    done = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_queue_line_asks_on_the_first_tick_and_every_third():
    asked = _gates("[null, 0, 1, 2, 3, 4, 5, 6, 7].map(queueTick)")
    assert asked == [0, 0, 1, NO, NO, 4, NO, NO, 7]


def test_the_open_alerts_list_asks_only_while_it_lists_an_alert():
    asked = _gates("[sentTick(1), sentTick(2), (listed = true, sentTick(3)), sentTick(4)]")
    assert asked == [NO, NO, 3, 4]


def test_the_vetted_reports_layer_asks_only_when_shown_every_sixth_tick():
    asked = _gates("[6, 12, 13].map((n) => reportsTick(n, ['incidents'])).concat([6, 12, 13].map((n) => reportsTick(n, ['reports'])))")
    assert asked == [NO, NO, NO, 6, 12, NO]
