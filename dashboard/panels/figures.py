"""The map and timeline figures. Traces are built from plain lists (never numpy arrays): plotly 7
encodes arrays as base64 typed arrays, and a later Patch extend on those fails in the browser."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from domain.picture.markers import marker_row
from layers.basemap import FILES, MISSING_MESSAGE

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parents[2] / "assets"
KIND_ORDER = [
    "earthquake", "tsunami", "weather", "flood", "fire", "cyclone", "volcano",
    "security", "medical", "traffic", "incident", "news", "other",
]


EMPTY_FC: dict[str, Any] = {"type": "FeatureCollection", "features": []}


def map_figure(events: list[dict[str, Any]], *, theme: str = "dark", center: tuple[float, float] = (20.0, 0.0),
               zoom: float = 1.2, workspaces: list[Any] | None = None, label_scale: float = 1.0,
               online_style: str = "", style: dict[str, Any] | None = None) -> go.Figure:
    """The map: offline basemap, workspace perimeters, alert areas (filled in by the browser as
    alerts arrive, layer name "alert-areas") and one marker trace of incidents."""
    rows = [marker_row(e) for e in events]
    layers: list[dict[str, Any]] = []
    problem = None if (ASSETS / "basemap" / FILES["countries"]).is_file() else MISSING_MESSAGE
    for space in workspaces or []:
        layers.append({"name": f"workspace-{space.id}", "sourcetype": "geojson", "source": space.geojson(),
                       "type": "line", "color": "#cc79a7", "line": {"width": 2.5}, "below": "traces"})
    layers.append({"name": "alert-areas", "sourcetype": "geojson", "source": EMPTY_FC, "type": "fill",
                   "color": "#e69f00", "opacity": 0.14, "fill": {"outlinecolor": "#e69f00"}, "below": "traces"})
    dark = theme == "dark"
    fig = go.Figure(
        go.Scattermap(
            lat=[r["lat"] for r in rows],
            lon=[r["lon"] for r in rows],
            customdata=[r["id"] for r in rows],
            hovertext=[r["text"] for r in rows],
            hoverinfo="text",
            mode="markers",
            marker={"color": [r["color"] for r in rows], "size": [r["size"] for r in rows], "opacity": 0.9},
            name="incidents",
            uid="incidents",  # its map layers are "plotly-trace-layer-incidents-*": the bins go below them
        )
    )
    # Trace 1: a density surface of the same (visible) incidents, off until the operator turns it on.
    fig.add_trace(go.Densitymap(lat=[], lon=[], radius=22, opacity=0.6, showscale=False, hoverinfo="skip",
                                visible=False, name="density", colorscale="YlOrRd"))
    # Trace 2: hexagon bins (count, worst severity) when the picture is aggregated (domain/picture/bins.py);
    # empty below map_max_points. Plain lists, filled by the browser.
    fig.add_trace(go.Scattermap(lat=[], lon=[], customdata=[], hovertext=[], hoverinfo="text", mode="markers",
                                marker={"color": [], "size": [], "opacity": 0.4}, name="bins", uid="bins",
                                below="plotly-trace-layer-incidents-fill"))
    # Traces 3-5, filled by the browser (assets/wf-40-render.js): a contrasting outline under each
    # severe and extreme incident, those incidents drawn again over every other marker (extreme
    # last, on top), and the selected incident: a wide disc in the screen's ink under its marker.
    # Map circles have no stroke, so an outline is a bigger disc drawn first.
    fig.add_trace(go.Scattermap(lat=[], lon=[], mode="markers", hoverinfo="skip", name="outline", uid="outline",
                                marker={"color": [], "size": [], "opacity": 0.95}))
    fig.add_trace(go.Scattermap(lat=[], lon=[], customdata=[], hovertext=[], hoverinfo="text", mode="markers",
                                marker={"color": [], "size": [], "opacity": 1.0}, name="severe-on-top", uid="top"))
    fig.add_trace(go.Scattermap(lat=[], lon=[], customdata=[], hovertext=[], hoverinfo="text", mode="markers",
                                marker={"color": [], "size": [], "opacity": 1.0}, name="selected", uid="selected"))
    # Trace 6: vetted (shared) suspicious-activity reports the reader may see, drawn by the "vetted reports"
    # layer (dashboard/reports/map_layer.py); no customdata, so a click never opens the incident drawer.
    fig.add_trace(go.Scattermap(lat=[], lon=[], hovertext=[], hoverinfo="text", mode="markers", visible=False,
                                marker={"color": "#ffffff" if dark else "#0d1117", "size": 14, "opacity": 0.95},
                                name="reports", uid="reports"))
    fig.update_layout(
        # The style (world base and street basemaps, dashboard/tiles.py) comes from the app itself.
        # ``style``: that style itself (dashboard.tiles.embedded_style), so a map made again never fetches it.
        map={"style": online_style or style or (f"/tiles/style/{'dark' if dark else 'light'}.json"
                                                + (f"?scale={label_scale:g}" if label_scale != 1 else "")),
             "center": {"lat": center[0], "lon": center[1]},
             "zoom": zoom, "layers": layers},
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        paper_bgcolor="#0b1320" if dark else "#ffffff",
        showlegend=False,
        uirevision="keep-view",  # patches must never reset the operator's pan and zoom
        meta={"basemap_problem": problem},
    )
    return fig


def timeline_figure(events: list[dict[str, Any]], *, theme: str = "dark") -> go.Figure:
    rows = [marker_row(e) for e in events]
    dark = theme == "dark"
    fig = go.Figure(
        go.Scatter(
            x=[r["time"] for r in rows],
            y=[r["kind"] for r in rows],
            customdata=[r["id"] for r in rows],
            hovertext=[r["text"] for r in rows],
            hoverinfo="text",
            mode="markers",
            marker={"color": [r["color"] for r in rows], "size": 9, "line": {"width": 0}},
            name="events",
        )
    )
    # Trace 1: the selected incident, ringed (filled by the browser). "now", the brushed band and
    # "Nothing in this window" are layout shapes and annotations the browser keeps up to date.
    fig.add_trace(go.Scatter(x=[], y=[], customdata=[], mode="markers", hoverinfo="skip", name="selected",
                             marker={"symbol": "circle-open", "size": 20, "line": {"width": 3},
                                     "color": "#e6edf3" if dark else "#0d1117"}))
    fig.update_layout(
        margin={"l": 90, "r": 10, "t": 8, "b": 30},
        height=190,
        paper_bgcolor="#0b1320" if dark else "#ffffff",
        plot_bgcolor="#111c2e" if dark else "#f5f7fa",
        font={"color": "#e6edf3" if dark else "#1b1f24", "size": 12},
        xaxis={"type": "date", "title": None, "gridcolor": "#22324a" if dark else "#dde3ea"},
        yaxis={"type": "category", "categoryorder": "array", "categoryarray": KIND_ORDER,
               "gridcolor": "#22324a" if dark else "#dde3ea"},
        showlegend=False,
        uirevision="keep-view",
    )
    return fig
