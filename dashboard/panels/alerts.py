"""The alert panel: the banner every screen shows (under the header, never over its status and
clock), the screen's alert store (filled by the live panel's gated poll), the desk's composer (push and update) and the desk's list of open alerts with who
received and acknowledged each, for their sender and supervisors (update, withdraw, acknowledge
on behalf of a wall screen). The rules are the server's (domain.operations.alerts, the API);
this only shows them. Browser side: assets/wf-70-banner.js (banner, receipts, acknowledging) and
assets/wf-80-forms.js (the buttons)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis
from dash import MATCH, ClientsideFunction, Dash, Input, Output, State, dcc, html, no_update

from dashboard.offload import off_the_loop
from dashboard.security import current_user, has_role
from domain.operations import alerts
from layers.zones import Workspace

PUSH_ROLE = "operator"  # POST /api/alerts (dashboard/api/routes.py): who sees "Push alert" and the list
SENT_ID = "wf-sent-alerts"
SENT_TICK = "wf-sent-tick"  # the panels tick, passed on only while the list shows an alert (wf-80-forms.js sentTick)
SEVERITIES = ["extreme", "severe", "moderate", "minor", "unknown"]
TLPS = ("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED")
STORED = ("id", "headline", "text", "severity", "expires", "tlp", "issued_by", "issued_at", "version", "scope",
          "updated_at", "updated_by", "acked")


def ids(kind: str, screen: str) -> dict[str, str]:
    return {"wf": kind, "screen": screen}


def may_push() -> bool:
    """The signed-in user may push alerts (the API checks it again on every push)."""
    return has_role(PUSH_ROLE)


def alert_banner(screen: str) -> html.Div:
    """The banner, placed right under the header (assets/watchfloor.css hangs it below the status
    and the clock, over the map, so neither is ever covered)."""
    return html.Div(id=ids("banner", screen), className="wf-banner", hidden=True, role="alert",
                    **{"aria-live": "assertive"})


def push_button() -> html.Button | None:
    return html.Button("Push alert", className="wf-button wf-compose-open", **{"data-action": "compose-alert"}) \
        if may_push() else None


def composer(workspaces: list[Workspace]) -> html.Div | None:
    """The alert composer (operators and supervisors): POST /api/alerts, or PUT of an alert being
    updated (the list's "Update" fills it in); checked on the server."""
    if not may_push():
        return None
    scopes = [("floor", "The whole floor")] + [(f"zone:{w.id}", f"Event: {w.name}") for w in workspaces] + [
        ("role:supervisor", "Supervisors only")]
    return html.Div(
        [
            html.H3("Push an alert", className="wf-composer-title"),
            html.Label("Headline", htmlFor="wf-al-headline"),
            dcc.Input(id="wf-al-headline", type="text", className="wf-input", maxLength=160),
            html.Label("Text", htmlFor="wf-al-text"),
            html.Textarea(id="wf-al-text", className="wf-input", rows=3, maxLength=2000),
            html.Label("Severity", htmlFor="wf-al-severity"),
            html.Select([html.Option(s.upper(), value=s, selected=s == "severe") for s in SEVERITIES],
                        id="wf-al-severity", className="wf-input"),
            html.Label("Scope", htmlFor="wf-al-scope"),
            html.Select([html.Option(label, value=value) for value, label in scopes], id="wf-al-scope", className="wf-input"),
            html.Label("Expires in (minutes)", htmlFor="wf-al-minutes"),
            dcc.Input(id="wf-al-minutes", type="number", min=5, max=10080, value=120, className="wf-input"),
            html.Label("Marking", htmlFor="wf-al-tlp"),
            html.Select([html.Option(t, value=t, selected=t == "TLP:GREEN") for t in TLPS], id="wf-al-tlp",
                        className="wf-input"),
            html.Div([html.Button("Push to screens and partners", className="wf-button wf-al-submit",
                                  **{"data-action": "push-alert"}),
                      html.Button("Cancel", className="wf-button wf-secondary", **{"data-action": "compose-close"})]),
            html.Div(className="wf-form-result", role="status"),
        ],
        className="wf-composer wf-form", hidden=True,
    )


def sent_section() -> html.Section | None:
    """The desk's open alerts (their sender's and, for supervisors, everyone's); the list inside is
    redrawn from the server, the result line stays put. With no user (Dash building its validation
    layout at start-up) it is there, so its callback's component is known to every page."""
    if current_user() is not None and not may_push():
        return None
    return html.Section([html.Div(id=SENT_ID), dcc.Store(id=SENT_TICK), html.Div(className="wf-form-result", role="status")],
                        className="wf-sent wf-form")


def _hhmm(stamp: str | None) -> str:
    return (stamp or "")[11:19] + "Z" if stamp else "?"


def _who(record: dict[str, Any]) -> str:
    return f"{record['account']} ({record['screen']})"


def _receipts_line(alert: dict[str, Any]) -> html.Div:
    got = sorted((alert.get("receipts") or {}).values(), key=lambda r: (r.get("at") or "", _who(r)))
    current = [r for r in got if int(r.get("version") or 1) >= alert["version"]]
    older = [r for r in got if int(r.get("version") or 1) < alert["version"]]
    parts: list[Any] = [html.Span(f"Received by {len(current)} screen{'' if len(current) == 1 else 's'}: ",
                                  className="wf-sent-label")]
    parts += [html.Span(f"{_who(r)} {_hhmm(r.get('at'))}", className="wf-receipt", **{"data-who": _who(r)})
              for r in current] or [html.Span("none yet", className="wf-muted")]
    if older:
        parts.append(html.Span(" · still on an earlier version: " + ", ".join(_who(r) for r in older),
                               className="wf-muted"))
    return html.Div(parts, className="wf-sent-receipts")


def _acks_line(alert: dict[str, Any]) -> html.Div:
    done = sorted(((who, r) for who, r in (alert.get("acks") or {}).items()
                   if int(r.get("version") or 1) >= alert["version"]), key=lambda item: item[1].get("at") or "")
    parts: list[Any] = [html.Span(f"Acknowledged by {len(done)}: ", className="wf-sent-label")]
    parts += [html.Span(f"{who} {_hhmm(r.get('at'))}" + (f" (by {r['by']})" if r.get("by") else ""),
                        className="wf-ackd", **{"data-who": who}) for who, r in done] \
        or [html.Span("nobody yet", className="wf-muted")]
    return html.Div(parts, className="wf-sent-acks")


def _walls_waiting(alert: dict[str, Any]) -> list[str]:
    """Wall screens that received the alert and have not acknowledged its current version."""
    acked = {who for who, r in (alert.get("acks") or {}).items() if int(r.get("version") or 1) >= alert["version"]}
    walls = {r["ack_as"] for r in (alert.get("receipts") or {}).values() if r.get("screen") == "wall"}
    return sorted(walls - acked)


def _alert_item(alert: dict[str, Any]) -> html.Li:
    data = {"data-alert-id": alert["id"], "data-alert-version": str(alert["version"])}
    fill = {"data-headline": alert.get("headline") or "", "data-text": alert.get("text") or "",
            "data-severity": alert.get("severity") or "unknown", "data-scope": alert.get("scope") or "floor",
            "data-tlp": alert.get("tlp") or "TLP:GREEN", "data-expires": alert.get("expires") or ""}
    walls = [html.Button(f"Acknowledge for {wall}", className="wf-button wf-secondary wf-ack-for",
                         **{"data-action": "ack-for", "data-for": wall, **data}) for wall in _walls_waiting(alert)]
    return html.Li(
        [
            html.Div([html.Span((alert.get("severity") or "unknown").upper(), className="wf-sev"),
                      html.Span(alert.get("headline") or "", className="wf-sent-headline")]),
            html.Div(f"v{alert['version']} · {alert.get('scope')} · {alert.get('tlp')} · by {alert.get('issued_by')}"
                     f" · expires {_hhmm(alert.get('expires'))}", className="wf-muted"),
            _receipts_line(alert),
            _acks_line(alert),
            html.Div([*walls,
                      html.Button("Update", className="wf-button wf-secondary",
                                  **{"data-action": "update-alert", **data, **fill}),
                      html.Button("Withdraw", className="wf-button wf-withdraw",
                                  **{"data-action": "withdraw-alert", **data})], className="wf-sent-actions"),
        ],
        className="wf-sent-alert", **{"data-alert-id": alert["id"]},
    )


def sent_alerts(items: list[dict[str, Any]]) -> list[Any]:
    """The open alerts a sender or supervisor manages, newest first (views from alerts.list_alerts)."""
    mine = [a for a in items if "receipts" in a and a.get("status") in ("active", "updated")]
    if not mine:
        return []
    return [html.H2(f"Open alerts ({len(mine)})"), html.Ul([_alert_item(a) for a in mine], className="wf-sent-list")]


def register_alert_callbacks(app: Dash, get_client: Callable[[], redis.Redis | None]) -> None:
    """The banner and the desk's list of open alerts. The screen's alert store is filled by the live
    panel's gated poll (dashboard/panels/live.py calls :func:`poll_alerts`)."""
    app.clientside_callback(
        ClientsideFunction(namespace="watchfloor", function_name="banner"),
        Output(ids("banner", MATCH), "children"),
        Output(ids("banner", MATCH), "hidden"),
        Input(ids("alerts", MATCH), "data"),
        Input(ids("second", MATCH), "n_intervals"),
        State(ids("settings", MATCH), "data"),
    )

    app.clientside_callback(
        ClientsideFunction(namespace="watchfloor", function_name="sentTick"),
        Output(SENT_TICK, "data"),
        Input(ids("panels-tick", "desk"), "n_intervals"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(SENT_ID, "children"),
        Input(ids("alerts", "desk"), "data"),
        Input(SENT_TICK, "data"),
    )
    @off_the_loop
    def sent_list(_alerts: Any, _n: int | None) -> Any:
        """Redrawn from the server whenever the screen's alerts change (a receipt or an
        acknowledgement comes through wf:alerts too), and every few seconds for expiry."""
        client, user = get_client(), current_user()
        if client is None or user is None or not has_role(PUSH_ROLE, user):
            return no_update
        try:
            return sent_alerts(alerts.list_alerts(client, user))
        except (redis.RedisError, OSError):
            return no_update


def poll_alerts(client: redis.Redis | None, user: Any, known: dict[str, Any] | None,
                settings: dict[str, Any] | None) -> Any:
    """The screen's alert store after the changes since its cursor: {cursor, alerts: {id: fields}}.
    Withdrawn and expired alerts leave it; acknowledged ones stay, marked (``acked``)."""
    known = known if isinstance(known, dict) else {"cursor": "", "alerts": {}}
    if client is None or user is None:
        return no_update
    settings = settings if isinstance(settings, dict) else {}
    screen = settings.get("screen")
    workspace = settings.get("workspace") if screen == "tablet" else None
    try:
        changed, cursor = alerts.alerts_after(client, known.get("cursor") or "", user, workspace=workspace,
                                              screen=screen)
    except (redis.RedisError, OSError):
        return no_update
    if not changed and cursor == known.get("cursor"):
        return no_update
    current = dict(known.get("alerts") or {})
    for alert in changed:
        if alert.get("status") in ("cancelled", "expired"):
            current.pop(alert["id"], None)
        else:
            current[alert["id"]] = {k: alert.get(k) for k in STORED}
    return {"cursor": cursor, "alerts": current}
