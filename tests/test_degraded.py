"""Redis down at start-up: the app starts, says so, and does not crash-loop."""

from __future__ import annotations

import pytest

from tests.test_access import make_config, serve, stop
from watchfloor.redis_server import free_port


@pytest.fixture
def app_without_redis():
    from dashboard import create_app

    # A port nothing listens on: every Redis call fails at once (connection refused).
    config = make_config(f"redis://127.0.0.1:{free_port()}/0")
    web = serve(create_app(config).server)
    yield web
    stop(web)


def test_health_is_503_with_redis_false_and_every_feed_listed(app_without_redis):
    reply = app_without_redis.get("/api/health")
    assert reply.status == 503
    body = reply.json()
    assert body["redis"] is False and body["events"] == 0
    assert body["feeds"] and all("status" in f for f in body["feeds"].values())


def test_sign_in_page_says_the_data_store_is_unreachable(app_without_redis):
    page = app_without_redis.get("/login", html=True)
    assert page.status in (200, 503)
    text = page.body.decode()
    assert "unavailable" in text.lower() or "unreachable" in text.lower(), text[:500]
    assert "Traceback" not in text
