"""Replay (#16) against a real Redis: the marathon exercise is served on loopback, polled through the
real feed path and fused by the real fuser, and what ``wf:incidents`` held is recorded at several
instants; the replay, built afterwards from the archive and the stream (read-only), must hold the same
incidents at the same instants, byte for byte. Also: alerts, annotations and levels as they were, a
viewer's replay holds nothing above their marking, bad windows are refused in one line."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from domain.access.accounts import Role, User
from domain.config.loader import load_config
from domain.config.scenario import load_scenario
from domain.operations import alerts as alert_store
from domain.operations import annotations
from domain.picture.keys import IncidentKeys
from domain.replay.frames import frame, incident_summary, rows_at
from domain.replay.history import entries
from domain.replay.picture import Replay, ReplayError, Window
from domain.replay.timeline import picture_lines, timeline
from domain.store.streams import EventKeys, FeedKeys
from feeds.model import Event, Kind, Severity
from watchfloor.exercise import ExerciseServer
from workers.fusion import Fuser
from workers.jobs import poll_feed
from workers.retention import Retention

pytestmark = pytest.mark.redis

FEEDS = ("exercise-quakes", "exercise-cap", "exercise-news")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def stored(client) -> dict[str, bytes]:
    return {k.decode(): v for k, v in client.hgetall(IncidentKeys.INCIDENTS).items()}


@pytest.fixture
def recorded(redis_client, tmp_path: Path) -> dict[str, Any]:
    """The marathon exercise run live, polled every 5 scenario minutes; the picture at each instant."""
    clock = Clock(time.time())
    archive = tmp_path / "archive"
    with ExerciseServer(load_scenario("marathon"), clock=clock) as server:
        config = load_config(env={"WATCHFLOOR_EXERCISE_URL": server.url, "WATCHFLOOR_DATA_DIR": str(tmp_path),
                                  "WATCHFLOOR_SCENARIO": "marathon"})
        fuser = Fuser(redis_client, window_hours=72, lock_ttl=30, checkpoint_seconds=3600,
                      retention=Retention(events_ms=1, archive=archive))
        assert fuser.acquire()
        fuser.rebuild()
        seen: dict[int, dict[str, bytes]] = {}
        started = time.time()
        for step in range(13):
            clock.now = started + step * 300
            for feed in FEEDS:
                redis_client.delete(FeedKeys.poll_lock(feed))
                poll_feed(feed, config, redis_client)
            while fuser.step(block_ms=1):
                pass
            if step == 6:  # an operator merges the two oldest incidents: the replay must follow the rule
                a, b = sorted(stored(redis_client))[:2]
                asked = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                redis_client.rpush(IncidentKeys.FUSION_OVERRIDES, orjson.dumps({"op": "merge", "incidents": [a, b],
                                                                                "user": "op", "requested": asked}))
                fuser.step(block_ms=1)
            seen[int(time.time() * 1000)] = stored(redis_client)  # what the screens held at this instant
            time.sleep(0.005)  # the next poll's entries get a later millisecond
        fuser.save_checkpoint()  # the retention archives and trims what the checkpoint holds
        fuser.release()
    return {"config": config, "seen": seen, "archive": archive}


def test_replay_of_the_exercise_holds_what_the_live_run_held_at_each_instant(redis_client, recorded) -> None:
    seen = recorded["seen"]
    assert int(redis_client.xlen(EventKeys.EVENTS)) == 0, "the stream was trimmed into the archive"
    assert sorted(recorded["archive"].glob("*.jsonl.gz")), "the archive was written"
    first, last = min(seen), max(seen)
    assert len({len(v) for v in seen.values()}) > 3, "the picture grew during the exercise"
    window = Window(datetime.fromtimestamp((first - 60_000) / 1000, UTC), datetime.fromtimestamp((last + 1) / 1000, UTC))
    before = dict(redis_client.hgetall(IncidentKeys.INCIDENTS))
    replay = Replay.build(redis_client, window, archive=recorded["archive"], fusion_window_hours=72)
    for instant, live in seen.items():
        assert replay.state_at(instant) == live, f"at {instant}"
        shown = [incident_summary(i) for i in replay.incidents_at(datetime.fromtimestamp(instant / 1000, UTC))]
        expected = sorted((incident_summary(orjson.loads(v)) for v in live.values()), key=lambda i: i["id"])
        assert sorted(shown, key=lambda i: i["id"]) == expected
    assert any(c.raw is None for c in replay.changes), "the operator's merge removed an incident in the replay too"
    assert dict(redis_client.hgetall(IncidentKeys.INCIDENTS)) == before, "a replay writes nothing"


def event(n: int, at: datetime, tlp: str | None = None) -> Event:
    return Event(id=f"t:{n}", source="test", kind=Kind.FIRE, time=at, title=f"fire {n}", lat=10.0 + n, lon=20.0,
                 severity=Severity.SEVERE, feed="test", tlp=tlp)


def write(client, items: list[tuple[int, Event]]) -> None:
    for ms, ev in items:
        raw, _ = ev.encoded()
        client.xadd(EventKeys.EVENTS, {"id": ev.id, "op": "new", "e": raw, "sup": ""}, id=f"{ms}-0")


def test_archive_then_stream_are_read_together_in_order(redis_client, tmp_path: Path) -> None:
    base = int(time.time() * 1000) - 3_600_000
    write(redis_client, [(base + i * 1000, event(i, datetime.now(UTC))) for i in range(10)])
    fuser = Fuser(redis_client, window_hours=72, lock_ttl=30, retention=Retention(events_ms=1, archive=tmp_path))
    assert fuser.acquire()
    fuser.rebuild()
    fuser.save_checkpoint()
    fuser.release()
    write(redis_client, [(base + 20_000 + i * 1000, event(10 + i, datetime.now(UTC))) for i in range(5)])
    got = [e.id for e in entries(redis_client, tmp_path)]
    assert got == [f"t:{i}" for i in range(15)]
    assert [e.id for e in entries(redis_client, tmp_path, until_ms=base + 20_000)] == [f"t:{i}" for i in range(11)]


def test_a_viewer_replay_holds_nothing_above_their_marking(redis_client) -> None:
    now = datetime.now(UTC)
    base = int(now.timestamp() * 1000) - 600_000
    write(redis_client, [(base, event(1, now)), (base + 1000, event(2, now, tlp="TLP:AMBER")),
                         (base + 2000, event(3, now, tlp="TLP:RED"))])
    replay = Replay.build(redis_client, Window(now - timedelta(minutes=20), now))
    viewer = User(name="vera", role=Role.VIEWER)
    at = now - timedelta(seconds=1)
    shown = frame(redis_client, replay, at, viewer, [])
    assert [i["id"] for i in shown["incidents"]] == ["inc:t:1"]
    assert all(d["id"] == "inc:t:1" for d in shown["threat"]["global"]["drivers"])
    boss = frame(redis_client, replay, at, User(name="sam", role=Role.SUPERVISOR), [])
    assert {i["id"] for i in boss["incidents"]} == {"inc:t:1", "inc:t:2", "inc:t:3"}
    lines = "\n".join(f"{i['text']}" for i in timeline(redis_client, replay, viewer))
    assert "fire 1" in lines and "fire 2" not in lines and "fire 3" not in lines


def test_alerts_and_annotations_as_they_were(redis_client) -> None:
    now = datetime.now(UTC)
    base = int(now.timestamp() * 1000) - 600_000
    write(redis_client, [(base, event(1, now))])
    fuser = Fuser(redis_client, window_hours=72, lock_ttl=30)
    assert fuser.acquire()
    fuser.rebuild()
    fuser.release()
    op = User(name="olga", role=Role.OPERATOR)
    alert = alert_store.issue(redis_client, {"headline": "Crowd surge at the finish", "severity": "severe"}, op,
                              sender="test")
    annotations.save(redis_client, "inc:t:1", {"status": "monitoring", "version": 0}, op)
    time.sleep(1.1)
    middle = datetime.now(UTC)
    time.sleep(1.1)
    alert_store.cancel(redis_client, alert["id"], op)
    annotations.save(redis_client, "inc:t:1", {"status": "resolved", "version": 1}, op)
    later = datetime.now(UTC) + timedelta(seconds=1)
    replay = Replay.build(redis_client, Window(now - timedelta(minutes=20), later))
    then = frame(redis_client, replay, middle, op, [])
    assert [(a["id"], a["status"]) for a in then["alerts"]] == [(alert["id"], "active")]
    assert then["annotations"]["inc:t:1"]["status"] == "monitoring"
    assert then["threat"]["global"]["contributors"] == 1
    after = frame(redis_client, replay, later, op, [])
    assert [a["status"] for a in after["alerts"]] == ["cancelled"]
    assert after["annotations"]["inc:t:1"]["status"] == "resolved"
    assert after["threat"]["global"]["contributors"] == 0, "a resolved incident leaves the score"
    kinds = [i["kind"] for i in timeline(redis_client, replay, op)]
    assert kinds.index("incident.new") < kinds.index("alert.issue") < kinds.index("alert.cancel")
    assert "incident.closed" in kinds
    assert picture_lines(then)[0].startswith("REPLAY — picture at ")


@pytest.mark.parametrize(("start", "end", "words"), [
    ("yesterday", "2026-01-01", "from: 'yesterday' is not a time"),
    ("2026-01-02", "2026-01-01", "is not after from"),
    ("2026-01-01", "2026-02-01", "at most 7 days"),
    ("2999-01-01", "2999-01-02", "in the future"),
])
def test_bad_windows_are_refused_in_one_line(start: str, end: str, words: str) -> None:
    with pytest.raises(ReplayError, match=words) as caught:
        Window.parse(start, end)
    assert "\n" not in str(caught.value)


def test_a_replay_keeps_the_agencies_sharing_rules(redis_client) -> None:
    """An MBTA report shared with its own agency only is in MBTA's replay and in nobody else's."""
    from domain.agencies.store import AgencyStore

    store = AgencyStore(redis_client)
    store.add("BFD", "Boston Fire Department", kind="fire-ems")
    store.add("MBTA", "MBTA Transit Police", kind="transit")
    now = datetime.now(UTC)
    base = int(now.timestamp() * 1000) - 600_000
    write(redis_client, [(base, event(1, now)), (base + 1000, event(2, now).replace(agency="MBTA", sharing="own"))])
    replay = Replay.build(redis_client, Window(now - timedelta(minutes=20), now))
    at = now - timedelta(seconds=1)
    fran, tom = User(name="fran", role=Role.OPERATOR, agency="BFD"), User(name="tom", role=Role.OPERATOR, agency="MBTA")
    assert [i["id"] for i in frame(redis_client, replay, at, fran, [])["incidents"]] == ["inc:t:1"]
    assert {i["id"] for i in frame(redis_client, replay, at, tom, [])["incidents"]} == {"inc:t:1", "inc:t:2"}
    assert [r["id"] for r in rows_at(redis_client, replay, at, fran)] == ["inc:t:1"]
    assert "fire 2" not in "\n".join(i["text"] for i in timeline(redis_client, replay, fran))
    assert "fire 2" in "\n".join(i["text"] for i in timeline(redis_client, replay, tom))
