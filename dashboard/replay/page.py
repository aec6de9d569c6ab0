"""The replay page ``/replay`` (operators and above; a display screen when its URL says
``screen=wall``; ``screen=tablet`` the event commander's profile: light theme, touch-sized controls,
the map on ``event``'s workspace): the picture as it was over a window, played at 1x to 60x, paused, stepped one event
or one minute, jumped to a time (slider or typed), for an after-action review.

It is never live: a magenta REPLAY banner with the time shown replaces the LIVE/STALE indicator (the
page has none), it reads nothing but the replay (domain/replay/), and every frame is filtered for the
signed-in reader by the live screens' checks. One server callback moves the replay clock and answers
with small patches (dashboard/replay/view.py); the state it works from (the window, the instant the
browser shows, playing or not, speed) comes back with every answer, so a dropped answer loses nothing.
The play ticks go through a clientside gate (assets/wf-97-replay.js): the first frame once the map has
drawn, then frames only while playing, one in flight at a time.

URL: ``/replay?from=2026-04-20T06:00Z&to=2026-04-20T12:00Z[&at=...][&speed=60][&play=1][&screen=wall|tablet][&event=ID]``.
"""

from __future__ import annotations

import hashlib
import time
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import dash
import orjson
import redis
from dash import ClientsideFunction, Dash, Input, Output, State, ctx, dcc, html, no_update

from dashboard.offload import off_the_loop
from dashboard.panels.figures import map_figure, timeline_figure
from dashboard.replay.view import banner_text, figure_patches, full_figures, map_rows, replay_for, side_panels, stamp
from dashboard.security import current_user
from dashboard.tiles import embedded_style
from domain.access.accounts import Role
from domain.access.audit import audit, audit_refusal
from domain.config.loader import Config
from domain.errors import WatchfloorError
from domain.picture.markers import severity_colours
from domain.replay.frames import frame
from domain.replay.picture import SHOWN_BEFORE, ReplayError, Window, parse_time
from layers.zones import Workspace

SPEEDS = [1, 2, 5, 10, 30, 60]
TICK_MS = 500
WALL_MARKER_SCALE = 2
ROLE = "operator"
SCREENS = ("desk", "wall", "tablet")
TABLET_TIMELINE_PX = 140
IDS = ("map", "timeline", "side", "banner", "slider", "state", "tick", "req", "ack", "message", "play", "step-event",
       "step-minute", "speed", "jump", "jump-go", "count")


def screen_of(value: Any) -> str:
    return str(value) if value in SCREENS else "desk"


def theme_of(screen: str) -> str:
    """The tablet is read in sunlight: the light theme; the desk and the wall the dark one."""
    return "light" if screen == "tablet" else "dark"


def focus_of(workspaces: list[Workspace], event: Any) -> Workspace | None:
    """The workspace a screen centres on: ``event``'s (the tablet's), else the first."""
    return next((w for w in workspaces if w.id == event), workspaces[0] if workspaces else None)


def rid(name: str) -> str:
    return f"wf-replay-{name}"


def may_replay(user: Any, screen: str) -> bool:
    """Operators and above; a display account only on the wall profile its URL asks for."""
    if user is None or user.disabled:
        return False
    return user.role.grants(ROLE) or (user.role is Role.DISPLAY and screen == "wall")


def _window(start: Any, end: Any) -> Window:
    now = datetime.now(UTC)
    return Window.parse(start or (now - timedelta(hours=1)), end or now, now)


def _controls(window: Window, speed: int) -> html.Div:
    span = int((window.end - window.start).total_seconds())
    marks = {0: stamp(window.start_ms)[11:16], span: stamp(window.end_ms)[11:16]}
    return html.Div([
        html.Button("▶ Play", id=rid("play"), n_clicks=0, className="wf-button", type="button"),
        dcc.RadioItems(id=rid("speed"), options=[{"label": f"{s}×", "value": s} for s in SPEEDS], value=speed,
                       inline=True, className="wf-radio wf-replay-speeds"),
        html.Button("Step: next event", id=rid("step-event"), n_clicks=0, className="wf-button", type="button"),
        html.Button("Step: +1 min", id=rid("step-minute"), n_clicks=0, className="wf-button", type="button"),
        dcc.Input(id=rid("jump"), type="text", placeholder="jump to 2026-04-20T09:30Z", debounce=True,
                  className="wf-input wf-replay-jump", maxLength=40),
        html.Button("Go", id=rid("jump-go"), n_clicks=0, className="wf-button", type="button"),
        html.Span(id=rid("message"), className="wf-replay-message", role="status"),
        html.Div(dcc.Slider(id=rid("slider"), min=0, max=span, step=1, value=0, marks=marks, updatemode="mouseup", allow_direct_input=False,
                            tooltip={"always_visible": False}), className="wf-replay-slider"),
    ], className="wf-replay-controls")


def _window_picker(window: Window, screen: str = "desk") -> Any:
    """The window picker: two times and "Load window" (the page again, for the new window). On the
    tablet folded under a summary of the window, so the map keeps the height of a 768 px screen."""
    picker = _window_fields(window)
    if screen != "tablet":
        return picker
    return html.Details([html.Summary(f"Window {stamp(window.start_ms)[:16]} – {stamp(window.end_ms)[11:16]} UTC · change",
                                      className="wf-replay-window-summary"), picker], className="wf-replay-window-fold")


def _window_fields(window: Window) -> html.Div:
    return html.Div([
        html.Label(["From", dcc.Input(id=rid("from"), value=window.start.strftime("%Y-%m-%dT%H:%MZ"), type="text",
                                      className="wf-input wf-replay-time", maxLength=40, debounce=True)]),
        html.Label(["to", dcc.Input(id=rid("to"), value=window.end.strftime("%Y-%m-%dT%H:%MZ"), type="text",
                                    className="wf-input wf-replay-time", maxLength=40, debounce=True)]),
        html.Button("Load window", id=rid("load"), n_clicks=0, type="button", className="wf-button"),
        html.Span(id=rid("window-message"), className="wf-replay-message", role="status"),
        dcc.Location(id=rid("location"), refresh=True),
    ], className="wf-replay-window")


def figures(config: Config, workspaces: list[Workspace], screen: str, event: Any = None) -> tuple[Any, Any]:
    """The empty map and timeline of a replay screen (the frames fill them)."""
    big = screen == "wall"
    theme = theme_of(screen)
    focus = focus_of(workspaces, event)
    center, zoom = (focus.focus(), focus.zoom + (1.2 if big else 0)) if focus is not None else ((30.0, -30.0), 1.3)
    timeline = timeline_figure([], theme=theme)
    if screen == "tablet":
        timeline.update_layout(height=TABLET_TIMELINE_PX)  # a 768 px screen keeps its height for the map
    return (map_figure([], theme=theme, center=center, zoom=zoom, workspaces=workspaces, label_scale=1.6 if big else 1.0,
                       online_style=str(config.map_online_style or ""),
                       style=embedded_style(config, theme, 1.6 if big else 1.0)), timeline)


def replay_layout(config: Config, workspaces: list[Workspace], screen: str = "desk", start: Any = None,
                  end: Any = None, at: Any = None, speed: Any = None, play: Any = None, frames: Any = None,
                  event: Any = None) -> html.Div:
    """The page for one window; the frames come from the callback."""
    screen = screen_of(screen)
    focus = focus_of(workspaces, event)
    user = current_user()
    if user is not None and not may_replay(user, screen):
        audit_refusal("page.read", record="/replay", reason=f"needs role {ROLE}; has {user.role.value}", throttle=False)
        return html.Div([html.H1("Replay"), html.P("Replay is for operators and above.", className="wf-refused")],
                        className="wf-root wf-theme-dark")
    problem = ""
    try:
        window = _window(start, end)
        first = window.clamp(parse_time(at, "at")) if at else window.start
    except WatchfloorError as exc:
        problem, window = str(exc), _window(None, None)
        first = window.start
    pace = int(speed) if str(speed or "").isdigit() and int(speed) in SPEEDS else 10
    state = {"from": window.start_ms, "to": window.end_ms, "t": int(first.timestamp() * 1000), "shown": None,
             "playing": bool(play) and not problem, "speed": pace, "screen": screen,
             "full": frames == "full", "event": focus.id if focus is not None and screen == "tablet" else ""}  # (frames=full: whole figures every frame, what bench/replay.py compares with)
    big = screen == "wall"
    map_start, timeline_start = figures(config, workspaces, screen, state["event"])
    live = "/wall" if big else f"/tablet?event={state['event']}" if screen == "tablet" and state["event"] else \
        "/tablet" if screen == "tablet" else "/"
    timeline_start.update_layout(xaxis_range=[window.start - SHOWN_BEFORE, window.end])  # (not plotly's year 2000)
    return html.Div([
        html.Div(banner_text(state["t"], state["playing"], pace), id=rid("banner"), className="wf-replay-banner", role="status",
                 **{"aria-live": "polite"}),
        html.Div([html.Span("WATCHFLOOR", className="wf-brand"),
                  html.Span(f"Replay of {stamp(window.start_ms)} – {stamp(window.end_ms)} · not live",
                            className="wf-subtitle"),
                  html.A("Back to live", href=live, className="wf-button wf-replay-live-link")],
                 className="wf-header"),
        html.Div([_window_picker(window, screen), _controls(window, pace)], className="wf-replay-top"),
        html.P(problem, className="wf-replay-message wf-refused", hidden=not problem),
        html.Main([
            html.Section(dcc.Graph(id=rid("map"), figure=map_start,
                                   config={"displaylogo": False, "scrollZoom": True, "displayModeBar": False},
                                   className="wf-map-graph"), className="wf-map"),
            html.Aside([html.H2(["Incidents ", html.Span(id=rid("count"), className="wf-muted")]),
                        html.Div(html.P("Rebuilding the picture as it was…", className="wf-muted"), id=rid("side"))],
                       className="wf-side"),
        ], className="wf-main"),
        html.Section(dcc.Graph(id=rid("timeline"), figure=timeline_start,
                               config={"displaylogo": False, "displayModeBar": False}, className="wf-timeline-graph"),
                     className="wf-timeline"),
        dcc.Store(id=rid("state"), data=state),
        dcc.Store(id=rid("req")),
        dcc.Store(id=rid("ack")),
        dcc.Interval(id=rid("tick"), interval=TICK_MS),  # (the gate asks for frames only while playing)
    ], className=f"wf-root wf-replay wf-replay-{screen} wf-{screen} wf-theme-{theme_of(screen)}",
        **{"data-replay": screen})


def register_replay(app: Dash, config: Config, get_client: Callable[[], redis.Redis | None],
                    workspaces: list[Workspace]) -> None:
    """The page and its callbacks."""

    def layout(screen: str = "desk", **query: Any) -> html.Div:
        return replay_layout(config, workspaces, screen, query.get("from"), query.get("to"), query.get("at"),
                             query.get("speed"), query.get("play"), query.get("frames"), query.get("event"))

    dash.register_page("watchfloor.replay", path="/replay", title="Watchfloor · REPLAY", name="Replay", layout=layout)
    app.clientside_callback(ClientsideFunction(namespace="wfreplay", function_name="gate"),
                            Output(rid("req"), "data"), Input(rid("tick"), "n_intervals"), State(rid("state"), "data"))
    app.clientside_callback(ClientsideFunction(namespace="wfreplay", function_name="landed"),
                            Output(rid("ack"), "data"), Input(rid("state"), "data"))
    _register_frames(app, config, get_client, workspaces)

    @app.callback(Output(rid("location"), "href"), Output(rid("window-message"), "children"),
                  Input(rid("load"), "n_clicks"), State(rid("from"), "value"), State(rid("to"), "value"),
                  State(rid("state"), "data"), prevent_initial_call=True)
    def load(_n: Any, start: Any, end: Any, state: dict[str, Any] | None) -> tuple[Any, str]:
        try:
            window = Window.parse(start, end)
        except WatchfloorError as exc:
            return no_update, str(exc)
        screen = screen_of((state or {}).get("screen"))
        event = str((state or {}).get("event") or "")
        return (f"/replay?from={window.start:%Y-%m-%dT%H:%M:%SZ}&to={window.end:%Y-%m-%dT%H:%M:%SZ}"
                f"&screen={screen}" + (f"&event={urllib.parse.quote(event)}" if event else "")), ""


def _register_frames(app: Dash, config: Config, get_client: Callable[[], redis.Redis | None],
                     workspaces: list[Workspace]) -> None:
    archive = config.data_path / "archive" / "events"

    @app.callback(
        Output(rid("map"), "figure"), Output(rid("timeline"), "figure"), Output(rid("side"), "children"),
        Output(rid("banner"), "children"), Output(rid("count"), "children"), Output(rid("slider"), "value"),
        Output(rid("state"), "data"), Output(rid("message"), "children"), Output(rid("play"), "children"),
        Input(rid("req"), "data"), Input(rid("play"), "n_clicks"), Input(rid("step-event"), "n_clicks"),
        Input(rid("step-minute"), "n_clicks"), Input(rid("slider"), "value"), Input(rid("jump-go"), "n_clicks"),
        Input(rid("jump"), "n_submit"), Input(rid("speed"), "value"),
        State(rid("state"), "data"), State(rid("jump"), "value"),
        prevent_initial_call=True,  # the first frame is asked for by the gate, once the map has drawn
    )
    @off_the_loop
    def advance(_req: Any, _play: Any, _step: Any, _minute: Any, slider: Any, _go: Any, _submit: Any, speed: Any,
                state: dict[str, Any] | None, typed: Any) -> tuple[Any, ...]:
        user = current_user()
        state = dict(state or {})
        if not state or not may_replay(user, str(state.get("screen"))):
            audit_refusal("callback", record="replay.advance", reason="needs role operator (or a wall display)",
                          throttle=False)
            raise dash.exceptions.PreventUpdate
        client = get_client()
        if client is None:
            return (*([no_update] * 7), "data store unreachable", no_update)
        try:  # the state comes from the browser: a crafted one gets no bigger window than the page allows
            window = Window.parse(datetime.fromtimestamp(int(state["from"]) / 1000, UTC),
                                  datetime.fromtimestamp(int(state["to"]) / 1000, UTC))
            state["t"], state["speed"] = int(state["t"]), int(state["speed"]) if state.get("speed") in SPEEDS else 10
            state["from"], state["to"] = window.start_ms, window.end_ms
        except (ReplayError, KeyError, TypeError, ValueError, OverflowError, OSError):
            raise dash.exceptions.PreventUpdate from None
        replay = replay_for(client, window, archive, float(config.fusion_window_hours))
        if state.get("shown") is None:
            audit("replay.read", record=f"{window.start:%Y-%m-%dT%H:%M:%SZ}/{window.end:%Y-%m-%dT%H:%M:%SZ}")
        message = _move(state, ctx.triggered_id, replay, slider, typed, speed)
        if message is None:
            raise dash.exceptions.PreventUpdate
        when = datetime.fromtimestamp(state["t"] / 1000, UTC)
        before = map_rows(client, replay, state.get("shown"), user)
        after = map_rows(client, replay, state["t"], user, base_ms=state.get("shown"))
        if state["screen"] == "wall":  # markers read from across the room (sizes are pixels; the wall is 4K)
            before, after = ([{**r, "size": r["size"] * WALL_MARKER_SCALE} for r in rows] for rows in (before, after))
        elif state["screen"] == "tablet":  # the light theme's colours, readable in sunlight
            light = severity_colours("light")
            before, after = ([{**r, "color": light.get(r.get("severity"), light["unknown"])} for r in rows]
                             for rows in (before, after))
        if state.get("full"):
            map_patch, timeline_patch = full_figures(*figures(config, workspaces, str(state["screen"]), state.get("event")),
                                                      after, state["t"])
        else:
            map_patch, timeline_patch, _how = figure_patches(before, after, replay.born, state["t"])
        _areas_patch(map_patch, after, len(workspaces), state)
        state["shown"] = state["t"]
        side = _side(client, replay, when, user, workspaces, state, ctx.triggered_id == rid("req"))
        return (map_patch, timeline_patch, side,
                banner_text(state["t"], state["playing"], state["speed"]), f"({len(after)} on the map)",
                int((state["t"] - state["from"]) / 1000), state, message,
                "❚❚ Pause" if state["playing"] else "▶ Play")


def _areas_patch(map_patch: Any, rows: list[dict[str, Any]], layer: int, state: dict[str, Any]) -> None:
    """The alert areas (CAP polygons) of the frame's incidents on the map's "alert-areas" layer (the
    one after the workspaces' outlines, dashboard/panels/figures.py), sent only when the set changed."""
    shaped = sorted((r["id"], r["area"]) for r in rows if r.get("area"))
    digest = hashlib.blake2b(orjson.dumps([i for i, _ in shaped]), digest_size=8).hexdigest()
    if digest == state.get("areas") and not state.get("full"):
        return
    state["areas"] = digest
    map_patch["layout"]["map"]["layers"][layer]["source"] = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {"id": i}, "geometry": area} for i, area in shaped]}


PANELS_EVERY_MS = 2000  # while playing, the side panels follow the frames at most this often (they cost the most)


def _side(client: Any, replay: Any, when: datetime, user: Any, workspaces: list[Workspace], state: dict[str, Any],
          tick: bool) -> Any:
    """The side panels (threat, alerts, annotations) of the frame, or no_update: while playing, at
    most every PANELS_EVERY_MS, and only when what they show changed (a digest kept in the state)."""
    now = time.time() * 1000
    if tick and state["playing"] and now - float(state.get("panels_at") or 0) < PANELS_EVERY_MS:
        return no_update
    state["panels_at"] = now
    shown = frame(client, replay, when, user, workspaces)
    titles = {i["id"]: i.get("title") or i["id"] for i in shown["incidents"] if i["id"] in shown["annotations"]}
    digest = hashlib.blake2b(orjson.dumps([shown["threat"], shown["alerts"], shown["annotations"], titles],
                                          option=orjson.OPT_SORT_KEYS), digest_size=8).hexdigest()
    side = no_update if digest == state.get("panels") else side_panels(shown, titles)
    state["panels"] = digest
    return side


def _move(state: dict[str, Any], trigger: Any, replay: Any, slider: Any, typed: Any, speed: Any) -> str | None:
    """Move the replay clock in ``state`` for what the user did: the message to show ("" for none),
    or None when nothing moved (the slider echoing the frame's own position). While playing, the
    instant is worked out from an anchor (instant, server time) set when the user last acted, so a
    dropped or repeated answer neither loses nor gains replay time."""
    now = time.time() * 1000
    message = ""
    anchor_t, anchor_wall = state.get("anchor") or (state["t"], now)
    if trigger == rid("slider"):
        if not isinstance(slider, (int, float)) or abs(state["from"] + int(slider) * 1000 - state["t"]) < 1000:
            return None
        state["t"] = state["from"] + int(slider) * 1000
    elif trigger == rid("play"):
        state["playing"] = not state["playing"] and state["t"] < state["to"]
    elif trigger == rid("step-event"):
        state["playing"] = False
        state["t"] = replay.next_change(state["t"]) or state["to"]
    elif trigger == rid("step-minute"):
        state["playing"] = False
        state["t"] += 60_000
    elif trigger in (rid("jump-go"), rid("jump")) and typed:
        try:
            state["t"] = int(parse_time(typed, "jump to").timestamp() * 1000)
        except ReplayError as exc:
            message = str(exc)
    elif trigger == rid("speed") and speed in SPEEDS:
        state["t"] = int(anchor_t + state["speed"] * (now - anchor_wall)) if state["playing"] else state["t"]
        state["speed"] = int(speed)
    elif state["playing"]:  # a play tick (or the page's first call): the anchor stays
        state["t"] = max(state["from"], min(state["to"], int(anchor_t + state["speed"] * max(0.0, now - anchor_wall))))
        state["playing"] = state["t"] < state["to"]
        state["anchor"] = [anchor_t, anchor_wall] if state["playing"] else [state["t"], now]
        return message
    state["t"] = max(state["from"], min(state["to"], int(state["t"])))
    if state["t"] >= state["to"]:
        state["playing"] = False
    state["anchor"] = [state["t"], now]
    return message
