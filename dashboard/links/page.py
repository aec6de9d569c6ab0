"""The link-analysis page ``/links`` (viewer and above): the graph of entities, reports and incidents.

Search an entity (``vehicle:MA:ABC123``, ``phone:+16175550100``, ``email:...``, an entity or report id;
``/links?node=E:<id>`` opens one), see its neighbourhood up to three steps out (at most 500 nodes,
with a banner when cut), filter by type and date, tap a node for its details, timeline and map,
expand it, find the shortest path between two, and export what is drawn as GraphML, CSV or a PNG.

Every callback runs with the signed-in user's rights (domain.reports.graph takes the user), refuses
display screens and anyone below viewer on the server (``requires``), and rebuilds what it draws
from the small state the page keeps (dashboard.links.view), so neither the drawing nor an export can
hold a node the reader may not see. Exports are audited.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import dash
import dash_cytoscape as cyto
import networkx as nx
import redis
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update

from dashboard.links.detail import node_detail
from dashboard.links.elements import LAYOUTS, LOOK, elements, layout, legend, short, stylesheet
from dashboard.links.view import LIMIT, MAX_EXPANSIONS, NODE_TYPES, Query, build_view, marking, truncation_line
from dashboard.offload import off_the_loop
from dashboard.security import current_user, has_role, requires
from domain.access.audit import audit, audit_refusal
from domain.config.loader import Config
from domain.reports import graph

SEARCH_HINT = "vehicle:MA:ABC123, phone:+16175550100, email:…, or a report or entity id"
EMPTY = "Type an entity (" + SEARCH_HINT + ") and press Enter."
UNREACHABLE = "The data store is unreachable; try again in a moment."
EXPORTS = {"wf-links-graphml": "graphml", "wf-links-csv-nodes": "nodes", "wf-links-csv-edges": "edges"}


def _field(label: str, control: Any, kind: str = "") -> html.Label:
    return html.Label([html.Span(label, className="wf-filter-label"), control],
                      className="wf-links-field" + (f" wf-links-field-{kind}" if kind else ""))


def _controls(node: str) -> html.Div:
    # Not a <form>: Enter in the search box would submit it and reload the page (n_submit draws instead).
    return html.Div([
        _field("Entity or report", dcc.Input(id="wf-links-search", type="search", value=node, maxLength=200,
                                            placeholder=SEARCH_HINT, className="wf-input", autoComplete="off"),
               "wide"),
        html.Button("Show", id="wf-links-show", type="button", n_clicks=0, className="wf-button"),
        _field("Steps out", dcc.RadioItems(id="wf-links-depth", options=[1, 2, 3], value=2, inline=True,
                                           className="wf-radio")),
        _field("Types", dcc.Checklist(id="wf-links-types", options=[{"label": LOOK[t][2], "value": t} for t in NODE_TYPES],
                                      value=list(NODE_TYPES), inline=True, className="wf-radio")),
        _field("Reports from", dcc.Input(id="wf-links-since", type="date", value="", className="wf-input"), "date"),
        _field("to", dcc.Input(id="wf-links-until", type="date", value="", className="wf-input"), "date"),
    ], className="wf-links-controls", role="search", **{"aria-label": "What to draw"})


def _layout_choice() -> html.Div:
    return html.Div([html.Span("Layout", className="wf-filter-label"),
                     dcc.RadioItems(id="wf-links-layout", options=LAYOUTS, value="auto", inline=True, className="wf-radio")],
                    className="wf-links-layout")


def _side() -> html.Aside:
    path = html.Section([
        html.H2("Shortest path"),
        _field("From", dcc.Input(id="wf-links-path-a", type="text", value="", maxLength=200, className="wf-input",
                                 placeholder="an entity or report")),
        _field("To", dcc.Input(id="wf-links-path-b", type="text", value="", maxLength=200, className="wf-input",
                               placeholder="another one")),
        html.Button("Find path", id="wf-links-path-go", type="button", n_clicks=0, className="wf-button"),
        html.Button("Clear", id="wf-links-path-clear", type="button", n_clicks=0, className="wf-button wf-secondary"),
        html.P(id="wf-links-path-result", className="wf-links-path-result", role="status"),
    ], className="wf-links-path")
    selected = html.Section([
        html.H2("Selected"),
        html.Div([
            html.Button("Expand its neighbours", id="wf-links-expand", type="button", n_clicks=0, disabled=True,
                        className="wf-button"),
            html.Button("Path from here", id="wf-links-path-from", type="button", n_clicks=0, disabled=True,
                        className="wf-button wf-secondary"),
            html.Button("Path to here", id="wf-links-path-to", type="button", n_clicks=0, disabled=True,
                        className="wf-button wf-secondary"),
        ], className="wf-links-actions"),
        html.Div(html.P("Tap a node to see what it is and which reports mention it.", className="wf-muted"),
                 id="wf-links-detail", className="wf-links-detail"),
    ])
    export = html.Section([
        html.H2("Export what is drawn"),
        html.Button("GraphML", id="wf-links-graphml", type="button", n_clicks=0, className="wf-button wf-secondary"),
        html.Button("CSV nodes", id="wf-links-csv-nodes", type="button", n_clicks=0, className="wf-button wf-secondary"),
        html.Button("CSV links", id="wf-links-csv-edges", type="button", n_clicks=0, className="wf-button wf-secondary"),
        html.Button("PNG picture", id="wf-links-png", type="button", n_clicks=0, className="wf-button wf-secondary"),
        dcc.Download(id="wf-links-download"),
    ], className="wf-links-export")
    return html.Aside([path, selected, export], className="wf-links-side")


def links_layout(node: str | None = None, **_query: Any) -> html.Div:
    """The page. Display screens and anyone below viewer get a refusal (audited) and no data; with
    no user (Dash building its validation layout at start-up) it is the empty page."""
    user = current_user()
    if user is not None and not has_role("viewer", user):
        audit_refusal("page.read", record="/links", reason=f"needs role viewer; has {user.role.value}", throttle=False)
        return html.Div([html.H1("Link analysis"), html.P("Link analysis is for signed-in people (viewer and above), "
                                                          "not display screens.", className="wf-refused")],
                        className="wf-links wf-theme-dark")
    start = node if isinstance(node, str) else ""
    graph_view = cyto.Cytoscape(id="wf-links-graph", elements=[], layout={"name": "preset"}, stylesheet=stylesheet(),
                                minZoom=0.05, maxZoom=1.5, boxSelectionEnabled=False, autoRefreshLayout=False,
                                style={"width": "100%", "height": "100%"}, className="wf-links-cy")
    return html.Div([
        html.Header([html.Div([html.Span("WATCHFLOOR", className="wf-brand"),
                               html.Span("Link analysis", className="wf-subtitle")], className="wf-header-left"),
                     html.A("Back to the desk", href="/", className="wf-button wf-audit-link wf-links-open")], className="wf-header"),
        _controls(start[:200]),
        html.Div(id="wf-links-banner", className="wf-links-banner", hidden=True, role="alert"),
        html.P(EMPTY, id="wf-links-status", className="wf-links-status", role="status"),
        html.Main([html.Section([graph_view, legend(), _layout_choice()], className="wf-links-canvas"), _side()],
                  className="wf-links-main"),
        dcc.Store(id="wf-links-state", data={"start": None, "expanded": [], "path": None, "run": 0}),
        dcc.Store(id="wf-links-selected"),
    ], className="wf-links wf-theme-dark")


# -- callbacks ----------------------------------------------------------------------------------------------
def _visible_id(client: redis.Redis, user: Any, text: str, region: str) -> str | None:
    """The node ``text`` names if ``user`` may see it; None otherwise (whether or not it exists)."""
    node_id = graph.node_id_for(client, text, region) if text else None
    return node_id if node_id and graph.Walker(client, user).node(node_id) is not None else None


def _label(view: dict[str, Any], node_id: str) -> str:
    found = next((n for n in view["nodes"] if n["id"] == node_id), None)
    return short(str(found.get("label") or node_id), 40) if found else node_id


def _path_line(view: dict[str, Any], state: dict[str, Any]) -> str:
    ends = state.get("path")
    if not ends:
        return state.get("path_note", "")
    if not view["path"]:
        return f"No path between {_label(view, ends[0])} and {_label(view, ends[1])} among what you may see."
    steps = " → ".join(_label(view, n) for n in view["path"])
    return f"Path ({len(view['path']) - 1} links, drawn in magenta): {steps}"


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _status(view: dict[str, Any], state: dict[str, Any], tlp: str, note: str) -> str:
    if state.get("start") is None and state.get("asked"):
        line = f"Nothing you may see matches {state['asked'][:60]!r}."
    elif not view["nodes"]:
        line = EMPTY
    else:
        around = f" within {view['depth']} step{'s' if view['depth'] != 1 else ''} of " \
                 f"{_label(view, view['start'])}" if view.get("found") else ""
        line = (f"{_count(len(view['nodes']), 'node')} and {_count(len(view['edges']), 'link')}{around}. "
                f"Marking of this view: {tlp}.")
    return f"{line} {note}".strip()


def _next_state(trigger: Any, state: dict[str, Any], client: redis.Redis, user: Any, region: str,
                search: Any, selected: Any, ends: tuple[Any, Any]) -> dict[str, Any]:
    """The page's state after what the analyst just did."""
    state = {**state}
    if trigger in (None, "wf-links-show", "wf-links-search"):
        text = str(search or "").strip()[:200]
        state.update(start=_visible_id(client, user, text, region), expanded=[], asked=text)
    elif trigger == "wf-links-expand" and isinstance(selected, str):
        expanded = [n for n in state.get("expanded") or [] if n != selected]
        state["expanded"] = (expanded + [selected])[-MAX_EXPANSIONS:]
    elif trigger == "wf-links-path-go":
        texts = [str(e or "").strip()[:200] for e in ends]
        found = [_visible_id(client, user, t, region) for t in texts]
        missing = [t for t, f in zip(texts, found, strict=True) if f is None]
        state["path"] = None if missing else found
        state["path_note"] = (f"Nothing you may see matches {missing[0][:60]!r}." if missing[0] else
                              "Give both ends of the path.") if missing else ""
    elif trigger == "wf-links-path-clear":
        state.update(path=None, path_note="")
    return state


def register_links(app: Dash, config: Config, get_client: Callable[[], redis.Redis | None]) -> None:
    """The page at ``/links`` and its callbacks (called by ``create_app``)."""
    dash.register_page("watchfloor.links", path="/links", title="Watchfloor · Link analysis", name="Link analysis",
                       layout=links_layout)
    register_links_page(app, config, get_client)


def register_links_page(app: Dash, config: Config, get_client: Callable[[], redis.Redis | None]) -> None:
    region = str(config.phone_region)
    map_style = str(config.map_online_style or "") or "/tiles/style/dark.json"

    @app.callback(
        Output("wf-links-graph", "elements"), Output("wf-links-graph", "layout"),
        Output("wf-links-banner", "children"), Output("wf-links-banner", "hidden"),
        Output("wf-links-status", "children"), Output("wf-links-path-result", "children"),
        Output("wf-links-state", "data"),
        Input("wf-links-show", "n_clicks"), Input("wf-links-search", "n_submit"), Input("wf-links-depth", "value"),
        Input("wf-links-types", "value"), Input("wf-links-since", "value"), Input("wf-links-until", "value"),
        Input("wf-links-layout", "value"), Input("wf-links-expand", "n_clicks"), Input("wf-links-path-go", "n_clicks"),
        Input("wf-links-path-clear", "n_clicks"),
        State("wf-links-search", "value"), State("wf-links-state", "data"), State("wf-links-selected", "data"),
        State("wf-links-path-a", "value"), State("wf-links-path-b", "value"),
    )
    @off_the_loop
    @requires("viewer")
    def draw(_show: Any, _submit: Any, depth: Any, types: Any, since: Any, until: Any, choice: Any, _expand: Any,
             _path: Any, _clear: Any, search: Any, state: Any, selected: Any, path_a: Any, path_b: Any) -> tuple:
        client = get_client()
        if client is None:
            return no_update, no_update, "", True, UNREACHABLE, no_update, no_update
        user = current_user()
        try:
            state = _next_state(ctx.triggered_id, state if isinstance(state, dict) else {}, client, user, region,
                                search, selected, (path_a, path_b))
            view = build_view(client, user, Query.parse(state, depth, types, since, until))
            tlp = marking(client, view).value
        except (redis.RedisError, OSError):
            return no_update, no_update, "", True, UNREACHABLE, no_update, no_update
        state.update(run=int(state.get("run") or 0) + 1, drawn=len(view["nodes"]))
        shape, note = layout(view, str(choice or "auto"), state["run"])
        banner = truncation_line(view)
        return (elements(view), shape, banner, not banner,
                _status(view, state, tlp, note), _path_line(view, state), state)

    _register_detail(app, get_client, map_style)
    _register_exports(app, get_client)


def _register_detail(app: Dash, get_client: Callable[[], redis.Redis | None], map_style: str) -> None:
    @app.callback(
        Output("wf-links-detail", "children"), Output("wf-links-selected", "data"),
        Output("wf-links-expand", "disabled"), Output("wf-links-path-from", "disabled"),
        Output("wf-links-path-to", "disabled"),
        Input("wf-links-graph", "tapNodeData"), prevent_initial_call=True,
    )
    @off_the_loop
    @requires("viewer")
    def show_detail(tapped: Any) -> tuple:
        node_id = tapped.get("id") if isinstance(tapped, dict) else None
        client = get_client()
        if client is None or not isinstance(node_id, str):
            return [html.P(UNREACHABLE if client is None else "")], None, True, True, True
        try:
            children, ok = node_detail(client, current_user(), node_id[:200], map_style)
        except (redis.RedisError, OSError):
            return [html.P(UNREACHABLE)], None, True, True, True
        return children, node_id if ok else None, not ok, not ok, not ok

    @app.callback(Output("wf-links-path-a", "value"), Input("wf-links-path-from", "n_clicks"),
                  State("wf-links-selected", "data"), prevent_initial_call=True)
    @requires("viewer")
    def path_from(_n: Any, selected: Any) -> Any:
        return selected if isinstance(selected, str) else no_update

    @app.callback(Output("wf-links-path-b", "value"), Input("wf-links-path-to", "n_clicks"),
                  State("wf-links-selected", "data"), prevent_initial_call=True)
    @requires("viewer")
    def path_to(_n: Any, selected: Any) -> Any:
        return selected if isinstance(selected, str) else no_update


def export_text(view: dict[str, Any], part: str, tlp: str) -> str:
    """GraphML (with the view's marking as a graph attribute) or CSV of the nodes or links."""
    if part == "nodes":
        return graph.nodes_csv(view)
    if part == "edges":
        return graph.edges_csv(view)
    # Only values that are there: GraphML types each attribute, and None would come out as "".
    clean = {**view, "nodes": [{k: v for k, v in n.items() if v is not None} for n in view["nodes"]]}
    network = graph.to_networkx(clean)
    network.graph.update(tlp=tlp, start=str(view.get("start") or ""), truncated=bool(view.get("truncated")))
    return "\n".join(nx.generate_graphml(network))


def _file_name(view: dict[str, Any], part: str, tlp: str) -> str:
    anchor = re.sub(r"[^A-Za-z0-9]+", "-", str(view.get("start") or "path")).strip("-")[:40]
    mark = tlp.replace("TLP:", "TLP-").replace("+", "-")
    return f"watchfloor-links-{anchor}-{mark}" + (".graphml" if part == "graphml" else f"-{part}.csv")


def _register_exports(app: Dash, get_client: Callable[[], redis.Redis | None]) -> None:
    @app.callback(
        Output("wf-links-download", "data"),
        Input("wf-links-graphml", "n_clicks"), Input("wf-links-csv-nodes", "n_clicks"),
        Input("wf-links-csv-edges", "n_clicks"),
        State("wf-links-state", "data"), State("wf-links-depth", "value"), State("wf-links-types", "value"),
        State("wf-links-since", "value"), State("wf-links-until", "value"), prevent_initial_call=True,
    )
    @off_the_loop
    @requires("viewer")
    def download(_g: Any, _n: Any, _e: Any, state: Any, depth: Any, types: Any, since: Any, until: Any) -> Any:
        part = EXPORTS.get(str(ctx.triggered_id))
        client = get_client()
        if part is None or client is None:
            return no_update
        view = build_view(client, current_user(), Query.parse(state, depth, types, since, until))
        if not view["nodes"]:
            return no_update
        tlp = marking(client, view).value
        audit("links.export", record=f"{view.get('start') or 'path'} {part}"[:200],
              reason=f"{len(view['nodes'])} nodes, {len(view['edges'])} links, {tlp}")
        return dcc.send_string(export_text(view, part, tlp), _file_name(view, part, tlp))

    @app.callback(Output("wf-links-graph", "generateImage"), Input("wf-links-png", "n_clicks"),
                  State("wf-links-state", "data"), prevent_initial_call=True)
    @requires("viewer")
    def picture(_n: Any, state: Any) -> Any:
        """The picture is drawn in the browser (cytoscape's png) from what is on screen; recorded here."""
        state = state if isinstance(state, dict) else {}
        start = state.get("start")
        audit("links.export", record=f"{start or 'path'} png"[:200],
              reason=f"picture of {int(state.get('drawn') or 0)} drawn nodes")
        name = re.sub(r"[^A-Za-z0-9]+", "-", str(start or "path")).strip("-")[:40]
        return {"type": "png", "action": "download", "filename": f"watchfloor-links-{name}",
                "options": {"full": True, "scale": 2, "bg": "#0b1320"}}


__all__ = ["LIMIT", "export_text", "links_layout", "register_links", "register_links_page"]
