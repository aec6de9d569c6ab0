"""The live picture panel: the same component ids and callbacks on every screen, told apart by a
``screen`` key (pattern-matching ids), so the wall, desk and tablet share one tested code path.

Data flow per screen: the page carries a snapshot of the current picture and its stream cursor;
every ``refresh_ms`` the server returns the stream entries after the screen's cursor (a delta), and
the browser (assets/wf-*.js) applies snapshot and deltas by event id, filters, lists and
draws. The server keeps no per-screen state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import redis
from dash import MATCH, ClientsideFunction, Dash, Input, Output, State, dcc, html

from dashboard.offload import off_the_loop
from dashboard.panels.detail import annotation_panel, detail_panel
from dashboard.panels.status import board_panel, feeds_panel, threat_panel, ticker_panel
from dashboard.security import current_user, has_role
from dashboard.tiles import nearby_responders
from domain.access.audit import audit
from domain.access.tlp import TLP, incident_marking, max_marking, visible
from domain.config.loader import Config
from domain.operations.alerts import alerts_after
from domain.operations.annotations import audited_read
from domain.picture import bins as aggregate
from domain.picture import incidents
from domain.picture.candidates import merge_candidates
from domain.picture.health import feed_status, health_report, storage_status
from domain.picture.keys import ThreatKeys
from domain.picture.markers import THREAT_AHEAD, THREAT_WINDOW, assess_threat, assess_workspace
from domain.picture.processes import cached_process_status
from domain.store.connection import store_problem
from layers.zones import Workspace

DELTA_BATCH = 2000  # stream entries per refresh; a screen far behind catches up over a few ticks
THREAT_CACHE_SECONDS = 4  # one computation of the threat levels serves every screen and process


def ids(kind: str, screen: str) -> dict[str, str]:
    return {"wf": kind, "screen": screen}


def live_stores(screen: str, snapshot: dict[str, Any], settings: dict[str, Any], refresh_ms: int) -> list[Any]:
    return [
        dcc.Store(id=ids("snapshot", screen), data=snapshot),
        dcc.Store(id=ids("cursor", screen), data=snapshot.get("cursor", "0-0")),
        dcc.Store(id=ids("delta", screen)),
        dcc.Store(id=ids("wake", screen)),  # bumped by the push stream (assets/wf-50-push.js)
        dcc.Store(id=ids("poll-req", screen)),  # the gate: a new poll only once the last one answered
        dcc.Store(id=ids("settings", screen), data=settings),
        dcc.Store(id=ids("selected", screen)),
        dcc.Store(id=ids("alerts", screen), data={"cursor": "", "alerts": {}}),
        html.Div(id=ids("banner", screen), className="wf-banner", hidden=True, role="alert", **{"aria-live": "assertive"}),
        dcc.Interval(id=ids("tick", screen), interval=refresh_ms),
        dcc.Interval(id=ids("panels-tick", screen), interval=5000),
        dcc.Interval(id=ids("second", screen), interval=1000),
    ]


def reader_ceiling(client: redis.Redis) -> TLP:
    """The highest TLP marking the signed-in reader of this request may receive (TLP:CLEAR when
    nobody is signed in: the middleware refuses that before any callback runs anyway)."""

    return max_marking(current_user(), client)


def threat_summary(client: redis.Redis, workspaces: list[Workspace], ceiling: TLP = TLP.CLEAR) -> dict[str, Any]:
    """Threat levels for the whole picture and each workspace, from the incidents a reader with
    maximum marking ``ceiling`` may receive (the panels name the incidents that drove each level),
    cached briefly in Redis per marking."""
    key = ThreatKeys.threat_cache(ceiling.value)
    cached = client.get(key)
    if cached:
        return orjson.loads(cached)
    now = datetime.now(UTC)
    # Incidents, not reports: one quake counts once. Only those the assessment can count (its window,
    # up to an hour ahead), through the time index: a tick costs the window, not the years of history.
    between = ((now - THREAT_WINDOW).timestamp(), (now + THREAT_AHEAD).timestamp())
    events = incidents.live_incidents_with_areas(client, ceiling, between=between)
    summary: dict[str, Any] = {"global": assess_threat(events, now).__dict__, "workspaces": {}}
    for space in workspaces:
        summary["workspaces"][space.id] = {"name": space.name, **assess_workspace(space, events, now).__dict__}
    client.set(key, orjson.dumps(summary), ex=THREAT_CACHE_SECONDS)
    return summary


def register_live_callbacks(app: Dash, config: Config, get_client: Callable[[], redis.Redis | None],
                            workspaces: list[Workspace]) -> None:

    # Past map_max_points live incidents, snapshots and deltas carry hexagon bins (domain/picture/bins.py).
    aggregate.configure(int(config.map_max_points), float(config.map_bin_degrees), workspaces)

    _register_map_and_timeline(app, config, get_client, workspaces)
    _register_alerts(app, config, get_client, workspaces)
    _register_drawer(app, config, get_client, workspaces)
    _register_status(app, config, get_client, workspaces)


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
        Input(ids("poll-req", MATCH), "data"),
        State(ids("cursor", MATCH), "data"),
    )
    @off_the_loop
    def poll(_req: Any, cursor: str | None) -> tuple[dict[str, Any], str]:
        """Everything after the screen's cursor: nothing lost, nothing shown twice."""
        cursor = cursor or "0-0"
        client = get_client()
        if client is None:
            return {"rows": [], "redis": False, "reason": store_problem(config), "t": time.time()}, cursor
        try:
            rows, cursor, reload = incidents.changes_after(client, cursor, count=DELTA_BATCH,
                                                           ceiling=reader_ceiling(client))
            problems = cached_process_status(client)["problems"]  # a stopped fuser: DEGRADED, never LIVE
        except (redis.RedisError, OSError):  # why, when `watchfloor up` knows (a full disk...)
            return {"rows": [], "redis": False, "reason": store_problem(config), "t": time.time()}, cursor
        return {"rows": rows, "redis": True, "problems": problems, "reload": reload, "t": time.time()}, cursor

    app.clientside_callback(
        ClientsideFunction(namespace="watchfloor", function_name="render"),
        Output(ids("map", MATCH), "figure"),
        Output(ids("timeline", MATCH), "figure"),
        Output(ids("list", MATCH), "children"),
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


def _register_alerts(app: Dash, config: Config, get_client: Callable[[], redis.Redis | None],
                     workspaces: list[Workspace]) -> None:
    """Push alerts: their poll and the banner."""
    @app.callback(
        Output(ids("alerts", MATCH), "data"),
        Input(ids("tick", MATCH), "n_intervals"),
        Input(ids("wake", MATCH), "data"),
        State(ids("alerts", MATCH), "data"),
        State(ids("settings", MATCH), "data"),
    )
    @off_the_loop
    def alerts_poll(_n: int | None, _wake: Any, known: dict[str, Any] | None, settings: dict[str, Any] | None) -> Any:
        """Operator alerts this user or screen may see (TLP and scope are checked on the server)."""
        from dash import no_update

        known = known or {"cursor": "", "alerts": {}}
        client = get_client()
        user = current_user()
        if client is None or user is None:
            return no_update
        workspace = (settings or {}).get("workspace") if (settings or {}).get("screen") == "tablet" else None
        try:
            changed, cursor = alerts_after(client, known.get("cursor") or "", user, workspace=workspace)
        except (redis.RedisError, OSError):
            return no_update
        if not changed and cursor == known.get("cursor"):
            return no_update
        current = dict(known.get("alerts") or {})
        for alert in changed:
            if alert.get("status") in ("cancelled", "expired"):
                current.pop(alert["id"], None)
            else:
                current[alert["id"]] = {k: alert.get(k) for k in (
                    "id", "headline", "text", "severity", "expires", "tlp", "issued_by", "issued_at", "version", "scope")}
        return {"cursor": cursor, "alerts": current}

    app.clientside_callback(
        ClientsideFunction(namespace="watchfloor", function_name="banner"),
        Output(ids("banner", MATCH), "children"),
        Output(ids("banner", MATCH), "hidden"),
        Input(ids("alerts", MATCH), "data"),
        Input(ids("second", MATCH), "n_intervals"),
        State(ids("settings", MATCH), "data"),
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
        marking = incident_marking(incident)
        if not visible(marking, user, client):  # (no client means no incident: answered above)
            # A crafted selection of an id the screen never received: refused here, on the server.
            audit("incident.read", record=str(selected)[:200], outcome="refused",
                  reason=f"marked {marking.value}, above the reader's maximum")
            return [html.P("This incident is not available at your sharing marking.")], False
        try:
            note = audited_read(client, str(selected), user) if user is not None and client is not None else None
        except (redis.RedisError, OSError):
            note = None
        operator = has_role("operator", user)
        annotation = annotation_panel(str(selected), note, can_write=operator)
        candidates = None
        if operator:  # viewers get neither the buttons nor the other incidents' titles

            try:
                candidates = merge_candidates(client, incident, max_marking(user, client))
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
        now = datetime.now(UTC)
        client = get_client()
        screen = (settings or {}).get("screen", "desk")
        focus = (settings or {}).get("workspace")
        theme = (settings or {}).get("theme", "dark")
        try:
            if client is None:
                raise redis.ConnectionError("no Redis")
            feeds = feed_status(config, client)
            storage = storage_status(client)
            problems = cached_process_status(client)["problems"]
            summary = threat_summary(client, workspaces, reader_ceiling(client))
        except (redis.RedisError, OSError):
            report = health_report(config, None)
            why = [store_problem(config) or "data store unreachable"]
            return (feeds_panel(report["feeds"], now, None, why), [html.P("Threat level unavailable: data store "
                    "unreachable.")], [], ticker_panel(report["feeds"], now, None, why))
        spaces = summary["workspaces"]
        if screen == "tablet" and focus in spaces:
            threat = threat_panel(spaces[focus], title=spaces[focus]["name"], theme=theme)
        else:
            threat = [*threat_panel(summary["global"], title="Whole picture", theme=theme),
                      *[el for wid, s in spaces.items()
                        for el in threat_panel(s, title=s["name"], compact=True, key=wid, theme=theme)]]
        return (feeds_panel(feeds, now, storage, problems), threat, board_panel(summary),
                ticker_panel(feeds, now, storage, problems))
