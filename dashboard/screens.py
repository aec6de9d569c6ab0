"""The three screens and their profiles: the wall, the desk and the tablet compose the same
panels (dashboard.panels.live) with different themes, sizes and defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from dash import dcc, html

from dashboard.panels.alerts import alert_banner, push_button, sent_section
from dashboard.panels.alerts import composer as alert_composer
from dashboard.panels.figures import map_figure, timeline_figure
from dashboard.panels.live import ids, live_stores
from dashboard.panels.membership import admin_link, pushes_link, who
from dashboard.panels.products import products_button, products_dialog
from dashboard.security import has_role
from dashboard.tiles import embedded_style
from domain.config.loader import Config
from domain.picture.markers import SEVERITY_SIZES, severity_colours
from layers.zones import Workspace

LAYERS = [{"label": "incidents", "value": "incidents"}, {"label": "alert areas", "value": "areas"},
          {"label": "watch zones", "value": "zones"}, {"label": "density", "value": "density"},
          {"label": "hospitals & responders", "value": "responders"}, {"label": "vetted reports", "value": "reports"}]
DEFAULT_LAYERS = ["incidents", "areas", "zones", "responders"]
WINDOWS = [("1 h", 1), ("6 h", 6), ("24 h", 24), ("7 d", 168), ("all", 0)]
SEVERITIES = ["unknown", "minor", "moderate", "severe", "extreme"]
KINDS = ["earthquake", "tsunami", "weather", "flood", "fire", "cyclone", "volcano", "security", "medical",
         "traffic", "incident", "news", "other"]


@dataclass(frozen=True)
class Screen:
    name: str
    path: str
    title: str
    theme: str  # "dark" | "light"
    window_hours: int
    list_limit: int


DESK = Screen("desk", "/", "Desk", "dark", 24, 200)
WALL = Screen("wall", "/wall", "Wall", "dark", 24, 12)
TABLET = Screen("tablet", "/tablet", "Tablet", "light", 6, 40)
SCREENS = (DESK, WALL, TABLET)


def _header(screen: Screen, config: Config, subtitle: str, workspace: Workspace | None = None) -> html.Header:
    exercise = any(f.exercise for f in config.feeds if f.enabled)
    return html.Header(
        [
            html.Div([
                html.Span("WATCHFLOOR", className="wf-brand"),
                html.Span(subtitle, className="wf-subtitle"),
                html.Span("EXERCISE", className="wf-exercise-badge", hidden=not exercise,
                          title="Exercise data is on this screen"),
            ], className="wf-header-left"),
            html.Div(id=ids("clock", screen.name), className="wf-clock"),
            # The vetting queue's line (dashboard/reports/queue_line.py): a link to /reports on the desk.
            (html.A if screen.name == "desk" else html.Div)(id=ids("sarq", screen.name), className="wf-sar-qscreen",
                                                            hidden=True, **({"href": "/reports"} if screen.name == "desk" else {})),
            push_button() if screen.name == "desk" else None,  # only for roles that may push
            products_button() if screen.name == "desk" else None,  # briefing, exports, share link
            html.A("Link analysis", href="/links", className="wf-button wf-audit-link wf-links-open")
            if screen.name == "desk" and has_role("viewer") else None,
            html.A("Replay", href="/replay", className="wf-button wf-audit-link wf-replay-open",
                   title="After-action review: play a window of the picture as it was")
            if screen.name == "desk" and has_role("operator") else None,
            # The event commander's debrief: the replay on the tablet's profile, on its event.
            html.A("Replay", href="/replay?screen=tablet" + (f"&event={quote(workspace.id)}" if workspace else ""),
                   className="wf-button wf-audit-link wf-replay-open",
                   title="After-action review: play a window of this event as it was")
            if screen.name == "tablet" and has_role("operator") else None,
            html.A("Audit trail", href="/audit", className="wf-button wf-audit-link")
            if screen.name == "desk" and has_role("supervisor") else None,
            pushes_link() if screen.name == "desk" else None,
            admin_link() if screen.name == "desk" else None,
            who() if screen.name in ("desk", "tablet") else None,  # the person and their agency
            html.Div("connecting…", id=ids("conn", screen.name), className="wf-conn", role="status"),
        ],
        className="wf-header",
    )


def _filters(screen: Screen) -> html.Div:
    return html.Div(
        [
            html.Div([html.Div("Window", className="wf-filter-label"),
                      dcc.RadioItems(id=ids("window", screen.name), options=[{"label": lab, "value": v} for lab, v in WINDOWS],
                                     value=screen.window_hours, inline=True, className="wf-radio")], className="wf-filter"),
            html.Div([html.Div("Min severity", className="wf-filter-label"),
                      dcc.RadioItems(id=ids("severity", screen.name),
                                     options=[{"label": s.upper() if s != "unknown" else "ALL", "value": s} for s in SEVERITIES],
                                     value="unknown", inline=True, className="wf-radio")], className="wf-filter"),
            html.Div([html.Div("Kinds", className="wf-filter-label"),
                      dcc.Dropdown(id=ids("kinds", screen.name), options=KINDS, multi=True, placeholder="all kinds",
                                   className="wf-dropdown")], className="wf-filter wf-filter-kinds"),
            html.Div([dcc.Input(id=ids("text", screen.name), type="search", placeholder="Search title, place, source  ( / )",
                                debounce=0.3, className="wf-search")], className="wf-filter"),
            html.Div([dcc.Checklist(id=ids("exercise", screen.name), options=[{"label": "exercise data", "value": "show"}],
                                    value=["show"], inline=True, className="wf-radio")], className="wf-filter"),
            html.Div([html.Div("Layers", className="wf-filter-label"),
                      dcc.Checklist(id=ids("layers", screen.name), options=LAYERS, value=DEFAULT_LAYERS,
                                    inline=True, className="wf-radio")], className="wf-filter wf-filter-layers"),
        ],
        className="wf-filters",
    )


def _legend(theme: str) -> html.Div:
    """Each severity's word, colour and marker size, as the map draws them."""
    colours = severity_colours(theme)
    return html.Div(
        [html.Span([html.Span(className="wf-dot", style={"background": colours[s], "width": f"{SEVERITY_SIZES[s]}px",
                                                         "height": f"{SEVERITY_SIZES[s]}px"}), s.upper()],
                   className="wf-legend-item") for s in reversed(SEVERITIES)],
        className="wf-legend",
    )


def _timeline_scope(name: str, workspace: Workspace | None, workspaces: list[Workspace]) -> html.Div:
    """Whose timeline: the whole picture or one workspace (incidents inside or near it). The tablet
    starts on its event; the wall follows its rotation (assets/wf-60-wall.js heartbeat)."""
    options = [{"label": "whole picture", "value": "all"}] + [{"label": w.name, "value": w.id} for w in workspaces]
    value = workspace.id if name == "tablet" and workspace is not None else "all"
    return html.Div([html.Span("Timeline", className="wf-filter-label"),
                     dcc.RadioItems(id=ids("tlscope", name), options=options, value=value, inline=True,
                                    className="wf-radio")], className="wf-tl-scope")


def _side(name: str) -> html.Aside:
    """The side column: open alerts (desk), threat levels, the incident list, feed health."""
    return html.Aside(
        [
            sent_section() if name == "desk" else None,  # open alerts: receipts, acknowledgements, withdraw
            html.H2("Threat level"),
            html.Div(id=ids("threat", name), className="wf-threat"),
            html.H2(["Incidents ", html.Span(id=ids("count", name), className="wf-muted")]),
            # Drawn by the page's own script, outside Dash's tree (assets/wf-40-render.js, drawList).
            html.Div(id=ids("list", name), className="wf-list"),
            html.H2("Feed health", className="wf-feeds-title"),
            html.Div(id=ids("feeds", name)),
        ],
        className="wf-side",
    )


def screen_layout(screen: Screen, config: Config, snapshot: dict[str, Any], workspace: Workspace | None,
                  workspaces: list[Workspace], view: str | None = None) -> html.Div:
    """One screen. ``snapshot`` is {"rows", "cursor", "ok"} read when the page was served."""
    if workspace is not None:
        lat, lon = workspace.focus()
        center, zoom = (lat, lon), workspace.zoom
    else:
        center, zoom = (30.0, -30.0), 1.3
    name = screen.name
    subtitle = {"desk": "Duty desk", "wall": "Watch floor", "tablet": workspace.name if workspace else "Event"}[name]
    views = ["map"] + [f"event:{w.id}" for w in workspaces] + ["threat", "timeline"]
    settings = {
        "screen": name,
        "stale": int(config.stale_seconds),
        "refresh": int(config.refresh_ms),
        "listLimit": screen.list_limit,
        "cycle": int(config.wall_cycle_seconds),
        "views": views,
        "pinned": view if view in views else None,
        "workspace": workspace.id if workspace is not None else None,
        # Geometry too: each workspace's timeline keeps the incidents within its near_km (the same
        # test as its threat level, layers/zones.py Workspace.proximity), worked out in the browser.
        "workspaces": {w.id: {"name": w.name, "center": list(w.focus()), "zoom": w.zoom,
                              "venues": [[v.lat, v.lon, v.radius_km] for v in w.venues],
                              "route": [list(p) for p in w.route], "routeKm": w.route_km, "nearKm": w.near_km}
                       for w in workspaces},
        "globalView": {"center": [30.0, -30.0], "zoom": 1.3},
        "theme": screen.theme,
        # The theme's palette: markers, list and a filtered hex bin (the colour of the worst it still counts).
        "sevColours": severity_colours(screen.theme),
    }
    map_graph = dcc.Graph(
        id=ids("map", name),
        figure=map_figure([], theme=screen.theme, center=center, zoom=zoom,
                          workspaces=workspaces if name != "tablet" else [w for w in [workspace] if w],
                          label_scale=1.6 if name == "wall" else 1.0,  # street names read from five metres
                          online_style=str(config.map_online_style or ""),
                          style=embedded_style(config, screen.theme, 1.6 if name == "wall" else 1.0)),
        # Touch and kiosk screens get no modebar: its 24 px buttons are too small to tap.
        config={"displaylogo": False, "scrollZoom": True, "displayModeBar": name == "desk",
                "modeBarButtonsToRemove": ["select2d", "lasso2d"]},
        className="wf-map-graph",
    )
    timeline = dcc.Graph(id=ids("timeline", name), figure=timeline_figure([], theme=screen.theme),
                         config={"displaylogo": False, "displayModeBar": False}, className="wf-timeline-graph")
    side = _side(name)
    detail = html.Div(id=ids("detail", name), className="wf-detail", hidden=True)
    composer = alert_composer(workspaces) if name == "desk" else None
    return html.Div(
        [
            html.Div([_header(screen, config, subtitle, workspace), alert_banner(name)], className="wf-top"),
            _filters(screen),
            html.Main(
                [
                    html.Section([map_graph, _legend(screen.theme)], className="wf-map"),
                    side,
                    detail,
                    composer,
                    products_dialog(workspaces) if name == "desk" else None,
                ],
                className="wf-main",
            ),
            html.Section([_timeline_scope(name, workspace, workspaces), timeline], className="wf-timeline"),
            html.Div(id=ids("board", name), className="wf-board"),
            html.Div(id=ids("ticker", name), className="wf-ticker"),
            *live_stores(name, snapshot, settings, int(config.refresh_ms)),
        ],
        id=ids("root", name),
        className=f"wf-root wf-{name} wf-theme-{screen.theme}",
        **{"data-screen": name},
    )
