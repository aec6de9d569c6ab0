"""Threat-level and feed-health panels: small HTML re-rendered from server data. Feed text is
passed as component children (text nodes), never as HTML."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dash import html

from dashboard.picture import SEVERITY_COLOURS, ThreatAssessment


def _ago(stamp: str | None, now: datetime) -> str:
    if not stamp:
        return "never"
    when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    seconds = max(0, int((now - when).total_seconds()))
    if seconds < 90:
        return f"{seconds}s ago"
    if seconds < 5400:
        return f"{seconds // 60} min ago"
    return when.strftime("%d %b %H:%M UTC")


def threat_panel(threat: ThreatAssessment) -> list[Any]:
    drivers = [
        html.Li(
            [
                html.Span(d["severity"].upper(), className="wf-sev",
                          style={"borderColor": SEVERITY_COLOURS.get(d["severity"], "#bbb")}),
                html.Span(f" +{d['weight']:g} "),
                html.Span(d["title"]),
            ]
        )
        for d in threat.drivers
    ]
    return [
        html.Div(
            [html.Span(threat.level, className="wf-threat-level"), html.Span(f" score {threat.score:g}", className="wf-muted")],
            className="wf-threat-badge",
            style={"borderColor": threat.colour, "color": threat.colour},
            id="threat-level-text",
        ),
        html.Div(f"Live events of the last {threat.window_hours:g} h, weighted by severity. What drives it:",
                 className="wf-muted"),
        html.Ul(drivers or [html.Li("nothing in the window")], className="wf-drivers"),
    ]


def feeds_panel(feeds: dict[str, dict[str, Any]], now: datetime | None = None) -> list[Any]:
    now = now or datetime.now(UTC)
    rows = []
    for feed_id, info in feeds.items():
        status = info.get("status", "unknown")
        word = "STALE" if info.get("stale") and status == "ok" else status.upper()
        css = "ok" if status == "ok" and not info.get("stale") else ("pending" if status == "pending" else "bad")
        rows.append(
            html.Tr(
                [
                    html.Td(info.get("name", feed_id) + (" [EX]" if info.get("exercise") else ""), title=feed_id),
                    html.Td(word, className=f"wf-feed-{css}"),
                    html.Td(_ago(info.get("last_success"), now)),
                    html.Td(str(info.get("items", 0))),
                    html.Td(info.get("reason", ""), className="wf-reason"),
                ],
                id={"type": "feed-row", "feed": feed_id},
            )
        )
    header = html.Tr([html.Th("Feed"), html.Th("Status"), html.Th("Last success"), html.Th("Items"), html.Th("Reason")])
    return [html.Table([html.Thead(header), html.Tbody(rows)], className="wf-feeds")]


def latest_panel(events: list[dict[str, Any]], limit: int = 12) -> list[Any]:
    newest = sorted(events, key=lambda e: e.get("time") or "", reverse=True)[:limit]
    items = []
    for event in newest:
        sev = event.get("severity") or "unknown"
        items.append(
            html.Li(
                [
                    html.Span(sev.upper(), className="wf-sev", style={"borderColor": SEVERITY_COLOURS.get(sev, "#bbb")}),
                    html.Span((event.get("time") or "")[11:16] + "Z ", className="wf-muted"),
                    html.Span("EXERCISE " if event.get("exercise") else "", className="wf-ex-tag"),
                    html.Span(event.get("title") or "(untitled)"),
                    html.Span("" if event.get("lat") is not None else "  (unplaced)", className="wf-muted"),
                ]
            )
        )
    return [html.Ul(items or [html.Li("No events yet.")], className="wf-latest")]
