"""Partner push intake over real HTTP (uvicorn on loopback) and a real Redis: POST /api/ingest with an
agency's token stores reports attributed to it through the poll's own pipeline, all or nothing, and
every push (and every refused token) is audited."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from domain.agencies import pushes, tokens
from domain.agencies.store import AgencyStore
from domain.config.loader import load_config
from domain.picture.health import feed_status
from domain.store.streams import EventKeys, EventStore
from feeds.contract import FeedConfig
from tests.domain.test_access import Reply, Web, serve, stop
from tests.domain.test_operator import audit_log
from tests.workers.test_fusion_pipeline import usgs_doc
from workers.ingest import parse_document, prepare
from workers.overrides import fuse_now, load_incidents

pytestmark = [pytest.mark.redis]

MAX_BYTES = 200_000
PER_MINUTE = 12
DEADLINE = 2
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def web(redis_server) -> Iterator[Web]:
    import dashboard.app

    patch = pytest.MonkeyPatch()
    patch.delenv("WATCHFLOOR_CONFIG", raising=False)
    for name, value in (("REDIS_URL", redis_server.url), ("WATCHFLOOR_EXERCISE", "false"),
                        ("WATCHFLOOR_FETCH_MAX_BYTES", str(MAX_BYTES)), ("WATCHFLOOR_PUSH_PER_MINUTE", str(PER_MINUTE)),
                        ("WATCHFLOOR_FETCH_TIMEOUT", str(DEADLINE))):
        patch.setenv(name, value)
    served = serve(dashboard.app.create_app(load_config()).server)
    yield served
    stop(served)
    patch.undo()


@pytest.fixture
def agency(redis_client, web) -> tuple[str, str, str]:
    """Transit police with one push token: (code, token, token id)."""
    AgencyStore(redis_client).add("MBTA", "MBTA Transit Police", kind="transit")
    token, token_id = tokens.create(redis_client, "MBTA", by="test")
    return "MBTA", token, token_id


def push(web: Web, token: str | None, body: bytes, content_type: str = "application/geo+json", query: str = "") -> Reply:
    headers = {"Content-Type": content_type, "Accept": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return web.request("POST", "/api/ingest" + query, body, headers)


def feature(fid: str, title: str, *, lon: float = -71.0589, lat: float = 42.3601, when: str | None = None,
            **props) -> dict:
    return {"type": "Feature", "id": fid, "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"title": title, "time": when or (NOW - timedelta(minutes=5)).isoformat(), "kind": "security",
                           **props}}


def collection(*features: dict) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


GOOD = collection(feature("t-1", "Suspicious package at Park Street station", severity="moderate"),
                  feature("t-2", "Crowd surge on the Red Line platform", lon=-71.0550, lat=42.3550, sharing="own"))


def events_of(client) -> dict[str, dict]:
    return {e["id"]: e for e in EventStore(client).current()}


def fresh_window(client) -> None:
    for key in client.keys("wf:agency:*:push-window:*"):
        client.delete(key)


def one_line(reply: Reply) -> str:
    reason = reply.json()["reason"]
    assert reason and "\n" not in reason and len(reason) <= 300, reason
    return reason


def test_a_push_stores_attributed_reports_and_pushing_it_again_changes_nothing(web, agency, redis_client):
    code, token, token_id = agency
    first = push(web, token, GOOD)
    assert first.status == 200, first.body
    assert first.json() | {"warnings": []} == {"feed": "push:MBTA:default", "format": "geojson", "accepted": 2,
                                               "new": 2, "updated": 0, "unchanged": 0, "refused": 0, "refusals": [],
                                               "unplaced": 0, "warnings": []}
    stored = events_of(redis_client)
    assert set(stored) == {"push:MBTA:default:t-1", "push:MBTA:default:t-2"}
    one, two = stored["push:MBTA:default:t-1"], stored["push:MBTA:default:t-2"]
    assert one["agency"] == two["agency"] == "MBTA"
    assert one["sharing"] == "all" and two["sharing"] == "own"  # the agency's default; the item's own rule
    assert one["provenance"].items() >= {"pushed_by": "MBTA", "push_token": token_id, "push_source": "default",
                                         "feed": "push:MBTA:default"}.items()
    assert one["place"]  # named like any polled coordinate-only report
    length = redis_client.xlen(EventKeys.EVENTS)
    assert length == 2
    again = push(web, token, GOOD)
    assert again.status == 200
    assert (again.json()["accepted"], again.json()["unchanged"]) == (0, 2)
    assert redis_client.xlen(EventKeys.EVENTS) == length  # nothing appended
    done = [r for r in audit_log(redis_client) if r["action"] == "ingest.push" and r["outcome"] == "ok"]
    assert [r["user"] for r in done] == ["agency:MBTA"] * 2
    assert f"token {token_id}: accepted 2, unchanged 0, refused 0, {len(GOOD)} bytes" in done[0]["reason"]
    assert "accepted 0, unchanged 2" in done[1]["reason"]
    health = feed_status(load_config(env={"REDIS_URL": "redis://unused", "WATCHFLOOR_EXERCISE": "false"}), redis_client)
    line = health["push:MBTA:default"]
    assert line["pushed"] and line["status"] == "ok" and line["agency"] == "MBTA" and line["items"] == 2
    assert line["stale"] is False and line["last_success"]
    assert [p.accepted for p in pushes.recent(redis_client, "MBTA")] == [0, 2]
    assert tokens.listing(redis_client, "MBTA")[0]["used"]


def test_cap_and_csv_pushes_with_a_declared_mapping(web, agency, redis_client):
    _, token, _ = agency
    cap = Path(__file__).resolve().parents[2] / "tests" / "feeds"
    csv_body = ("ref,reported,y,x,what,where\n"
                f"c1,{NOW.isoformat()},42.3523,-71.0552,Bus fire on the Silver Line,\n"
                f"c2,{NOW.isoformat()},,,Signal failure,Downtown Crossing Boston\n").encode()
    reply = push(web, token, csv_body, "text/csv",
                 "?source=buses&interval=300&map=id:ref,time:reported,lat:y,lon:x,title:what,place:where")
    assert reply.status == 200, reply.body
    assert reply.json()["accepted"] == 2 and reply.json()["feed"] == "push:MBTA:buses"
    assert "push:MBTA:buses:c1" in events_of(redis_client)
    plain = (f"time,title,lat,lon\n{NOW.isoformat()},Door fault at Alewife,42.3954,-71.1425\n").encode()
    assert push(web, token, plain, "text/csv; charset=utf-8").json()["accepted"] == 1
    alert = CAP.replace("{status}", "Actual").encode()
    test_alert = CAP.replace("{status}", "Test").replace("mbta-1", "mbta-2").encode()
    live = push(web, token, alert, "application/cap+xml", "?source=alerts")
    assert live.status == 200 and live.json()["accepted"] == 1, live.body
    drill = push(web, token, test_alert, "application/xml", "?source=alerts")
    assert drill.status == 200 and drill.json()["accepted"] == 0
    assert drill.json()["refused"] == 1 and "never shown live" in drill.json()["refusals"][0]
    assert cap  # (the corpus CAP documents are pushed in the hostile test)
    health = feed_status(load_config(env={"REDIS_URL": "redis://unused", "WATCHFLOOR_EXERCISE": "false"}), redis_client)
    assert health["push:MBTA:buses"]["interval"] == 300


CAP = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>mbta-1</identifier><sender>alerts@mbta.example.org</sender>
  <sent>2026-12-04T10:00:00-00:00</sent><status>{status}</status><msgType>Alert</msgType><scope>Public</scope>
  <info><category>Transport</category><event>Service suspension</event><urgency>Immediate</urgency>
    <severity>Moderate</severity><certainty>Observed</certainty><headline>Red Line suspended at JFK/UMass</headline>
    <description>Shuttle buses replace trains.</description>
    <area><areaDesc>JFK/UMass</areaDesc><circle>42.3206,-71.0524 0.5</circle></area></info>
</alert>"""


def test_refused_tokens_get_401_and_are_audited_with_the_address(web, agency, redis_client):
    code, token, token_id = agency
    tokens.revoke(redis_client, code, token_id)
    for bad in (token, None, "wfa_not-a-token", "x" * 5000):
        reply = push(web, bad, GOOD)
        assert reply.status == 401, (bad, reply.status)
        assert one_line(reply).startswith("missing, unknown or revoked push token")
        assert reply.header("WWW-Authenticate")
    refused = [r for r in audit_log(redis_client) if r["action"] == "ingest.push" and r["outcome"] == "refused"]
    assert len(refused) == 4 and all(r["source"] == "127.0.0.1" and r["reason"].startswith("401") for r in refused)
    other, _ = tokens.create(redis_client, code)
    AgencyStore(redis_client).remove(code)  # a removed agency's tokens stop at once
    assert push(web, other, GOOD).status == 401
    assert redis_client.xlen(EventKeys.EVENTS) == 0


def test_a_malformed_push_stores_nothing_and_says_why_in_one_line(web, agency, redis_client):
    _, token, _ = agency
    one_bad = collection(feature("g-1", "Fine"), feature("g-2", "Bad date", when="2030-13-45T99:00Z"),
                         feature("g-3", "Fine too"))
    cases = [
        (one_bad, "application/geo+json", "", 400, "1 of 3 items cannot be reports, nothing stored; first: feature 1 (g-2)"),
        (collection(feature("g-4", "Null island", lon=0, lat=0)), "application/json", "", 400, "1 of 1 items"),
        (collection(feature("g-5", "Bad rule", sharing="everyone")), "application/geo+json", "", 400,
         "item g-5: sharing: 'everyone' is not a sharing rule"),
        (CAP.replace("{status}", "Actual").encode()[:300], "application/cap+xml", "", 400, "not well-formed XML"),
        (GOOD, "text/plain", "", 415, "Content-Type 'text/plain' is not read here"),
        (GOOD, "application/cap+xml", "", 400, "the body is JSON, but Content-Type says XML"),
        (b"<alert/>", "application/json", "", 400, "the body is not JSON"),
        (b"when,what\n1,2\n", "text/csv", "", 400, "CSV header names no time and title columns"),
        (b"time,title,lat,lon\n2026-12-04T10:00Z,ok,42.3,-71.0\n2026-12-04T10:00Z,bad,95,-71\n", "text/csv", "", 400,
         "1 of 2 items cannot be reports"),
        (GOOD, "application/geo+json", "?source=../etc", 400, "source: '../etc' is not a source name"),
        (GOOD, "application/geo+json", "?map=time:when", 400, "map: a column mapping applies to text/csv pushes only"),
        (b"when,what\n1,2\n", "text/csv", "?map=when", 400, "map: 'when' is not field:column"),
        (b"when,what\n1,2\n", "text/csv", "?map=time:reported", 400, "map: column 'reported' is not in the header"),
        (GOOD, "application/geo+json", "?tlp=SECRET", 400, "tlp: 'SECRET' is not one of TLP:CLEAR"),
        (GOOD, "application/geo+json", "?interval=soon", 400, "interval: 'soon'"),
        (b"{" + b" " * (MAX_BYTES + 10) + b"}", "application/geo+json", "", 413, f"body over {MAX_BYTES} bytes"),
    ]
    for body, content_type, query, status, start in cases:
        fresh_window(redis_client)  # not a flood test
        reply = push(web, token, body, content_type, query)
        assert reply.status == status, (start, reply.status, reply.body[:300])
        assert start in one_line(reply), (start, reply.json())
    assert redis_client.xlen(EventKeys.EVENTS) == 0 and redis_client.hlen(EventKeys.CURRENT) == 0
    assert not redis_client.keys("wf:feed:push:MBTA:default:row:*")
    recent = pushes.recent(redis_client, "MBTA", 50)
    assert recent and all(p.status >= 400 and p.reasons for p in recent)
    refused = [r for r in audit_log(redis_client) if r["action"] == "ingest.push" and r["outcome"] == "refused"]
    assert len(refused) == len(cases)
    health = feed_status(load_config(env={"REDIS_URL": "redis://unused", "WATCHFLOOR_EXERCISE": "false"}), redis_client)
    assert health["push:MBTA:default"]["status"] == "refused" and health["push:MBTA:default"]["reason"]


def hostile_documents() -> list[Path]:
    corpus = Path("/work/shared/corpus")
    return sorted((corpus / "hostile").glob("*.xml")) + sorted((corpus / "cap").glob("*.xml"))[:4]


@pytest.mark.skipif(not Path("/work/shared/corpus/hostile").is_dir(), reason="no feed corpus on this machine")
def test_hostile_documents_pushed_are_refused_or_stored_as_plain_text(web, agency, redis_client):
    _, token, _ = agency
    answers = {}
    for index, path in enumerate(hostile_documents()):
        fresh_window(redis_client)  # not a flood test
        reply = push(web, token, path.read_bytes()[: MAX_BYTES - 1], "application/xml", f"?source=h{index}")
        assert reply.status in (200, 400), (path.name, reply.status, reply.body[:200])
        answers[path.name] = reply.status
        if reply.status == 400:
            one_line(reply)
    for path in sorted(Path("/work/shared/corpus/incidents-geojson").glob("*.json")) + sorted(
            Path("/work/shared/corpus/usgs-geojson").glob("*.json")):
        if path.stat().st_size >= MAX_BYTES:
            continue
        fresh_window(redis_client)
        reply = push(web, token, path.read_bytes(), "application/geo+json", "?source=json")
        assert reply.status in (200, 400), (path.name, reply.status, reply.body[:200])
        answers[path.name] = reply.status
        if reply.status == 400:
            one_line(reply)
    for name in ("defusedxml_billion-laughs_xmlbomb.xml", "defusedxml_external-entity-file.xml", "cap_xxe_alert.xml"):
        assert answers.get(name) == 400, (name, answers.get(name))
    stored = orjson.dumps(list(events_of(redis_client).values())).decode()
    for needle in ("<script", "javascript:", "root:x:0", "onabort", "<iframe"):
        assert needle not in stored.lower(), needle
    assert any(status == 200 for name, status in answers.items() if name.endswith(".xml"))  # real CAP taken
    assert any(status == 200 for name, status in answers.items() if name.endswith(".json"))  # real GeoJSON taken
    print({name: status for name, status in answers.items()})


def test_a_flood_of_pushes_gets_429_with_retry_after(web, agency, redis_client):
    _, token, _ = agency
    statuses, retry = [], None
    began = time.time()
    for _ in range(2 * PER_MINUTE + 5):  # counted per clock minute: a slow run may cross one boundary
        reply = push(web, token, GOOD)
        statuses.append(reply.status)
        retry = reply.header("Retry-After") or retry
        if reply.status == 429:
            assert one_line(reply).startswith(f"more than {PER_MINUTE} pushes this minute")
        if statuses.count(429) >= 4:
            break
    minutes = int(time.time() // 60) - int(began // 60) + 1
    assert 429 in statuses and statuses.index(429) <= PER_MINUTE * minutes, statuses
    assert statuses.count(200) <= PER_MINUTE * minutes, statuses
    assert retry is not None and 1 <= int(retry) <= 60
    throttled = [r for r in audit_log(redis_client) if r["action"] == "ingest.push" and r["reason"].startswith("429")]
    assert 1 <= len(throttled) <= minutes  # one record per window, whatever the flood


def test_a_pushed_quake_fuses_with_the_same_quake_from_a_public_feed(web, agency, redis_client):
    _, token, token_id = agency
    reply = push(web, token, usgs_doc(), "application/geo+json", "?source=quakes")
    assert reply.status == 200 and reply.json()["accepted"] == 1, reply.body
    public = FeedConfig(id="usgs-significant", url="https://earthquake.usgs.gov/x.geojson", format="usgs-geojson")
    fetched = datetime.now(UTC)  # the worker's path: parse -> prepare -> append
    store = EventStore(redis_client)
    prepared = prepare(parse_document(usgs_doc(), public, fetched), public, fetched, unchanged=store.unchanged_rows)
    assert store.append(prepared.events, feed_id=public.id, rows=prepared.rows).new == 1
    assert fuse_now(redis_client)
    quakes = [i for i in load_incidents(redis_client) if i["kind"] == "earthquake"]
    assert len(quakes) == 1, [q["title"] for q in quakes]
    reports = {r["event_id"]: r for r in quakes[0]["reports"]}
    assert set(reports) == {"usgs:us6000ldpg", "push:MBTA:usgs:us6000ldpg"}
    assert reports["push:MBTA:usgs:us6000ldpg"]["agency"] == "MBTA"
    assert reports["push:MBTA:usgs:us6000ldpg"]["feed"] == "push:MBTA:quakes"
    assert "agency" not in reports["usgs:us6000ldpg"]
    pushed = EventStore(redis_client).get("push:MBTA:usgs:us6000ldpg")
    assert pushed["provenance"]["push_token"] == token_id


def test_a_body_dripped_past_the_deadline_is_refused(web, agency, redis_client):
    _, token, _ = agency
    with socket.create_connection(("127.0.0.1", web.port), timeout=DEADLINE * 10) as conn:
        conn.sendall(f"POST /api/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                     f"Content-Type: application/geo+json\r\nContent-Length: {len(GOOD)}\r\n\r\n".encode()
                     + GOOD[:20])
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < 20:
            chunk = conn.recv(4096)  # blocks until the server gives up on the rest
            if not chunk:
                break
            answer += chunk
        answer = answer.decode()
    assert answer.startswith("HTTP/1.1 408"), answer[:200]
    assert f"body not received within {DEADLINE} s" in answer
    assert redis_client.xlen(EventKeys.EVENTS) == 0
