"""Annotations of incidents, and the fusion decisions operators take on them (split, merge)."""

from __future__ import annotations

from typing import Any

import orjson
import redis
from fastapi import Request
from fastapi.responses import Response

from dashboard.api.endpoint import Api, ApiRefusal, json_response
from domain.access.audit import audit
from domain.access.tlp import incident_marking, visible
from domain.agencies.access import reader_for, redact
from domain.operations import annotations, criminal_intel
from domain.picture import threat
from domain.picture.incidents import stored_incident
from workers.overrides import FusionError, merge_incidents, split_incident

SPLIT_MERGE_WAIT = 20.0  # seconds a split or merge waits for the fuser to apply it (it answers 422 after)


def get_annotation(api: Api, request: Request, client: redis.Redis, user: Any, incident_id: str) -> Response:
    _incident, note = annotations.read(client, incident_id, user)
    if note is not None:
        audit(
            "annotation.read",
            record=incident_id,
            reason=f"v{note['version']} {note['tlp']}"
            + (" criminal intelligence" if note.get("criminal_intel") else ""),
        )
    return json_response({"incident": incident_id, "annotation": note, "version": note["version"] if note else 0})


def put_annotation(api: Api, request: Request, client: redis.Redis, user: Any, incident_id: str, data: Any) -> Response:
    before = annotations.load(client, incident_id)
    saved = annotations.save(client, incident_id, data, user, region=str(api.config.phone_region))
    if before is not None and saved["version"] == before["version"]:
        return json_response(saved)
    fields = sorted(k for k in data if k != "version") if isinstance(data, dict) else []
    audit(
        "annotation.save",
        record=incident_id,
        reason=f"v{saved['version']} {saved['tlp']}: {', '.join(fields)}"
        + (" (criminal intelligence)" if saved.get("criminal_intel") else ""),
    )
    if (before or {}).get("status") != saved.get("status"):
        threat.forget_cached(client)  # resolved or reopened: the screens' next refresh scores it anew
    return json_response(saved, 201 if before is None else 200)


def get_history(api: Api, request: Request, client: redis.Redis, user: Any, incident_id: str) -> Response:
    _incident, note = annotations.read(client, incident_id, user)
    rows = annotations.history(client, incident_id)
    if note is not None:
        audit("annotation.history", record=incident_id, reason=f"{len(rows)} change(s)")
    return json_response({"incident": incident_id, "history": rows})


def validate_annotation(
    api: Api, request: Request, client: redis.Redis, user: Any, incident_id: str, data: Any
) -> Response:
    saved = annotations.validate_intel(client, incident_id, data, user)
    audit("intel.validate", record=incident_id, reason=f"review date {saved['intel']['review_date']}")
    return json_response(saved)


def export_annotation(
    api: Api, request: Request, client: redis.Redis, user: Any, incident_id: str, data: Any
) -> Response:
    incident, note = annotations.read(client, incident_id, user)
    if note is None:
        raise ApiRefusal(404, "not found", "no annotation on this incident")
    data = data if isinstance(data, dict) else {}
    recipient, reason = str(data.get("recipient") or "").strip(), str(data.get("reason") or "").strip()
    if note.get("criminal_intel"):
        criminal_intel.log_dissemination(
            client, incident_id, recipient=recipient, reason=reason, by=user.name, channel="export"
        )
    elif not recipient:
        raise ApiRefusal(422, "invalid", "recipient: say who the copy is for")
    audit("annotation.export", record=incident_id, reason=f"to {recipient[:100]}: {reason[:150]} ({note['tlp']})")
    return json_response(
        {
            "marking": note["tlp"],
            "incident": {k: incident.get(k) for k in ("id", "title", "kind", "time", "lat", "lon", "severity")},
            "annotation": note,
            "recipient": recipient,
            "reason": reason,
        }
    )


def visible_incident(client: redis.Redis, user: Any, incident_id: str) -> dict[str, Any]:
    raw = stored_incident(client, incident_id)  # aged out of the live set: still found by id
    if raw is None:
        raise ApiRefusal(404, "not found", f"no incident {incident_id[:80]!r}")
    incident = orjson.loads(raw)
    marking = incident_marking(incident)
    if not visible(marking, user, client):
        raise ApiRefusal(403, "forbidden", f"the incident is marked {marking.value}, above your maximum")
    reader = reader_for(user, client)
    if not reader.sees(incident):
        raise ApiRefusal(403, "forbidden", "the incident is shared with its owners' agencies and not with yours")
    return redact(incident, reader)


def split_report(api: Api, request: Request, client: redis.Redis, user: Any, incident_id: str, data: Any) -> Response:
    visible_incident(client, user, incident_id)
    event_id = str((data or {}).get("event") or "") if isinstance(data, dict) else ""
    if not event_id:
        raise ApiRefusal(422, "invalid", "event: name the report to take out (its report id)")
    try:
        done = split_incident(client, incident_id, event_id, user.name, wait=SPLIT_MERGE_WAIT)
    except FusionError as exc:
        raise ApiRefusal(422, "invalid", str(exc)) from None
    audit("incident.split", record=incident_id, reason=f"report {event_id[:120]} taken out into {done['new']}")
    return json_response({"incident": done["incident"], "new": done["new"]})


def merge_incident(api: Api, request: Request, client: redis.Redis, user: Any, incident_id: str, data: Any) -> Response:
    visible_incident(client, user, incident_id)
    other = str((data or {}).get("other") or "").strip() if isinstance(data, dict) else ""
    if not other:
        raise ApiRefusal(422, "invalid", "other: name the incident to merge with (its incident id)")
    visible_incident(client, user, other)
    try:
        done = merge_incidents(client, incident_id, other, user.name, wait=SPLIT_MERGE_WAIT)
    except FusionError as exc:
        raise ApiRefusal(422, "invalid", str(exc)) from None
    audit("incident.merge", record=incident_id, reason=f"merged with {other[:120]}; one incident {done['incident']}")
    return json_response({"incident": done["incident"]})
