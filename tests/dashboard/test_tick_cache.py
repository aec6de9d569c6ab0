"""What many screens ask at once is worked out once, kept briefly, and failures are never kept."""

from __future__ import annotations

import threading
import time

import pytest

from dashboard.tick_cache import TickCache


def test_many_threads_asking_the_same_key_compute_it_once():
    cache = TickCache(5.0)
    calls = []
    start = threading.Barrier(20)

    def compute() -> int:
        calls.append(1)
        time.sleep(0.2)  # long enough that every other thread arrives while this one works
        return 42

    got: list[int] = []

    def ask() -> None:
        start.wait()
        got.append(cache.get("k", compute))

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert got == [42] * 20
    assert len(calls) == 1


def test_an_answer_expires_and_keys_are_kept_apart():
    cache = TickCache(0.2)
    counter = iter(range(100))
    first = cache.get(("TLP:CLEAR", "desk"), lambda: next(counter))
    assert cache.get(("TLP:CLEAR", "desk"), lambda: next(counter)) == first
    assert cache.get(("TLP:AMBER", "desk"), lambda: next(counter)) != first  # another marking: its own answer
    time.sleep(0.3)
    assert cache.get(("TLP:CLEAR", "desk"), lambda: next(counter)) != first


def test_a_failure_is_not_kept():
    cache = TickCache(10.0)

    def fails() -> int:
        raise OSError("store gone")

    with pytest.raises(OSError):
        cache.get("k", fails)
    assert cache.get("k", lambda: 7) == 7


def test_plain_components_serialise_as_dash_would_and_need_no_cleaning():
    """A cached answer made plain (dashboard/tick_cache.py plain) is the same JSON Dash sends for the
    components, and orjson writes it without plotly's Python walk (which a component forces)."""
    import orjson
    from dash import dcc, html
    from plotly.io.json import to_json_plotly

    from dashboard.tick_cache import plain

    tree = (html.Div([html.Span("Flood <b>", className="wf-sev", style={"borderColor": "#fff"}),
                      html.P(["Level ", html.B("HIGH")], hidden=True), dcc.Markdown("*x*"), None, 3.5],
                     id={"wf": "threat", "screen": "desk"}), [html.Li("one")], "text")
    made = plain(tree)
    assert orjson.loads(orjson.dumps(made)) == orjson.loads(to_json_plotly(list(tree)))
    assert orjson.dumps(made)  # plain all the way down: no component left for orjson to refuse
    with pytest.raises(TypeError):
        orjson.dumps(tree)  # what the components themselves would make Dash's serialiser do
