"""The "vetted reports" map layer: reports shared as ISE-SAR, as the signed-in reader may see them
(``store.listing``: never a tip to a viewer, nothing above their marking, nothing to a display screen),
one point each with its id, category and time. Trace 6 of the map (dashboard/panels/figures.py),
patched from the server when the layer is turned on and again every REFRESH_TICKS panels ticks while
it is on; no poll of its own."""

from __future__ import annotations

import html as markup
from collections.abc import Callable
from typing import Any

import redis
from dash import MATCH, ClientsideFunction, Dash, Input, Output, Patch, State, ctx
from dash.exceptions import PreventUpdate

from dashboard.offload import off_the_loop
from dashboard.panels.live import ids
from dashboard.reports.plain import iso_words
from dashboard.security import current_user, has_role
from domain.reports.categories import BY_CODE
from domain.reports.store import listing

TRACE = 6
LAYER = "reports"
MAP_LIMIT = 2000
REFRESH_TICKS = 6  # the panels tick is 5 s: redrawn every 30 s while shown


def report_points(reports: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Plain lists (never arrays: FACTS) of the placed reports' positions and hover text (escaped)."""
    cols: dict[str, list[Any]] = {"lat": [], "lon": [], "hovertext": []}
    for report in reports:
        where = report.get("location") or {}
        if where.get("lat") is None or where.get("lon") is None:
            continue
        category = BY_CODE.get(report.get("category") or "")
        words = f"{category.title} ({category.code})" if category else "no category"
        cols["lat"].append(where["lat"])
        cols["lon"].append(where["lon"])
        cols["hovertext"].append("<br>".join(markup.escape(t) for t in (
            f"{report['id']} · vetted report", words, iso_words(report.get("time")))))
    return cols


def register_map_layer(app: Dash, get_client: Callable[[], redis.Redis | None]) -> None:
    # Every REFRESH_TICKS-th panels tick, and only while the layer is shown, decided in the browser
    # (assets/wf-45-responders.js reportsTick): a hidden layer costs the server no request at all.
    app.clientside_callback(
        ClientsideFunction(namespace="watchfloor", function_name="reportsTick"),
        Output(ids("reports-tick", MATCH), "data"),
        Input(ids("panels-tick", MATCH), "n_intervals"),
        State(ids("layers", MATCH), "value"),
        prevent_initial_call=True,
    )

    @app.callback(Output(ids("map", MATCH), "figure", allow_duplicate=True),
                  Input(ids("layers", MATCH), "value"), Input(ids("reports-tick", MATCH), "data"),
                  prevent_initial_call=True)
    @off_the_loop
    def vetted_reports(layers: list[str] | None, _tick: Any) -> Any:
        shown = LAYER in (layers or [])
        ticked = isinstance(ctx.triggered_id, dict) and ctx.triggered_id.get("wf") == "reports-tick"
        if ticked and not shown:
            raise PreventUpdate
        patch = Patch()
        patch["data"][TRACE]["visible"] = shown
        user, client = current_user(), get_client()
        if not shown or client is None or not has_role("viewer", user):
            return patch
        try:
            cols = report_points(listing(client, user, state="shared", limit=MAP_LIMIT))
        except (redis.RedisError, OSError):
            raise PreventUpdate from None  # keep what is drawn; the screen's own status says the store is down
        for key, values in cols.items():
            patch["data"][TRACE][key] = values
        return patch


__all__ = ["MAP_LIMIT", "register_map_layer", "report_points"]
