"""A wake-up's delta is worked out once per process for every screen that asks with the same cursor
(dashboard/panels/live.py DELTAS), and shared only between readers who receive the same rows: the
same marking AND the same agency. Two agencies' screens at one marking woken together each get their
own share, whichever asked first."""

from __future__ import annotations

import orjson
import pytest

from dashboard import push
from dashboard.panels import live
from domain.access.tlp import TLP
from domain.agencies.access import Reader
from domain.config.loader import load_config
from domain.picture.keys import IncidentKeys

pytestmark = [pytest.mark.redis]


def _incident(client, iid: str, owners: list[dict[str, str]] | None) -> None:
    doc = {"id": iid, "title": iid, "kind": "security", "severity": "moderate", "lat": 42.35, "lon": -71.06,
           "time": "2026-12-04T08:00:00Z", "reports": [{"event_id": "e:" + iid, "source": "cad"}]}
    if owners:
        doc["owners"] = owners
    client.hset(IncidentKeys.INCIDENTS, iid, orjson.dumps(doc))
    client.xadd(IncidentKeys.INCIDENT_CHANGES, {"id": iid, "op": "upsert"})


@pytest.mark.parametrize("first", ["MBTA", "BFD"])
def test_two_agencies_at_one_marking_never_share_a_delta(redis_client, redis_server, first):
    config = load_config(env={"REDIS_URL": redis_server.url, "WATCHFLOOR_EXERCISE": "false"})
    cursor = redis_client.xadd(IncidentKeys.INCIDENT_CHANGES, {"id": "inc:none", "op": "upsert"}).decode()
    _incident(redis_client, "inc:public", None)
    _incident(redis_client, "inc:package", [{"agency": "MBTA", "sharing": "own", "event_id": "e:inc:package"}])
    heads = (redis_client.xrevrange(IncidentKeys.INCIDENT_CHANGES, count=1)[0][0].decode(), "0-0")
    push._ANNOUNCED[redis_server.url] = heads  # as the push reader does: the answer may be shared
    live.DELTAS.clear()
    try:
        seen = {}
        for agency in (first, "MBTA" if first == "BFD" else "BFD"):
            delta, after = live.picture_delta(config, redis_client, cursor, Reader(TLP.AMBER, agency))
            assert delta["redis"] and after == heads[0]
            seen[agency] = {row["id"] for row in orjson.loads(delta["rows"]) if not row.get("hide")}
    finally:
        push._ANNOUNCED.pop(redis_server.url, None)
        live.DELTAS.clear()
    assert seen["MBTA"] == {"inc:public", "inc:package"}, "the owner's agency receives its own item"
    assert seen["BFD"] == {"inc:public"}, "the other agency at the same marking never does"
