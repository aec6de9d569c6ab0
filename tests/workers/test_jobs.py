"""poll_feed end to end: real HTTP on loopback, real Redis, the real adapters."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from domain.config.loader import Config, load_config
from domain.store.streams import EventKeys, EventStore, FeedKeys, load_health
from feeds.contract import FeedConfig
from workers.jobs import backoff_seconds, poll_feed
from workers.places import PlaceKeys

pytestmark = pytest.mark.redis


def usgs_doc(mag: float = 4.2) -> bytes:
    feature = {
        "type": "Feature",
        "id": "ci40000001",
        "properties": {"mag": mag, "place": "12 km SW of Ridgecrest, CA", "time": 1763805600000,
                       "updated": 1763805700000, "url": "https://earthquake.usgs.gov/x", "status": "reviewed",
                       "tsunami": 0, "alert": None, "type": "earthquake", "title": f"M {mag} - 12 km SW of Ridgecrest, CA"},
        "geometry": {"type": "Point", "coordinates": [-117.75, 35.55, 8.1]},
    }
    return json.dumps({"type": "FeatureCollection", "metadata": {"generated": 1763805800000, "count": 1},
                       "features": [feature]}).encode()


class Routes:
    """What the loopback server answers, changeable by the test."""

    def __init__(self) -> None:
        self.body: dict[str, tuple[int, str, bytes]] = {}
        self.hits: dict[str, int] = {}
        self.headers: dict[str, dict[str, str]] = {}  # path -> extra response headers
        self.agents: list[str] = []  # the User-Agent of every request


@pytest.fixture
def feed_server() -> Iterator[tuple[str, Routes]]:
    routes = Routes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            routes.hits[self.path] = routes.hits.get(self.path, 0) + 1
            routes.agents.append(self.headers.get("User-Agent", ""))
            status, ctype, body = routes.body.get(self.path, (404, "text/plain", b"no"))
            etag = f'"{hash(body)}"'
            if status == 200 and self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            for name, value in routes.headers.get(self.path, {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", routes
    server.shutdown()
    server.server_close()


def config_for(base: str, *feeds: FeedConfig) -> Config:
    config = load_config(env={})
    return Config(values={**config.values, "fetch_timeout": 3.0}, feeds=feeds, source="test")


def test_poll_ingests_then_repoll_changes_nothing(redis_client, feed_server):
    base, routes = feed_server
    routes.body["/q.geojson"] = (200, "application/geo+json", usgs_doc())
    feed = FeedConfig(id="q", url=f"{base}/q.geojson", format="usgs-geojson", interval=5, allow_local=True)
    config = config_for(base, feed)
    out = poll_feed("q", config=config, client=redis_client)
    assert out["status"] == "ok" and out["new"] == 1
    redis_client.delete(FeedKeys.poll_lock("q"))
    again = poll_feed("q", config=config, client=redis_client)
    assert again.get("not_modified") is True
    assert redis_client.xlen(EventKeys.EVENTS) == 1
    event = EventStore(redis_client).get("usgs:ci40000001")
    assert event["feed"] == "q" and event["magnitude"] == 4.2 and event["lat"] == 35.55


def test_revision_is_one_update_not_a_duplicate(redis_client, feed_server):
    base, routes = feed_server
    feed = FeedConfig(id="q", url=f"{base}/q.geojson", format="usgs-geojson", interval=5, allow_local=True)
    config = config_for(base, feed)
    routes.body["/q.geojson"] = (200, "application/geo+json", usgs_doc(4.2))
    poll_feed("q", config=config, client=redis_client)
    redis_client.delete(FeedKeys.poll_lock("q"))
    routes.body["/q.geojson"] = (200, "application/geo+json", usgs_doc(4.6))
    out = poll_feed("q", config=config, client=redis_client)
    assert out["updated"] == 1 and out["new"] == 0
    assert EventStore(redis_client).count() == 1


def test_a_broken_feed_is_recorded_and_the_others_go_on(redis_client, feed_server):
    base, routes = feed_server
    routes.body["/good"] = (200, "application/geo+json", usgs_doc())
    routes.body["/bad"] = (503, "text/html", b"<html><body>Service Unavailable</body></html>")
    routes.body["/login"] = (200, "text/html", b"<html><head><title>Sign in</title></head><body><form></form></body></html>")
    good = FeedConfig(id="good", url=f"{base}/good", format="auto", interval=5, allow_local=True)
    bad = FeedConfig(id="bad", url=f"{base}/bad", format="auto", interval=5, allow_local=True)
    login = FeedConfig(id="login", url=f"{base}/login", format="auto", interval=5, allow_local=True)
    config = config_for(base, good, bad, login)
    for fid in ("bad", "login", "good"):
        poll_feed(fid, config=config, client=redis_client)
    bad_health = load_health(redis_client, "bad")
    assert bad_health.status == "http-error" and bad_health.http_status == 503
    assert "503" in bad_health.reason and "\n" not in bad_health.reason
    assert bad_health.next_attempt > bad_health.last_attempt  # backing off
    login_health = load_health(redis_client, "login")
    assert login_health.status != "ok" and login_health.reason
    assert load_health(redis_client, "good").status == "ok"
    assert EventStore(redis_client).count() == 1


def test_unreachable_public_feed_is_refused_without_traffic(redis_client):
    # 192.0.2.0/24 is TEST-NET-1: the SSRF guard refuses it before any connection is made.
    feed = FeedConfig(id="far", url="http://192.0.2.10/feed", format="rss", interval=60)
    config = config_for("", feed)
    out = poll_feed("far", config=config, client=redis_client)
    assert out["status"] in ("refused", "unreachable")
    assert load_health(redis_client, "far").failures == 1


def test_one_poll_per_interval_even_with_two_schedulers(redis_client, feed_server):
    base, routes = feed_server
    routes.body["/q"] = (200, "application/geo+json", usgs_doc())
    feed = FeedConfig(id="q", url=f"{base}/q", format="usgs-geojson", interval=30, allow_local=True)
    config = config_for(base, feed)
    first = poll_feed("q", config=config, client=redis_client)
    second = poll_feed("q", config=config, client=redis_client)
    assert first["status"] == "ok"
    assert "skipped" in second
    assert routes.hits["/q"] == 1


def test_backoff_grows_and_is_capped():
    assert backoff_seconds(60, 0) == 0
    assert backoff_seconds(60, 1) == 60
    assert backoff_seconds(60, 3) == 240
    assert backoff_seconds(60, 30) == 1800
    assert backoff_seconds(3600, 5) == 3600


def test_feed_workers_do_not_load_the_web_app():
    """Workers evaluate alert rules per poll; they must not import Dash and plotly to know the
    workspaces (a worker process stays small and starts fast)."""
    import subprocess
    import sys

    code = ("import sys, workers.jobs, workers.schedule, domain.config.workspaces, domain.operations.rules, "
            "domain.operations.criminal_intel, domain.operations.outbound; "
            "print(sorted(m for m in ('dash', 'plotly', 'dashboard.screens') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def geysers_doc(ids: list[str], lat: float = 38.8076, lon: float = -122.7900) -> bytes:
    """USGS items "3 km W of The Geysers, CA" (a place no registry gazetteer holds)."""
    features = [
        {"type": "Feature", "id": i,
         "properties": {"mag": 1.1, "place": "3 km W of The Geysers, CA", "time": 1763805600000 + k,
                        "updated": 1763805700000, "url": "https://earthquake.usgs.gov/x", "status": "automatic",
                        "type": "earthquake", "title": "M 1.1 - 3 km W of The Geysers, CA"},
         "geometry": {"type": "Point", "coordinates": [lon, lat, 2.0]}}
        for k, i in enumerate(ids)
    ]
    return json.dumps({"type": "FeatureCollection", "metadata": {"generated": 1763805800000, "count": len(ids)},
                       "features": features}).encode()


def test_a_poll_teaches_places_unless_the_feed_may_not(redis_client, feed_server):
    from workers import places

    base, routes = feed_server
    routes.body["/g.geojson"] = (200, "application/geo+json", geysers_doc(["nc1", "nc2"]))
    quiet = FeedConfig(id="quiet", url=f"{base}/g.geojson", format="usgs-geojson", interval=5, allow_local=True,
                       teaches_places=False)
    assert poll_feed("quiet", config=config_for(base, quiet), client=redis_client)["new"] == 2
    assert redis_client.scard(PlaceKeys.GEO_LEARNED) == 0
    loud = FeedConfig(id="loud", url=f"{base}/g.geojson", format="usgs-geojson", interval=5, allow_local=True)
    redis_client.flushdb()
    assert poll_feed("loud", config=config_for(base, loud), client=redis_client)["new"] == 2
    assert redis_client.hget("wf:metrics:ingested", "loud") == b"2"  # /metrics: reports ingested per feed
    learned = places.load(redis_client)
    (geysers,) = learned["the geysers"]
    assert (geysers.cc, geysers.admin1) == ("US", "CA")
    assert abs(geysers.lat - 38.8076) < 0.02 and abs(geysers.lon - -122.7555) < 0.02  # 3 km E of the quakes


def test_the_worker_builds_the_gazetteer_before_forking_jobs(redis_client, redis_server):
    # RQ runs each job in a fork of the worker: tables built in the worker are inherited, tables
    # built in a job are thrown away with it (2.4 s and 200 MB again in every poll that geocodes).
    import subprocess
    import sys

    code = (
        "import redis, sys\n"
        "from domain.config.loader import load_config\n"
        "from workers.schedule import run_worker\n"
        "import feeds.geocode.index as g\n"
        "assert g._index is None and not g._small\n"
        "run_worker(load_config(env={}), redis.Redis.from_url(sys.argv[1]), burst=True)\n"
        "print(g._index is not None, True in g._small)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, redis_server.url],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[-1].split() == ["True", "True"]  # after RQ's own log lines


def test_a_feed_that_says_retry_after_is_not_asked_sooner_and_hears_our_user_agent(redis_client, feed_server):
    base, routes = feed_server
    routes.body["/busy"] = (429, "text/plain", b"slow down")
    routes.headers["/busy"] = {"Retry-After": "3600"}
    feed = FeedConfig(id="busy", url=f"{base}/busy", format="usgs-geojson", interval=60, allow_local=True)
    config = config_for(base, feed)
    config = Config(values={**config.values, "user_agent": "Watchfloor (ops@county.example.gov)"}, feeds=(feed,),
                    source="test")
    before = time.time()
    out = poll_feed("busy", config=config, client=redis_client)
    assert out["status"] == "http-error" and "Retry-After 3600" in out["reason"]
    health = load_health(redis_client, "busy")
    assert health.next_attempt >= before + 3600 - 1  # the hour it asked for, not the 60 s back-off
    redis_client.delete(FeedKeys.poll_lock("busy"))  # the next interval: the back-off, not the poll lock, decides
    assert poll_feed("busy", config=config, client=redis_client)["skipped"].startswith("backing off")
    assert routes.hits["/busy"] == 1 and routes.agents == ["Watchfloor (ops@county.example.gov)"]


def test_retry_after_reads_seconds_and_http_dates():
    from feeds.fetch import retry_after_seconds

    assert retry_after_seconds("120") == 120
    assert retry_after_seconds("Thu, 01 Jan 2026 00:10:00 GMT", now=1767225600.0) == 600
    assert retry_after_seconds("999999999") == 86_400  # capped at a day
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
