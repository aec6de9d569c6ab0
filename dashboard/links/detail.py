"""A tapped node's details on the link-analysis page: what it is, the reports that mention it with
the evidence of each resolution, its own timeline and a small map of where those reports were.

Everything is read again on the server through ``graph.Walker`` for the signed-in reader (the tap
only names a node id): an entity's mentions are listed only from reports the reader may read. Text
goes into Dash components, never HTML, so whatever a report says is shown as text.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import plotly.graph_objects as go
import redis
from dash import dcc, html

from dashboard.links.elements import LOOK
from domain.reports import entities, graph
from domain.reports.categories import BY_CODE
from domain.reports.store import load as load_report

MAX_MENTIONS = 50
NARRATIVE_CHARS = 600


def node_detail(client: redis.Redis, user: Any, node_id: str, map_style: str) -> tuple[list[Any], bool]:
    """The panel's children for ``node_id`` and whether it may be expanded (False: not visible)."""
    walker = graph.Walker(client, user)
    node = walker.node(node_id) if isinstance(node_id, str) else None
    if node is None:
        return [html.P("Nothing you may see has that id any more.", className="wf-muted")], False
    colour, _shape, word = LOOK.get(node["type"], ("#93a4b8", "", node["type"]))
    head = [html.H3(str(node.get("label") or node_id), className="wf-links-detail-title"),
            html.P([html.Span(word, className="wf-links-type", style={"borderColor": colour}),
                    html.Span(node_id, className="wf-links-id")])]
    kind = node_id[:1]
    if kind == "E":
        body, rows = _entity(client, walker, node_id[2:], node)
    elif kind == "R":
        body, rows = _report(client, node)
    else:
        body, rows = [html.P(f"Incident, {node.get('time') or 'time unknown'}")], [node]
    return head + body + _timeline_and_map(rows, map_style), True


def _entity(client: redis.Redis, walker: graph.Walker, entity_id: str,
            node: dict[str, Any]) -> tuple[list[Any], list[dict[str, Any]]]:
    record = entities.load(client, entity_id) or {}
    seen = [m for m in entities.mentions(client, record.get("id", entity_id)) if walker.report(m["report"])]
    reports = graph.timeline(client, entity_id, walker.user)
    when = {r["id"][2:]: r.get("time", "") for r in reports}
    items = [html.Li([html.Span(m["report"], className="wf-links-report-id"), " ",
                      html.Span(when.get(m["report"], "")[:16].replace("T", " "), className="wf-muted"),
                      html.Div([f"{m['field']}: ", html.Q(m["raw"])]),
                      html.Div(f"why the same: {m.get('why') or 'first mention'}", className="wf-links-evidence")])
             for m in seen[:MAX_MENTIONS]]
    confirmed = "confirmed by an analyst" if record.get("confirmed") else "resolved automatically; not confirmed yet"
    body = [html.P(confirmed, className="wf-muted"),
            html.H4(f"Reports that mention it ({len({m['report'] for m in seen})} you may read)"),
            html.Ul(items, className="wf-links-mentions")]
    if len(seen) > MAX_MENTIONS:
        body.append(html.P(f"… and {len(seen) - MAX_MENTIONS} more mentions", className="wf-muted"))
    return body, reports


def _report(client: redis.Redis, node: dict[str, Any]) -> tuple[list[Any], list[dict[str, Any]]]:
    report = load_report(client, node["id"][2:]) or {}
    category = BY_CODE.get(report.get("category") or "")
    location = report.get("location") or {}
    narrative = str(report.get("narrative") or "")
    facts = [("Kind", "public tip" if report.get("kind") == "tip" else "officer's report"),
             ("Category", f"{category.title} ({category.code})" if category else "not set yet"),
             ("State", report.get("state", "")), ("Marking", report.get("tlp", "")),
             ("Time", str(report.get("time", "")).replace("T", " ")),
             ("Where", location.get("label") or location.get("text") or _coords(location))]
    body = [html.Dl([part for name, value in facts for part in (html.Dt(name), html.Dd(value or "—"))],
                    className="wf-links-facts"),
            html.P(narrative[:NARRATIVE_CHARS] + ("…" if len(narrative) > NARRATIVE_CHARS else ""),
                   className="wf-links-narrative")]
    return body, [node]


def _coords(location: dict[str, Any]) -> str:
    if location.get("lat") is None:
        return ""
    return f"{location['lat']:.5f}, {location['lon']:.5f}"


def _timeline_and_map(rows: list[dict[str, Any]], map_style: str) -> list[Any]:
    timed = [r for r in rows if r.get("time")]
    placed = [r for r in rows if r.get("lat") is not None and r.get("lon") is not None]
    out: list[Any] = []
    if timed:
        out += [html.H4("Timeline"), dcc.Graph(figure=timeline_figure(timed), className="wf-links-timeline",
                                               config={"displaylogo": False, "displayModeBar": False})]
    if placed:
        out += [html.H4(f"Where ({len(placed)} of {len(rows)} placed)"),
                dcc.Graph(figure=map_figure(placed, map_style), className="wf-links-map",
                          config={"displaylogo": False, "displayModeBar": False, "scrollZoom": True})]
    elif rows:
        out.append(html.P("None of these reports has a place on the map.", className="wf-muted"))
    return out


def timeline_figure(rows: list[dict[str, Any]]) -> go.Figure:
    """Reports by time (plain lists: plotly 7 sends numpy arrays as typed arrays)."""
    fig = go.Figure(go.Scatter(
        x=[r["time"] for r in rows], y=[LOOK.get(r["type"], ("", "", r["type"]))[2] for r in rows],
        hovertext=[str(r.get("label") or r["id"]) for r in rows], hoverinfo="text+x", mode="markers",
        marker={"size": 10, "color": [LOOK.get(r["type"], ("#93a4b8",))[0] for r in rows],
                "line": {"width": 1, "color": "#0b1320"}}))
    try:
        times = sorted(datetime.strptime(r["time"][:19], "%Y-%m-%dT%H:%M:%S") for r in rows)
    except ValueError:
        times = []
    if times and times[-1] - times[0] < timedelta(hours=6):  # one report, or a few close together: a day
        fig.update_xaxes(range=[(t + timedelta(hours=h)).strftime("%Y-%m-%d %H:%M:%S")
                                for t, h in ((times[0], -12), (times[-1], 12))])
    fig.update_layout(height=150, margin={"l": 60, "r": 10, "t": 6, "b": 28}, paper_bgcolor="#111c2e",
                      plot_bgcolor="#0b1320", font={"color": "#e6edf3", "size": 11}, showlegend=False,
                      xaxis={"type": "date", "gridcolor": "#22324a"}, yaxis={"type": "category", "gridcolor": "#22324a"})
    return fig


def map_figure(rows: list[dict[str, Any]], style: str) -> go.Figure:
    """Where the reports were, on the app's own map style (no outside tiles)."""
    lats, lons = [float(r["lat"]) for r in rows], [float(r["lon"]) for r in rows]
    span = max(max(lats) - min(lats), max(lons) - min(lons), 0.005)
    zoom = max(1.0, min(12.0, math.log2(360 / (span * 2.2))))  # a single report: its part of town
    fig = go.Figure(go.Scattermap(
        lat=lats, lon=lons, mode="markers", hovertext=[str(r.get("label") or r["id"]) for r in rows],
        hoverinfo="text", marker={"size": 12, "color": "#e69f00", "opacity": 0.9}))
    fig.update_layout(map={"style": style, "center": {"lat": (max(lats) + min(lats)) / 2,
                                                      "lon": (max(lons) + min(lons)) / 2}, "zoom": zoom},
                      height=220, margin={"l": 0, "r": 0, "t": 0, "b": 0}, paper_bgcolor="#0b1320", showlegend=False)
    return fig


__all__ = ["map_figure", "node_detail", "timeline_figure"]
