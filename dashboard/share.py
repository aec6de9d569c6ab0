"""The page behind a share link: ``GET /share/{token}``, read-only, no sign-in (the token is the key).

What it shows is computed now at the link's ceiling (domain.products.shares): one incident (refused
when it is now marked above the link), a workspace's incidents, or a briefing. Every use is audited;
an expired, revoked or unknown link gets the same page, which says only that the link is not valid.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

import orjson
import redis
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from dashboard.security import AccessGuard
from domain.access.tlp import TLP, incident_marking
from domain.access.tlp import parse as parse_tlp
from domain.agencies.access import reader_for, redact
from domain.config.loader import Config
from domain.config.workspaces import workspaces_for
from domain.errors import NotFound
from domain.picture.health import feed_status
from domain.picture.keys import IncidentKeys
from domain.picture.markers import SEVERITY_COLOURS
from domain.products import briefing, exports, shares
from layers.staticmap import Point, fit, render

PREFIX = "/share/"
STYLE = ("body{font:15px/1.45 sans-serif;margin:0;color:#111}main{max-width:960px;margin:auto;padding:12px}"
         ".tlp{background:#000;color:%s;font-weight:bold;padding:6px 12px}table{border-collapse:collapse;width:100%%}"
         "td,th{border-bottom:1px solid #ddd;padding:3px 6px;text-align:left}svg{width:100%%;height:auto}"
         ".ro{color:#555;font-size:13px}")


def _page(title: str, body: str, marking: TLP | None, status: int = 200) -> HTMLResponse:
    colour = briefing.TLP_COLOURS.get(marking.value, "#fff") if marking else "#fff"
    banner = (f'<div class="tlp">{escape(marking.value)}: {escape(exports.CAVEAT[marking.value])}</div>'
              if marking else "")
    html = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><meta name="robots" content="noindex"><title>'
            f'{escape(title)}</title><style>{STYLE % colour}</style></head><body>{banner}<main>{body}</main>'
            f"{banner}</body></html>")
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def _incident(client: redis.Redis, record: dict[str, Any], ceiling: TLP) -> HTMLResponse:
    raw = client.hget(IncidentKeys.INCIDENTS, record["target"])
    incident = orjson.loads(raw) if raw else None
    reader = reader_for(ceiling)  # whoever holds the link is of no agency: only what is shared with all
    if incident is None or not reader.sees(incident):
        raise NotFound("the incident is no longer available at this link's level")
    incident = redact(incident, reader)
    p = exports.properties(incident)
    view = fit([(incident["lat"], incident["lon"])], 900, 420, max_zoom=15)
    svg = render(view, [Point(incident["lat"], incident["lon"], SEVERITY_COLOURS.get(p["severity"], "#999"))])
    body = (f"<h1>{escape(p['title'])}</h1><p>{escape(p['kind'])}, {escape(p['severity'])}, {escape(p['time'])}"
            f"{', ' + escape(p['place']) if p['place'] else ''}</p><p>Sources: {escape(', '.join(p['sources']) or '-')} "
            f"({p['reports']} report(s))</p>{svg}")
    return _page(p["title"], body + _footer(record), incident_marking(incident))


def _workspace(client: redis.Redis, record: dict[str, Any], ceiling: TLP, config: Config) -> HTMLResponse:
    space = next((w for w in workspaces_for(config) if w.id == record["target"]), None)
    if space is None:
        raise NotFound("the workspace is no longer configured")
    rows = exports.select(client, ceiling, workspace=space, since=datetime.now(UTC) - timedelta(hours=24))
    marking = max((incident_marking(i) for i in rows), key=lambda m: m.rank, default=TLP.CLEAR)
    view = fit([(i["lat"], i["lon"]) for i in rows] + [(v.lat, v.lon) for v in space.venues], 900, 480)
    svg = render(view, [Point(i["lat"], i["lon"], SEVERITY_COLOURS.get(i.get("severity") or "unknown", "#999"))
                        for i in rows])
    table = "".join(f"<tr><td>{escape(str(i.get('time') or ''))}</td><td>{escape(str(i.get('severity') or ''))}</td>"
                    f"<td>{escape(str(i.get('title') or ''))}</td></tr>" for i in reversed(rows[-200:]))
    body = (f"<h1>{escape(space.name)}: the last 24 hours</h1>{svg}<table><tr><th>Time</th><th>Severity</th>"
            f"<th>Incident</th></tr>{table}</table>")
    return _page(space.name, body + _footer(record), marking)


def _briefing(client: redis.Redis, record: dict[str, Any], ceiling: TLP, config: Config) -> HTMLResponse:
    spaces = workspaces_for(config)
    space = next((w for w in spaces if w.id == record["target"]), None)
    brief = briefing.gather(client, ceiling=ceiling, by=f"share link {record['id']}", workspaces=spaces,
                            workspace=space, since=datetime.now(UTC) - timedelta(hours=24),
                            feeds=feed_status(config, client))
    page = briefing.html(brief).replace("</body>", _footer(record) + "</body>", 1)
    return HTMLResponse(page, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def _footer(record: dict[str, Any]) -> str:
    until = datetime.fromtimestamp(record["expires"], UTC)
    return (f'<p class="ro">Read-only link shared by {escape(record["by"])}, valid until {until:%d %b %Y %H:%M}Z, '
            f"at most {escape(record['tlp'])}. Every use is recorded.</p>")


def register_share_routes(server: FastAPI, guard: AccessGuard, config: Config) -> None:
    def serve(token: str) -> HTMLResponse:
        client = guard.get_client()
        if client is None:
            return _page("Unavailable", "<p>The service is unavailable; try again shortly.</p>", None, 503)
        try:
            record = shares.use(client, token)
            ceiling = parse_tlp(record["tlp"])
            if record["kind"] == "incident":
                return _incident(client, record, ceiling)
            if record["kind"] == "workspace":
                return _workspace(client, record, ceiling, config)
            return _briefing(client, record, ceiling, config)
        except NotFound as exc:
            return _page("Link not valid", f"<h1>Link not valid</h1><p>{escape(str(exc))}</p>", None, 404)

    async def share_page(request: Request, token: str) -> HTMLResponse:
        return await run_in_threadpool(serve, token[:100])

    server.add_api_route(PREFIX + "{token}", share_page, methods=["GET"], include_in_schema=False)
