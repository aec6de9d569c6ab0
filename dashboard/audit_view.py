"""The supervisor's view of the audit trail: ``/audit``.

Filters (time range, user, action, outcome), the matching records newest first, and a JSON Lines
export of the same query (``/api/audit.jsonl``, itself audited). Only supervisors and admins get
data: the page's layout shows others a refusal (and audits it), and the callback that reads the
trail refuses them on the server whatever the page shows. Reading the trail is recorded in it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import dash
import redis
from dash import Dash, Input, Output, State, dcc, html

from dashboard.agencies_page import agencies_layout, register_agencies_page
from dashboard.offload import off_the_loop
from dashboard.security import current_user, has_role, requires
from domain.access.audit import AuditQuery, audit, audit_refusal, search

OUTCOMES = [{"label": "any outcome", "value": ""}, {"label": "ok", "value": "ok"},
            {"label": "refused", "value": "refused"}, {"label": "failed", "value": "failed"}]
ACTIONS = [("", "any action"), ("login", "sign-in"), ("annotation.", "annotations"), ("alert.", "alerts"),
           ("intel.", "criminal intelligence"), ("incident.", "incident reads"), ("audit.", "audit reads"),
           ("callback", "refused callbacks"), ("rule.", "alert rules"), ("account.", "accounts")]
COLUMNS = ("time", "user", "source", "action", "record", "outcome", "reason")


def audit_layout() -> html.Div:
    """The page; data arrives only through the supervisor-only callback below. With no user (Dash
    building its validation layout at start-up; a request without a session never gets here) it is
    the empty form, so the callback's components are known to every page."""
    user = current_user()
    if user is not None and not has_role("supervisor", user):
        audit_refusal("page.read", record="/audit", reason=f"needs role supervisor; has {user.role.value}",
                      throttle=False)
        return html.Div([html.H1("Audit trail"), html.P("The audit trail is for supervisors and admins.",
                                                        className="wf-refused")], className="wf-audit wf-theme-light")
    since = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    field = "wf-input wf-audit-field"
    return html.Div([
        html.Header([html.Span("WATCHFLOOR", className="wf-brand"), html.Span("Audit trail", className="wf-subtitle"),
                     html.A("Back to the desk", href="/", className="wf-button")], className="wf-header"),
        html.Form([
            html.Label(["From (UTC)", dcc.Input(id="wf-audit-since", type="datetime-local", value=since, className=field)]),
            html.Label(["To (UTC)", dcc.Input(id="wf-audit-until", type="datetime-local", value="", className=field)]),
            html.Label(["User", dcc.Input(id="wf-audit-user", type="text", value="", maxLength=64, className=field)]),
            html.Label(["Action", dcc.Dropdown(id="wf-audit-action", options=[{"label": lab, "value": v} for v, lab in ACTIONS],
                                               value="", clearable=False, className="wf-audit-field")]),
            html.Label(["Outcome", dcc.Dropdown(id="wf-audit-outcome", options=OUTCOMES, value="", clearable=False,
                                                className="wf-audit-field")]),
            html.Button("Show", id="wf-audit-show", type="button", n_clicks=0, className="wf-button"),
        ], className="wf-audit-filters", **{"aria-label": "Audit filters"}),
        html.P(id="wf-audit-status", className="wf-audit-status", role="status"),
        html.A("Export these records (JSON Lines)", id="wf-audit-export", href="/api/audit.jsonl", className="wf-button",
               download="watchfloor-audit.jsonl"),
        html.Div(id="wf-audit-table", className="wf-audit-table"),
    ], className="wf-audit wf-theme-light")


def _table(rows: list[dict[str, str]]) -> html.Table:
    head = html.Thead(html.Tr([html.Th(c) for c in COLUMNS]))
    body = html.Tbody([html.Tr([html.Td(r.get(c, "")) for c in COLUMNS],
                               className=f"wf-audit-{r.get('outcome', 'ok')}") for r in rows])
    return html.Table([head, body])


def register_audit_page(app: Dash, get_client: Callable[[], redis.Redis | None]) -> None:
    dash.register_page("watchfloor.agencies", path="/agencies", title="Watchfloor · Agencies", name="Agencies",
                       layout=agencies_layout)  # the other administrators' page (dashboard/agencies_page.py)
    register_agencies_page(app, get_client)
    @app.callback(
        Output("wf-audit-table", "children"),
        Output("wf-audit-status", "children"),
        Output("wf-audit-export", "href"),
        Input("wf-audit-show", "n_clicks"),
        State("wf-audit-since", "value"),
        State("wf-audit-until", "value"),
        State("wf-audit-user", "value"),
        State("wf-audit-action", "value"),
        State("wf-audit-outcome", "value"),
    )
    @off_the_loop
    @requires("supervisor")
    def show(_n: int, since: Any, until: Any, user: Any, action: Any, outcome: Any) -> tuple[Any, str, str]:
        params = {k: v for k, v in (("since", since), ("until", until), ("user", user), ("action", action),
                                    ("outcome", outcome)) if v}
        try:
            query = AuditQuery.parse(params)
        except ValueError as exc:
            return [], f"Not shown: {exc}", "/api/audit.jsonl"
        client = get_client()
        if client is None:
            return [], "The data store is unreachable.", "/api/audit.jsonl"
        try:
            records, more = search(client, query)
        except (redis.RedisError, OSError):
            return [], "The data store is unreachable.", "/api/audit.jsonl"
        audit("audit.read", record=query.describe()[:200], reason=f"{len(records)} record(s)")
        status = f"{len(records)} record(s), newest first" + (f"; only the newest {query.limit} shown" if more else "")
        return _table([r.to_dict() for r in records]), status, "/api/audit.jsonl?" + urlencode(params)
