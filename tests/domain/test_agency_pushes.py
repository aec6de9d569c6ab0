"""Push records, per-source counts, pushed sources' health lines and the push rate limit, in a real Redis."""

from __future__ import annotations

import time

import pytest

from domain.agencies import pushes
from domain.agencies.pushes import PushRecord, PushThrottle
from domain.errors import Invalid
from domain.store.streams import FeedHealth, save_health

pytestmark = pytest.mark.redis


def test_records_are_kept_newest_first_and_counted_per_source(redis_client):
    pushes.record(redis_client, "FD", PushRecord("engines", "t1", 200, accepted=3, bytes=100), interval=120)
    pushes.record(redis_client, "FD", PushRecord("engines", "t1", 400, reasons=["row 2 (x) skipped: no time"] * 20))
    pushes.record(redis_client, "FD", PushRecord("ems", "t2", 200, unchanged=4))
    recent = pushes.recent(redis_client, "FD")
    assert [(p.source, p.status) for p in recent] == [("ems", 200), ("engines", 400), ("engines", 200)]
    assert len(recent[1].reasons) == 10  # at most ten reasons kept per push
    stats = {s["source"]: s for s in pushes.source_stats(redis_client, "FD")}
    assert (stats["engines"]["pushes"], stats["engines"]["accepted"], stats["engines"]["errors"]) == (2, 3, 1)
    assert stats["engines"]["interval"] == 120 and stats["engines"]["last"] and stats["engines"]["last_error"]
    assert stats["ems"]["unchanged"] == 4 and stats["ems"]["interval"] == 0


def test_the_push_log_is_capped(redis_client):
    for _ in range(pushes.PUSH_LOG + 300):
        redis_client.xadd("wf:agency:FD:pushes", PushRecord("s", "t", 200).fields(), maxlen=pushes.PUSH_LOG,
                          approximate=True)
    assert redis_client.xlen("wf:agency:FD:pushes") < pushes.PUSH_LOG + 200


def test_pushed_sources_are_stale_only_by_their_own_interval(redis_client):
    now = time.time()
    for source, interval in (("late", 60), ("quiet", None)):
        pushes.record(redis_client, "FD", PushRecord(source, "t", 200), interval=interval)
        save_health(redis_client, FeedHealth(feed_id=pushes.feed_id("FD", source), status="ok", last_success=now - 600))
    save_health(redis_client, FeedHealth(feed_id="usgs", status="ok", last_success=now))
    lines = pushes.pushed_feed_status(redis_client, now)
    assert set(lines) == {"push:FD:late", "push:FD:quiet"}  # polled feeds are not listed here
    assert lines["push:FD:late"]["stale"] is True and lines["push:FD:late"]["interval"] == 60
    assert lines["push:FD:quiet"]["stale"] is False and lines["push:FD:quiet"]["interval"] is None
    assert lines["push:FD:late"]["pushed"] and lines["push:FD:late"]["name"] == "FD · late (pushed)"


def test_the_rate_limit_is_per_agency_and_shared(redis_client):
    one, other = PushThrottle(redis_client, 3), PushThrottle(redis_client, 3)  # two web processes
    now = 1_000_040.0  # 20 s into a minute
    verdicts = [(one if i % 2 else other).attempt("FD", now) for i in range(6)]
    assert [v.retry_after is None for v in verdicts] == [True, True, True, False, False, False]
    assert [v.first_refusal for v in verdicts] == [False, False, False, True, False, False]
    assert verdicts[3].retry_after == 40
    assert one.attempt("PD", now).retry_after is None  # another agency has its own count
    assert one.attempt("FD", now + 60).retry_after is None  # the next minute starts afresh


@pytest.mark.parametrize("name", ["../x", "", "a" * 40, "A B", "x:y"])
def test_source_names_are_checked(name):
    if name == "":
        assert pushes.check_source(name) == "default"
        return
    with pytest.raises(Invalid, match="^source: "):
        pushes.check_source(name)
