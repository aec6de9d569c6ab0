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


def test_a_pushed_delta_applies_on_from_the_rows_held_and_waits_for_a_poll_on_its_way():
    """assets/wf-50-push.js: a delta is applied when it starts at the screen's cursor, held while a
    poll is in flight (its answer, landing after, could only be older), and polled for otherwise.
    Once the poll lands, the held delta is applied if it follows on, dropped if the answer already
    reached its end, and polled for if it reaches further."""
    script = f"""
{page_functions((), ("idAfter", "takesDelta", "afterPoll"))}
const msg = {{from: "5-0", cursor: "7-0", rows: []}};
const now = 100000;
process.stdout.write(JSON.stringify([
  takesDelta(msg, {{cursor: "5-0"}}, now),
  takesDelta(msg, {{cursor: "4-0"}}, now),
  takesDelta(msg, {{cursor: "5-0", pollSent: now - 1000, gateMs: 3000}}, now),
  takesDelta(msg, {{cursor: "5-0", pollSent: now - 5000, gateMs: 3000}}, now),
  takesDelta(msg, {{cursor: "5-0", pollPending: true}}, now),
  takesDelta(null, {{cursor: "5-0"}}, now),
  takesDelta({{from: "5-0"}}, {{cursor: "5-0"}}, now),
  afterPoll({{cursor: "5-0", held: msg}}),
  afterPoll({{cursor: "7-0", held: msg}}),
  afterPoll({{cursor: "1700000000000-1", held: {{from: "1699999999999-0", cursor: "1700000000000-0"}}}}),
  afterPoll({{cursor: "6-0", held: msg}}),
  afterPoll({{cursor: "6-0"}}),
]));"""
    assert json.loads(run_node(script)) == ["apply", "poll", "hold", "apply", "hold", "poll", "poll",
                                            "apply", None, None, "poll", None]
