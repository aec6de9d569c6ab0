"""A re-poll of an unchanged document places nothing again: poll_feed end to end (real HTTP on
loopback, real Redis), counting the reports handed to the geocoder."""

from __future__ import annotations

import pytest

from domain.store.streams import EventKeys, EventStore, FeedKeys, load_health
from feeds.contract import FeedConfig
from tests.workers.test_jobs import config_for, feed_server  # noqa: F401 - the loopback feed server fixture
from workers import ingest
from workers.jobs import poll_feed

pytestmark = pytest.mark.redis

HEADER = "latitude,longitude,brightness,scan,track,acq_date,acq_time,satellite,confidence,version,bright_t31,frp,daynight"
ROWS = [
    "35.55010,-117.75020,330.1,1.0,1.0,2025-03-25,0410,T,80,6.1NRT,290.0,{frp},D",
    "34.05000,-118.24000,331.2,1.0,1.0,2025-03-25,0410,T,60,6.1NRT,291.0,12.5,D",
    "60.17000,24.94000,332.3,1.0,1.0,2025-03-25,0555,A,40,6.1NRT,292.0,8.0,N",
]


def firms(frp: float = 20.0, tail: bytes = b"") -> bytes:
    return ("\n".join([HEADER, *(r.format(frp=frp) for r in ROWS)]) + "\n").encode() + tail


RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>
<item><guid>n1</guid><title>Flooding closes roads in Sacramento, California</title>
<pubDate>Tue, 25 Mar 2025 10:00:00 GMT</pubDate></item>
<item><guid>n2</guid><title>Council meets on Tuesday</title><pubDate>Tue, 25 Mar 2025 10:00:00 GMT</pubDate></item>
</channel></rss>"""


@pytest.fixture
def geocoder_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many reports the worker hands to the geocoder (placing words, naming positions)."""
    calls = {"placed": 0, "described": 0}
    place, describe = ingest.place_event, ingest.describe_events

    def counting_place(event, **kw):
        calls["placed"] += 1
        return place(event, **kw)

    def counting_describe(events):
        calls["described"] += len(events)
        return describe(events)

    monkeypatch.setattr(ingest, "place_event", counting_place)
    monkeypatch.setattr(ingest, "describe_events", counting_describe)
    return calls


def poll(redis_client, config, feed_id: str) -> dict[str, object]:
    redis_client.delete(FeedKeys.poll_lock(feed_id))
    return poll_feed(feed_id, config=config, client=redis_client)


def test_an_unchanged_repoll_places_nothing_and_a_changed_row_is_placed_again(
        redis_client, feed_server, geocoder_calls):  # noqa: F811
    base, routes = feed_server
    feed = FeedConfig(id="fires", url=f"{base}/f.csv", format="firms-csv", interval=5, allow_local=True)
    config = config_for(base, feed)
    routes.body["/f.csv"] = (200, "text/csv", firms())
    first = poll(redis_client, config, "fires")
    assert first["new"] == 3 and geocoder_calls["described"] == 3
    stored = EventStore(redis_client).current()
    assert all(e["place"] for e in stored)  # named ("12 km SW of ...") on the first poll

    # The same rows in a new copy of the file (another ETag): parsed, looked up, nothing placed.
    routes.body["/f.csv"] = (200, "text/csv", firms(tail=b"\n"))
    geocoder_calls.update(placed=0, described=0)
    again = poll(redis_client, config, "fires")
    assert geocoder_calls == {"placed": 0, "described": 0}
    assert (again["new"], again["updated"], again["seen"]) == (0, 0, 3)
    health = load_health(redis_client, "fires")
    assert health.items == 3 and health.unplaced == 0
    assert redis_client.xlen(EventKeys.EVENTS) == 3
    assert EventStore(redis_client).current() == stored

    # One row revised (its fire radiative power): that row, and only it, is placed and updated.
    routes.body["/f.csv"] = (200, "text/csv", firms(frp=400.0))
    changed = poll(redis_client, config, "fires")
    assert geocoder_calls["described"] == 1
    assert (changed["new"], changed["updated"], changed["seen"]) == (0, 1, 2)
    revised = [e for e in EventStore(redis_client).current() if e["extra"].get("frp") == 400.0]
    assert len(revised) == 1 and revised[0]["place"] and revised[0]["severity"] == "severe"


def test_rows_placed_from_their_words_are_skipped_too_and_counted_as_before(
        redis_client, feed_server, geocoder_calls):  # noqa: F811
    base, routes = feed_server
    feed = FeedConfig(id="news", url=f"{base}/n.xml", format="rss", interval=5, allow_local=True)
    config = config_for(base, feed)
    routes.body["/n.xml"] = (200, "application/rss+xml", RSS)
    poll(redis_client, config, "news")
    assert geocoder_calls["placed"] == 2
    before = load_health(redis_client, "news")
    assert before.unplaced == 1  # the council meeting names no place

    routes.body["/n.xml"] = (200, "application/rss+xml", RSS + b"\n")
    geocoder_calls.update(placed=0, described=0)
    poll(redis_client, config, "news")
    assert geocoder_calls["placed"] == 0
    after = load_health(redis_client, "news")
    assert (after.items, after.unplaced, after.seen) == (2, 1, 2)

    # Forgotten after a day (here: at once): placed once more, appended not at all (the same report).
    for key in redis_client.scan_iter(match=FeedKeys.row("news", "*")):
        redis_client.delete(key)
    routes.body["/n.xml"] = (200, "application/rss+xml", RSS + b"\n\n")
    out = poll(redis_client, config, "news")
    assert geocoder_calls["placed"] == 2 and out["seen"] == 2 and redis_client.xlen(EventKeys.EVENTS) == 2
