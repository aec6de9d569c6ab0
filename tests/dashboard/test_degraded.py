"""Redis down at start-up: the app starts, says so, and does not crash-loop."""

from __future__ import annotations

import pytest

from tests.domain.test_access import make_config, serve, stop
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


def test_a_slow_store_holds_no_other_request_and_screens_hear_degraded(tmp_path):
    """Redis frozen (SIGSTOP): the screens' polls wait in worker threads, each answers within its
    deadline that the store is unreachable (DEGRADED), and the event loop keeps serving others."""
    import json
    import os
    import signal
    import threading
    import time

    import redis

    from dashboard import create_app
    from domain.access.accounts import AccountStore, Role
    from tests.domain.test_access import PASSWORD
    from watchfloor.redis_server import EmbeddedRedis

    server = EmbeddedRedis(tmp_path / "redis").start()
    AccountStore(redis.Redis.from_url(server.url)).create("victor", Role.VIEWER, PASSWORD)
    web = serve(create_app(make_config(server.url)).server)
    key = lambda i: json.dumps(i, separators=(",", ":"), sort_keys=True)  # noqa: E731 - Dash's id spelling
    delta, cursor, alerts, req, settings = ({"screen": "desk", "wf": n}
                                            for n in ("delta", "cursor", "alerts", "poll-req", "settings"))
    match = {"screen": ["MATCH"]}
    poll = {"output": f"..{key({**delta, **match})}.data...{key({**cursor, **match})}.data..."
                      f"{key({**alerts, **match})}.data..",
            "outputs": [{"id": delta, "property": "data"}, {"id": cursor, "property": "data"},
                        {"id": alerts, "property": "data"}],
            "inputs": [{"id": req, "property": "data", "value": 1}],
            "state": [{"id": cursor, "property": "data", "value": "0-0"},
                      {"id": alerts, "property": "data", "value": {"cursor": "", "alerts": {}}},
                      {"id": settings, "property": "data", "value": {"screen": "desk"}}],
            "changedPropIds": [f"{key(req)}.data"]}
    try:
        cookie = web.session("victor")
        assert web.update(poll, cookie).status == 200
        answers: list[tuple[int, float, bytes]] = []

        def screen() -> None:
            started = time.monotonic()
            reply = web.update(poll, cookie)
            answers.append((reply.status, time.monotonic() - started, reply.body))

        os.kill(server.process.pid, signal.SIGSTOP)
        try:
            screens = [threading.Thread(target=screen) for _ in range(6)]
            for thread in screens:
                thread.start()
            time.sleep(0.3)
            started = time.monotonic()
            assert web.get("/login.css").status == 200  # the event loop is free for everyone else
            loop_free = time.monotonic() - started
            for thread in screens:
                thread.join(60)
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
        assert loop_free < 1.0, f"a page waited {loop_free:.1f}s behind the screens' polls"
        assert len(answers) == 6
        for status, took, body in answers:  # each within its own deadline, not one after another
            assert took < 10, f"a screen waited {took:.1f}s"
            assert status == 503 or b'"redis":false' in body.replace(b" ", b""), (status, body[:200])
    finally:
        stop(web)
        server.stop()
