"""``/reports``: the officer's report form, the vetting queue and one report's detail.

The URL says what is shown (``/reports?state=review&id=SAR-...``), so a report can be linked to
(from the link-analysis page, a chat, the history); the page's layout only carries that choice in a
store (``wf-sar-view``) and the callbacks below read Redis through the domain and draw:

    queue   the state tabs and the rows of one state; again every QUEUE_REFRESH_MS
    detail  the chosen report: fields, the tipster's additions, privacy flags, history, entities and
            the moves the signed-in person may make
    move    a vetting move (domain.reports.vetting.move: it checks the role, the reason, the
            category and the affirmations, and audits every move and refusal)
    decide  an entity decision (entity_view.decide: audited)

Display screens get a refusal (audited) and no data; viewers get what ``store.listing`` gives them
(shared reports that were not tips, within their marking) and no buttons."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dash
import redis
from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dashboard.offload import off_the_loop
from dashboard.reports import entity_view, vetting_view
from dashboard.reports.map_layer import register_map_layer
from dashboard.reports.officer_form import officer_form, register_form
from dashboard.reports.plain import plain
from dashboard.reports.queue_line import register_queue_line
from dashboard.security import current_user, has_role, requires
from domain.access.audit import audit, audit_refusal
from domain.config.loader import Config
from domain.errors import Invalid, NotFound
from domain.reports import store
from domain.reports.vetting import Refused, move

QUEUE_REFRESH_MS = 30_000  # the queue list only: the detail is never redrawn under someone typing a reason
UNREACHABLE = "The data store is unreachable; nothing was changed. Try again in a moment."


def _header(user: Any) -> html.Header:
    operator = user is None or has_role("operator", user)
    return html.Header([
        html.Div([html.Span("WATCHFLOOR", className="wf-brand"), html.Span("Reports & vetting", className="wf-subtitle")],
                 className="wf-header-left"),
        html.Div(id="wf-sar-qline", className="wf-sar-qline", role="status", hidden=not operator),
        html.Div([
            dcc.Link("New report", href="/reports?new=1", className="wf-button") if operator else None,
            html.A("Back to the desk", href="/", className="wf-button wf-secondary"),
            html.A("Audit trail", href="/audit", className="wf-button wf-secondary")
            if user is not None and has_role("supervisor", user) else None,
        ], className="wf-sar-nav"),
    ], className="wf-header")


def reports_layout(state: str | None = None, id: str | None = None, new: str | None = None,  # noqa: A002 (URL names)
                   filed: str | None = None, **_query: Any) -> html.Div:
    """The page for the signed-in person. With no user (Dash's validation layout at start-up) it is
    the operator's page, so every component a callback names is known."""
    user = current_user()
    if user is not None and not has_role("viewer", user):
        audit_refusal("page.read", record="/reports", reason=f"display screens do not read reports; has {user.role.value}",
                      throttle=False)
        return html.Div([html.H1("Reports"), html.P("Reports are not shown on display screens.", className="wf-refused")],
                        className="wf-root wf-reports wf-theme-dark")
    operator = user is None or has_role("operator", user)
    states = vetting_view.states_for(user) if user is not None else ["waiting"]
    state = state if state in states else states[0]
    report_id = (id or "").strip()[:80] or None
    show_form = operator and (bool(new) or report_id is None)
    note = (html.P(f"Filed {report_id}: it waits for screening.", className="wf-ok wf-sar-filed", role="status")
            if filed and report_id else None)
    right = [note, html.Div(id="wf-sar-result", className="wf-sar-result", role="status", **{"aria-live": "polite"}),
             html.Div(id="wf-sar-detail", className="wf-sar-detail", hidden=show_form)]
    if operator:
        right.append(officer_form(user, hidden=not show_form))
    elif report_id is None:
        right.append(html.P("Choose a shared report from the list.", className="wf-muted"))
    return html.Div([
        _header(user),
        html.Main([
            html.Section([html.H2("Vetting queue" if operator else "Shared reports"),
                          html.Div(id="wf-sar-queue", className="wf-sar-queue")], className="wf-sar-left"),
            html.Section(right, className="wf-sar-right"),
        ], className="wf-sar-main"),
        dcc.Store(id="wf-sar-view", data={"state": state, "id": report_id, "v": 0}),
        dcc.Interval(id="wf-sar-tick", interval=QUEUE_REFRESH_MS),
        dcc.Location(id="wf-sar-nav", refresh="callback-nav"),
    ], className="wf-root wf-reports wf-theme-dark")


def register_reports(app: Dash, config: Config, get_client: Callable[[], redis.Redis | None]) -> None:
    """The page, its callbacks, the queue line on the desk and the wall, the map's vetted reports layer."""
    dash.register_page("watchfloor.reports", path="/reports", title="Watchfloor · Reports", name="Reports",
                       layout=reports_layout)
    register_form(app, config, get_client)
    register_queue_line(app, config, get_client)
    register_map_layer(app, get_client)
    _register_views(app, config, get_client)
    _register_moves(app, get_client)
    _register_decisions(app, get_client)


def _register_views(app: Dash, config: Config, get_client: Callable[[], redis.Redis | None]) -> None:
    @app.callback(Output("wf-sar-queue", "children"), Output("wf-sar-qline", "children"),
                  Input("wf-sar-view", "data"), Input("wf-sar-tick", "n_intervals"))
    @off_the_loop
    @requires("viewer")
    def queue(view: dict[str, Any] | None, _n: Any) -> tuple[Any, Any]:
        view, user, client = view or {}, current_user(), get_client()
        try:
            if client is None:
                raise redis.ConnectionError("no Redis")
            reports = store.listing(client, user, limit=vetting_view.LIST_LIMIT)
            line = store.queue_line(store.queue_status(client, float(config.sar_queue_target_hours)))
        except (redis.RedisError, OSError):
            return [html.P(UNREACHABLE, className="wf-bad")], "Queue unknown: data store unreachable"
        return (vetting_view.queue_panel(reports, user, view.get("state") or "waiting", view.get("id"),
                                         float(config.sar_queue_target_hours)),
                line if has_role("operator", user) else "")

    @app.callback(Output("wf-sar-detail", "children"), Input("wf-sar-view", "data"))
    @off_the_loop
    @requires("viewer")
    def detail(view: dict[str, Any] | None) -> Any:
        report_id = (view or {}).get("id")
        if not report_id:
            return []
        client = get_client()
        if client is None:
            return [html.P(UNREACHABLE, className="wf-bad")]
        try:
            return detail_view(client, current_user(), str(report_id))
        except (redis.RedisError, OSError):
            return [html.P(UNREACHABLE, className="wf-bad")]


def detail_view(client: redis.Redis, user: Any, report_id: str) -> list[Any]:
    """One report for ``user`` (NotFound for one they may not read: said plainly, audited)."""
    try:
        report = store.read(client, report_id, user)
    except NotFound as exc:
        audit("sar.read", record=report_id[:120], outcome="refused", reason=str(exc)[:300])
        return [html.P(f"No report {report_id[:80]} that you may read.", className="wf-bad")]
    audit("sar.read", record=report_id, reason=f"{report['state']} {report['tlp']}")
    operator = has_role("operator", user)
    return [
        html.Div([html.H2(report["id"]),
                  html.Span(vetting_view.kind_word(report), className=f"wf-sar-kind wf-sar-kind-{report['kind']}"),
                  html.Span(vetting_view.STATE_WORDS[report["state"]], className="wf-sar-state"),
                  html.Span(report["tlp"], className="wf-sar-tlp"),
                  html.A("show links", href=f"/links?node=R:{report['id']}", className="wf-sar-links")],
                 className="wf-sar-title"),
        vetting_view.privacy_box(report),
        html.Div([
            html.Div([*vetting_view.report_fields(report), *vetting_view.history_table(store.history(client, report["id"]))],
                     className="wf-sar-body"),
            html.Aside(vetting_view.moves_panel(report, user), className="wf-sar-aside") if operator else None,
        ], className="wf-sar-columns" + (" wf-sar-columns-2" if operator else "")),
        *entity_view.entities_panel(client, user, report["id"], can_decide=operator),
    ]


def _bumped(view: dict[str, Any] | None) -> dict[str, Any]:
    view = dict(view or {})
    view["v"] = int(view.get("v") or 0) + 1
    return view


def _inputs_of(key: str, wanted: str) -> dict[str, Any]:
    """{state name: value} of the pattern-matched states (``{key: name, <id key>: wanted}``)."""
    found: dict[str, Any] = {}
    for group in ctx.states_list:
        for state in group if isinstance(group, list) else [group]:
            ident = state.get("id")
            if isinstance(ident, dict) and key in ident and wanted in ident.values():
                found[ident[key]] = state.get("value")
    return found


def _register_moves(app: Dash, get_client: Callable[[], redis.Redis | None]) -> None:
    @app.callback(Output("wf-sar-result", "children", allow_duplicate=True),
                  Output("wf-sar-view", "data", allow_duplicate=True),
                  Input({"wf-sar-move": ALL, "report": ALL}, "n_clicks"),
                  State({"wf-sar": ALL, "report": ALL}, "value"), State("wf-sar-view", "data"),
                  prevent_initial_call=True)
    @off_the_loop
    @requires("operator")
    def vet(clicks: list[Any], _values: list[Any], view: dict[str, Any] | None) -> tuple[Any, Any]:
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not any(t.get("value") for t in ctx.triggered):
            raise PreventUpdate  # buttons drawn anew, not pressed
        report_id, target = str(trigger["report"]), str(trigger["wf-sar-move"])
        values = _inputs_of("wf-sar", report_id)
        affirm = values.get("affirm") or []
        data = {"to": target, "reason": values.get("reason") or "", "category": values.get("category") or None,
                "affirm": {"protected_attributes": "protected_attributes" in affirm,
                           "first_amendment": "first_amendment" in affirm}}
        client = get_client()
        if client is None:
            return html.P(UNREACHABLE, className="wf-bad"), no_update
        try:
            report = move(client, report_id, data, current_user())
        except (Invalid, NotFound, Refused) as exc:
            return html.P([html.Strong("Not moved. "), plain(str(exc))], className="wf-bad"), no_update
        except (redis.RedisError, OSError):
            return html.P(UNREACHABLE, className="wf-bad"), no_update
        words = vetting_view.STATE_WORDS[report["state"]]
        return html.P(f"{report_id} is now {words.lower()}.", className="wf-ok"), _bumped(view)


def _register_decisions(app: Dash, get_client: Callable[[], redis.Redis | None]) -> None:
    @app.callback(Output("wf-sar-result", "children", allow_duplicate=True),
                  Output("wf-sar-view", "data", allow_duplicate=True),
                  Input({"wf-ent": ALL, "entity": ALL}, "n_clicks"),
                  State({"wf-ent-in": ALL, "entity": ALL}, "value"), State("wf-sar-view", "data"),
                  prevent_initial_call=True)
    @off_the_loop
    @requires("operator")
    def decide(clicks: list[Any], _values: list[Any], view: dict[str, Any] | None) -> tuple[Any, Any]:
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not any(t.get("value") for t in ctx.triggered):
            raise PreventUpdate
        entity_id, action = str(trigger["entity"]), str(trigger["wf-ent"])
        client = get_client()
        if client is None:
            return html.P(UNREACHABLE, className="wf-bad"), no_update
        try:
            done = entity_view.decide(client, current_user(), action, entity_id, _inputs_of("wf-ent-in", entity_id))
        except (Invalid, NotFound) as exc:
            return html.P([html.Strong("Not done. "), plain(str(exc))], className="wf-bad"), no_update
        except (redis.RedisError, OSError):
            return html.P(UNREACHABLE, className="wf-bad"), no_update
        return html.P(done, className="wf-ok"), _bumped(view)


__all__ = ["detail_view", "register_reports", "reports_layout"]
