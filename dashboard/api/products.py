"""Exports of the picture from the desk: the same files as `watchfloor export`, within the reader's TLP."""

from __future__ import annotations

from typing import Any

import redis
from fastapi import Request
from fastapi.responses import Response

from dashboard.api.endpoint import Api, ApiRefusal, json_response
from domain.agencies.access import reader_for
from domain.config.workspaces import workspaces_for
from domain.picture.health import feed_status
from domain.products import briefing, exports, shares


def get_export(api: Api, request: Request, client: redis.Redis, user: Any) -> Response:
    query = request.query_params
    fmt = query.get("format") or ""
    if fmt not in exports.FORMATS:
        raise ApiRefusal(422, "invalid", f"format: one of {', '.join(exports.FORMATS)}")
    workspace = None
    if query.get("workspace"):
        spaces = {w.id: w for w in workspaces_for(api.config)}
        workspace = spaces.get(query["workspace"])
        if workspace is None:
            raise ApiRefusal(404, "not found", f"workspace: no workspace {query['workspace'][:60]!r}")
    since = exports.parse_since(query.get("since"))
    body, _count, marking = exports.export(client, fmt, reader_for(user, client), by=user.name,
                                           recipient=query.get("to") or "", channel="desk download",
                                           workspace=workspace, since=since)
    name = f"watchfloor-{workspace.id if workspace else 'picture'}.{exports.SUFFIX[fmt]}"
    return Response(body, media_type=exports.MEDIA[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "X-TLP": marking.value})


def post_brief(api: Api, request: Request, client: redis.Redis, user: Any, data: Any) -> Response:
    """A briefing for the signed-in person's TLP maximum: {workspace?, since?, until?, summary?, to?, format}."""
    data = data if isinstance(data, dict) else {}
    fmt = str(data.get("format") or "pdf")
    if fmt not in ("pdf", "html"):
        raise ApiRefusal(422, "invalid", "format: pdf or html")
    spaces = workspaces_for(api.config)
    workspace = None
    if data.get("workspace"):
        workspace = next((w for w in spaces if w.id == data["workspace"]), None)
        if workspace is None:
            raise ApiRefusal(404, "not found", f"workspace: no workspace {str(data['workspace'])[:60]!r}")
    since = exports.parse_since(str(data.get("since") or "24h"))
    until = exports.parse_since(str(data["until"])) if data.get("until") else None
    brief = briefing.gather(client, ceiling=reader_for(user, client), by=user.name, workspaces=spaces,
                            workspace=workspace, since=since, until=until, summary=str(data.get("summary") or ""),
                            feeds=feed_status(api.config, client))
    body = briefing.produce(client, brief, fmt, recipient=str(data.get("to") or ""), channel="desk download")
    name = f"watchfloor-brief-{workspace.id if workspace else 'picture'}-{brief.generated_at:%Y%m%dT%H%MZ}.{fmt}"
    return Response(body, media_type="application/pdf" if fmt == "pdf" else "text/html; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "X-TLP": brief.marking.value})


def post_share(api: Api, request: Request, client: redis.Redis, user: Any, data: Any) -> Response:
    """A read-only link: {kind: incident|workspace|briefing, target, hours?, tlp?, to?}; the URL is shown once."""
    data = data if isinstance(data, dict) else {}
    token, record = shares.create(client, kind=str(data.get("kind") or ""), target=str(data.get("target") or ""),
                                  creator=user, hours=data.get("hours", shares.DEFAULT_HOURS),
                                  tlp=data.get("tlp") or None, recipient=str(data.get("to") or ""))
    base = str(request.base_url).rstrip("/")
    return json_response({**record, "url": f"{base}/share/{token}"}, 201)


def list_shares(api: Api, request: Request, client: redis.Redis, user: Any) -> Response:
    return json_response({"shares": shares.listing(client)})


def delete_share(api: Api, request: Request, client: redis.Redis, user: Any, share_id: str) -> Response:
    return json_response(shares.revoke(client, share_id, user))
