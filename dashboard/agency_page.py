"""``/agency``: what each partner agency pushed and what was refused (server-rendered, no script).

For signed-in operators and above. Who sees which agency is decided in one place,
:func:`visible_agencies`: a person who belongs to an agency sees only it; a supervisor or admin of the
host center sees them all. (Membership is the agencies work's: until a ``User`` carries ``agency``,
operators see none and are told so.) Every string a partner sent (refusal reasons, source names) is
escaped: shown as text, never markup. Each read is audited; a refused one too.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from dashboard.security import current_user
from domain.access.accounts import Role, User
from domain.access.audit import audit, audit_refusal
from domain.agencies import pushes
from domain.agencies.store import Agency, AgencyStore

PATH = "/agency"
RECENT = 25


def visible_agencies(client: redis.Redis, user: User) -> list[Agency]:
    """The agencies whose pushes ``user`` may see: a member of an agency (operator and above, its
    admins included) only their own; the host center's supervisors and admins all; anyone else none."""
    store = AgencyStore(client)
    own = getattr(user, "agency", None)
    if own:
        agency = store.get(own)
        return [agency] if agency else []
    if user.role.grants(Role.SUPERVISOR):
        return store.list()
    return []


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if epoch else "never"


def _outcome(push: pushes.PushRecord) -> str:
    if 200 <= push.status < 300:
        return '<span class="wf-agency-ok">accepted</span>'
    return f'<span class="wf-agency-bad">refused ({push.status})</span>'


def _sources_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return '<p class="wf-agency-none">No pushes yet.</p>'
    head = ("Source", "Pushes", "Accepted", "Unchanged", "Refused items", "Refused pushes", "Last push",
            "Last refusal", "Expected every")
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(c)}</td>" for c in (
            r["source"], r["pushes"], r["accepted"], r["unchanged"], r["refused"], r["errors"], _time(r["last"]),
            _time(r["last_error"]), f"{r['interval']} s" if r["interval"] else "not given")) + "</tr>" for r in rows)
    return (f'<table class="wf-agency-table"><thead><tr>{"".join(f"<th>{h}</th>" for h in head)}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def _recent_table(rows: list[pushes.PushRecord]) -> str:
    if not rows:
        return ""
    head = ("Time", "Source", "Token", "Outcome", "Accepted", "Unchanged", "Refused", "Bytes", "Reasons")
    body = "".join(
        f'<tr class="wf-agency-{"ok" if 200 <= p.status < 300 else "bad"}-row"><td>{_e(_time(p.time))}</td>'
        f"<td>{_e(p.source)}</td><td><code>{_e(p.token)}</code></td><td>{_outcome(p)}</td><td>{p.accepted}</td>"
        f"<td>{p.unchanged}</td><td>{p.refused}</td><td>{p.bytes:,}</td>"
        f'<td class="wf-agency-reasons">{"<br>".join(_e(r) for r in p.reasons) or "—"}</td></tr>' for p in rows)
    return (f'<h3>Recent pushes</h3><table class="wf-agency-table"><thead><tr>{"".join(f"<th>{h}</th>" for h in head)}'
            f"</tr></thead><tbody>{body}</tbody></table>")


def _section(client: redis.Redis, agency: Agency) -> str:
    stats = pushes.source_stats(client, agency.code)
    recent = pushes.recent(client, agency.code, RECENT)
    return (f'<section class="wf-agency-card" id="agency-{_e(agency.code)}"><h2>{_e(agency.name)} '
            f'<span class="wf-agency-code">{_e(agency.code)}</span></h2>'
            f'<p class="wf-agency-meta">Default sharing: {_e(agency.sharing.describe())} · pushes to '
            f"<code>POST /api/ingest</code> with its token</p>"
            f"<h3>Sources</h3>{_sources_table(stats)}{_recent_table(recent)}</section>")


def render(client: redis.Redis, user: User) -> str:
    agencies = visible_agencies(client, user)
    if agencies:
        sections = "".join(_section(client, a) for a in agencies)
    elif user.role.grants(Role.SUPERVISOR):
        sections = '<p class="wf-agency-none">No partner agencies yet: <code>watchfloor agency add</code>.</p>'
    else:
        sections = ('<p class="wf-agency-none">Your account belongs to no partner agency, so there is nothing '
                    "to show; supervisors and admins see every agency here.</p>")
    return _document(f'<main class="wf-agency-main">{sections}</main>')


def _document(main: str) -> str:
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Watchfloor · Partner pushes</title>'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<link rel="stylesheet" href="/assets/watchfloor.css"><link rel="stylesheet" href="/assets/wf-agency.css">'
            '</head><body class="wf-agency wf-theme-light"><header class="wf-header"><span class="wf-brand">WATCHFLOOR'
            '</span><span class="wf-subtitle">Partner pushes</span><a class="wf-button" href="/">Back to the desk</a>'
            f"</header>{main}</body></html>")


def _page(request: Request, get_client: Callable[[], redis.Redis | None]) -> HTMLResponse:
    user = current_user(request)
    client = get_client()
    if user is None or client is None:
        return HTMLResponse(_document('<p class="wf-agency-none">Unavailable: data store unreachable.</p>'), 503)
    if not user.role.grants(Role.OPERATOR):
        audit_refusal("agency.page", record=PATH, reason=f"needs role operator; has {user.role.value}", throttle=False)
        return HTMLResponse(_document('<p class="wf-refused">Partner pushes are for operators, supervisors and '
                                      "admins.</p>"), 403)
    try:
        page = render(client, user)
    except (redis.RedisError, OSError):
        return HTMLResponse(_document('<p class="wf-agency-none">Unavailable: data store unreachable.</p>'), 503)
    audit("agency.page", record=PATH)
    return HTMLResponse(page)


def register_agency_page(server: FastAPI, get_client: Callable[[], redis.Redis | None]) -> None:
    async def agency_page(request: Request) -> HTMLResponse:
        return await run_in_threadpool(_page, request, get_client)

    server.add_api_route(PATH, agency_page, methods=["GET"], include_in_schema=False)
