"""The vetting queue's line on the desk and the wall ("3 reports waiting, oldest 5 h (target 24 h)").

One element in each screen's header (dashboard/screens.py: ``ids("sarq", screen)``), filled on the
page's first panels tick and every third after (15 s; assets/wf-45-responders.js queueTick), never a
poll of its own. Only the queue's size and age
are read (domain.reports.store.queue_status), never a report: the wall's display account may show
them. The desk shows the line to operators and above, as a link to /reports; viewers get a link to
the shared reports; the tablet shows nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis
from dash import MATCH, ClientsideFunction, Dash, Input, Output, State, html

from dashboard.offload import off_the_loop
from dashboard.panels.live import ids
from dashboard.security import current_user, has_role
from dashboard.tick_cache import TickCache
from domain.config.loader import Config
from domain.reports.store import queue_line, queue_status

QUEUE = TickCache(1.0)  # every desk and wall asks on the same 15 s tick: one read a second per process


def line_for(screen: str, user: Any, status: dict[str, Any] | None) -> tuple[str, bool, str]:
    """(text, hidden, class) of the element on ``screen`` for ``user``; ``status`` None: store unreachable."""
    css = "wf-sar-qscreen"
    if screen not in ("desk", "wall") or user is None:
        return "", True, css
    if screen == "desk" and not has_role("operator", user):
        return ("Shared reports", False, css) if has_role("viewer", user) else ("", True, css)
    if status is None:
        return "Vetting queue unknown (data store unreachable)", False, css + " wf-sar-qlate"
    return queue_line(status), False, css + (" wf-sar-qlate" if status.get("late") else "")


def phrases(text: str) -> list[Any]:
    """The line in unbreakable phrases ("3 reports waiting," "oldest 5 h (target 24 h)"): where the
    header is tight (the wall) it wraps between them, never inside one."""
    parts = text.split(", ")
    return [html.Span(p + ("," if i < len(parts) - 1 else ""), className="wf-sar-phrase") if i == 0 else
            html.Span([" ", html.Span(p + ("," if i < len(parts) - 1 else ""), className="wf-sar-phrase")])
            for i, p in enumerate(parts)]


def register_queue_line(app: Dash, config: Config, get_client: Callable[[], redis.Redis | None]) -> None:
    app.clientside_callback(
        ClientsideFunction(namespace="watchfloor", function_name="queueTick"),
        Output(ids("queue-tick", MATCH), "data"),
        Input(ids("panels-tick", MATCH), "n_intervals"),
    )

    @app.callback(
        Output(ids("sarq", MATCH), "children"),
        Output(ids("sarq", MATCH), "hidden"),
        Output(ids("sarq", MATCH), "className"),
        Input(ids("queue-tick", MATCH), "data"),
        State(ids("settings", MATCH), "data"),
    )
    @off_the_loop
    def vetting_queue(_n: Any, settings: dict[str, Any] | None) -> tuple[Any, bool, str]:
        screen = str((settings or {}).get("screen") or "")
        user = current_user()
        client = get_client()
        status = None
        if client is not None and screen in ("desk", "wall"):
            try:
                status = QUEUE.get("queue", lambda: queue_status(client, float(config.sar_queue_target_hours)))
            except (redis.RedisError, OSError):
                status = None
        text, hidden, css = line_for(screen, user, status)
        return phrases(text), hidden, css


__all__ = ["line_for", "phrases", "register_queue_line"]
