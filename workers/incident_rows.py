"""The stored form of a fused incident, and the rows that keep its time and place indexes in step
(``wf:incident-time``, ``wf:incident-geo``); small helpers for stream ids."""

from __future__ import annotations

import hashlib
import math
from typing import Any

from domain.picture.keys import IncidentKeys
from domain.picture.stored import incident_json  # noqa: F401  (the one stored form; a replay rebuilds it too)
from feeds.model import epoch_seconds

CHANGES_KEEP_MS = 86_400_000  # wf:incident-changes keeps a day (screens with an older cursor reload)
GEO_MAX_LAT = 85.05112878  # Redis GEOADD refuses latitudes beyond this (Web Mercator); such incidents stay unindexed


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
