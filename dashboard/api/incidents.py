"""The picture as JSON: ``GET /api/incidents`` (list, with ``q`` to search titles and places) and
``GET /api/incidents/{id}`` (one incident with the reports the reader may see).

Both read through the one check (domain/agencies/access.py): an incident hidden by TLP or by its
owners' sharing rules is left out of the list, and a direct read of it is refused 403 and audited
(by the endpoint wrapper), as a TLP refusal is.
"""

from __future__ import annotations

from typing import Any

import redis
from fastapi import Request
from fastapi.responses import Response

from dashboard.api.annotations import visible_incident
from dashboard.api.endpoint import Api, ApiRefusal, json_response
from domain.access.audit import audit
from domain.agencies.access import owner_text, reader_for
from domain.picture.incidents import live_incidents

MAX_LISTED = 1000
_FIELDS = ("id", "kind", "title", "time", "lat", "lon", "severity", "place", "tlp", "corroboration")


def summary(incident: dict[str, Any]) -> dict[str, Any]:
    out = {k: incident.get(k) for k in _FIELDS}
    out["tlp"] = out["tlp"] or "TLP:CLEAR"
    out["sources"] = sorted({r.get("source") or "" for r in incident.get("reports") or []} - {""})
    owned = {o.get("event_id"): o for o in incident.get("owners") or []}
    out["reports"] = [{**{k: r.get(k) for k in ("event_id", "source", "feed", "time")},
                       "owner": owner_text(owned.get(r.get("event_id"), {}))} for r in incident.get("reports") or []]
    return out


def list_incidents(api: Api, request: Request, client: redis.Redis, user: Any) -> Response:
    """Live incidents the reader may see, newest first; ``q`` keeps those whose title or place holds it."""
    query = (request.query_params.get("q") or "").strip().lower()
    if len(query) > 200:
        raise ApiRefusal(422, "invalid", "q: at most 200 characters")
    found = [i for i in live_incidents(client, reader_for(user, client))
             if not query or query in (i.get("title") or "").lower() or query in (i.get("place") or "").lower()]
    found.sort(key=lambda i: i.get("time") or "", reverse=True)
    return json_response({"count": len(found), "incidents": [summary(i) for i in found[:MAX_LISTED]]})


def get_incident(api: Api, request: Request, client: redis.Redis, user: Any, incident_id: str) -> Response:
    incident = visible_incident(client, user, incident_id)
    audit("incident.read", record=incident_id[:200], reason=f"{len(incident.get('reports') or [])} report(s) shown")
    return json_response({"incident": summary(incident)})
