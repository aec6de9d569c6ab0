"""The threat window's parsed incidents kept between ticks (domain/picture/incidents.py WindowDocs):
what changed is read again, what did not is not, and nothing stale survives a trimmed stream."""

from __future__ import annotations

import orjson
import redis

from domain.picture import incidents as picture
from domain.picture.keys import IncidentKeys
from watchfloor.redis_server import EmbeddedRedis

T0 = 1_800_000_000.0


def _write(client, iid: str, title: str, t: float, announce: bool = True) -> None:
    doc = {"id": iid, "title": title, "kind": "fire", "severity": "severe", "lat": 1.0, "lon": 2.0, "tlp": "TLP:CLEAR",
           "time": "2027-01-15T08:00:00Z", "reports": [{"event_id": "e:" + iid, "source": "rss"}], "superseded": []}
    client.hset(IncidentKeys.INCIDENTS, iid, orjson.dumps(doc))
    client.zadd(IncidentKeys.INCIDENT_TIME, {iid: t})
    if announce:
        client.xadd(IncidentKeys.INCIDENT_CHANGES, {"id": iid, "op": "upsert"})


def _titles(client) -> dict[str, str]:
    return {i["id"]: i["title"] for i in picture.live_incidents_between(client, T0 - 100, T0 + 100)}


def test_a_tick_reads_again_only_what_the_change_stream_names(redis_client):
    for k in range(5):
        _write(redis_client, f"inc:w{k}", f"fire {k}", T0 + k)
    _write(redis_client, "inc:old", "long ago", T0 - 5000)  # outside the window
    assert _titles(redis_client) == {f"inc:w{k}": f"fire {k}" for k in range(5)}
    # Rewritten without a change entry (no writer does this): the kept copy is what a tick sees,
    # which shows the window is not parsed again.
    _write(redis_client, "inc:w1", "unannounced", T0 + 1, announce=False)
    # Announced: read again.
    _write(redis_client, "inc:w2", "fire 2, spreading", T0 + 2)
    # Removed from the store and the index, announced.
    redis_client.hdel(IncidentKeys.INCIDENTS, "inc:w3")
    redis_client.zrem(IncidentKeys.INCIDENT_TIME, "inc:w3")
    redis_client.xadd(IncidentKeys.INCIDENT_CHANGES, {"id": "inc:w3", "op": "remove"})
    _write(redis_client, "inc:w9", "new fire", T0 + 9)
    assert _titles(redis_client) == {"inc:w0": "fire 0", "inc:w1": "fire 1", "inc:w2": "fire 2, spreading",
                                     "inc:w4": "fire 4", "inc:w9": "new fire"}
    kept = picture.window_docs(redis_client)
    assert set(kept.docs) == {"inc:w0", "inc:w1", "inc:w2", "inc:w4", "inc:w9"}, "only the window is kept"
    # The stream trimmed past what was read (or a replica promoted behind it): everything is read again.
    last = redis_client.xrevrange(IncidentKeys.INCIDENT_CHANGES, count=1)[0][0]
    redis_client.xtrim(IncidentKeys.INCIDENT_CHANGES, minid=last)
    _write(redis_client, "inc:w4", "fire 4, out", T0 + 4)
    redis_client.xtrim(IncidentKeys.INCIDENT_CHANGES, maxlen=0)
    _write(redis_client, "inc:w5", "fire 5", T0 + 5)
    assert _titles(redis_client)["inc:w1"] == "unannounced"


def test_two_stores_in_one_process_keep_apart(redis_client, tmp_path):
    other_server = EmbeddedRedis(tmp_path / "other")
    other_server.start()
    try:
        other = redis.Redis.from_url(other_server.url)
        _write(redis_client, "inc:a", "in the first store", T0)
        _write(other, "inc:a", "in the second store", T0)
        assert _titles(redis_client) == {"inc:a": "in the first store"}
        assert _titles(other) == {"inc:a": "in the second store"}
    finally:
        other_server.stop()
