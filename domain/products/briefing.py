"""Briefings: a situation report for a workspace or the whole picture over a window, as HTML and PDF.

What it holds, for a reader with a given TLP maximum (nothing above it goes in): the threat level and
the incidents that drive it, each change of level in the window with its cause, the key incidents with
their sources (and their annotations' status and note, criminal intelligence never), a map on the
offline street basemap drawn on the server, a timeline, the open alerts, feed health and the analyst's
own summary. The marking of the highest item it holds is printed at the top and bottom of every page
with its TLP 2.0 handling caveat. The PDF is rendered by WeasyPrint (a real layout engine; the TLP
lines are CSS ``@page`` margin boxes, so every page has them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

import orjson
import redis

from domain.access.tlp import TLP, highest, incident_marking
from domain.agencies.access import Reader, reader_for
from domain.operations import alerts as alert_store
from domain.operations.annotations import load as load_annotation
from domain.operations.keys import AlertKeys
from domain.picture import threat
from domain.picture.keys import IncidentKeys
from domain.picture.markers import SEVERITY_COLOURS
from domain.products.exports import CAVEAT, log, select
from layers.staticmap import Point, Ring, fit, render
from layers.zones import Workspace

KEY_INCIDENTS = 25
DRIVERS_SHOWN = 8
SEVERITY_RANK = {"extreme": 4, "severe": 3, "moderate": 2, "minor": 1, "unknown": 0}
TLP_COLOURS = {"TLP:CLEAR": "#ffffff", "TLP:GREEN": "#33ff00", "TLP:AMBER": "#ffc000",
               "TLP:AMBER+STRICT": "#ffc000", "TLP:RED": "#ff2b2b"}


@dataclass
class Brief:
    title: str
    scope: str
    since: datetime
    until: datetime
    generated_at: datetime
    by: str
    ceiling: TLP | Reader
    summary: str = ""
    marking: TLP = TLP.CLEAR
    threat: dict[str, Any] = field(default_factory=dict)
    changes: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    alerts: list[dict[str, Any]] = field(default_factory=list)
    feeds: list[dict[str, Any]] = field(default_factory=list)
    map_svg: str = ""
    timeline_svg: str = ""
    notes: list[str] = field(default_factory=list)


def gather(client: redis.Redis, *, ceiling: TLP | Reader, by: str, workspaces: list[Workspace], workspace: Workspace | None,
           since: datetime, until: datetime | None = None, summary: str = "",
           feeds: dict[str, dict[str, Any]] | None = None) -> Brief:
    """Everything a briefing holds for a reader whose maximum is ``ceiling``."""
    until = until or datetime.now(UTC)
    scope = workspace.name if workspace else "Whole picture"
    brief = Brief(f"Situation report: {scope}", scope, since, until, datetime.now(UTC), by, ceiling,
                  summary=summary.strip()[:6000])
    chosen = [i for i in select(client, ceiling, workspace=workspace, since=since)
              if str(i.get("time") or "") <= until.strftime("%Y-%m-%dT%H:%M:%SZ")]
    brief.total = len(chosen)
    ranked = sorted(chosen, key=lambda i: (-SEVERITY_RANK.get(i.get("severity") or "unknown", 0),
                                           -len(i.get("reports") or []), str(i.get("time") or "")))
    brief.incidents = [_incident_row(client, n + 1, i, ceiling) for n, i in enumerate(ranked[:KEY_INCIDENTS])]
    levels = threat.threat_summary(client, workspaces, ceiling)
    brief.threat = (levels.get("workspaces", {}).get(workspace.id) if workspace else levels.get("global")) or {}
    brief.changes = [c for c in threat.level_changes(client, since, until, ceiling=ceiling)
                     if c.get("scope") == (workspace.id if workspace else threat.GLOBAL)]
    brief.alerts = _open_alerts(client, ceiling)
    brief.feeds = [{"id": k, **v} for k, v in sorted((feeds or {}).items())]
    by_id = {i["id"]: i for i in chosen}
    drivers = [by_id.get(d.get("id")) or _stored(client, str(d.get("id"))) for d in brief.threat.get("drivers") or []]
    brief.marking = highest(*(r["tlp"] for r in brief.incidents), *(a["tlp"] for a in brief.alerts),
                            *(n["marking"] for r in brief.incidents for n in r["notes"]),
                            *(incident_marking(d).value for d in drivers if d))
    brief.map_svg = _map(brief, workspace)
    brief.timeline_svg = _timeline(brief)
    return brief


def _stored(client: redis.Redis, incident_id: str) -> dict[str, Any]:
    raw = client.hget(IncidentKeys.INCIDENTS, incident_id)
    return orjson.loads(raw) if raw else {}


def _incident_row(client: redis.Redis, number: int, incident: dict[str, Any], ceiling: TLP | Reader) -> dict[str, Any]:
    reports = incident.get("reports") or []
    row = {"n": number, "id": incident["id"], "title": str(incident.get("title") or "(untitled)")[:200],
           "kind": incident.get("kind") or "other", "severity": incident.get("severity") or "unknown",
           "time": str(incident.get("time") or ""), "place": str(incident.get("place") or ""),
           "lat": incident.get("lat"), "lon": incident.get("lon"),
           "sources": sorted({r.get("source") or r.get("feed") or "" for r in reports} - {""}),
           "reports": len(reports), "tlp": incident_marking(incident).value, "notes": []}
    note = load_annotation(client, incident["id"])
    if note and not note.get("criminal_intel") and reader_for(ceiling).sees(note):
        row["notes"].append({"status": note.get("status") or "", "text": str(note.get("note") or "")[:600],
                             "by": note.get("updated_by") or "", "marking": note.get("tlp") or "TLP:CLEAR"})
    return row


def _open_alerts(client: redis.Redis, ceiling: TLP | Reader) -> list[dict[str, Any]]:
    out = []
    for raw_id in client.zrevrange(AlertKeys.ALERT_IDS, 0, 199):
        alert = alert_store.load(client, raw_id.decode())
        if alert is None or not reader_for(ceiling).sees(alert):
            continue
        status = alert_store.current_status(alert)
        if status in ("active", "updated"):
            out.append({k: alert.get(k) for k in ("id", "headline", "severity", "issued_by", "issued_at", "expires",
                                                  "tlp")} | {"status": status})
    return out


def _map(brief: Brief, workspace: Workspace | None) -> str:
    located = [r for r in brief.incidents if isinstance(r["lat"], (int, float)) and isinstance(r["lon"], (int, float))]
    rings = [Ring(v.lat, v.lon, v.radius_km, v.name) for v in (workspace.venues if workspace else ())]
    points = [(r["lat"], r["lon"]) for r in located] + [(g.lat, g.lon) for g in rings]
    view = fit(points, 900, 520)
    svg = render(view, [Point(r["lat"], r["lon"], SEVERITY_COLOURS.get(r["severity"], "#999"), str(r["n"]))
                        for r in reversed(located)], rings)
    brief.notes += view.notes
    return svg


def _timeline(brief: Brief) -> str:
    width, height, left, right = 900, 90, 10, 10
    span = max((brief.until - brief.since).total_seconds(), 1.0)

    def x(when: str) -> float | None:
        try:
            moment = datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            return None
        return left + (moment - brief.since).total_seconds() / span * (width - left - right)

    parts = [f'<line x1="{left}" y1="60" x2="{width - right}" y2="60" stroke="#555"/>']
    for i in range(5):
        tick = brief.since + timedelta(seconds=span * i / 4)
        tx = left + (width - left - right) * i / 4
        parts.append(f'<text x="{tx:.0f}" y="80" font-size="10" text-anchor="{"start" if i == 0 else "end" if i == 4 else "middle"}"'
                     f' fill="#333">{tick:%d %b %H:%M}Z</text>')
    for change in brief.changes:
        cx = x(str(change.get("at") or ""))
        if cx is not None:
            parts.append(f'<line x1="{cx:.1f}" y1="8" x2="{cx:.1f}" y2="60" stroke="#3a6ea5" stroke-dasharray="3 2"/>'
                         f'<text x="{cx + 2:.1f}" y="16" font-size="9" fill="#3a6ea5">{escape(str(change.get("level", "")))}</text>')
    for row in brief.incidents:
        cx = x(row["time"])
        if cx is not None:
            parts.append(f'<circle cx="{cx:.1f}" cy="{60 - 8 * SEVERITY_RANK.get(row["severity"], 0) - 6}" r="5" '
                         f'fill="{SEVERITY_COLOURS.get(row["severity"], "#999")}" stroke="#222" stroke-width="0.6"/>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'font-family="sans-serif">{"".join(parts)}</svg>')


# -- rendering ----------------------------------------------------------------------------------------------
CSS = """
@page { size: A4; margin: 20mm 14mm 22mm 14mm;
  @top-center { content: "%(label)s"; font: bold 11pt sans-serif; color: %(colour)s; background: #000;
                padding: 2mm 4mm; }
  @bottom-center { content: "%(label)s: %(caveat)s"; font: 7.5pt sans-serif; color: %(colour)s;
                   background: #000; padding: 1.5mm 3mm; }
  @bottom-right { content: counter(page) " / " counter(pages); font: 8pt sans-serif; } }
body { font: 10pt/1.35 sans-serif; color: #111; }
.tlp { background: #000; color: %(colour)s; font-weight: bold; padding: 4px 8px; }
@media print { .tlp.screen { display: none; } }
h1 { font-size: 17pt; margin: 0 0 2mm; } h2 { font-size: 12.5pt; margin: 6mm 0 2mm; border-bottom: 1px solid #999; }
table { border-collapse: collapse; width: 100%%; font-size: 8.5pt; }
th, td { border-bottom: 1px solid #ddd; padding: 2px 4px; text-align: left; vertical-align: top; }
.level { display: inline-block; padding: 2px 10px; color: #000; font-weight: bold; }
.sev { display: inline-block; width: 9px; height: 9px; border-radius: 50%%; border: 1px solid #222; }
svg { width: 100%%; height: auto; } .note { color: #555; font-size: 8.5pt; }
.summary { white-space: pre-wrap; border-left: 3px solid #3a6ea5; padding-left: 3mm; }
"""


def html(brief: Brief) -> str:
    label, colour = brief.marking.value, TLP_COLOURS[brief.marking.value]
    css = CSS % {"label": label, "caveat": CAVEAT[label].replace('"', "'"), "colour": colour}
    level = brief.threat or {}
    parts = [f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(label)} '
             f'{escape(brief.title)}</title><style>{css}</style></head><body>',
             f'<div class="tlp screen">{escape(label)}: {escape(CAVEAT[label])}</div>',
             f"<h1>{escape(brief.title)}</h1>",
             f"<p>{brief.since:%d %b %Y %H:%M}Z to {brief.until:%d %b %Y %H:%M}Z. "
             f"Prepared {brief.generated_at:%d %b %Y %H:%M}Z by {escape(brief.by)}. {brief.total} incident(s) in "
             f"the window; the {len(brief.incidents)} most severe are listed.</p>",
             f'<h2>Threat level</h2><p><span class="level" style="background:{escape(str(level.get("colour") or "#ccc"))}">'
             f'{escape(str(level.get("level") or "n/a"))}</span> score {escape(str(level.get("score", "")))}</p>']
    drivers = level.get("drivers") or []
    if drivers:
        parts.append("<table><tr><th>Driving incident</th><th>Severity</th><th>Where</th><th>Weight</th></tr>"
                     + "".join(f"<tr><td>{escape(str(d.get('title', '')))}</td><td>{escape(str(d.get('severity', '')))}</td>"
                               f"<td>{escape(str(d.get('where', '')))}</td><td>{escape(str(d.get('weight', '')))}</td></tr>"
                               for d in drivers[:DRIVERS_SHOWN]) + "</table>")
        if len(drivers) > DRIVERS_SHOWN:
            parts.append(f'<p class="note">and {len(drivers) - DRIVERS_SHOWN} more contributing incident(s)</p>')
    if brief.changes:
        parts.append("<p><b>Changes of level in the window</b></p><ul>" + "".join(
            f"<li>{escape(str(c.get('at', '')))}: {escape(str(c.get('was', '')))} &rarr; {escape(str(c.get('level', '')))}"
            f" &mdash; {escape(str(c.get('cause_text') or c.get('cause') or ''))}</li>" for c in brief.changes) + "</ul>")
    if brief.summary:
        parts.append(f'<h2>Analyst\'s summary</h2><div class="summary">{escape(brief.summary)}</div>')
    parts.append(f"<h2>Map</h2>{brief.map_svg}")
    parts += [f'<p class="note">{escape(n)}</p>' for n in brief.notes]
    parts.append(f"<h2>Timeline</h2>{brief.timeline_svg}")
    parts.append(_incident_table(brief))
    parts.append(_alerts_and_feeds(brief))
    parts.append(f'<div class="tlp screen">{escape(label)}: {escape(CAVEAT[label])}</div></body></html>')
    return "".join(parts)


def _incident_table(brief: Brief) -> str:
    rows = []
    for r in brief.incidents:
        notes = "".join(f'<div class="note">{escape(n["status"])}: {escape(n["text"])} ({escape(n["by"])}, '
                        f'{escape(n["marking"])})</div>' for n in r["notes"])
        rows.append(f'<tr><td>{r["n"]}</td><td><span class="sev" style="background:'
                    f'{SEVERITY_COLOURS.get(r["severity"], "#999")}"></span> {escape(r["severity"])}</td>'
                    f'<td>{escape(r["title"])}{notes}</td><td>{escape(r["time"])}</td><td>{escape(r["place"])}</td>'
                    f'<td>{escape(", ".join(r["sources"]) or "-")} ({r["reports"]})</td><td>{escape(r["tlp"])}</td></tr>')
    return ("<h2>Key incidents</h2><table><tr><th>#</th><th>Severity</th><th>Incident</th><th>Time</th><th>Place</th>"
            "<th>Sources (reports)</th><th>TLP</th></tr>" + "".join(rows) + "</table>")


def _alerts_and_feeds(brief: Brief) -> str:
    alerts = "".join(f"<tr><td>{escape(str(a['headline']))}</td><td>{escape(str(a['severity']))}</td>"
                     f"<td>{escape(str(a['issued_by']))} {escape(str(a['issued_at']))}</td><td>{escape(str(a['expires']))}</td>"
                     f"<td>{escape(str(a['tlp']))}</td></tr>" for a in brief.alerts)
    feeds = "".join(f"<tr><td>{escape(f['id'])}</td><td>{escape(str(f.get('status')))}{' (stale)' if f.get('stale') else ''}"
                    f"</td><td>{escape(str(f.get('last_success') or 'never'))}</td><td>{escape(str(f.get('reason') or ''))}</td></tr>"
                    for f in brief.feeds)
    return ("<h2>Open alerts</h2>" + (f"<table><tr><th>Alert</th><th>Severity</th><th>Issued</th><th>Expires</th>"
                                       f"<th>TLP</th></tr>{alerts}</table>" if alerts else "<p>None.</p>")
            + "<h2>Feed health</h2>" + (f"<table><tr><th>Feed</th><th>Status</th><th>Last success</th><th>Reason</th>"
                                        f"</tr>{feeds}</table>" if feeds else "<p>No feed health given.</p>"))


def pdf(document: str) -> bytes:
    from weasyprint import HTML  # imported here: it loads Pango, which only products need

    return HTML(string=document).write_pdf()


def produce(client: redis.Redis, brief: Brief, fmt: str, *, recipient: str, channel: str,
            source: str | None = None) -> bytes:
    """The briefing as ``html`` or ``pdf``, written to the dissemination log."""
    document = html(brief)
    body = pdf(document) if fmt == "pdf" else document.encode()
    log(client, what=f"briefing {fmt}: {brief.scope}, {brief.since:%Y-%m-%dT%H:%MZ} to {brief.until:%Y-%m-%dT%H:%MZ}, "
        f"{len(brief.incidents)} incident(s), {brief.marking.value}", by=brief.by, recipient=recipient,
        channel=channel, marking=brief.marking, source=source)
    return body
