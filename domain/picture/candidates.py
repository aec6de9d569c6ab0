""""Merge with…": the incidents most likely to be the same happening as the one open in the drawer,
so a duty officer merges what fusion missed without knowing incident ids.

Computed on the server, per drawer opening, from Redis only (no process memory: the app runs as
several processes): the fuser's indexes ``wf:incident-time`` (id -> epoch seconds) and
``wf:incident-geo`` (id -> position), written with ``wf:incidents`` in one transaction
(workers/fusion.py), then the JSON of the few incidents inside the bounds.

Cost of one call, whatever the size of the history (N stored incidents):
  * two ZRANGEBYSCORE of at most ``NEAREST_IN_TIME`` ids each (the nearest in time on either side
    of the incident's time, inside ``MAX_HOURS``): O(log N + NEAREST_IN_TIME), ids and scores only;
  * one GEOPOS of those ids (a few bytes each), distance computed here;
  * one HMGET of at most ``MAX_READ`` incident JSONs: those inside both bounds, nearest first.
No scan of ``wf:incidents``, nothing sent to the browser but the ``SHOWN`` rows.
When more than ``NEAREST_IN_TIME`` incidents lie on one side within the time bound (a burst of
thousands in two days), only the nearest in time are considered: the likeliest ones anyway.

Ranking: same kind as the open incident first, then ``score`` = distance / MAX_KM + time
difference / MAX_HOURS (0 is the same place and time; each bound counts 1), then id.
Excluded: the incident itself, unplaced incidents (no distance to show), incidents every report of
which was superseded (not on the screens), and any incident the reader may not receive under TLP
(``domain.access.tlp.visible`` against the reader's maximum marking, the drawer's own check).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import orjson
import redis

from domain.access.tlp import TLP
from domain.agencies.access import Reader, reader_for
from domain.picture.incidents import _live
from domain.picture.keys import IncidentKeys
from feeds.fuse import haversine_km
from feeds.model import epoch_seconds

# The bounds, in one place. Fusion itself joins reports within 150 km (250 km and more for
# geocoded positions, which are city- or county-level) and publication up to 12 h after the
# happening (news); what it missed lies at or a little beyond those edges. 300 km covers a
# geocoded report placed on a regional capital or county centroid; 48 h covers a story published
# the next day and long happenings (fires, floods) reported again. Further apart, a merge is a
# deliberate decision the operator makes by typing the id (the drawer keeps that field).
MAX_KM = 300.0
MAX_HOURS = 48.0
SHOWN = 5  # candidates in the drawer
NEAREST_IN_TIME = 1000  # ids read from wf:incident-time on each side of the incident's time
MAX_READ = 200  # incident JSONs read (inside both bounds, best score first) to rank by kind


@dataclass(frozen=True, slots=True)
class Candidate:
    id: str
    title: str
    kind: str
    sources: int
    distance_km: float
    hours: float  # candidate time minus the open incident's time (negative: earlier)
    score: float
    same_kind: bool


def _position(incident: dict[str, Any]) -> tuple[float, float] | None:
    lat, lon = incident.get("lat"), incident.get("lon")
    if isinstance(lat, (int, float)) and isinstance(lon, (int, float)) and math.isfinite(lat) and math.isfinite(lon):
        return float(lat), float(lon)
    return None


def _sources(incident: dict[str, Any]) -> int:
    return len({r.get("source") for r in incident.get("reports") or [] if r.get("source")}) or int(
        incident.get("corroboration") or 0)


def merge_candidates(client: redis.Redis, incident: dict[str, Any], ceiling: TLP | str | Reader,
                     limit: int = SHOWN) -> list[Candidate]:
    """Up to ``limit`` incidents likely the same happening as ``incident``, best first, that a reader
    whose maximum marking is ``ceiling`` may receive (see the module docstring)."""
    own_id = incident.get("id")
    here = _position(incident)
    at = epoch_seconds(incident.get("time"))
    if here is None or at is None or not own_id:
        return []
    span = MAX_HOURS * 3600
    with client.pipeline(transaction=False) as pipe:
        pipe.zrangebyscore(IncidentKeys.INCIDENT_TIME, at, at + span, start=0, num=NEAREST_IN_TIME, withscores=True)
        pipe.zrevrangebyscore(IncidentKeys.INCIDENT_TIME, at, at - span, start=0, num=NEAREST_IN_TIME, withscores=True)
        later, earlier = pipe.execute()
    near_in_time: dict[str, float] = {}
    for member, when in (*later, *earlier):
        near_in_time[member.decode() if isinstance(member, bytes) else member] = float(when)
    near_in_time.pop(own_id, None)
    if not near_in_time:
        return []
    ids = list(near_in_time)
    inside: list[tuple[float, str]] = []
    for incident_id, pos in zip(ids, client.geopos(IncidentKeys.INCIDENT_GEO, *ids), strict=True):
        if pos is None:
            continue  # unplaced
        km = haversine_km(here[0], here[1], pos[1], pos[0])
        if km <= MAX_KM + 1:  # (the index stores positions to within a metre; checked exactly below)
            inside.append((km / MAX_KM + abs(near_in_time[incident_id] - at) / span, incident_id))
    inside.sort()
    wanted = [i for _, i in inside[:MAX_READ]]
    if not wanted:
        return []
    kind = incident.get("kind")
    reader = reader_for(ceiling)
    found: list[Candidate] = []
    for incident_id, raw in zip(wanted, client.hmget(IncidentKeys.INCIDENTS, wanted), strict=True):
        if not raw:
            continue  # merged away since the index was read
        other = orjson.loads(raw)
        there, when = _position(other), epoch_seconds(other.get("time"))
        if there is None or when is None or not _live(other) or not reader.sees(other):
            continue
        km = haversine_km(here[0], here[1], there[0], there[1])
        hours = (when - at) / 3600
        if km > MAX_KM or abs(hours) > MAX_HOURS:
            continue
        found.append(Candidate(id=incident_id, title=str(other.get("title") or ""), kind=str(other.get("kind") or ""),
                               sources=_sources(other), distance_km=km, hours=hours,
                               score=km / MAX_KM + abs(hours) / MAX_HOURS, same_kind=other.get("kind") == kind))
    found.sort(key=lambda c: (not c.same_kind, c.score, c.id))
    return found[:limit]
