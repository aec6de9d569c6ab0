"""The audit trail for supervisors: search it, export it as JSON Lines."""

from __future__ import annotations

from typing import Any

import orjson
import redis
from fastapi import Request
from fastapi.responses import Response

from dashboard.api.endpoint import Api, ApiRefusal, json_response
from domain.access.audit import AuditQuery, audit
from domain.access.audit import search as audit_search


def audit_query(request: Request) -> AuditQuery:
    try:
        return AuditQuery.parse(request.query_params)
    except ValueError as exc:
        raise ApiRefusal(422, "invalid", str(exc)) from None


def get_audit(api: Api, request: Request, client: redis.Redis, user: Any) -> Response:
    query = audit_query(request)
    records, more = audit_search(client, query)
    audit("audit.read", record=query.describe()[:200], reason=f"{len(records)} record(s)")
    return json_response({"records": [r.to_dict() for r in records], "more": more, "query": query.describe()})


def export_audit(api: Api, request: Request, client: redis.Redis, user: Any) -> Response:
    query = audit_query(request)
    records, more = audit_search(client, query)
    audit(
        "audit.export",
        record=query.describe()[:200],
        reason=f"{len(records)} record(s) as JSON Lines" + (" (limit reached)" if more else ""),
    )
    body = b"".join(orjson.dumps(r.to_dict()) + b"\n" for r in reversed(records))  # oldest first, as the CLI
    return Response(
        body,
        media_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="watchfloor-audit.jsonl"'},
    )
