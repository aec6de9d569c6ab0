"""Operators' overrides of the fusion, and the picture on demand.

:func:`split_incident` / :func:`merge_incidents` append a request to ``wf:fusion:overrides`` and wait
for the fuser (:mod:`workers.fusion`) to apply it; with no fuser running they apply it here through
:func:`fuse_now`, which also gives the CLI the whole picture: it takes the fuser's lock, does one
catch-up pass, writes and releases; if a fuser is active it waits for it to catch up.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from datetime import UTC, datetime
from typing import Any

import orjson
import redis

from domain.picture.keys import IncidentKeys
from domain.store.streams import EventKeys
from workers.fusion import Fuser, FusionError, LostLeadership
from workers.incident_rows import _text

__all__ = ["FusionError", "fuse_now", "load_incidents", "merge_incidents", "split_incident"]

log = logging.getLogger(__name__)


def _caught_up(client: redis.Redis) -> bool:
    state = {_text(k): _text(v) for k, v in client.hgetall(IncidentKeys.FUSION_STATE).items()}
    newest = client.xrevrange(EventKeys.EVENTS, count=1)
    last = _text(newest[0][0]) if newest else "0-0"
    return state.get("cursor", "0-0") == last and int(state.get("overrides") or 0) == int(
        client.llen(IncidentKeys.FUSION_OVERRIDES)
    )


def fuse_now(
    client: redis.Redis, *, window_hours: float = 72.0, lock_ttl: float = 15.0, wait: float | None = None
) -> bool:
    """Make ``wf:incidents`` reflect the whole stream and every override request.

    With no fuser running: take the lock, rebuild, write, release. With one running: wait (up to
    ``wait`` seconds, default the lock TTL + 5) for it to catch up. Returns False when that wait
    ran out (what is stored is then shown as it is)."""
    deadline = time.monotonic() + (lock_ttl + 5 if wait is None else wait)
    fuser = Fuser(
        client, window_hours=window_hours, lock_ttl=lock_ttl, name=f"once:{socket.gethostname()}:{os.getpid()}"
    )
    while True:
        if _caught_up(client):
            return True
        if fuser.acquire():
            try:
                fuser.rebuild()
                return True
            except LostLeadership:
                continue
            finally:
                fuser.release()
        if time.monotonic() >= deadline:
            log.warning("the active fuser has not caught up; showing the incidents as stored")
            return False
        time.sleep(0.1)


def load_incidents(client: redis.Redis, *, aged: bool = False) -> list[dict[str, Any]]:
    """Every incident of the live set (the fusion window and its history), newest first; with
    ``aged``, those aged out of it instead (``incident_max_age_days``)."""
    rows = [orjson.loads(v) for v in client.hvals(IncidentKeys.INCIDENTS_AGED if aged else IncidentKeys.INCIDENTS)]
    rows.sort(key=lambda r: (r.get("time") or "", r["id"]), reverse=True)
    return rows


def _stored(client: redis.Redis, incident_id: str) -> dict[str, Any]:
    raw = client.hget(IncidentKeys.INCIDENTS, incident_id)
    if raw is None:
        raise FusionError(f"no incident {incident_id} (see `watchfloor incidents`)")
    return orjson.loads(raw)


def _request(
    client: redis.Redis, request: dict[str, Any], *, window_hours: float, lock_ttl: float, wait: float
) -> dict[str, Any]:
    request = {**request, "requested": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    index = int(client.rpush(IncidentKeys.FUSION_OVERRIDES, orjson.dumps(request))) - 1
    deadline = time.monotonic() + wait
    while True:
        item = orjson.loads(client.lindex(IncidentKeys.FUSION_OVERRIDES, index) or b"{}")
        if "refused" in item:
            raise FusionError(item["refused"])
        if "at" in item:
            return item
        if time.monotonic() >= deadline:
            raise FusionError("the fuser has not applied the request yet; it will when it catches up")
        if not client.exists(IncidentKeys.FUSION_LEADER):
            fuse_now(client, window_hours=window_hours, lock_ttl=lock_ttl, wait=0)  # no fuser running: do it here
        else:
            time.sleep(0.05)


def split_incident(
    client: redis.Redis,
    incident_id: str,
    event_id: str,
    user: str,
    *,
    window_hours: float = 72.0,
    lock_ttl: float = 15.0,
    wait: float = 30.0,
) -> dict[str, Any]:
    """Take report ``event_id`` out of ``incident_id`` for good; returns the applied rule and the two
    incidents' ids (``incident``: the remainder, which keeps the id; ``new``). Raises FusionError."""
    incident = _stored(client, incident_id)
    events = [r["event_id"] for r in incident.get("reports", [])]
    if event_id not in events:
        raise FusionError(f"incident {incident_id} holds no report {event_id} (it holds {', '.join(events)})")
    if len(events) < 2:
        raise FusionError(f"incident {incident_id} has only one report; nothing to split")
    rule = _request(
        client,
        {"op": "split", "incident": incident_id, "event": event_id, "user": user},
        window_hours=window_hours,
        lock_ttl=lock_ttl,
        wait=wait,
    )
    new = _text(client.hget(IncidentKeys.INCIDENT_OF, event_id))
    rest = rule.get("apart_from") or []
    remainder = _text(client.hget(IncidentKeys.INCIDENT_OF, rest[0])) if rest else incident_id
    return {**rule, "incident": remainder, "new": new}


def merge_incidents(
    client: redis.Redis,
    a: str,
    b: str,
    user: str,
    *,
    window_hours: float = 72.0,
    lock_ttl: float = 15.0,
    wait: float = 30.0,
) -> dict[str, Any]:
    """Make incidents ``a`` and ``b`` one for good (the older id survives); returns the applied rule
    and ``incident``, the surviving id. Raises FusionError."""
    if a == b:
        raise FusionError("name two different incidents to merge")
    _stored(client, a)
    _stored(client, b)
    rule = _request(
        client,
        {"op": "merge", "incidents": [a, b], "user": user},
        window_hours=window_hours,
        lock_ttl=lock_ttl,
        wait=wait,
    )
    survivor = _text(client.hget(IncidentKeys.INCIDENT_OF, rule["events"][0])) if rule.get("events") else a
    return {**rule, "incident": survivor}
