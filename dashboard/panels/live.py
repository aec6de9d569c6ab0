"""The live picture panel: the same component ids and callbacks on every screen, told apart by a
``screen`` key (pattern-matching ids), so the wall, desk and tablet share one tested code path.

Data flow per screen: the page carries a snapshot of the current picture and its stream cursor;
every ``refresh_ms`` the server returns the stream entries after the screen's cursor (a delta), and
the browser (assets/wf-*.js) applies snapshot and deltas by event id, filters, lists and
draws. The server keeps no per-screen state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import redis
from dash import MATCH, ClientsideFunction, Dash, Input, Output, State, dcc, html, no_update

from dashboard.offload import configure as configure_threads
from dashboard.offload import off_the_loop
from dashboard.panels.alerts import poll_alerts, register_alert_callbacks
from dashboard.panels.detail import annotation_panel, detail_panel
from dashboard.panels.status import board_panel, feeds_panel, threat_panel, ticker_panel
from dashboard.push import announced
from dashboard.replay import register_replay
from dashboard.security import current_user, has_role
from dashboard.tick_cache import TickCache, plain
from dashboard.tiles import nearby_responders
from domain.access.audit import audit
from domain.access.tlp import incident_marking
from domain.agencies.access import Reader, reader_for, redact
from domain.config.loader import Config
from domain.operations.annotations import audited_read
from domain.picture import bins as aggregate
from domain.picture import incidents
from domain.picture.candidates import merge_candidates
from domain.picture.health import feed_status, health_report, storage_status
from domain.picture.processes import cached_process_status
from domain.picture.threat import threat_summary
from domain.store.connection import redis_url, store_problem
from layers.zones import Workspace

log = logging.getLogger(__name__)

DELTA_BATCH = 2000  # stream entries per refresh; a screen far behind catches up over a few ticks
# Screens woken together ask for the same cursor.
DELTAS = TickCache(2.0)
# The panels every screen of one kind asks for on its 5 s tick: worked out once a second per reader,
# screen, workspace and theme (the feed ages it shows are then at most a second older).
PANELS = TickCache(1.0)


def ids(kind: str, screen: str) -> dict[str, str]:
    return {"wf": kind, "screen": screen}


def live_stores(screen: str, snapshot: dict[str, Any], settings: dict[str, Any], refresh_ms: int) -> list[Any]:
    return [
        dcc.Store(id=ids("snapshot", screen), data=snapshot),
        dcc.Store(id=ids("cursor", screen), data=snapshot.get("cursor", "0-0")),
        dcc.Store(id=ids("delta", screen)),
        dcc.Store(id=ids("wake", screen)),  # bumped by the push stream (assets/wf-50-push.js)
        dcc.Store(id=ids("poll-req", screen)),  # the gate: a new poll only once the last one answered
        dcc.Store(id=ids("reports-tick", screen)),  # the vetted-reports layer's refresh, only while it is shown
        dcc.Store(id=ids("queue-tick", screen)),  # the vetting queue line's refresh: every third panels tick
        dcc.Store(id=ids("settings", screen), data=settings),
        dcc.Store(id=ids("selected", screen)),
        dcc.Store(id=ids("alerts", screen), data={"cursor": "", "alerts": {}}),  # the banner: dashboard/panels/alerts.py
        dcc.Interval(id=ids("tick", screen), interval=refresh_ms),
        dcc.Interval(id=ids("panels-tick", screen), interval=5000),
        dcc.Interval(id=ids("second", screen), interval=1000),
    ]


def reader_ceiling(client: redis.Redis) -> Reader:
    """The signed-in reader of this request: the highest TLP marking it may receive (TLP:CLEAR when
    nobody is signed in: the middleware refuses that before any callback runs anyway) and its agency,
    for the one check (domain/agencies/access.py)."""

    return reader_for(current_user(), client)


def picture_delta(config: Config, client: redis.Redis | None, cursor: str,
                  reader: Reader | None = None) -> tuple[dict[str, Any], str]:
    """The picture's rows changed after ``cursor`` that ``reader`` (else the signed-in reader of this
    request) may receive, and the new cursor; ``redis`` False (and why) when the store does not answer."""
    if client is None:
        return {"rows": [], "redis": False, "reason": store_problem(config), "t": time.time()}, cursor
    try:
        ceiling = reader if reader is not None else reader_ceiling(client)
        heads = announced(redis_url(config) or "")

        def changes() -> tuple[str, str, bool]:
            rows, after, reload = incidents.changes_after(client, cursor, count=DELTA_BATCH, ceiling=ceiling)
            return rows_text(rows), after, reload

        # Shared only while the push reader runs: an answer computed after it announced ``heads``
        # holds every change up to them, and a later change announces new heads (a new key). Keyed by
        # the whole reader, marking AND agency: two agencies' screens at one marking see different rows.
        rows, cursor, reload = DELTAS.get((cursor, ceiling, heads), changes) if heads else changes()
        problems = cached_process_status(client)["problems"]  # a stopped fuser: DEGRADED, never LIVE
    except (redis.RedisError, OSError):  # why, when `watchfloor up` knows (a full disk...)
        return {"rows": [], "redis": False, "reason": store_problem(config), "t": time.time()}, cursor
    # Rows as JSON text, as the page's snapshot (dashboard/app.py): Dash's own serialisation walks
    # every value in Python, a fifth of a web process's CPU with 300 screens polling.
    return {"rows": rows, "redis": True, "problems": problems, "reload": reload, "t": time.time()}, cursor


def push_message(config: Config, get_client: Callable[[], redis.Redis | None]) -> Callable[[Reader, str], tuple[str, bytes] | None]:
    """What the push stream sends a screen of ``reader`` at ``cursor`` (dashboard/push.py): the cursor
    after and the delta as JSON (rows as an array), the same delta a poll answers; None (the screen
    polls instead) when the store did not answer or the screen must reload."""

    def message(reader: Reader, cursor: str) -> tuple[str, bytes] | None:
        delta, after = picture_delta(config, get_client(), cursor, reader)
        if not delta["redis"] or delta["reload"] or after.startswith("b:") != cursor.startswith("b:"):
            return None  # (a picture that changed between per incident and aggregated: the page reloads)
        head = orjson.dumps({"from": cursor, "cursor": after, "redis": True, "problems": delta["problems"],
                             "t": delta["t"], "pushed": True})
        return after, head[:-1] + b',"rows":' + delta["rows"].encode() + b"}"

    return message


def rows_text(rows: list[dict[str, Any]]) -> str:
    """Rows as the screens receive them: JSON text (assets/wf-40-render.js parses it)."""
    return orjson.dumps(rows).decode()


def register_live_callbacks(app: Dash, config: Config, get_client: Callable[[], redis.Redis | None],
                            workspaces: list[Workspace]) -> None:

    # Past map_max_points live incidents, snapshots and deltas carry hexagon bins (domain/picture/bins.py).
    aggregate.configure(int(config.map_max_points), float(config.map_bin_degrees), workspaces)
    threading.Thread(target=_warm_aggregated, args=(get_client,), name="wf-bins-warm", daemon=True).start()
    configure_threads(int(config.web_threads))  # callbacks' threads: hundreds of screens per process

    _register_map_and_timeline(app, config, get_client, workspaces)
    register_alert_callbacks(app, get_client)
    _register_drawer(app, config, get_client, workspaces)
    _register_status(app, config, get_client, workspaces)
    register_replay(app, config, get_client, workspaces)  # /replay: the picture as it was (dashboard/replay/)


def _warm_aggregated(get_client: Callable[[], redis.Redis | None]) -> None:
    """A starting web process builds the aggregated models its screens used before, off the first page."""
    try:
        client = get_client()
        if client is not None:
            incidents.warm_aggregated(client)
    except (redis.RedisError, OSError) as exc:  # the store is away: the first page builds it instead
        log.info("aggregated picture not built ahead: %s", exc)


def _register_map_and_timeline(app: Dash, config: Config, get_client: Callable[[], redis.Redis | None],
                               workspaces: list[Workspace]) -> None:
    """The map and timeline: the gated poll for deltas, rendering, the header clock, selection."""
    # Ticks and push wake-ups ask for a poll through a clientside gate that lets one poll be in
    # flight at a time: Dash drops the answer of a callback that is fired again before it answered,
    # so on a slow server a poll on every tick would never land (the screen would starve, STALE).
    app.clientside_callback(
        ClientsideFunction(namespace="watchfloor", function_name="gate"),
        Output(ids("poll-req", MATCH), "data"),
        Input(ids("tick", MATCH), "n_intervals"),
        Input(ids("wake", MATCH), "data"),
        State(ids("settings", MATCH), "data"),
    )

    @app.callback(
        Output(ids("delta", MATCH), "data"),
        Output(ids("cursor", MATCH), "data"),
        Output(ids("alerts", MATCH), "data"),
        Input(ids("poll-req", MATCH), "data"),
        State(ids("cursor", MATCH), "data"),
        State(ids("alerts", MATCH), "data"),
        State(ids("settings", MATCH), "data"),
    )
    @off_the_loop
    def poll(_req: Any, cursor: str | None, known_alerts: Any, settings: Any) -> tuple[dict[str, Any], str, Any]:
        """Everything after the screen's cursor: nothing lost, nothing shown twice. The operator
        alerts changed after the screen's alert cursor come in the same gated request, so a
        withdrawal is never an answer dropped because a tick fired again (dashboard/panels/alerts.py)."""
        client = get_client()
        delta, cursor = picture_delta(config, client, cursor or "0-0")
        delta["cursor"] = cursor  # what the page holds now: a pushed delta applies only on from it
        # A store that did not answer the picture is not asked again: DEGRADED comes no later.
        alerts = poll_alerts(client, current_user(), known_alerts, settings) if delta["redis"] else no_update
        return delta, cursor, alerts

    app.clientside_callback(
        ClientsideFunction(namespace="watchfloor", function_name="render"),
        Output(ids("map", MATCH), "figure"),
        Output(ids("timeline", MATCH), "figure"),
        Output(ids("count", MATCH), "children"),
        Input(ids("snapshot", MATCH), "data"),
        Input(ids("delta", MATCH), "data"),
        Input(ids("window", MATCH), "value"),
        Input(ids("severity", MATCH), "value"),
        Input(ids("kinds", MATCH), "value"),
        Input(ids("text", MATCH), "value"),
        Input(ids("exercise", MATCH), "value"),
        Input(ids("layers", MATCH), "value"),
        Input(ids("timeline", MATCH), "relayoutData"),
        Input(ids("panels-tick", MATCH), "n_intervals"),
        Input(ids("tlscope", MATCH), "value"),
        Input(ids("selected", MATCH), "data"),  # highlighted on the map, list and timeline; the map pans to it
        State(ids("map", MATCH), "figure"),
        State(ids("settings", MATCH), "data"),
    )
    app.clientside_callback(
        ClientsideFunction(namespace="watchfloor", function_name="heartbeat"),
        Output(ids("conn", MATCH), "children"),
        Output(ids("conn", MATCH), "className"),
        Output(ids("clock", MATCH), "children"),
        Output(ids("root", MATCH), "className"),
        Input(ids("second", MATCH), "n_intervals"),
        State(ids("settings", MATCH), "data"),
        State(ids("root", MATCH), "className"),
    )
    app.clientside_callback(
        ClientsideFunction(namespace="watchfloor", function_name="select"),
        Output(ids("selected", MATCH), "data"),
        Input(ids("map", MATCH), "clickData"),
        prevent_initial_call=True,
    )


def _register_drawer(app: Dash, config: Config, get_client: Callable[[], redis.Redis | None],
                     workspaces: list[Workspace]) -> None:
    """The detail drawer of the selected incident."""
    @app.callback(
        Output(ids("detail", MATCH), "children"),
        Output(ids("detail", MATCH), "hidden"),
        Input(ids("selected", MATCH), "data"),
    )
    @off_the_loop
    def detail(selected: str | None) -> tuple[Any, bool]:
        if not selected:
            return [], True
        client = get_client()
        try:
            incident, reports = incidents.incident_with_reports(client, str(selected)) if client else (None, [])
        except (redis.RedisError, OSError):
            incident, reports = None, []
        if incident is None:
            return [html.P("This incident is not available (data store unreachable or record removed).")], False

        user = current_user()
        reader = reader_for(user, client)
        marking = incident_marking(incident)
        if not reader.sees(incident):  # (no client means no incident: answered above)
            # A crafted selection of an id the screen never received: refused here, on the server.
            why = (f"marked {marking.value}, above the reader's maximum" if not reader.allows(marking)
                   else "not shared with the reader's agency")
            audit("incident.read", record=str(selected)[:200], outcome="refused", reason=why)
            return [html.P("This incident is not available at your sharing marking.")], False
        incident = redact(incident, reader)
        shown = {r.get("event_id") for r in incident.get("reports") or []}
        reports = [r for r in reports if r.get("id") in shown]
        try:
            note = audited_read(client, str(selected), user) if user is not None and client is not None else None
        except (redis.RedisError, OSError):
            note = None
        operator = has_role("operator", user)
        annotation = annotation_panel(str(selected), note, can_write=operator)
        candidates = None
        if operator:  # viewers get neither the buttons nor the other incidents' titles

            try:
                candidates = merge_candidates(client, incident, reader)
            except (redis.RedisError, OSError):
                candidates = None
        nearby = nearby_responders(config, incident.get("lat"), incident.get("lon"))
        return detail_panel(incident, reports, annotation, can_edit=operator, candidates=candidates, nearby=nearby), False


def _register_status(app: Dash, config: Config, get_client: Callable[[], redis.Redis | None],
                     workspaces: list[Workspace]) -> None:
    """Feed health, threat levels, the threat board and the wall's ticker."""
    @app.callback(
        Output(ids("feeds", MATCH), "children"),
        Output(ids("threat", MATCH), "children"),
        Output(ids("board", MATCH), "children"),
        Output(ids("ticker", MATCH), "children"),
        Input(ids("panels-tick", MATCH), "n_intervals"),
        State(ids("settings", MATCH), "data"),
    )
    @off_the_loop
    def panels(_n: int | None, settings: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
        client = get_client()
        screen = (settings or {}).get("screen", "desk")
        focus = (settings or {}).get("workspace")
        theme = (settings or {}).get("theme", "dark")
        try:
            if client is None:
                raise redis.ConnectionError("no Redis")
            reader = reader_ceiling(client)
            return PANELS.get((reader.ceiling.value, reader.agency, screen, focus, theme),
                              lambda: plain(_panels(config, client, workspaces, reader, screen, focus, theme)))
        except (redis.RedisError, OSError):
            now = datetime.now(UTC)
            report = health_report(config, None)
            why = [store_problem(config) or "data store unreachable"]
            return (feeds_panel(report["feeds"], now, None, why), [html.P("Threat level unavailable: data store "
                    "unreachable.")], [], ticker_panel(report["feeds"], now, None, why))


def _panels(config: Config, client: redis.Redis, workspaces: list[Workspace], ceiling: Reader, screen: str,
            focus: str | None, theme: str) -> tuple[Any, Any, Any, Any]:
    now = datetime.now(UTC)
    feeds = feed_status(config, client)
    storage = storage_status(client)
    problems = cached_process_status(client)["problems"]
    summary = threat_summary(client, workspaces, ceiling)
    spaces = summary["workspaces"]
    # One list of contributors per level, the same on every screen (dashboard/panels/status.py).
    if screen == "tablet" and focus in spaces:
        threat = threat_panel(spaces[focus], title=spaces[focus]["name"], key=focus, theme=theme)
    else:
        threat = [*threat_panel(summary["global"], title=summary["global"]["name"], theme=theme),
                  *[el for wid, s in spaces.items() for el in threat_panel(s, title=s["name"], key=wid, theme=theme)]]
    return (feeds_panel(feeds, now, storage, problems), threat, board_panel(summary),
            ticker_panel(feeds, now, storage, problems))
