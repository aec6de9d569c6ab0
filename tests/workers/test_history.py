"""Bounded for years (#19), against a real Redis: the fuser resumes from its checkpoint (only new
entries are applied), the report stream is trimmed past its retention and archived first (a restart
after trimming, from the checkpoint or from the archive, gives the same incidents), and incidents
age out of the live set into ``wf:incidents:aged``, where they are still found by id.

Histories are written straight into ``wf:events`` with explicit stream ids, so days of ingest time
pass in a test: the fuser's window, the retention and the ageing all count stream time."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from domain.operations.annotations import find_incident
from domain.picture import incidents as picture
from domain.picture.keys import IncidentKeys
from domain.store.archive import read_archive
from domain.store.streams import EventKeys, supersedes_of
from feeds.model import Event, Kind, Severity
from workers.fusion import Fuser
from workers.overrides import load_incidents
from workers.retention import DAY_MS, Retention

pytestmark = pytest.mark.redis

START = datetime(2026, 1, 1, tzinfo=UTC)
HOUR_MS = 3_600_000


def quake(n: int, at: datetime, *, second: bool = False) -> Event:
    """Quake ``n`` (its own place), or a second source's report of it."""
    lat, lon = -40.0 + (n * 7.3) % 80, -170.0 + (n * 13.7) % 340
    if second:
        return Event(id=f"gdacs:EQ{n}", source="gdacs", kind=Kind.EARTHQUAKE, time=at + timedelta(seconds=20),
                     title=f"Green earthquake alert (Magnitude 5.1M, Depth:10km) {n}", lat=lat + 0.05, lon=lon + 0.05,
                     magnitude=5.1, severity=Severity.MODERATE, feed="gdacs")
    return Event(id=f"usgs:q{n}", source="usgs-geojson", kind=Kind.EARTHQUAKE, time=at, title=f"M 5.0 - quake {n}",
                 lat=lat, lon=lon, magnitude=5.0, severity=Severity.MODERATE, feed="usgs", extra={"ids": [f"q{n}"]})


def history(client, first: int, last: int, *, every_hours: float = 6.0, fuser: Fuser | None = None) -> int:
    """Quakes ``first``..``last - 1``, one every ``every_hours`` of stream time from START, each with a
    second report a minute later (one incident of two reports each), fused as they arrive (as the
    live fuser does: each incident is stored while in the window). Returns the last stream ms."""
    fuser = fuser or Fuser(client, window_hours=24, lock_ttl=5, checkpoint_seconds=3600)
    assert fuser.acquire()
    try:
        if fuser.cursor == "0-0":
            fuser.rebuild()
        ms = 0
        for n in range(first, last):
            at = START + timedelta(hours=n * every_hours)
            ms = int(at.timestamp() * 1000)
            for offset, event in ((0, quake(n, at)), (60_000, quake(n, at, second=True))):
                raw, _ = event.encoded()
                client.xadd(EventKeys.EVENTS, {"id": event.id, "op": "new", "e": raw,
                                               "sup": " ".join(supersedes_of(event))}, id=f"{ms + offset}-0")
            while fuser.step(block_ms=1):
                pass
    finally:
        fuser.release()
    return ms + 60_000


def fuse(client, **kw) -> tuple[Fuser, int]:
    """A fuser's start (resume or whole replay) as `watchfloor fuse` does it; returns it and the
    number of entries it replayed."""
    fuser = Fuser(client, window_hours=24, lock_ttl=5, checkpoint_seconds=0, **kw)
    assert fuser.acquire()
    try:
        return fuser, fuser.rebuild()
    finally:
        fuser.release()


def stored(client) -> dict[bytes, bytes]:
    return client.hgetall(IncidentKeys.INCIDENTS)


def test_a_restart_resumes_from_the_checkpoint_and_applies_only_new_entries(redis_client):
    history(redis_client, 0, 40)  # ten days
    _, replayed = fuse(redis_client)
    assert replayed == 80 and len(stored(redis_client)) == 40
    assert redis_client.exists(IncidentKeys.FUSION_CHECKPOINT)
    history(redis_client, 40, 45)
    _, replayed = fuse(redis_client)
    assert replayed == 10  # the new entries only, not the ten days before them
    after = stored(redis_client)
    assert len(after) == 45 and all(len(orjson.loads(v)["reports"]) == 2 for v in after.values())
    changes = redis_client.xlen(IncidentKeys.INCIDENT_CHANGES)

    # The same incidents as the whole replay: without the checkpoint, nothing is written again.
    redis_client.delete(IncidentKeys.FUSION_CHECKPOINT)
    _, replayed = fuse(redis_client)
    assert replayed == 90
    assert stored(redis_client) == after and redis_client.xlen(IncidentKeys.INCIDENT_CHANGES) == changes

    # A checkpoint written with another fusion window is not used: the whole history is replayed.
    fuser = Fuser(redis_client, window_hours=48, lock_ttl=5)
    assert fuser.acquire()
    try:
        assert fuser.rebuild() == 90
    finally:
        fuser.release()


def test_new_entries_after_a_resume_fuse_with_incidents_the_checkpoint_holds(redis_client):
    """The restored correlator is live: a second report arriving after the restart joins the incident
    of the first, which only the checkpoint knew about (the stream before it was not replayed)."""
    ms = history(redis_client, 0, 4)
    fuse(redis_client)
    late = quake(3, START + timedelta(hours=18), second=True).replace(id="gdacs:EQ3-late", feed="gdacs-2")
    raw, _ = late.encoded()
    redis_client.xadd(EventKeys.EVENTS, {"id": late.id, "op": "new", "e": raw, "sup": ""}, id=f"{ms + 1000}-0")
    _, replayed = fuse(redis_client)
    assert replayed == 1
    incident = orjson.loads(redis_client.hget(IncidentKeys.INCIDENTS, "inc:usgs:q3"))
    assert {r["event_id"] for r in incident["reports"]} == {"usgs:q3", "gdacs:EQ3", "gdacs:EQ3-late"}


def test_the_stream_is_archived_then_trimmed_and_a_restart_gives_the_same_incidents(redis_client, tmp_path):
    last_ms = history(redis_client, 0, 120)  # thirty days, 240 entries
    archive = tmp_path / "archive" / "events"
    retention = Retention(events_ms=10 * DAY_MS, archive=archive, clock=lambda: last_ms / 1000 + 60)
    fuser, _ = fuse(redis_client, retention=retention)
    before = stored(redis_client)
    assert len(before) == 120
    assert fuser.acquire()
    try:
        done = retention.run(fuser)  # what the fuser does after each checkpoint
    finally:
        fuser.release()
    kept = redis_client.xlen(EventKeys.EVENTS)
    assert done["archived"] == 240 - kept and 70 <= kept <= 90  # about the last ten days
    oldest = int(redis_client.xrange(EventKeys.EVENTS, count=1)[0][0].split(b"-")[0])
    assert oldest >= last_ms - 10 * DAY_MS - 6 * HOUR_MS
    archived = list(read_archive(archive))
    assert len(archived) == done["archived"] and archived[0].id == "usgs:q0"
    assert archive.stat().st_mode & 0o777 == 0o700 and all(p.stat().st_mode & 0o777 == 0o600 for p in archive.iterdir())
    info = redis_client.hgetall(EventKeys.ARCHIVED)
    assert info[b"through"].decode() == archived[-1].stream_id

    # A restart from the checkpoint: the same incidents, nothing rewritten.
    changes = redis_client.xlen(IncidentKeys.INCIDENT_CHANGES)
    _, replayed = fuse(redis_client, retention=retention)
    assert replayed == 0 and stored(redis_client) == before
    # Without the checkpoint: the archive, then the stream, give the same incidents.
    redis_client.delete(IncidentKeys.FUSION_CHECKPOINT)
    _, replayed = fuse(redis_client, retention=retention)
    assert replayed == 240 and stored(redis_client) == before
    # Without the checkpoint nor the archive (another host's fuser): what was trimmed is kept as stored.
    redis_client.delete(IncidentKeys.FUSION_CHECKPOINT)
    shutil.rmtree(archive)
    fuser, replayed = fuse(redis_client, retention=Retention(events_ms=10 * DAY_MS, archive=tmp_path / "none"))
    assert replayed == kept and not fuser.history_complete
    assert stored(redis_client) == before and redis_client.xlen(IncidentKeys.INCIDENT_CHANGES) == changes


def test_nothing_unread_or_unchecked_is_trimmed(redis_client, tmp_path):
    last_ms = history(redis_client, 0, 40)
    retention = Retention(events_ms=1 * DAY_MS, archive=tmp_path / "a", clock=lambda: last_ms / 1000 + 60)
    fuser = Fuser(redis_client, window_hours=24, lock_ttl=5)
    assert fuser.acquire()
    try:
        assert retention.run(fuser)["archived"] == 0  # no checkpoint yet: nothing may go
        fuser.rebuild()  # writes one
        reader = "partner"  # another consumer group that has read only the first ten entries
        redis_client.xgroup_create(EventKeys.EVENTS, reader, id="0")
        redis_client.xreadgroup(reader, "c1", {EventKeys.EVENTS: ">"}, count=10)
        redis_client.xack(EventKeys.EVENTS, reader, *[sid for sid, _ in redis_client.xrange(EventKeys.EVENTS, count=10)])
        assert retention.run(fuser)["archived"] == 10
    finally:
        fuser.release()
    assert redis_client.xlen(EventKeys.EVENTS) == 70


def test_incidents_age_out_of_the_live_set_and_stay_retrievable(redis_client, tmp_path):
    last_ms = history(redis_client, 0, 40)  # ten days; the last quakes are hours old at "now"
    now = last_ms / 1000 + 60
    retention = Retention(incident_age_ms=3 * DAY_MS, clock=lambda: now)
    fuser, _ = fuse(redis_client, retention=retention)
    assert fuser.acquire()
    try:
        assert retention.run(fuser)["aged"] > 0
    finally:
        fuser.release()
    live = {k.decode() for k in redis_client.hkeys(IncidentKeys.INCIDENTS)}
    aged = {k.decode() for k in redis_client.hkeys(IncidentKeys.INCIDENTS_AGED)}
    assert live and aged and not live & aged and len(live | aged) == 40
    assert "inc:usgs:q0" in aged and "inc:usgs:q39" in live
    newest_aged = max(int(i.removeprefix("inc:usgs:q")) for i in aged)
    assert START + timedelta(hours=6 * newest_aged) <= datetime.fromtimestamp(now, UTC) - timedelta(days=3)
    # Off the screens: out of the indexes, and a removal in the change stream for each.
    assert redis_client.zscore(IncidentKeys.INCIDENT_TIME, "inc:usgs:q0") is None
    assert redis_client.zscore(IncidentKeys.INCIDENT_UPDATED, "inc:usgs:q0") is None
    removed = {f[b"id"].decode() for _, f in redis_client.xrange(IncidentKeys.INCIDENT_CHANGES) if f.get(b"aged")}
    assert removed == aged
    rows, _, _ = picture.changes_after(redis_client, "0-0", count=10_000)
    assert {r["id"] for r in rows if r.get("hide")} == aged
    # Still found by id: the drawer, the operator API and the CLI.
    incident, reports = picture.incident_with_reports(redis_client, "inc:usgs:q0")
    assert incident is not None and incident["id"] == "inc:usgs:q0"
    assert find_incident(redis_client, "inc:usgs:q0")["title"] == incident["title"]
    assert {i["id"] for i in load_incidents(redis_client, aged=True)} == aged
    # A restart neither brings them back nor rewrites them.
    _, replayed = fuse(redis_client, retention=retention)
    assert {k.decode() for k in redis_client.hkeys(IncidentKeys.INCIDENTS)} == live


def test_the_threat_window_reads_only_incidents_of_its_window(redis_client):
    history(redis_client, 0, 40)
    fuse(redis_client)
    when = START + timedelta(hours=6 * 30)
    window = ((when - timedelta(hours=13)).timestamp(), when.timestamp())
    ids = {i["id"] for i in picture.live_incidents_between(redis_client, *window)}
    assert ids == {"inc:usgs:q28", "inc:usgs:q29", "inc:usgs:q30"}
    every = picture.live_incidents_with_areas(redis_client)
    assert {i["id"] for i in picture.live_incidents_with_areas(redis_client, between=window)} == ids
    assert len(every) == 40


@pytest.fixture(autouse=True)
def _no_archive_left(tmp_path: Path):
    yield
    shutil.rmtree(tmp_path, ignore_errors=True)
