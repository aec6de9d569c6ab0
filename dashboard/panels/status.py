"""Threat-level and feed-health panels: small HTML re-rendered from server data. Feed text is
passed as component children (text nodes), never as HTML."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dash import html

from domain.picture.markers import THREAT_LEVELS, severity_colours, threat_colour
from domain.picture.threat import DRIVERS_SHOWN


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


def drivers_list(threat: dict[str, Any], theme: str = "dark", css: str = "wf-drivers") -> html.Ul:
    """What drives a level: its heaviest contributors (the same DRIVERS_SHOWN on every screen), each
    with its severity, weight and place, then how many more and what they add."""
    palette = severity_colours(theme)
    shown = threat["drivers"][:DRIVERS_SHOWN]
    items: list[Any] = [
        html.Li(
            [
                html.Span(d["severity"].upper(), className="wf-sev",
                          style={"borderColor": palette.get(d["severity"], palette["unknown"])}),
                html.Span(f"+{d['weight']:g} ", className="wf-weight"),
                html.Span(d["title"]),
                html.Span(f" ({d['where']})" if d.get("where") else "", className="wf-muted"),
            ],
            **{"data-wf-id": d["id"]},
        )
        for d in shown
    ]
    more = int(threat.get("contributors", len(threat["drivers"]))) - len(shown)
    if more > 0:
        rest = threat["score"] - sum(d["weight"] for d in shown)
        weight = f"{rest:,.2f}".rstrip("0").rstrip(".")  # "+12,079.2", never "+1.208e+04" on a big picture
        items.append(html.Li(f"and {more:,} more, together +{weight}", className="wf-muted wf-drivers-more"))
    return html.Ul(items or [html.Li("nothing in the window", className="wf-muted")], className=css)


def threat_panel(threat: dict[str, Any], *, title: str, key: str = "global", theme: str = "dark") -> list[Any]:
    """A level on the five-step scale, always with its word, and what drove it (explainable).
    ``theme``: the screen's; the light theme takes darker colours that hold 3:1 on white."""
    colour = threat_colour(threat["level"], threat["colour"], theme)
    count = int(threat.get("contributors", len(threat["drivers"])))
    return [
        html.Div(
            [
                html.Div(title, className="wf-threat-title"),
                html.Span(threat["level"], className="wf-threat-level"),
                html.Span(f" score {threat['score']:g} · {count} incident{'' if count == 1 else 's'}",
                          className="wf-muted"),
            ],
            className="wf-threat-badge",
            style={"borderColor": colour, "color": colour},
            **{"data-level": threat["level"], "data-key": key},
        ),
        drivers_list(threat, theme),
    ]


def board_panel(summary: dict[str, Any]) -> list[Any]:
    """The wall's threat board: one big tile per workspace and one for the whole picture, each with
    the drivers of its level (the same list the desk and tablet show)."""
    tiles = []
    for key, item in [("global", summary["global"]), *summary["workspaces"].items()]:
        tiles.append(html.Div(
            [html.Div(item.get("name") or "Whole picture", className="wf-tile-name"),
             html.Div([html.Span(item["level"], className="wf-tile-level", style={"color": item["colour"]}),
                       html.Span(f" score {item['score']:g}", className="wf-tile-score")]),
             drivers_list(item, "dark", "wf-drivers wf-tile-drivers")],
            className="wf-tile", style={"borderColor": item["colour"]},
            **{"data-key": key, "data-level": item["level"]}))
    scale = html.Div([html.Span(name, style={"borderColor": colour, "color": colour}, className="wf-scale-step")
                      for name, _m, colour in THREAT_LEVELS], className="wf-scale")
    return [html.Div(tiles, className="wf-tiles"), scale]


def ticker_panel(feeds: dict[str, dict[str, Any]], now: datetime, storage: dict[str, Any] | None = None,
                 problems: list[str] | tuple[str, ...] = ()) -> list[Any]:
    """One line per feed for the wall: readable from across the room, failures first; a stopped
    process (processes.process_status) and a data store that fills (health.storage_status) come
    before them all."""
    def order(item: tuple[str, dict[str, Any]]) -> tuple[int, str]:
        info = item[1]
        return (0 if info.get("status") != "ok" or info.get("stale") else 1, item[0])

    parts = [html.Span("⚠ " + problem, className="wf-tick-bad") for problem in problems]
    if storage and storage.get("warning"):
        parts.append(html.Span("⚠ " + storage["warning"], className="wf-tick-bad"))
    for feed_id, info in sorted(feeds.items(), key=order):
        bad = info.get("status") != "ok" or info.get("stale")
        word = "STALE" if info.get("stale") and info.get("status") == "ok" else str(info.get("status", "?")).upper()
        parts.append(html.Span(f"{info.get('name', feed_id)}: {word} · {_ago(info.get('last_success'), now)}",
                               className="wf-tick-bad" if bad else "wf-tick-ok"))
    return parts


def storage_line(storage: dict[str, Any] | None) -> list[Any]:
    """One line on the data store under the feeds: a warning when it fills (health.storage_status)."""
    if not storage or storage.get("used_mb") is None:
        return []
    if storage.get("warning"):
        return [html.P("⚠ " + storage["warning"], className="wf-storage wf-storage-warn", role="alert")]
    share = storage.get("share")
    text = f"Data store: {storage.get('used_mb', 0):,} MB"
    if share is not None:
        text += f" ({share:.1%} of {storage.get('limit_of', 'its limit')})"
    return [html.P(text, className="wf-storage wf-muted")]


def feeds_panel(feeds: dict[str, dict[str, Any]], now: datetime | None = None,
                storage: dict[str, Any] | None = None, problems: list[str] | tuple[str, ...] = ()) -> list[Any]:
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
    table = html.Table([html.Thead(header), html.Tbody(rows)], className="wf-feeds")
    stopped = [html.P("⚠ " + problem, className="wf-storage wf-storage-warn wf-process-stopped", role="alert")
               for problem in problems]  # a stopped fuser, worker or scheduler first, where the eye lands
    if storage and storage.get("warning"):
        return [*stopped, *storage_line(storage), table]
    return [*stopped, table, *storage_line(storage)]
