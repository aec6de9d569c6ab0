"""The page's tick gates (assets/wf-*.js): what a screen asks the server on its 5 s panels tick.
Run in Node, as the browser runs them: the vetting queue line on the first tick and every third
after; the open-alerts list only while it lists an alert; the vetted-reports layer only when shown."""

from __future__ import annotations

import json

from tests.page_js import page_functions, run_node

NO = "NO_UPDATE"


def _gates(calls: str) -> list:
    script = f"""
const window = {{dash_clientside: {{no_update: "{NO}"}}}};
let listed = false;
const document = {{getElementById: () => ({{querySelector: () => (listed ? {{}} : null)}})}};
{page_functions(("QUEUE_REFRESH_TICKS", "REPORTS_REFRESH_TICKS"), ("queueTick", "sentTick", "reportsTick"))}
process.stdout.write(JSON.stringify({calls}));"""
    return json.loads(run_node(script))


def test_the_queue_line_asks_on_the_first_tick_and_every_third():
    asked = _gates("[null, 0, 1, 2, 3, 4, 5, 6, 7].map(queueTick)")
    assert asked == [0, 0, 1, NO, NO, 4, NO, NO, 7]


def test_the_open_alerts_list_asks_only_while_it_lists_an_alert():
    asked = _gates("[sentTick(1), sentTick(2), (listed = true, sentTick(3)), sentTick(4)]")
    assert asked == [NO, NO, 3, 4]


def test_the_vetted_reports_layer_asks_only_when_shown_every_sixth_tick():
    asked = _gates("[6, 12, 13].map((n) => reportsTick(n, ['incidents'])).concat([6, 12, 13].map((n) => reportsTick(n, ['reports'])))")
    assert asked == [NO, NO, NO, 6, 12, NO]
