"""One frame of a replay for one reader: the incidents, threat levels, alerts and annotations at an
instant, each filtered by the live screens' checks (see :mod:`domain.replay.operations`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import redis

from domain.agencies.access import reader_for, redact
from domain.picture import incidents as picture
from domain.replay.operations import alerts_at, annotations_at, threat_at
from domain.replay.picture import Replay

__all__ = ["frame", "incident_summary", "rows_at"]


def rows_at(client: redis.Redis, replay: Replay, when: datetime, reader: Any) -> list[dict[str, Any]]:
    """Marker rows (as the live screens get them: :func:`domain.picture.incidents.rows_for`) of the
    incidents at ``when`` the reader may receive, in the order they first appeared."""
    return picture.rows_for(client, replay.incidents_at(when), reader_for(reader, client))


def incident_summary(incident: dict[str, Any]) -> dict[str, Any]:
    """What a debrief compares of an incident: id, title, kind, severity, time, position, sources, marking."""
    return {"id": incident["id"], "title": incident.get("title"), "kind": incident.get("kind"),
            "severity": incident.get("severity"), "time": incident.get("time"), "lat": incident.get("lat"),
            "lon": incident.get("lon"), "tlp": incident.get("tlp"),
            "sources": sorted({r.get("source") or "" for r in incident.get("reports") or []} - {""})}


def frame(client: redis.Redis, replay: Replay, when: datetime, reader: Any, workspaces: list[Any]) -> dict[str, Any]:
    """Everything a replay screen or ``watchfloor replay --at`` shows at ``when``, for ``reader``."""
    seen = reader_for(reader, client)  # TLP and the agencies' sharing rules, as the live screens check them
    when = replay.window.clamp(when)
    items = [redact(i, seen) for i in replay.incidents_at(when) if picture._live(i) and seen.sees(i)]
    return {
        "at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "incidents": [incident_summary(i) for i in items],
        "threat": threat_at(client, items, when, reader, workspaces),
        "alerts": alerts_at(client, when, reader),
        "annotations": annotations_at(client, items, when, reader),
    }
