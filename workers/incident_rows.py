"""The stored form of a fused incident, and the rows that keep its time and place indexes in step
(``wf:incident-time``, ``wf:incident-geo``); small helpers for stream ids."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import orjson

from domain.picture.keys import IncidentKeys
from feeds.fuse import Incident
from feeds.model import epoch_seconds, tlp_highest

CHANGES_KEEP_MS = 86_400_000  # wf:incident-changes keeps a day (screens with an older cursor reload)
GEO_MAX_LAT = 85.05112878  # Redis GEOADD refuses latitudes beyond this (Web Mercator); such incidents stay unindexed


def incident_json(incident: Incident, superseded: set[str] | frozenset[str] = frozenset()) -> bytes:
    """The stored form of an incident: :meth:`Incident.to_dict` plus ``exercise`` (any report is an
    exercise report) and ``superseded`` (reports replaced by a CAP Update/Cancel), and for reports an agency owns ``owners``
    ([{agency, sharing, event_id}]) and ``open_title`` (a title from a report shared with all), keys sorted."""
    data = incident.to_dict()
    data["exercise"] = any(e.exercise for e in incident.events.values())
    data["tlp"] = tlp_highest(*(e.tlp for e in incident.events.values()))  # the most restrictive report's marking
    data["superseded"] = [r.event_id for r in incident.reports if r.event_id in superseded]
    owners = [{"agency": e.agency, "sharing": e.sharing or "all", "event_id": r.event_id}
              for r in incident.reports if (e := incident.events.get(r.event_id)) is not None and e.agency]
    if owners:  # absent for an incident of public reports only, so their stored form does not change
        data["owners"] = owners
        public = [e.title for r in incident.reports if (e := incident.events.get(r.event_id)) is not None
                  and (not e.agency or (e.sharing or "all") == "all")]
        data["open_title"] = public[0] if public else None  # what a reader who sees only these is shown
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def _index_rows(pipe: Any, rows: list[tuple[str, float | None, float | None, float | None]]) -> None:
    """Queue on ``pipe`` what keeps ``wf:incident-time`` and ``wf:incident-geo`` in step with the
    stored incidents given as (id, epoch seconds, lat, lon); an unplaced one leaves the geo index."""
    times: dict[str, float] = {}
    untimed: list[str] = []
    places: list[Any] = []
    unplaced: list[str] = []
    for incident_id, when, lat, lon in rows:
        if when is not None:
            times[incident_id] = when
        else:
            untimed.append(incident_id)
        if (isinstance(lat, (int, float)) and isinstance(lon, (int, float)) and math.isfinite(lat) and math.isfinite(lon)
                and abs(lat) <= GEO_MAX_LAT and abs(lon) <= 180):
            places += [lon, lat, incident_id]
        else:
            unplaced.append(incident_id)
    if times:
        pipe.zadd(IncidentKeys.INCIDENT_TIME, times)
    if untimed:
        pipe.zrem(IncidentKeys.INCIDENT_TIME, *untimed)
    if places:
        pipe.geoadd(IncidentKeys.INCIDENT_GEO, places)
    if unplaced:
        pipe.zrem(IncidentKeys.INCIDENT_GEO, *unplaced)


def _index_row(incident_id: str, data: dict[str, Any]) -> tuple[str, float | None, float | None, float | None]:
    """The index row of a stored incident's JSON (for a rebuild that finds it unindexed)."""
    return incident_id, epoch_seconds(data.get("time")), data.get("lat"), data.get("lon")


def _digest(raw: bytes) -> bytes:
    return hashlib.blake2b(raw, digest_size=12).digest()


def _ms(stream_id: str) -> int:
    return int(stream_id.split("-", 1)[0])


def _sid_key(stream_id: str) -> tuple[int, int]:
    a, _, b = stream_id.partition("-")
    return int(a), int(b or 0)


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")
