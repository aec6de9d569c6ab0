"""The detail drawer: every field of one incident, its provenance and its CAP fields. Feed text
is rendered as text nodes; only http(s) links become links, and they are shown as their URL."""

from __future__ import annotations

from typing import Any

from dash import html

from dashboard.picture import SEVERITY_COLOURS
from feeds.text import safe_link

CAP_FIELDS = ("status", "msgType", "scope", "urgency", "severity", "certainty", "event", "effective", "onset",
              "expires", "areaDesc", "sender", "identifier", "sent", "references")


def _rows(pairs: list[tuple[str, Any]]) -> html.Table:
    return html.Table([html.Tr([html.Th(k), html.Td("" if v is None else str(v))]) for k, v in pairs if v not in (None, "", [])],
                      className="wf-kv")


def detail_panel(event: dict[str, Any]) -> list[Any]:
    sev = event.get("severity") or "unknown"
    link = safe_link(event.get("link"))
    where = "unplaced" if event.get("lat") is None else f"{event['lat']:.4f}, {event['lon']:.4f}"
    provenance = event.get("provenance") or {}
    cap = (event.get("extra") or {}).get("cap") or {}
    extra = {k: v for k, v in (event.get("extra") or {}).items() if k != "cap" and not isinstance(v, (dict, list))}
    fields = provenance.get("fields") or {}
    parts: list[Any] = [
        html.Button("Close (Esc)", className="wf-close", **{"data-action": "close-detail"}),
        html.H3(event.get("title") or "(untitled)"),
        html.Div([html.Span(sev.upper(), className="wf-sev", style={"borderColor": SEVERITY_COLOURS.get(sev, "#bbb")}),
                  html.Span(" EXERCISE" if event.get("exercise") else "", className="wf-ex-tag")]),
        html.P(event.get("text") or "", className="wf-detail-text"),
        _rows([("Kind", event.get("kind")), ("Time (UTC)", event.get("time")), ("Updated", event.get("updated")),
               ("Position", where), ("Placed by", event.get("placed_by") or ("source" if event.get("lat") is not None else None)),
               ("Place", event.get("place")), ("Magnitude", event.get("magnitude")), ("Depth km", event.get("depth_km"))]),
        html.H4("Report"),
        _rows([("Source", event.get("source")), ("Feed", event.get("feed")), ("Id", event.get("id")),
               ("Raw id", provenance.get("raw_id")), ("Fetched", provenance.get("fetched_at")),
               ("Link", link)]),
    ]
    if link:
        parts.append(html.A("Open the source report", href=link, target="_blank", rel="noopener noreferrer nofollow"))
    if fields:
        parts += [html.H4("Where each value came from"), _rows(sorted(fields.items()))]
    if cap:
        parts += [html.H4("CAP"), _rows([(k, cap.get(k)) for k in CAP_FIELDS])]
    if extra:
        parts += [html.H4("More"), _rows(sorted(extra.items()))]
    if event.get("warnings"):
        parts += [html.H4("Warnings"), html.Ul([html.Li(w) for w in event["warnings"]])]
    return parts
