"""Threat levels people can trust (domain/picture/threat.py), against a real Redis: one definition
for the whole picture and each workspace, one list of contributors, resolved and closed incidents
leave the score, and every change of level is logged with its cause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from domain.access.accounts import AccountStore, Role
from domain.access.tlp import TLP
from domain.operations import annotations
from domain.picture import threat
from domain.picture.keys import IncidentKeys, ThreatKeys
from layers.zones import Venue, Workspace
from tests.domain.test_access import PASSWORD

pytestmark = [pytest.mark.redis]

STADIUM = Workspace(id="stadium", name="Stadium", venues=(Venue("Stadium", 40.0, -75.0, 0.5),), near_km=5.0)


def incident(key: str, severity: str, lat: float, minutes_ago: float = 5, **extra) -> dict:
    when = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"id": f"inc:{key}", "title": f"{severity} {key}", "kind": "incident", "severity": severity,
            "lat": lat, "lon": -75.0, "time": when, "place": f"near {key}",
            "reports": [{"event_id": f"ev:{key}", "source": "rss"}], **extra}


def put(client, *items: dict) -> None:
    for item in items:
        client.hset(IncidentKeys.INCIDENTS, item["id"], orjson.dumps(item))
    threat.forget_cached(client)


@pytest.fixture
def olivia(redis_client):
    return AccountStore(redis_client).create("olivia", Role.OPERATOR, PASSWORD)


def test_one_definition_the_whole_picture_is_never_below_a_workspace():
    now = datetime.now(UTC)
    inside = incident("gate", "severe", 40.0)  # at the venue: full weight in both
    near = incident("road", "moderate", 40.02)  # 2 km out: part weight for the stadium
    far = incident("coast", "extreme", 41.5)  # far away: the whole picture only
    stale = incident("old", "extreme", 40.0, minutes_ago=7 * 60)  # out of the six-hour window
    whole = threat.assess([inside, near, far, stale], None, now)
    stadium = threat.assess([inside, near, far, stale], STADIUM, now)
    assert whole.contributors == 3 and stadium.contributors == 2
    assert whole.score == 4 + 2 + 8 and stadium.score < whole.score
    assert [d["id"] for d in stadium.drivers] == ["inc:gate", "inc:road"]
    assert stadium.drivers[0]["where"] == "inside Stadium" and "km from Stadium" in stadium.drivers[1]["where"]
    assert [d["id"] for d in whole.drivers] == ["inc:coast", "inc:gate", "inc:road"]  # heaviest first
    # The drivers add up to the score: the level is explained by its list.
    assert sum(d["weight"] for d in stadium.drivers) == pytest.approx(stadium.score)
    resolved = threat.assess([inside, near, far], STADIUM, now, closed={"inc:gate"})
    assert [d["id"] for d in resolved.drivers] == ["inc:road"]


def test_every_reader_sees_the_same_list_and_a_resolution_takes_the_incident_out(redis_client, olivia):
    put(redis_client, incident("gate", "severe", 40.0), incident("fence", "severe", 40.001),
        incident("crowd", "severe", 40.002), incident("bag", "extreme", 40.0))
    summary = threat.threat_summary(redis_client, [STADIUM], TLP.GREEN)
    stadium = summary["workspaces"]["stadium"]
    assert (stadium["level"], stadium["score"], stadium["contributors"]) == ("HIGH", 20.0, 4)
    assert summary["global"]["name"] == "Whole picture" and summary["global"]["score"] >= stadium["score"]
    # Cached for every marking at once: the desk (AMBER), the tablet and the wall read one computation.
    assert threat.threat_summary(redis_client, [STADIUM], TLP.AMBER)["workspaces"]["stadium"] == stadium

    annotations.save(redis_client, "inc:bag", {"version": 0, "status": "resolved"}, olivia)
    threat.forget_cached(redis_client)  # what the annotation route does when a status changes
    after = threat.threat_summary(redis_client, [STADIUM], TLP.GREEN)["workspaces"]["stadium"]
    assert "inc:bag" not in [d["id"] for d in after["drivers"]]
    assert (after["level"], after["score"], after["contributors"]) == ("ELEVATED", 12.0, 3)
    annotations.save(redis_client, "inc:gate", {"version": 0, "status": "closed"}, olivia)
    threat.forget_cached(redis_client)
    assert threat.threat_summary(redis_client, [STADIUM], TLP.GREEN)["workspaces"]["stadium"]["score"] == 8.0
    # Reopened: it counts again.
    annotations.save(redis_client, "inc:bag", {"version": 1, "status": "monitoring"}, olivia)
    threat.forget_cached(redis_client)
    assert threat.threat_summary(redis_client, [STADIUM], TLP.GREEN)["workspaces"]["stadium"]["score"] == 16.0


def test_a_resolution_in_a_note_above_the_readers_marking_is_not_told_to_them(redis_client, olivia):
    put(redis_client, incident("gate", "severe", 40.0))
    annotations.save(redis_client, "inc:gate", {"version": 0, "status": "resolved", "tlp": "TLP:AMBER"}, olivia)
    threat.forget_cached(redis_client)
    assert threat.threat_summary(redis_client, [STADIUM], TLP.AMBER)["global"]["contributors"] == 0
    assert threat.threat_summary(redis_client, [STADIUM], TLP.GREEN)["global"]["contributors"] == 1


def test_screens_list_the_same_contributors_and_say_how_many_more():
    from dashboard.panels.status import board_panel, threat_panel

    now = datetime.now(UTC)
    items = [incident(f"i{n}", "moderate", 40.0, minutes_ago=n) for n in range(9)]
    level = {"name": "Stadium", **threat.assess(items, STADIUM, now).as_dict()}
    desk = threat_panel(level, title="Stadium", key="stadium")[1]
    tile = board_panel({"global": {"name": "Whole picture", **level}, "workspaces": {"stadium": level}})[0].children[1]
    wall = tile.children[2]
    listed = [[li.to_plotly_json()["props"].get("data-wf-id") for li in ul.children] for ul in (desk, wall)]
    assert listed[0] == listed[1] == [f"inc:i{n}" for n in range(threat.DRIVERS_SHOWN)] + [None]
    assert desk.children[-1].children == f"and {9 - threat.DRIVERS_SHOWN} more, together +6"


def test_a_change_of_level_is_logged_once_with_its_cause(redis_client, olivia):
    start = datetime.now(UTC) - timedelta(seconds=1)
    put(redis_client, incident("gate", "moderate", 40.0))
    threat.threat_summary(redis_client, [STADIUM], TLP.GREEN)
    put(redis_client, incident("bag", "extreme", 40.0), incident("fence", "severe", 40.0))
    # Two processes computing the same levels at once log the change once.
    found = threat.evaluate(redis_client, [STADIUM])
    now = datetime.now(UTC)
    assert threat.record_changes(redis_client, found, now) > 0
    assert threat.record_changes(redis_client, found, now) == 0
    annotations.save(redis_client, "inc:bag", {"version": 0, "status": "resolved"}, olivia)
    threat.forget_cached(redis_client)
    threat.threat_summary(redis_client, [STADIUM], TLP.GREEN)

    log = threat.level_changes(redis_client, start, ceiling=TLP.GREEN, scope="stadium")
    assert [(c["from"], c["to"]) for c in log] == [("", "GUARDED"), ("GUARDED", "HIGH"), ("HIGH", "ELEVATED")]
    rise, fall = log[1], log[2]
    assert [(c["id"], c["why"]) for c in rise["cause"]] == [("inc:bag", "new"), ("inc:fence", "new")]
    assert rise["score"] == 14.0 and rise["was"] == 2.0 and rise["name"] == "Stadium"
    assert fall["cause"][0] == {"id": "inc:bag", "title": "extreme bag", "severity": "extreme", "delta": -8.0,
                                "why": "resolved by olivia"}
    assert fall["text"].startswith("HIGH → ELEVATED: −8 extreme bag (resolved by olivia)")
    # Each marking keeps its own history; a window before the first change holds nothing.
    assert [c["to"] for c in threat.level_changes(redis_client, start, ceiling=TLP.RED, scope="stadium")] == [
        "GUARDED", "HIGH", "ELEVATED"]
    assert threat.level_changes(redis_client, start - timedelta(hours=1), start) == []
    assert redis_client.hget(ThreatKeys.THREAT_LEVELS, "TLP:GREEN|stadium").decode() == "ELEVATED 6.0"


def test_an_incident_that_leaves_the_window_is_named_as_such(redis_client):
    start = datetime.now(UTC) - timedelta(seconds=1)
    put(redis_client, incident("quake", "extreme", 40.0, minutes_ago=359), incident("smoke", "minor", 40.0))
    threat.threat_summary(redis_client, [STADIUM], TLP.CLEAR)
    put(redis_client, incident("quake", "extreme", 40.0, minutes_ago=361), incident("smoke", "minor", 40.0))
    threat.threat_summary(redis_client, [STADIUM], TLP.CLEAR)
    fall = threat.level_changes(redis_client, start, ceiling=TLP.CLEAR, scope="global")[-1]
    assert (fall["from"], fall["to"]) == ("ELEVATED", "LOW")
    assert fall["cause"][0]["why"] == "left the 6-hour window"
    # A withdrawn (superseded) incident is named as such.
    put(redis_client, incident("quake", "extreme", 40.0), incident("smoke", "minor", 40.0))
    threat.threat_summary(redis_client, [STADIUM], TLP.CLEAR)
    put(redis_client, incident("quake", "extreme", 40.0, superseded=["ev:quake"]))
    threat.threat_summary(redis_client, [STADIUM], TLP.CLEAR)
    gone = threat.level_changes(redis_client, start, ceiling=TLP.CLEAR, scope="global")[-1]
    assert gone["cause"][0]["id"] == "inc:quake" and gone["cause"][0]["why"] == "withdrawn, superseded or merged"


def test_an_idle_floor_reuses_the_levels_until_an_incident_changes(redis_client, monkeypatch):
    """While ``wf:incident-changes`` has no new entry the levels are reused (up to IDLE_SECONDS),
    not recomputed on every tick; a change entry makes the next read recompute them."""
    monkeypatch.setattr(threat, "CACHE_SECONDS", 0)  # only the change stream decides here
    put(redis_client, incident("a", "minor", 40.0))
    redis_client.xadd(IncidentKeys.INCIDENT_CHANGES, {"id": "inc:a", "op": "upsert"})
    first = threat.threat_summary(redis_client, [], TLP.CLEAR)["global"]
    assert first["score"] == 0.5
    # Stored without a change entry (no fuser writes that way): the cached levels stand.
    redis_client.hset(IncidentKeys.INCIDENTS, "inc:b", orjson.dumps(incident("b", "extreme", 40.0)))
    assert threat.threat_summary(redis_client, [], TLP.CLEAR)["global"]["score"] == 0.5
    redis_client.xadd(IncidentKeys.INCIDENT_CHANGES, {"id": "inc:b", "op": "upsert"})
    assert threat.threat_summary(redis_client, [], TLP.CLEAR)["global"]["score"] == 8.5


def test_assess_with_parsed_times_agrees_with_assess_reading_them():
    now = datetime.now(UTC)
    items = [incident(f"k{i}", sev, 40.0 + i / 100, minutes_ago=m)
             for i, (sev, m) in enumerate([("severe", 5), ("severe", 50), ("minor", 9), ("extreme", 200), ("moderate", 1)])]
    times = {i["id"]: threat._when(i).timestamp() for i in items}
    for scope in (None, STADIUM):
        plain, parsed = threat.assess(items, scope, now), threat.assess(items, scope, now, times=times)
        assert plain.as_dict() == parsed.as_dict() and plain.basis == parsed.basis


def test_a_big_pictures_remaining_weight_reads_as_a_number_not_in_scientific_notation():
    from dashboard.panels.status import threat_panel

    drivers = [{"id": f"inc:{n}", "title": "t", "severity": "extreme", "weight": 8.0, "where": ""} for n in range(6)]
    level = {"name": "Whole picture", "level": "SEVERE", "colour": "#d55e00", "score": 12127.25, "drivers": drivers,
             "contributors": 10_000, "window_hours": 6.0}
    more = threat_panel(level, title="Whole picture")[1].children[-1].children
    assert more == "and 9,994 more, together +12,079.25"


def test_an_agency_own_incident_raises_its_members_level_and_no_one_elses(redis_client):
    from domain.agencies.access import Reader

    since = datetime.now(UTC) - timedelta(minutes=1)
    tip = incident("tip", "extreme", 40.0, agency="BPD", sharing="own",
                   owners=[{"agency": "BPD", "sharing": "own", "event_id": "ev:tip"}])
    put(redis_client, incident("gate", "moderate", 40.0), tip)
    host = threat.threat_summary(redis_client, [STADIUM], TLP.AMBER)
    bpd = threat.threat_summary(redis_client, [STADIUM], Reader(TLP.AMBER, "BPD"))
    fd = threat.threat_summary(redis_client, [STADIUM], Reader(TLP.AMBER, "FD"))
    assert [d["id"] for d in host["global"]["drivers"]] == ["inc:gate"]
    assert fd == host  # another agency: only what is shared with all
    assert [d["id"] for d in bpd["global"]["drivers"]] == ["inc:tip", "inc:gate"]
    assert bpd["workspaces"]["stadium"]["score"] == host["workspaces"]["stadium"]["score"] + 8
    assert bpd["global"]["level"] != host["global"]["level"]
    # Each reader's change of level is logged with its cause, and only theirs is read back.
    theirs = threat.level_changes(redis_client, since, ceiling=Reader(TLP.AMBER, "BPD"), scope=threat.GLOBAL)
    assert theirs[-1]["to"] == bpd["global"]["level"] and "inc:tip" in [c["id"] for c in theirs[-1]["cause"]]
    hosts = threat.level_changes(redis_client, since, ceiling=TLP.AMBER, scope=threat.GLOBAL)
    assert hosts[-1]["to"] == host["global"]["level"]
    assert "inc:tip" not in [c["id"] for h in hosts for c in h["cause"]]
    # A resolution drops every cached level, the agencies' too.
    redis_client.hset(IncidentKeys.INCIDENTS, "inc:tip", orjson.dumps({**tip, "severity": "minor"}))
    threat.forget_cached(redis_client)
    again = threat.threat_summary(redis_client, [STADIUM], Reader(TLP.AMBER, "BPD"))
    assert again["global"]["score"] < bpd["global"]["score"]



def test_levels_computed_across_a_resolution_are_not_kept(redis_client, olivia, monkeypatch):
    """A computation that began before a resolution and wrote its levels after it must not be reused:
    the change stream does not move for a resolution, so without the generation forget_cached moves
    those stale levels stood for a minute (IDLE_SECONDS) on whichever screens read them."""
    put(redis_client, incident("bag", "extreme", 40.0), incident("road", "moderate", 40.02))
    redis_client.xadd(IncidentKeys.INCIDENT_CHANGES, {"id": "inc:bag", "op": "upsert"})
    original = threat.evaluate

    def resolved_meanwhile(*args, **kwargs):
        found = original(*args, **kwargs)  # read while the bag was open ...
        annotations.save(redis_client, "inc:bag", {"version": 0, "status": "resolved"}, olivia)
        threat.forget_cached(redis_client)  # ... resolved before the levels are written
        return found

    monkeypatch.setattr(threat, "evaluate", resolved_meanwhile)
    stale = threat.threat_summary(redis_client, [STADIUM], TLP.AMBER)  # (the note is TLP:GREEN)
    assert [d["id"] for d in stale["global"]["drivers"]] == ["inc:bag", "inc:road"]
    monkeypatch.setattr(threat, "evaluate", original)
    fresh = threat.threat_summary(redis_client, [STADIUM], TLP.AMBER)
    assert [d["id"] for d in fresh["global"]["drivers"]] == ["inc:road"]
