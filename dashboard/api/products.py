"""Exports of the picture from the desk: the same files as `watchfloor export`, within the reader's TLP."""

from __future__ import annotations

from typing import Any

import redis
from fastapi import Request
from fastapi.responses import Response

from dashboard.api.endpoint import Api, ApiRefusal
from domain.access.tlp import max_marking
from domain.config.workspaces import workspaces_for
from domain.products import exports


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
    body, _count, marking = exports.export(client, fmt, max_marking(user, client), by=user.name,
                                           recipient=query.get("to") or "", channel="desk download",
                                           workspace=workspace, since=since)
    name = f"watchfloor-{workspace.id if workspace else 'picture'}.{exports.SUFFIX[fmt]}"
    return Response(body, media_type=exports.MEDIA[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "X-TLP": marking.value})
