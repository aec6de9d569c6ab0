"""Fusion as part of the live system (workers.fusion) against a real Redis: one event told by several
sources is one incident in the right place, through the real ingest pipeline, restarts and failovers.

Documents are built here in the real formats (USGS GeoJSON, GDACS RSS, a news RSS item) and go
through ``workers.ingest.parse_document``/``prepare`` and ``EventStore.append`` like a poll does.

Idempotence, as tested: re-ingesting the same documents appends nothing to ``wf:events`` (ingest
is idempotent) and a fusion pass over an unchanged stream changes no ``wf:incidents`` value and
appends no ``wf:incident-changes`` entry; a fuser restarted from scratch rewrites nothing either.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import orjson
import pytest
import redis

from domain.picture.keys import IncidentKeys
from domain.store.streams import EventKeys, EventStore
from feeds.contract import FeedConfig
from tests.stack import ROOT
from workers.fusion import Fuser
from workers.ingest import parse_document, prepare
from workers.overrides import FusionError, fuse_now, load_incidents, merge_incidents, split_incident

pytestmark = pytest.mark.redis

ORIGIN = datetime(2023, 10, 7, 6, 41, 3, tzinfo=UTC)
USGS_LAT, USGS_LON = 34.61, 61.92


def usgs_doc(
    mag: float = 6.3,
    *,
    code: str = "us6000ldpg",
    updated: datetime | None = None,
    origin: datetime = ORIGIN,
    lat: float = USGS_LAT,
    lon: float = USGS_LON,
) -> bytes:
    updated = updated or origin + timedelta(minutes=20)
    ms = int(origin.timestamp() * 1000)
    feature = {
        "type": "Feature",
        "properties": {
            "mag": mag,
            "place": "40 km NNW of Herat, Afghanistan",
            "time": ms,
            "updated": int(updated.timestamp() * 1000),
            "tz": None,
            "url": f"https://earthquake.usgs.gov/earthquakes/eventpage/{code}",
            "detail": f"https://earthquake.usgs.gov/earthquakes/feed/v1.0/detail/{code}.geojson",
            "felt": 12,
            "cdi": 6,
            "mmi": 7.2,
            "alert": "orange",
            "status": "reviewed",
            "tsunami": 0,
            "sig": 1000,
            "net": "us",
            "code": code[2:],
            "ids": f",{code},",
            "sources": ",us,",
            "types": ",origin,",
            "nst": 100,
            "dmin": 1.0,
            "rms": 0.7,
            "gap": 20,
            "magType": "mww",
            "type": "earthquake",
            "title": f"M {mag} - 40 km NNW of Herat, Afghanistan",
        },
        "geometry": {"type": "Point", "coordinates": [lon, lat, 14]},
        "id": code,
    }
    doc = {
        "type": "FeatureCollection",
        "metadata": {
            "generated": ms + 1_500_000,
            "url": "https://earthquake.usgs.gov/earthquakes/feed/v1.0/summary/significant_week.geojson",
            "title": "USGS Significant Earthquakes, Past Week",
            "status": 200,
            "api": "1.10.3",
            "count": 1,
        },
        "features": [feature],
        "bbox": [lon, lat, 14, lon, lat, 14],
    }
    return json.dumps(doc).encode()


def gdacs_doc(
    mag: float = 6.3, *, eventid: int = 1395300, origin: datetime = ORIGIN, lat: float = 34.65, lon: float = 61.98
) -> bytes:
    when = origin + timedelta(seconds=4)
    rfc = format_datetime(when, usegmt=True)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:geo="http://www.w3.org/2003/01/geo/wgs84_pos#"
 xmlns:gdacs="http://www.gdacs.org" xmlns:georss="http://www.georss.org/georss">
  <channel>
    <title>GDACS RSS information</title>
    <link>http://www.gdacs.org/</link>
    <description>Near real-time alerts about natural disaster with a potential humanitarian impact</description>
    <pubDate>{rfc}</pubDate>
    <item>
      <title>Orange earthquake alert (Magnitude {mag}M, Depth:14km) in Afghanistan 07/10/2023 06:41 UTC, 1.8 million in 100km.</title>
      <description>On 10/7/2023 6:41:07 AM, an earthquake occurred in Afghanistan potentially affecting 1.8 million in 100km. The earthquake had Magnitude {mag}M, Depth:14km.</description>
      <link>http://www.gdacs.org/report.aspx?eventtype=EQ&amp;eventid={eventid}</link>
      <pubDate>{rfc}</pubDate>
      <gdacs:fromdate>{rfc}</gdacs:fromdate>
      <gdacs:todate>{rfc}</gdacs:todate>
      <guid isPermaLink="false">EQ{eventid}</guid>
      <geo:Point><geo:lat>{lat}</geo:lat><geo:long>{lon}</geo:long></geo:Point>
      <georss:point>{lat} {lon}</georss:point>
      <gdacs:eventtype>EQ</gdacs:eventtype>
      <gdacs:alertlevel>Orange</gdacs:alertlevel>
      <gdacs:eventid>{eventid}</gdacs:eventid>
      <gdacs:episodeid>1500000</gdacs:episodeid>
      <gdacs:severity unit="M" value="{mag}">Magnitude {mag}M, Depth:14km</gdacs:severity>
      <gdacs:iso3>AFG</gdacs:iso3>
      <gdacs:country>Afghanistan</gdacs:country>
    </item>
  </channel>
</rss>""".encode()


def news_doc(*items: tuple[str, str, datetime]) -> bytes:
    body = "".join(
        f"""
    <item>
      <title>{title}</title>
      <link>https://news.example.org/world/{guid}</link>
      <guid isPermaLink="false">{guid}</guid>
      <pubDate>{format_datetime(when, usegmt=True)}</pubDate>
      <description>{title}. Officials said rescue teams were on their way.</description>
    </item>"""
        for title, guid, when in items
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>World wire</title><link>https://news.example.org/</link>
<description>World news</description>{body}
</channel></rss>""".encode()


NEWS = ("Magnitude 6.3 quake strikes near Herat, Afghanistan", "wire-1", ORIGIN + timedelta(minutes=50))
NEWS_LATER = (
    "Strong 6.3 earthquake shakes Herat, Afghanistan; buildings damaged",
    "wire-2",
    ORIGIN + timedelta(minutes=90),
)

FEEDS = {
    "usgs": FeedConfig(id="usgs-significant", url="https://earthquake.usgs.gov/x.geojson", format="usgs-geojson"),
    "gdacs": FeedConfig(id="gdacs", url="https://www.gdacs.org/xml/rss.xml", format="gdacs"),
    "news": FeedConfig(id="world-wire", url="https://news.example.org/rss", format="rss", kind="news"),
}


def ingest(client: redis.Redis, feed: str, data: bytes) -> tuple[int, int, int]:
    """One poll's worth: the real parse -> prepare -> idempotent append."""
    cfg = FEEDS[feed]
    fetched_at = datetime.now(UTC)
    prepared = prepare(parse_document(data, cfg, fetched_at), cfg, fetched_at)
    counts = EventStore(client).append(prepared.events)
    return counts.new, counts.updated, counts.seen


def three_sources(client: redis.Redis) -> None:
    ingest(client, "usgs", usgs_doc())
    ingest(client, "gdacs", gdacs_doc())
    ingest(client, "news", news_doc(NEWS))


def stored(client: redis.Redis) -> dict[str, bytes]:
    return {k.decode(): v for k, v in client.hgetall(IncidentKeys.INCIDENTS).items()}


def changes(client: redis.Redis) -> int:
    return int(client.xlen(IncidentKeys.INCIDENT_CHANGES))


def quake(client: redis.Redis) -> dict:
    rows = [i for i in load_incidents(client) if i["kind"] == "earthquake"]
    assert len(rows) == 1, [r["title"] for r in rows]
    return rows[0]


# -- the check ---------------------------------------------------------------------------


def test_one_quake_from_three_sources_is_one_incident_at_the_usgs_position(redis_client):
    three_sources(redis_client)
    assert fuse_now(redis_client)
    incidents = load_incidents(redis_client)
    assert len(incidents) == 1, [i["title"] for i in incidents]
    incident = incidents[0]
    assert incident["id"] == "inc:usgs:us6000ldpg"
    assert (incident["lat"], incident["lon"]) == (USGS_LAT, USGS_LON)
    assert incident["magnitude"] == 6.3 and incident["kind"] == "earthquake"
    assert incident["title"].startswith("M 6.3 - 40 km NNW of Herat")
    assert incident["corroboration"] == 3
    reports = incident["reports"]
    assert [r["source"] for r in reports] == ["usgs-geojson", "gdacs", "rss"]
    assert [r["feed"] for r in reports] == ["usgs-significant", "gdacs", "world-wire"]
    assert all(r["event_id"] and r["time"].endswith("Z") for r in reports)
    of = {k.decode(): v.decode() for k, v in redis_client.hgetall(IncidentKeys.INCIDENT_OF).items()}
    assert of == {r["event_id"]: incident["id"] for r in reports}
    ops = [(f[b"id"].decode(), f[b"op"].decode()) for _, f in redis_client.xrange(IncidentKeys.INCIDENT_CHANGES)]
    assert ops == [(incident["id"], "upsert")]


def test_reingesting_everything_changes_nothing(redis_client):
    three_sources(redis_client)
    fuse_now(redis_client)
    before, before_changes = stored(redis_client), changes(redis_client)
    events_before = redis_client.xlen(EventKeys.EVENTS)
    for feed, doc in (("usgs", usgs_doc()), ("gdacs", gdacs_doc()), ("news", news_doc(NEWS))):
        assert ingest(redis_client, feed, doc) == (0, 0, 1)
    assert redis_client.xlen(EventKeys.EVENTS) == events_before
    fuse_now(redis_client)
    assert stored(redis_client) == before
    assert changes(redis_client) == before_changes
    # A fuser starting from nothing (its memory lost) replays the stream and rewrites nothing.
    fuser = Fuser(redis_client)
    assert fuser.acquire()
    fuser.rebuild()
    fuser.release()
    assert stored(redis_client) == before and changes(redis_client) == before_changes


def test_a_magnitude_revision_updates_the_incident(redis_client):
    three_sources(redis_client)
    fuse_now(redis_client)
    assert quake(redis_client)["magnitude"] == 6.3
    revised = usgs_doc(6.4, updated=ORIGIN + timedelta(hours=2))
    assert ingest(redis_client, "usgs", revised) == (0, 1, 0)
    n = changes(redis_client)
    fuse_now(redis_client)
    incident = quake(redis_client)
    assert incident["magnitude"] == 6.4 and incident["title"].startswith("M 6.4")
    assert len(incident["reports"]) == 3
    assert changes(redis_client) == n + 1


def test_a_split_sticks_when_a_new_report_of_the_same_quake_arrives(redis_client):
    three_sources(redis_client)
    fuse_now(redis_client)
    done = split_incident(redis_client, "inc:usgs:us6000ldpg", "gdacs:EQ1395300", "alice")
    assert done["user"] == "alice" and done["incident"] == "inc:usgs:us6000ldpg"
    assert done["new"] == "inc:gdacs:EQ1395300"
    by_id = {i["id"]: i for i in load_incidents(redis_client)}
    assert [r["event_id"] for r in by_id["inc:gdacs:EQ1395300"]["reports"]] == ["gdacs:EQ1395300"]
    assert "gdacs:EQ1395300" not in [r["event_id"] for r in by_id["inc:usgs:us6000ldpg"]["reports"]]
    # New reports of the quake (a news item and a revised GDACS alert) do not undo the decision.
    ingest(redis_client, "news", news_doc(NEWS, NEWS_LATER))
    ingest(redis_client, "gdacs", gdacs_doc(6.2))
    fuse_now(redis_client)
    by_id = {i["id"]: i for i in load_incidents(redis_client)}
    assert len(by_id) == 2
    assert [r["event_id"] for r in by_id["inc:gdacs:EQ1395300"]["reports"]] == ["gdacs:EQ1395300"]
    assert by_id["inc:gdacs:EQ1395300"]["magnitude"] == 6.2
    main = [r["source"] for r in by_id["inc:usgs:us6000ldpg"]["reports"]]
    assert main == ["usgs-geojson", "rss", "rss"]
    # ... nor does a fuser rebuilding from the stream and the stored rules.
    snapshot = stored(redis_client)
    fuser = Fuser(redis_client)
    assert fuser.acquire()
    fuser.rebuild()
    fuser.release()
    assert stored(redis_client) == snapshot
    rules = [orjson.loads(x) for x in redis_client.lrange(IncidentKeys.FUSION_OVERRIDES, 0, -1)]
    assert [r["op"] for r in rules] == ["split"] and "at" in rules[0]


def test_merge_sticks_and_bad_overrides_are_refused(redis_client):
    # Two quakes far apart: two incidents; an operator says they are one.
    ingest(redis_client, "usgs", usgs_doc())
    ingest(redis_client, "gdacs", gdacs_doc(lat=-20.65))
    fuse_now(redis_client)
    assert len(load_incidents(redis_client)) == 2
    n = changes(redis_client)
    done = merge_incidents(redis_client, "inc:gdacs:EQ1395300", "inc:usgs:us6000ldpg", "bob")
    assert done["incident"] == "inc:usgs:us6000ldpg"
    rows = load_incidents(redis_client)
    assert [r["id"] for r in rows] == ["inc:usgs:us6000ldpg"] and len(rows[0]["reports"]) == 2
    tail = [
        (f[b"id"].decode(), f[b"op"].decode(), f.get(b"into", b"").decode())
        for _, f in redis_client.xrange(IncidentKeys.INCIDENT_CHANGES)
    ][n:]
    assert ("inc:gdacs:EQ1395300", "remove", "inc:usgs:us6000ldpg") in tail
    assert redis_client.hget(IncidentKeys.INCIDENT_OF, "gdacs:EQ1395300") == b"inc:usgs:us6000ldpg"
    with pytest.raises(FusionError, match="no incident"):
        split_incident(redis_client, "inc:nope", "x", "bob")
    with pytest.raises(FusionError, match="holds no report"):
        split_incident(redis_client, "inc:usgs:us6000ldpg", "rss:nope", "bob")
    with pytest.raises(FusionError, match="different"):
        merge_incidents(redis_client, "inc:usgs:us6000ldpg", "inc:usgs:us6000ldpg", "bob")


# -- the live fuser ------------------------------------------------------------------------------


def _run(fuser: Fuser) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=fuser.run, args=(stop,), daemon=True)
    thread.start()
    return thread, stop


def _until(check, timeout: float = 10.0) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if check():
            return time.monotonic() - began
        time.sleep(0.02)
    raise AssertionError("timed out")


def test_live_fuser_follows_the_stream_and_applies_overrides(redis_server, redis_client):
    fuser = Fuser(redis.Redis.from_url(redis_server.url), lock_ttl=2)
    thread, stop = _run(fuser)
    try:
        ingest(redis_client, "usgs", usgs_doc())
        _until(lambda: redis_client.hexists(IncidentKeys.INCIDENTS, "inc:usgs:us6000ldpg"))
        ingest(redis_client, "gdacs", gdacs_doc())
        ingest(redis_client, "news", news_doc(NEWS))
        _until(lambda: len(quake(redis_client)["reports"]) == 3)
        assert redis_client.hget(IncidentKeys.FUSION_STATE, "leader").decode() == fuser.name
        # acknowledged: nothing pending for the group
        _until(lambda: redis_client.xpending(EventKeys.EVENTS, IncidentKeys.FUSION_GROUP)["pending"] == 0)
        done = split_incident(redis_client, "inc:usgs:us6000ldpg", "rss:" + _news_id(redis_client), "carol", wait=5)
        assert done["new"].startswith("inc:rss:")
        assert len(load_incidents(redis_client)) == 2
    finally:
        stop.set()
        thread.join(5)
    assert not redis_client.exists(IncidentKeys.FUSION_LEADER)  # released on a clean stop


def _news_id(client: redis.Redis) -> str:
    of = {k.decode() for k in client.hkeys(IncidentKeys.INCIDENT_OF)}
    return next(e for e in of if e.startswith("rss:")).split(":", 1)[1]


def test_two_fusers_one_active_the_standby_takes_over_within_the_ttl(redis_server, redis_client, tmp_path):
    """Two `watchfloor fuse` processes; SIGKILL the active one; the other leads within the lock TTL."""
    env = {
        **os.environ,
        "REDIS_URL": redis_server.url,
        "WATCHFLOOR_FUSION_LOCK_SECONDS": "2",
        "WATCHFLOOR_DATA_DIR": str(tmp_path / "var"),
        "WATCHFLOOR_LOG_LEVEL": "INFO",
    }
    env.pop("WATCHFLOOR_CONFIG", None)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "watchfloor.cli", "fuse"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / f"fuse{i}.log").open("wb"),
        )
        for i in range(2)
    ]
    try:
        _until(lambda: redis_client.exists(IncidentKeys.FUSION_LEADER), 20)
        holder = redis_client.get(IncidentKeys.FUSION_LEADER).decode()
        pids = {p.pid: p for p in procs}
        active = next(pid for pid in pids if f":{pid}:" in holder)
        standby = next(pid for pid in pids if pid != active)
        three_sources(redis_client)
        _until(
            lambda: (
                redis_client.hexists(IncidentKeys.INCIDENTS, "inc:usgs:us6000ldpg") and len(quake(redis_client)["reports"]) == 3
            ),
            20,
        )
        time.sleep(1.0)
        assert redis_client.get(IncidentKeys.FUSION_LEADER).decode() == holder  # the standby never took over
        logs = (tmp_path / "fuse0.log").read_text() + (tmp_path / "fuse1.log").read_text()
        assert logs.count("is the active fuser") == 1 and "on standby" in logs
        before = stored(redis_client)
        pids[active].send_signal(signal.SIGKILL)
        pids[active].wait(5)
        took = _until(lambda: f":{standby}:" in (redis_client.get(IncidentKeys.FUSION_LEADER) or b"").decode(), 10)
        assert took <= 2.0 + 1.0  # TTL + one standby poll
        # The new leader rebuilt from the stream: same incidents, no duplicate; and it keeps fusing.
        _until(lambda: redis_client.hget(IncidentKeys.FUSION_STATE, "leader").decode().endswith(f":{standby}"), 10)
        assert stored(redis_client) == before
        ingest(redis_client, "news", news_doc(NEWS, NEWS_LATER))
        _until(lambda: len(quake(redis_client)["reports"]) == 4, 10)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def test_a_fuser_killed_mid_stream_and_restarted_leaves_no_duplicate(redis_server, redis_client, tmp_path):
    """Many quakes, each told by USGS, GDACS and a news wire; the fuser process is SIGKILLed while it
    works through them, restarted, and the result equals one uninterrupted pass."""
    n = 120
    docs = []
    for k in range(n):
        origin = ORIGIN + timedelta(hours=k)
        lat, lon = -60 + k, -170 + 2.5 * k
        docs.append(("usgs", usgs_doc(5.0 + (k % 10) / 10, code=f"us7{k:06d}", origin=origin, lat=lat, lon=lon)))
    for feed, doc in docs:
        ingest(redis_client, feed, doc)
    env = {
        **os.environ,
        "REDIS_URL": redis_server.url,
        "WATCHFLOOR_FUSION_LOCK_SECONDS": "2",
        "WATCHFLOOR_DATA_DIR": str(tmp_path / "var"),
    }
    env.pop("WATCHFLOOR_CONFIG", None)
    cmd = [sys.executable, "-m", "watchfloor.cli", "fuse"]
    first = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _until(lambda: redis_client.hlen(IncidentKeys.INCIDENTS) >= n, 30)
        # a second source's report of every quake arrives while it runs; kill it in the middle of them
        for k in range(n):
            ingest(
                redis_client,
                "gdacs",
                gdacs_doc(
                    5.0 + (k % 10) / 10,
                    eventid=2_000_000 + k,
                    origin=ORIGIN + timedelta(hours=k),
                    lat=-60 + k + 0.05,
                    lon=-170 + 2.5 * k + 0.05,
                ),
            )
            if k == n // 2:
                first.send_signal(signal.SIGKILL)
                first.wait(5)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(5)
    second = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _until(lambda: fuse_state_caught_up(redis_client), 30)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(10)
    after = stored(redis_client)
    assert len(after) == n
    assert all(len(orjson.loads(v)["reports"]) == 2 for v in after.values())
    # the reference: one uninterrupted pass over the same stream
    reference = Fuser(redis_client)
    assert reference.acquire()
    reference.rebuild()
    reference.release()
    assert stored(redis_client) == after


def fuse_state_caught_up(client: redis.Redis) -> bool:
    last = client.xrevrange(EventKeys.EVENTS, count=1)[0][0]
    return client.hget(IncidentKeys.FUSION_STATE, "cursor") == last


def test_prune_keeps_history_stored_and_a_late_report_starts_a_new_incident(redis_client):
    ingest(redis_client, "usgs", usgs_doc())
    window_h = 0.001  # 3.6 s of ingest time; prunes every second
    fuser = Fuser(redis_client, window_hours=window_h, lock_ttl=60)
    assert fuser.acquire()
    try:
        fuser.rebuild()
        time.sleep(window_h * 3600 + 1.5)
        ingest(redis_client, "gdacs", gdacs_doc(lat=-20.65))  # moves ingest time on
        fuser.step(block_ms=100)
        assert "inc:usgs:us6000ldpg" not in fuser.correlator.incidents  # out of memory...
        assert redis_client.hexists(IncidentKeys.INCIDENTS, "inc:usgs:us6000ldpg")  # ...still stored
        time.sleep(0.01)
        ingest(redis_client, "gdacs", gdacs_doc())  # a late report of the pruned quake
        fuser.step(block_ms=100)
    finally:
        fuser.release()
    by_id = {i["id"]: i for i in load_incidents(redis_client)}
    assert len(by_id["inc:usgs:us6000ldpg"]["reports"]) == 1  # frozen, not overwritten
    # a rebuild from the stream gives the same result (prunes replay at the same points)
    snapshot = stored(redis_client)
    again = Fuser(redis_client, window_hours=window_h, lock_ttl=60)
    assert again.acquire()
    again.rebuild()
    again.release()
    assert stored(redis_client) == snapshot


# -- from the command line -----------------------------------------------------------------------


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watchfloor.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def test_cli_ingest_then_incidents_fuses_without_a_running_fuser(tmp_path):
    files = {"usgs.geojson": usgs_doc(), "gdacs.xml": gdacs_doc(), "wire.xml": news_doc(NEWS)}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    env = {"WATCHFLOOR_DATA_DIR": str(tmp_path / "var"), "REDIS_URL": ""}
    ingested = run_cli("ingest", *(str(tmp_path / n) for n in files), env=env)
    assert ingested.returncode == 0, ingested.stderr
    listed = run_cli("incidents", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(x) for x in listed.stdout.splitlines()]
    assert len(rows) == 1
    row = rows[0]
    assert {"id", "title", "kind", "lat", "lon", "time", "magnitude", "reports"} <= set(row)
    assert (row["lat"], row["lon"], row["magnitude"]) == (USGS_LAT, USGS_LON, 6.3)
    assert sorted(r["source"] for r in row["reports"]) == ["gdacs", "rss", "usgs-geojson"]
    assert all({"source", "feed", "event_id", "time"} <= set(r) for r in row["reports"])
    text = run_cli("incidents", env=env)
    assert text.returncode == 0 and "3 report(s)" in text.stdout
    split = run_cli("incidents", "split", row["id"], "gdacs:EQ1395300", env=env)
    assert split.returncode == 0, split.stderr
    assert json.loads(split.stdout)["new"] == "inc:gdacs:EQ1395300"
    assert len(run_cli("incidents", "--json", env=env).stdout.splitlines()) == 2
    bad = run_cli("incidents", "merge", row["id"], "inc:nope", env=env)
    assert bad.returncode == 2 and "no incident inc:nope" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.corpus
def test_corpus_usgs_atom_and_cap_of_one_quake_are_one_incident(corpus, tmp_path):
    """The corpus's one cross-format quake: us2010apcd (Tonga) in the USGS Atom feed and as a USGS CAP
    alert, 5 h 44 min and 1.0 magnitude apart; ingested from the CLI, listed as one incident."""
    env = {"WATCHFLOOR_DATA_DIR": str(tmp_path / "var"), "REDIS_URL": ""}
    atom = corpus / "georss" / "usgs_7day-M5_atom_2010-08-31.xml"
    cap = corpus / "cap" / "usgs_earthquake_cap11_2010-08-31.xml"
    ingested = run_cli("ingest", str(atom), str(cap), env=env)
    assert ingested.returncode == 0, ingested.stderr
    rows = [json.loads(x) for x in run_cli("incidents", "--json", env=env).stdout.splitlines()]
    tonga = [r for r in rows if any(e["source"] == "cap" for e in r["reports"])]
    assert len(tonga) == 1
    # the Atom feed is read by its USGS profile (#18): an earthquake with its magnitude, not news
    assert sorted(e["source"] for e in tonga[0]["reports"]) == ["cap", "rss:usgs-atom"]
    atom_events = [json.loads(x) for x in run_cli("parse", str(atom), env=env).stdout.splitlines()]
    assert len(rows) == len(atom_events)  # every other Atom quake stays its own incident


def test_a_marked_partner_feed_marks_the_incident_it_joins(redis_client, monkeypatch):
    """A feed configured ``tlp = "TLP:AMBER"`` marks every report it gives; the incident carries the
    most restrictive marking of its reports, and unmarked reports keep their fingerprints."""
    monkeypatch.setitem(FEEDS, "news", FeedConfig(id="world-wire", url="https://news.example.org/rss", format="rss",
                                                  kind="news", tlp="TLP:AMBER"))
    ingest(redis_client, "usgs", usgs_doc())
    ingest(redis_client, "gdacs", gdacs_doc())
    fuse_now(redis_client)
    assert quake(redis_client)["tlp"] == "TLP:CLEAR"
    ingest(redis_client, "news", news_doc(NEWS))
    fuse_now(redis_client)
    incident = quake(redis_client)
    assert incident["tlp"] == "TLP:AMBER" and incident["corroboration"] == 3
    marked = [orjson.loads(v) for v in redis_client.hvals(EventKeys.CURRENT)]
    assert sorted(e.get("tlp", "-") for e in marked) == ["-", "-", "TLP:AMBER"]
