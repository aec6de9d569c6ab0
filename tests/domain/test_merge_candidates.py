""""Merge with…" candidates (domain/picture/candidates.py) against a real Redis, written by the real fuser:
ranking (same kind first, then distance and time), the incident itself left out, TLP, the 300 km /
48 h bounds, unplaced and merged-away incidents, and the fuser's indexes they are read from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.access.tlp import TLP
from domain.picture.candidates import MAX_HOURS, MAX_KM, merge_candidates
from domain.picture.keys import IncidentKeys
from domain.store.streams import EventStore
from feeds.model import Event, Kind, Severity
from workers.fusion import Fuser
from workers.overrides import fuse_now, load_incidents, merge_incidents

pytestmark = pytest.mark.redis

T0 = datetime(2024, 3, 4, 12, 0, tzinfo=UTC)
LAT, LON = 34.0, -118.0
KM_PER_DEG = 111.195  # along a meridian


def quake(name: str, km_north: float | None, minutes: float, *, kind: Kind = Kind.EARTHQUAKE,
          tlp: str | None = None, mag: float = 4.0) -> Event:
    """A catalogue report ``km_north`` north of the open incident and ``minutes`` after it. All come
    from one feed with different ids, so fusion keeps them apart (the same-feed veto, and origins
    more than two minutes apart)."""
    placed = km_north is not None
    return Event(id=f"usgs:{name}", source="usgs-geojson", feed="usgs", kind=kind, title=f"<b>{name}</b> report",
                 time=T0 + timedelta(minutes=minutes), severity=Severity.MODERATE,
                 lat=LAT + km_north / KM_PER_DEG if placed else None, lon=LON if placed else None,
                 magnitude=mag if kind is Kind.EARTHQUAKE else None, tlp=tlp)


EVENTS = [
    quake("open", 0, 0),
    quake("near-later", 50, 120),  # same kind, 50 km, 2 h later
    quake("nearest-earlier", 10, -30),  # same kind, 10 km, 30 min earlier: the best
    quake("flood-next-door", 5, 10, kind=Kind.FLOOD),  # closest of all, but another kind
    quake("edge", 280, -46 * 60),  # inside both bounds, just
    quake("too-far", 350, 5),  # beyond 300 km
    quake("too-late", 20, 50 * 60),  # beyond 48 h
    quake("red", 1, 5, tlp="TLP:RED"),  # above an operator's TLP:AMBER
    quake("unplaced", None, 15, kind=Kind.FIRE),  # no position: no distance to show
]


@pytest.fixture
def fused(redis_client):
    EventStore(redis_client).append(EVENTS)
    assert fuse_now(redis_client)
    by_id = {i["id"]: i for i in load_incidents(redis_client)}
    assert len(by_id) == len(EVENTS), "the fixture's reports must stay separate incidents"
    return by_id


def names(candidates) -> list[str]:
    return [c.id.removeprefix("inc:usgs:") for c in candidates]


def test_candidates_rank_same_kind_first_then_distance_and_time_within_bounds(redis_client, fused):
    incident = fused["inc:usgs:open"]
    found = merge_candidates(redis_client, incident, TLP.AMBER)
    assert names(found) == ["nearest-earlier", "near-later", "edge", "flood-next-door"]
    first = found[0]
    assert first.kind == "earthquake" and first.sources == 1 and first.same_kind
    assert abs(first.distance_km - 10) < 0.1 and abs(first.hours + 0.5) < 1e-6
    assert first.title == "<b>nearest-earlier</b> report"  # kept as text: the panel renders it as a text node
    assert all(c.distance_km <= MAX_KM and abs(c.hours) <= MAX_HOURS for c in found)
    assert [c.score for c in found[:3]] == sorted(c.score for c in found[:3])
    assert not found[-1].same_kind and found[-1].score < found[0].score  # kind beats score
    assert names(merge_candidates(redis_client, incident, TLP.AMBER, limit=2)) == ["nearest-earlier", "near-later"]


def test_candidates_leave_out_the_incident_itself_and_what_the_reader_may_not_see(redis_client, fused):
    incident = fused["inc:usgs:open"]
    assert "red" not in names(merge_candidates(redis_client, incident, TLP.AMBER))
    assert "red" not in names(merge_candidates(redis_client, incident, TLP.CLEAR))
    assert names(merge_candidates(redis_client, incident, TLP.RED))[0] == "red"  # 1 km, 5 min: first when visible
    for ceiling in TLP:
        assert "open" not in names(merge_candidates(redis_client, incident, ceiling))
    # Seen from another incident, the open one is a candidate like any other.
    assert "open" in names(merge_candidates(redis_client, fused["inc:usgs:near-later"], TLP.AMBER))
    # An unplaced incident gets none (and is nobody's candidate: checked in the ranking above).
    assert merge_candidates(redis_client, fused["inc:usgs:unplaced"], TLP.RED) == []


def test_candidates_come_from_indexes_the_fuser_keeps_and_refills(redis_client, fused):
    incident = fused["inc:usgs:open"]
    assert redis_client.zcard(IncidentKeys.INCIDENT_TIME) == len(EVENTS)
    assert redis_client.zcard(IncidentKeys.INCIDENT_GEO) == len(EVENTS) - 1  # not the unplaced one
    before = names(merge_candidates(redis_client, incident, TLP.RED))
    # A store written before the indexes existed: a fuser's rebuild fills them (and drops strays).
    redis_client.delete(IncidentKeys.INCIDENT_TIME, IncidentKeys.INCIDENT_GEO)
    redis_client.zadd(IncidentKeys.INCIDENT_TIME, {"inc:gone": T0.timestamp()})
    assert merge_candidates(redis_client, incident, TLP.RED) == []
    fuser = Fuser(redis_client)
    assert fuser.acquire()
    try:
        fuser.rebuild()
    finally:
        fuser.release()
    assert redis_client.zscore(IncidentKeys.INCIDENT_TIME, "inc:gone") is None
    assert names(merge_candidates(redis_client, incident, TLP.RED)) == before
    # A merge removes the merged-away incident from the indexes with the hash, in one transaction.
    done = merge_incidents(redis_client, "inc:usgs:open", "inc:usgs:nearest-earlier", "olivia", wait=10)
    survivor = done["incident"]
    gone = ({"inc:usgs:open", "inc:usgs:nearest-earlier"} - {survivor}).pop()
    assert redis_client.zscore(IncidentKeys.INCIDENT_TIME, gone) is None and redis_client.geopos(IncidentKeys.INCIDENT_GEO, gone) == [None]
    stored = {i["id"]: i for i in load_incidents(redis_client)}
    after = names(merge_candidates(redis_client, stored[survivor], TLP.RED))
    assert gone.removeprefix("inc:usgs:") not in after and survivor.removeprefix("inc:usgs:") not in after
    assert after[:2] == ["red", "near-later"]
