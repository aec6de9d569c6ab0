"""workers.push without HTTP, on a real Redis: a pushed CAP Update supersedes the agency's own earlier
alert (references follow the pushed ids), and the agency's default rule is used when an item gives none."""

from __future__ import annotations

import pytest

from domain.agencies.store import AgencyStore
from domain.config.loader import load_config
from domain.store.streams import EventKeys, EventStore
from workers.push import Push, PushRefused, ingest_push, rule_for

pytestmark = pytest.mark.redis

CAP = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{ident}</identifier><sender>ops@bfd.example.org</sender><sent>{sent}</sent>
  <status>Actual</status><msgType>{kind}</msgType><scope>Public</scope>{refs}
  <info><category>Fire</category><event>Fire</event><urgency>Immediate</urgency><severity>Severe</severity>
    <certainty>Observed</certainty><headline>{headline}</headline>
    <area><areaDesc>Dorchester</areaDesc><circle>42.30,-71.06 1</circle></area></info>
</alert>"""


def cap(ident: str, sent: str, kind: str = "Alert", refs: str = "", headline: str = "Two-alarm fire") -> bytes:
    ref = f"<references>{refs}</references>" if refs else ""
    return CAP.format(ident=ident, sent=sent, kind=kind, refs=ref, headline=headline).encode()


@pytest.fixture
def config(redis_server):
    return load_config(env={"REDIS_URL": redis_server.url, "WATCHFLOOR_EXERCISE": "false"})


def test_a_pushed_update_supersedes_the_pushed_alert(redis_client, config):
    AgencyStore(redis_client).add("BFD", "Boston Fire", kind="fire-ems", sharing="agencies:MBTA")
    first = ingest_push(redis_client, config, Push("BFD", "tok1", cap("a1", "2026-12-04T10:00:00-00:00"),
                                                   "application/cap+xml"))
    update = cap("a2", "2026-12-04T10:30:00-00:00", "Update", "ops@bfd.example.org,a1,2026-12-04T10:00:00-00:00",
                 "Fire now three alarms")
    second = ingest_push(redis_client, config, Push("BFD", "tok1", update, "application/cap+xml"))
    assert (first.accepted, second.accepted) == (1, 1)
    superseded = {k.decode(): v.decode() for k, v in redis_client.hgetall(EventKeys.SUPERSEDED).items()}
    (old, new), = superseded.items()
    assert old.startswith("push:BFD:cap:") and new.startswith("push:BFD:cap:") and old != new
    current = {e["id"]: e for e in EventStore(redis_client).current()}
    assert list(current) == [new] and current[new]["sharing"] == "agencies:MBTA"  # the agency's default


def test_the_rule_stand_in_and_a_removed_agency(redis_client, config):
    AgencyStore(redis_client).add("BFD", "Boston Fire", kind="fire-ems", sharing="own")
    assert str(rule_for(redis_client, "BFD", "default")) == "own"
    assert str(rule_for(redis_client, "BFD", "default", "agencies:bpd")) == "agencies:BPD"
    AgencyStore(redis_client).remove("BFD")
    with pytest.raises(PushRefused, match="no longer exists") as refused:
        ingest_push(redis_client, config, Push("BFD", "tok1", cap("a1", "2026-12-04T10:00:00-00:00"),
                                               "application/cap+xml"))
    assert refused.value.status == 401
