"""The desk's "Brief & export" dialog: a briefing (PDF or HTML), the picture as GeoJSON, CSV, KML or
Cursor on Target, and a read-only share link, for the scope and window chosen.

The dialog only gathers choices; assets/wf-85-products.js sends them to the API (GET /api/export,
POST /api/brief, POST /api/shares), which checks the role and the reader's TLP again, leaves out
what is above it, and records every product in the dissemination log.
"""

from __future__ import annotations

from dash import dcc, html

from dashboard.security import has_role
from layers.zones import Workspace

__all__ = ["PRODUCTS_ROLE", "SHARE_ROLE", "products_button", "products_dialog"]

PRODUCTS_ROLE = "viewer"  # GET /api/export, POST /api/brief (dashboard/api/routes.py)
SHARE_ROLE = "operator"  # POST /api/shares
WINDOWS = (("6h", "last 6 hours"), ("24h", "last 24 hours"), ("3d", "last 3 days"), ("7d", "last 7 days"))
EXPORTS = (("geojson", "GeoJSON"), ("csv", "CSV"), ("kml", "KML (Google Earth)"), ("cot", "CoT (TAK)"))


def products_button() -> html.Button | None:
    return html.Button("Brief & export", className="wf-button wf-secondary wf-products-open",
                       **{"data-action": "products-open"}) if has_role(PRODUCTS_ROLE) else None


def products_dialog(workspaces: list[Workspace]) -> html.Div | None:
    if not has_role(PRODUCTS_ROLE):
        return None
    scopes = [html.Option("The whole picture", value="")] + [html.Option(f"Event: {w.name}", value=w.id)
                                                             for w in workspaces]
    share = [
        html.H4("Read-only link", className="wf-products-sub"),
        html.P("A link a partner opens without an account: this scope, within the marking below, for the hours "
               "given. Shown once; every use is recorded; withdraw it with `watchfloor share revoke`.",
               className="wf-muted wf-products-note"),
        html.Div([
            html.Label(["Valid for (hours)", dcc.Input(id="wf-pr-hours", type="number", min=1, max=168, value=24,
                                                       className="wf-input")]),
            html.Label(["At most", html.Select([html.Option(t, value=t, selected=t == "TLP:GREEN") for t in
                                                ("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER")], id="wf-pr-tlp",
                                               className="wf-input")]),
        ], className="wf-inline"),
        html.Button("Make a link", className="wf-button wf-secondary", **{"data-action": "products-share"}),
        html.Div(className="wf-products-link", role="status"),
    ] if has_role(SHARE_ROLE) else []
    return html.Div(
        [
            html.H3("Brief & export", className="wf-dialog-title"),
            html.P("Nothing above your own TLP level goes in. Each product is recorded in the dissemination log "
                   "(who, to whom, when, what).", className="wf-muted wf-products-note"),
            html.Div([
                html.Label(["Scope", html.Select(scopes, id="wf-pr-scope", className="wf-input")]),
                html.Label(["Window", html.Select([html.Option(label, value=v, selected=v == "24h") for v, label in WINDOWS],
                                                  id="wf-pr-since", className="wf-input")]),
            ], className="wf-inline"),
            html.Label("For (recipient, recorded in the log)", htmlFor="wf-pr-to"),
            dcc.Input(id="wf-pr-to", type="text", maxLength=120, className="wf-input",
                      placeholder="e.g. EOC morning call, BFD duty chief"),
            html.H4("Briefing", className="wf-products-sub"),
            html.Label("Analyst's summary (printed at the top)", htmlFor="wf-pr-summary"),
            html.Textarea(id="wf-pr-summary", className="wf-input", rows=3, maxLength=4000),
            html.Div([html.Button("Briefing PDF", className="wf-button", **{"data-action": "products-brief",
                                                                            "data-format": "pdf"}),
                      html.Button("Briefing HTML", className="wf-button wf-secondary",
                                  **{"data-action": "products-brief", "data-format": "html"})]),
            html.H4("The picture as a file", className="wf-products-sub"),
            html.Div([html.Button(label, className="wf-button wf-secondary",
                                  **{"data-action": "products-export", "data-format": fmt}) for fmt, label in EXPORTS]),
            *share,
            html.Div(className="wf-form-result", role="status"),
            html.Div([html.Button("Close", className="wf-button wf-secondary", **{"data-action": "products-close"})]),
        ],
        className="wf-dialog wf-products wf-form", hidden=True, role="dialog", **{"aria-label": "Brief and export"},
    )
