"""EventStore against a real Redis server: idempotent ingest, updates, supersession, cursors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.store.streams import EventKeys, EventStore, FeedHealth, FeedKeys, load_health, save_health
from feeds.model import Event, Kind, Severity

pytestmark = pytest.mark.redis

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def quake(eid: str, mag: float = 4.0, **kw) -> Event:
    return Event(id=eid, source="usgs", kind=Kind.EARTHQUAKE, title=f"M {mag} quake", time=T0,
                 lat=35.6, lon=-117.7, magnitude=mag, severity=Severity.MINOR, **kw)


def test_repolling_the_same_events_appends_nothing(redis_client):
    store = EventStore(redis_client)
    first = store.append([quake("usgs:a"), quake("usgs:b")])
    again = store.append([quake("usgs:a"), quake("usgs:b")])
    assert (first.new, first.updated, first.seen) == (2, 0, 0)
    assert (again.new, again.updated, again.seen) == (0, 0, 2)
    assert redis_client.xlen(EventKeys.EVENTS) == 2
    assert store.count() == 2


def test_fetch_time_alone_is_not_an_update(redis_client):
    store = EventStore(redis_client)
    store.append([quake("usgs:a", provenance={"feed": "f", "fetched_at": "2026-11-22T10:00:00Z"})])
    counts = store.append([quake("usgs:a", provenance={"feed": "f", "fetched_at": "2026-11-22T10:05:00Z"})])
    assert counts.seen == 1 and redis_client.xlen(EventKeys.EVENTS) == 1


def test_revised_magnitude_updates_in_place(redis_client):
    store = EventStore(redis_client)
    store.append([quake("usgs:a", 4.0)])
    counts = store.append([quake("usgs:a", 4.4)])
    assert counts.updated == 1
    assert store.count() == 1
    assert store.get("usgs:a")["magnitude"] == 4.4
    ops = [e.op for e in store.read_after("0-0")]
    assert ops == ["new", "update"]


def test_cursor_reads_strictly_after_and_loses_nothing(redis_client):
    store = EventStore(redis_client)
    store.append([quake(f"usgs:{i}") for i in range(5)])
    first = store.read_after("0-0", count=3)
    rest = store.read_after(first[-1].stream_id, count=100)
    assert [e.id for e in first + rest] == [f"usgs:{i}" for i in range(5)]
    assert store.read_after(rest[-1].stream_id) == []


def test_cap_update_supersedes_the_alert_it_references(redis_client):
    store = EventStore(redis_client)
    alert = quake("cap:1")
    update = quake("cap:2", extra={"cap": {"msgType": "Update", "references_ids": ["cap:1"]}})
    store.append([alert, update])
    assert [e["id"] for e in store.current()] == ["cap:2"]
    entries = store.read_after("0-0")
    assert entries[-1].id == "cap:2" and entries[-1].supersedes == ("cap:1",)


def test_replaying_the_stream_gives_the_current_picture(redis_client):
    store = EventStore(redis_client)
    store.append([quake("a", 4.0), quake("b", 5.0)])
    store.append([quake("a", 4.5), quake("c", extra={"cap": {"references_ids": ["b"]}})])
    picture: dict[str, dict] = {}
    for entry in store.read_after("0-0"):
        picture[entry.id] = entry.event
        for gone in entry.supersedes:
            picture.pop(gone, None)
    assert set(picture) == {e["id"] for e in store.current()} == {"a", "c"}


def test_feed_health_round_trips_through_redis(redis_client):
    health = FeedHealth(feed_id="usgs", status="timeout", reason="no answer in 20 s", failures=3,
                        last_attempt=1.5, warnings=["bad date"])
    save_health(redis_client, health)
    back = load_health(redis_client, "usgs")
    assert back == health
    assert redis_client.sismember(FeedKeys.FEEDS, "usgs")


def test_one_batch_behaves_as_the_same_events_one_by_one(redis_client):
    """The append script takes many events per call: two versions of one report in a batch are a
    new then an update, in order, and a batch longer than one call splits without losing any."""
    store = EventStore(redis_client)
    counts = store.append([quake("usgs:a", 4.0), quake("usgs:a", 4.4), quake("usgs:a", 4.4)])
    assert (counts.new, counts.updated, counts.seen) == (1, 1, 1)
    assert [f[b"op"] for _, f in redis_client.xrange(EventKeys.EVENTS)] == [b"new", b"update"]
    many = [quake(f"usgs:m{i}") for i in range(450)]  # more than one script call (APPEND_BATCH)
    assert store.append(many).new == 450
    assert store.append(many).seen == 450
    assert redis_client.xlen(EventKeys.EVENTS) == 452


def test_stored_rows_are_remembered_per_feed_with_their_fingerprint(redis_client):
    """A row appended with its parse-time fingerprint is reported unchanged for that feed only, for
    that fingerprint only, and forgotten after a day."""
    store = EventStore(redis_client)
    placed, unplaced = quake("usgs:a"), Event(id="rss:b", source="rss", kind=Kind.NEWS, title="b", time=T0)
    store.append([placed, unplaced], feed_id="f", rows=["fp-a", "fp-b"])
    rows = [("usgs:a", "fp-a"), ("rss:b", "fp-b"), ("usgs:a", "fp-a2"), ("usgs:c", "fp-c")]
    assert store.unchanged_rows("f", rows) == [True, False, None, None]  # stored placed, unplaced; changed; new
    assert store.unchanged_rows("other", rows) == [None, None, None, None]
    ttl = redis_client.ttl(FeedKeys.row("f", "usgs:a"))
    assert 86_000 < ttl <= 86_400
    store.append([quake("usgs:a", 5.0)])  # appended without rows (the CLI): the memory is left as it was
    assert redis_client.get(FeedKeys.row("f", "usgs:a")).startswith(b"fp-a ")
    with pytest.raises(ValueError, match="one fingerprint per event"):
        store.append([placed], feed_id="f", rows=[])

