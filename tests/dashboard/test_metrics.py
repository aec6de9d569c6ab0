"""GET /metrics: Prometheus text for an operator's own monitoring, numbers only, and only for those
allowed to read it (issue 12, item 10)."""

from __future__ import annotations

import re

import pytest

from domain.picture.keys import IncidentKeys
from domain.store.streams import EventKeys
from tests.domain.test_access import make_config, serve, stop

pytestmark = pytest.mark.redis


def sample(text: str, name: str, labels: str = "") -> float:
    match = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.M)
    assert match, f"{name}{labels} not in /metrics"
    return float(match.group(1))


@pytest.fixture
def app_for(redis_server):
    from dashboard import create_app

    started = []

    def start(**env):
        web = serve(create_app(make_config(redis_server.url, **env)).server)
        started.append(web)
        return web

    yield start
    for web in started:
        stop(web)


def test_metrics_from_this_host_carry_feeds_queues_fuser_and_latency(app_for, redis_client):
    web = app_for()
    redis_client.hset(EventKeys.METRICS_INGESTED, "usgs-all-hour", 42)
    redis_client.xadd(EventKeys.EVENTS, {"id": "r1"}, id="2000-0")
    redis_client.xadd(EventKeys.EVENTS, {"id": "r2"}, id="9000-0")
    redis_client.hset(IncidentKeys.FUSION_STATE, "cursor", "2000-0")  # the fuser is 7 s behind the newest report
    redis_client.rpush("rq:queue:watchfloor-feeds", "job-a", "job-b")
    web.get("/login", html=True)
    reply = web.get("/metrics")
    assert reply.status == 200 and reply.header("content-type").startswith("text/plain; version=0.0.4")
    text = reply.body.decode()
    assert sample(text, "watchfloor_store_up") == 1
    assert sample(text, "watchfloor_feed_reports_ingested_total", '{feed="usgs-all-hour"}') == 42
    assert sample(text, "watchfloor_feed_up", '{feed="usgs-all-hour"}') == 0  # never polled here
    assert sample(text, "watchfloor_reports_total") == 2
    assert sample(text, "watchfloor_fuser_lag_seconds") == 7
    assert sample(text, "watchfloor_queue_depth", '{queue="watchfloor-feeds"}') == 2
    assert sample(text, "watchfloor_process_up", '{process="fuser"}') == 0
    assert sample(text, "watchfloor_http_request_duration_seconds_count", '{route="/login"}') >= 1
    assert "watchfloor_screens_connected 0" in text
    for line in text.splitlines():  # every line is a comment or a sample: the format Prometheus reads
        assert line.startswith("# ") or re.fullmatch(r"[a-z_]+(\{[^}]*\})? -?[0-9.e+inf]+", line), line


def test_metrics_need_the_token_when_one_is_set_and_refuse_a_proxied_request_without(app_for):
    open_web = app_for()
    assert open_web.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status == 403
    web = app_for(WATCHFLOOR_METRICS_TOKEN="s3cret-scrape-token")
    assert web.get("/metrics").status == 403
    assert web.get("/metrics", headers={"Authorization": "Bearer wrong"}).status == 403
    reply = web.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape-token"})
    assert reply.status == 200 and b"watchfloor_store_up 1" in reply.body
    assert b"TLP:" not in reply.body  # numbers only, never a record or its marking
