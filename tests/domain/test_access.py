"""Access control against the real app: uvicorn on loopback, a real Redis, crafted HTTP requests.

Each refused attempt must be a 401/403 (or no data) and leave an audit record (RELIABILITY.md, Access).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import redis
import uvicorn

from dashboard.login import register_login_routes
from dashboard.middleware import install_security
from dashboard.security import requires, safe_next
from domain.access.accounts import LOCK_AFTER_FAILURES, AccountStore, LoginOutcome, Role, ensure_first_admin
from domain.access.audit import audit, read, trim
from domain.access.keys import AuditKeys
from domain.config.loader import Config, ConfigError, load_config
from tests.stack import ROOT
from watchfloor.redis_server import free_port

pytestmark = [pytest.mark.redis]

PASSWORD = "correct horse battery staple"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]


# -- a real server on loopback ----------------------------------------------------------------------
@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def cookies(self) -> dict[str, str]:
        """Set-Cookie lines by cookie name: the whole line (value and attributes)."""
        return {v.split("=", 1)[0]: v for k, v in self.headers if k.lower() == "set-cookie"}

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Web:
    port: int
    server: uvicorn.Server
    thread: threading.Thread
    extra: dict = field(default_factory=dict)

    def request(self, method: str, path: str, body: bytes | str | None = None, headers: dict | None = None,
                cookie: str | None = None) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = dict(headers or {})
        if cookie:
            headers["Cookie"] = cookie
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        reply = Reply(resp.status, resp.getheaders(), resp.read())
        conn.close()
        return reply

    def get(self, path: str, cookie: str | None = None, html: bool = False, **kw) -> Reply:
        headers = {"Accept": "text/html,application/xhtml+xml"} if html else {"Accept": "application/json"}
        headers.update(kw.pop("headers", {}))
        return self.request("GET", path, headers=headers, cookie=cookie, **kw)

    def login(self, name: str, password: str = PASSWORD, next_path: str = "/", cookie: str | None = None,
              headers: dict | None = None) -> Reply:
        page = self.get("/login", html=True, headers=headers or {})
        login_cookie = next(v for k, v in page.cookies().items() if k.endswith("wf_login")).split(";")[0]
        token = re.search(rb'name="csrf" value="([^"]+)"', page.body).group(1).decode()
        jar = "; ".join(c for c in (login_cookie, cookie) if c)
        form = urlencode({"username": name, "password": password, "csrf": token, "next": next_path})
        return self.request("POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded",
                                                    **(headers or {})}, cookie=jar)

    def session(self, name: str, password: str = PASSWORD) -> str:
        reply = self.login(name, password)
        assert reply.status == 303, (reply.status, reply.body[:300])
        return session_cookie(reply)

    def update(self, payload: dict, cookie: str | None) -> Reply:
        return self.request("POST", "/_dash-update-component", json.dumps(payload),
                            {"Content-Type": "application/json", "Accept": "application/json"}, cookie=cookie)


def session_cookie(reply: Reply) -> str:
    line = next(v for k, v in reply.cookies().items() if k.endswith("wf_session"))
    return line.split(";")[0]


def serve(asgi_app) -> Web:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(asgi_app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on", proxy_headers=False))  # as `watchfloor web`
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    return Web(port, server, thread)


def stop(web: Web) -> None:
    web.server.should_exit = True
    web.thread.join(10)


def make_config(redis_url: str, **env: str) -> Config:
    return load_config(env={"REDIS_URL": redis_url, "WATCHFLOOR_EXERCISE": "false", **env})


@pytest.fixture(scope="module")
def web(redis_server) -> Iterator[Web]:
    """The real app from dashboard.create_app."""
    from dashboard import create_app

    app = create_app(make_config(redis_server.url))
    web = serve(app.server)
    web.extra["app"] = app
    yield web
    stop(web)


def tiny_dash(config: Config, client_url: str, calls: list):
    """A small Dash app on FastAPI with one operator-only callback and one timer callback."""
    from dash import Dash, Input, Output, dcc, html
    from fastapi import FastAPI

    client = redis.Redis.from_url(client_url)
    server = FastAPI()
    register_login_routes(server, install_security(server, config, lambda: client))
    app = Dash(__name__, server=server, serve_locally=True, update_title=None)
    app.layout = html.Div([html.Button("save", id="save"), html.Div(id="out"), html.Div(id="clock"),
                           dcc.Interval(id="tick", interval=500)])

    @app.callback(Output("out", "children"), Input("save", "n_clicks"), prevent_initial_call=True)
    @requires("operator")
    def save(n_clicks):
        calls.append(n_clicks)
        return f"saved {n_clicks}"

    @app.callback(Output("clock", "children"), Input("tick", "n_intervals"))
    def clock(n):
        return str(n)

    return app


@pytest.fixture(scope="module")
def tiny(redis_server) -> Iterator[Web]:
    """Short idle timeout (3 s) and 127.0.0.1 as a trusted TLS proxy."""
    calls: list = []
    config = make_config(redis_server.url, WATCHFLOOR_SESSION_IDLE_MINUTES="0.05",
                         WATCHFLOOR_TRUSTED_PROXIES="127.0.0.1")
    app = tiny_dash(config, redis_server.url, calls)
    web = serve(app.server)
    web.extra["calls"] = calls
    yield web
    stop(web)


@pytest.fixture
def accounts(redis_client) -> AccountStore:
    store = AccountStore(redis_client)
    store.create("olivia", Role.OPERATOR, PASSWORD)
    store.create("victor", Role.VIEWER, PASSWORD)
    return store


def audit_log(client: redis.Redis) -> list[dict]:
    return [r.to_dict() for r in read(client)]


SAVE = {"output": "out.children", "outputs": {"id": "out", "property": "children"},
        "inputs": [{"id": "save", "property": "n_clicks", "value": 1}], "changedPropIds": ["save.n_clicks"],
        "state": []}
TICK = {"output": "clock.children", "outputs": {"id": "clock", "property": "children"},
        "inputs": [{"id": "tick", "property": "n_intervals", "value": 3}], "changedPropIds": ["tick.n_intervals"],
        "state": []}


# -- every /_dash-* endpoint needs a session ------------------------------------------------------------
def test_every_dash_endpoint_refuses_without_a_session(web, redis_client):
    from starlette.routing import Route, WebSocketRoute

    tried = []
    for route in web.extra["app"].server.routes:
        if not route.path.startswith("/_dash-"):
            continue
        path = re.sub(r"\{[^}]+\}", "x.js", route.path)
        if isinstance(route, WebSocketRoute):
            continue  # the WebSocket test below
        assert isinstance(route, Route)
        for method in sorted(route.methods or {"GET"}):
            if method == "HEAD":
                continue
            body = json.dumps(SAVE) if method == "POST" else None
            reply = web.request(method, path, body, {"Content-Type": "application/json"})
            assert reply.status == 401, (method, path, reply.status, reply.body[:200])
            assert reply.json() == {"error": "unauthenticated", "login": "/login"}
            tried.append(f"{method} {path}")
    assert {"GET /_dash-layout", "GET /_dash-dependencies", "POST /_dash-update-component"} <= set(tried)
    refused = [r for r in audit_log(redis_client) if r["outcome"] == "refused" and r["action"] == "access"]
    assert {r["record"] for r in refused} >= set(tried)
    assert all(r["user"] == "-" and r["source"] == "127.0.0.1" and r["time"].endswith("Z") for r in refused)


def test_websocket_without_a_session_is_refused(web, redis_client):
    key = base64.b64encode(os.urandom(16)).decode()
    reply = web.request("GET", "/_dash-ws-callback", headers={
        "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": key,
        "Origin": f"http://127.0.0.1:{web.port}"})
    assert reply.status == 403
    assert any(r["record"].startswith("WS ") and r["outcome"] == "refused" for r in audit_log(redis_client))


def test_pages_and_assets_need_a_session(web, redis_client):
    page = web.get("/wall?x=1", html=True)
    assert page.status == 303
    assert page.header("location") == "/login?next=%2Fwall%3Fx%3D1"
    assert web.get("/assets/watchfloor.css").status == 401
    assert web.get("/api/anything").status == 401


def test_health_is_minimal_without_a_session_and_full_with_one(web, accounts):
    public = web.get("/api/health")
    body = public.json()
    assert set(body) == {"redis", "events", "feeds", "processes"}
    assert body["redis"] is True and isinstance(body["events"], int)
    assert set(body["processes"]) == {"fuser", "workers", "scheduler"}  # status words only: no host or pid names
    assert body["feeds"] and all(set(f) <= {"status", "reason"} and "status" in f for f in body["feeds"].values())
    full = web.get("/api/health", cookie=web.session("victor")).json()
    assert "time" in full and any("last_success" in f for f in full["feeds"].values())


def test_minimal_health_asked_for_gzip_is_plain_json_with_no_gzip_header(web, accounts):
    reply = web.get("/api/health", headers={"Accept-Encoding": "gzip"})
    assert reply.status == 200
    assert not [v for k, v in reply.headers if k.lower() == "content-encoding"]
    body = reply.json()  # parses: the bytes are what the headers say
    assert body["redis"] is True and body["feeds"]


# -- sign-in, sessions ------------------------------------------------------------------------------
def test_login_issues_a_new_session_id_and_revokes_the_old_one(web, accounts):
    first = web.session("olivia")
    assert web.get("/_dash-layout", cookie=first).status == 200
    again = web.login("olivia", cookie=first)
    second = session_cookie(again)
    assert second != first
    assert web.get("/_dash-layout", cookie=first).status == 401  # the pre-login id is dead
    assert web.get("/_dash-layout", cookie=second).status == 200
    # An id planted by someone else is never adopted (no fixation).
    planted = "wf_session=attacker-chosen-value-0123456789"
    third = session_cookie(web.login("olivia", cookie=planted))
    assert third.split("=", 1)[1] != "attacker-chosen-value-0123456789"
    # Only the digest is stored: the cookie value never appears as a Redis key.
    keys = [k.decode() for k in accounts.client.keys("wf:session:*")]
    assert keys and all(second.split("=", 1)[1] not in k for k in keys)


def test_session_cookie_flags_plain_http(web, accounts):
    line = next(v for k, v in web.login("olivia").cookies().items() if k == "wf_session")
    attrs = {a.strip().split("=")[0].lower() for a in line.split(";")[1:]}
    assert {"httponly", "path", "samesite"} <= attrs and "secure" not in attrs
    assert "SameSite=Strict" in line and "Path=/" in line
    # X-Forwarded-Proto from a peer that is not a trusted proxy changes nothing.
    spoofed = web.login("olivia", headers={"X-Forwarded-Proto": "https"})
    assert "wf_session" in spoofed.cookies() and spoofed.header("strict-transport-security") is None


def test_session_cookie_is_secure_behind_a_trusted_tls_proxy(tiny, accounts):
    reply = tiny.login("olivia", headers={"X-Forwarded-Proto": "https"})
    assert reply.status == 303
    line = reply.cookies()["__Host-wf_session"]
    assert "; Secure" in line and "HttpOnly" in line and "SameSite=Strict" in line and "Path=/" in line
    assert reply.header("strict-transport-security").startswith("max-age=")


def test_five_wrong_passwords_lock_the_account(web, accounts, redis_client):
    for _ in range(LOCK_AFTER_FAILURES):
        reply = web.login("olivia", "not the password at all")
        assert reply.status == 401 and "wf_session" not in reply.cookies()
    locked = web.login("olivia", PASSWORD)
    assert locked.status == 401 and "wf_session" not in locked.cookies()
    assert b"Sign-in failed" in locked.body  # the same words as a wrong password: nothing to enumerate
    log = audit_log(redis_client)
    failed = [r for r in log if r["action"] == "login" and r["outcome"] == "failed" and r["record"] == "olivia"]
    assert [r["reason"] for r in failed] == ["bad password"] * LOCK_AFTER_FAILURES + ["account locked"]
    assert sum(1 for r in log if r["action"] == "account.lock" and r["record"] == "olivia") == 1
    accounts.unlock("olivia")
    assert web.login("olivia").status == 303
    assert any(r["action"] == "login" and r["outcome"] == "ok" for r in audit_log(redis_client))


def test_a_sign_in_flood_is_answered_429_and_costs_one_audit_record(web, accounts, redis_client):
    limit = 20  # login_attempts_per_address, the default
    if time.time() % 60 > 40:  # counters are per minute: start the flood early in one
        time.sleep(61 - time.time() % 60)
    answers = [web.login(f"intruder{i}", "guess").status for i in range(limit + 15)]  # names chosen by the attacker
    assert answers[:limit] == [401] * limit and set(answers[limit:]) == {429}
    refused = web.login("olivia")  # the right password from the flooding address waits too
    assert refused.status == 429 and 1 <= int(refused.header("retry-after")) <= 60
    log = audit_log(redis_client)
    assert len([r for r in log if r["action"] == "login"]) == limit + 1  # the attempts let through + one summary
    (summary,) = [r for r in log if r["outcome"] == "refused" and r["action"] == "login"]
    assert "more than" in summary["reason"] and "not recorded" in summary["reason"]
    # Bounded: the counters are a few keys that expire with their minute.
    keys = redis_client.keys("wf:throttle:*")
    assert 0 < len(keys) <= limit + 17 and all(0 < redis_client.ttl(k) <= 120 for k in keys)


def test_one_account_guessed_from_many_addresses_is_throttled_too(redis_client):
    from domain.access.throttle import SignInThrottle

    throttle = SignInThrottle(redis_client, per_address=20, per_account=10)
    verdicts = [throttle.attempt(f"10.0.0.{i}", "admin", now=1_000_040.0) for i in range(12)]
    assert [v.retry_after for v in verdicts[:10]] == [None] * 10
    assert verdicts[10].retry_after == 40 and verdicts[10].first_refusal and not verdicts[11].first_refusal
    assert throttle.attempt("10.0.0.99", "admin", now=1_000_081.0).retry_after is None  # the next minute


def test_a_lockout_ends_by_itself_and_an_admin_ends_it_at_once(redis_client):
    store = AccountStore(redis_client, lockout_seconds=1.0)
    store.create("admin2", Role.ADMIN, PASSWORD)
    for _ in range(LOCK_AFTER_FAILURES):
        store.verify("admin2", "wrong guess")
    assert store.verify("admin2", PASSWORD).outcome is LoginOutcome.LOCKED  # anyone can lock it...
    time.sleep(1.1)
    assert store.verify("admin2", PASSWORD).ok  # ...but not for good
    for _ in range(LOCK_AFTER_FAILURES):
        store.verify("admin2", "wrong guess")
    assert store.verify("admin2", "wrong guess").outcome is LoginOutcome.LOCKED
    store.unlock("admin2")
    assert store.verify("admin2", PASSWORD).ok


def test_sign_in_with_the_store_full_is_503_not_500(tmp_path):
    from dashboard import create_app
    from watchfloor.redis_server import EmbeddedRedis

    server = EmbeddedRedis(tmp_path / "redis", maxmemory="3mb").start()
    client = redis.Redis.from_url(server.url)
    web = None
    try:
        AccountStore(client).create("olivia", Role.OPERATOR, PASSWORD)
        web = serve(create_app(make_config(server.url)).server)
        page_ok = web.get("/login", html=True)
        assert page_ok.status == 200
        def fill() -> None:  # to the last bytes: noeviction then refuses every write
            for size in (4096, 16):
                with pytest.raises(redis.ResponseError, match="maxmemory"):
                    for _ in range(200_000):
                        client.set(f"filler:{size}:{uuid.uuid4().hex}", "x" * size)

        # Redis's used memory moves a little on its own (buffers freed after the filling client's
        # last error), so a store just full may take one small write again: top it up and retry.
        # Whatever happens, a sign-in against a full store is never a 500.
        replies = []
        for _ in range(5):
            fill()
            replies.append(web.login("olivia"))
            if replies[-1].status == 503:
                break
        assert all(r.status in (303, 503) for r in replies), [r.status for r in replies]
        assert replies[-1].status == 503 and b"unreachable or full" in replies[-1].body
    finally:
        if web is not None:
            stop(web)
        client.close()
        server.stop()


def test_unknown_user_fails_like_a_wrong_password(web, accounts, redis_client):
    reply = web.login("nobody", PASSWORD)
    assert reply.status == 401 and b"Sign-in failed" in reply.body
    assert audit_log(redis_client)[-1]["reason"] == "unknown account"


def test_logout_then_replaying_the_cookie_fails(web, accounts, redis_client):
    cookie = web.session("victor")
    assert web.get("/_dash-layout", cookie=cookie).status == 200
    out = web.get("/logout", cookie=cookie, html=True)
    assert out.status == 303 and out.header("location").startswith("/login")
    assert "Max-Age=0" in out.cookies()["wf_session"]
    replay = web.get("/_dash-layout", cookie=cookie)
    assert replay.status == 401
    assert web.update(TICK, cookie).status == 401
    log = audit_log(redis_client)
    assert any(r["action"] == "logout" and r["user"] == "victor" for r in log)
    assert log[-1]["outcome"] == "refused" and log[-1]["reason"] == "session ended or unknown"


def test_idle_timeout_ends_a_session_timer_polls_do_not_keep_it_alive(tiny, accounts, redis_client):
    cookie = tiny.session("victor")
    deadline = time.monotonic() + 10
    statuses = []
    while time.monotonic() < deadline:
        reply = tiny.update(TICK, cookie)  # what an open, untouched screen sends
        statuses.append(reply.status)
        if reply.status == 401:
            break
        time.sleep(0.5)
    assert statuses[0] == 200 and statuses[-1] == 401, statuses
    # Interaction does keep a session alive past the idle limit.
    cookie = tiny.session("victor")
    for _ in range(8):
        time.sleep(0.6)
        assert tiny.get("/_dash-layout", cookie=cookie).status == 200


def push_opened(web: Web, cookie: str) -> int:
    """Open ``GET /api/push`` as a screen does, read its status line, hang up (it streams for minutes)."""
    conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=10)
    conn.request("GET", "/api/push", headers={"Accept": "text/event-stream", "Cookie": cookie})
    status = conn.getresponse().status
    conn.close()
    return status


def test_an_open_untouched_desk_does_not_keep_its_session_alive(redis_server, accounts):
    """The real desk asks for its deltas through a clientside gate (``poll-req``), not a timer's
    n_intervals: those polls are the screen's, not a person's, and must not renew the idle clock."""
    from dashboard import create_app

    desk = serve(create_app(make_config(redis_server.url, WATCHFLOOR_SESSION_IDLE_MINUTES="0.05")).server)
    poll_req, delta, cursor, alerts, settings = ({"screen": "desk", "wf": name} for name in
                                                 ("poll-req", "delta", "cursor", "alerts", "settings"))
    key = lambda i: json.dumps(i, separators=(",", ":"), sort_keys=True)  # noqa: E731 - Dash's id spelling
    match = {"screen": ["MATCH"]}  # the callback is registered with pattern-matching ids
    poll = {"output": f"..{key({**delta, **match})}.data...{key({**cursor, **match})}.data..."
                      f"{key({**alerts, **match})}.data..",
            "outputs": [{"id": delta, "property": "data"}, {"id": cursor, "property": "data"},
                        {"id": alerts, "property": "data"}],
            "inputs": [{"id": poll_req, "property": "data", "value": 1}],
            "state": [{"id": cursor, "property": "data", "value": "0-0"}, {"id": alerts, "property": "data", "value": None},
                      {"id": settings, "property": "data", "value": None}],
            "changedPropIds": [f"{key(poll_req)}.data"]}
    try:
        cookie = desk.session("victor")
        statuses = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            push_opened(desk, cookie)  # the screen's push stream reconnecting
            desk.get("/api/session", cookie=cookie)  # the page's own session check
            desk.get("/api/alerts", cookie=cookie, headers={"X-Watchfloor-Background": "1"})  # says it is the page's
            statuses.append(desk.update(poll, cookie).status)
            if statuses[-1] == 401:
                break
            time.sleep(0.5)
        assert statuses[0] == 200 and statuses[-1] == 401, statuses
        # A person using the page without a server round trip (filters, the map) tells the server.
        cookie = desk.session("victor")
        for _ in range(8):
            time.sleep(0.6)
            assert desk.request("POST", "/api/activity", headers={"Accept": "application/json"},
                                cookie=cookie).status == 204
        assert desk.update(poll, cookie).status == 200  # 4.8 s in, past the 3 s idle limit: still signed in
    finally:
        stop(desk)


def test_display_sessions_are_exempt_from_idle_and_the_token_leaves_the_url(tiny, accounts, redis_client):
    user, token = accounts.create_display("lobby-wall")
    first = tiny.get(f"/wall?display_token={token}&zone=east", html=True)
    assert first.status == 303
    assert first.header("location") == "/wall?zone=east"
    line = first.cookies()["wf_session"]
    assert "Max-Age=" in line and "HttpOnly" in line
    cookie = line.split(";")[0]
    time.sleep(3.5)  # past the 3 s idle limit of people
    assert tiny.update(TICK, cookie).status == 200
    assert tiny.update(SAVE, cookie).status == 403  # read-only
    # A new token for the screen revokes the old token and the live session.
    _, new_token = accounts.create_display("lobby-wall")
    assert tiny.update(TICK, cookie).status == 401
    stale = tiny.get(f"/wall?display_token={token}", html=True)
    assert stale.status == 303 and stale.header("location").startswith("/login")
    assert "wf_session" not in stale.cookies()
    assert any(r["action"] == "login.display" and r["outcome"] == "refused" for r in audit_log(redis_client))
    assert tiny.get(f"/wall?display_token={new_token}", html=True).cookies()["wf_session"]


def test_disabling_a_user_kills_their_live_session_at_once(web, accounts, redis_client):
    cookie = web.session("olivia")
    assert web.get("/_dash-layout", cookie=cookie).status == 200
    accounts.set_disabled("olivia", True)
    assert web.get("/_dash-layout", cookie=cookie).status == 401
    assert not redis_client.keys("wf:session:*")
    reply = web.login("olivia")
    assert reply.status == 401
    assert audit_log(redis_client)[-1]["reason"] == "account disabled"


def test_a_password_change_ends_every_session(web, accounts):
    one, two = web.session("olivia"), web.session("olivia")
    accounts.set_password("olivia", "another long passphrase")
    assert web.get("/_dash-layout", cookie=one).status == 401
    assert web.get("/_dash-layout", cookie=two).status == 401


def test_first_admin_must_change_the_one_time_password(web, redis_client):
    password = ensure_first_admin(redis_client)
    assert password and len(password) >= 16
    assert ensure_first_admin(redis_client) is None
    reply = web.login("admin", password)
    assert reply.status == 303 and reply.header("location") == "/password"
    cookie = session_cookie(reply)
    assert web.get("/", cookie=cookie, html=True).header("location") == "/password"
    assert web.get("/_dash-layout", cookie=cookie).status == 403
    form = urlencode({"current": password, "new": "a brand new passphrase", "confirm": "a brand new passphrase"})
    changed = web.request("POST", "/password", form, {"Content-Type": "application/x-www-form-urlencoded"},
                          cookie=cookie)
    assert changed.status == 303
    fresh = session_cookie(changed)
    assert web.get("/_dash-layout", cookie=cookie).status == 401
    assert web.get("/_dash-layout", cookie=fresh).status == 200
    assert not AccountStore(redis_client).require("admin").must_change_password


# -- roles on the server ------------------------------------------------------------------------------
def test_viewer_crafted_post_to_an_operator_callback_is_refused_and_audited(tiny, accounts, redis_client):
    calls = tiny.extra["calls"]
    calls.clear()
    viewer = tiny.session("victor")
    reply = tiny.update(SAVE, viewer)
    assert reply.status == 403
    assert b"saved" not in reply.body and calls == []  # the callback body never ran
    record = audit_log(redis_client)[-1]
    assert record["action"] == "callback" and record["outcome"] == "refused" and record["user"] == "victor"
    assert "operator" in record["reason"] and record["record"].endswith("save")
    # The same request from an operator works, and the timer callback is open to viewers.
    ok = tiny.update(SAVE, tiny.session("olivia"))
    assert ok.status == 200 and b"saved 1" in ok.body and calls == [1]
    assert tiny.update(TICK, viewer).status == 200


def test_requires_refuses_outside_a_request():
    from dash.exceptions import PreventUpdate

    @requires("admin")
    def act():
        return "done"

    with pytest.raises(PreventUpdate):
        act()


# -- headers, redirects, forgery ---------------------------------------------------------------------------
def test_security_headers_on_every_response(web, accounts):
    cookie = web.session("victor")
    replies = {
        "login": web.get("/login", html=True),
        "page": web.get("/", cookie=cookie, html=True),
        "layout": web.get("/_dash-layout", cookie=cookie),
        "refused": web.get("/_dash-layout"),
        "redirect": web.get("/", html=True),
        "health": web.get("/api/health"),
        "css": web.get("/login.css"),
    }
    for what, reply in replies.items():
        csp = reply.header("content-security-policy") or ""
        assert "frame-ancestors 'none'" in csp, what
        script_src = re.search(r"script-src ([^;]*)", csp).group(1)
        assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src, what
        assert "object-src 'none'" in csp and "base-uri 'none'" in csp, what
        assert reply.header("x-content-type-options") == "nosniff", what
        assert reply.header("referrer-policy") in ("no-referrer", "same-origin", "strict-origin"), what
        assert reply.header("x-frame-options") == "DENY", what
        assert reply.header("strict-transport-security") is None, what  # plain HTTP
    # Dash's one inline script is allowed by its hash, nothing else inline.
    page = replies["page"]
    inline = re.findall(rb"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>(.*?)</script>", page.body, re.S)
    import hashlib

    hashes = {"'sha256-" + base64.b64encode(hashlib.sha256(s).digest()).decode() + "'" for s in inline
              if not s.strip().startswith(b"alert(")}  # the IE conditional comment never runs
    assert hashes and all(h in page.header("content-security-policy") for h in hashes)
    assert replies["page"].header("cache-control") == "no-store"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "http:/x",
                                    "javascript:alert(1)", "/login", "\t//evil.example"])
def test_login_next_never_leaves_the_site(web, accounts, target):
    assert safe_next(target) == "/"
    form_page = web.get("/login?" + urlencode({"next": target}), html=True)
    assert b'name="next" value="/"' in form_page.body
    reply = web.login("victor", next_path=target)
    assert reply.status == 303 and reply.header("location") == "/"


def test_login_next_keeps_a_relative_path(web, accounts):
    assert web.login("victor", next_path="/wall?zone=east").header("location") == "/wall?zone=east"


def test_cross_site_posts_and_forged_login_forms_are_refused(web, accounts, redis_client):
    form = urlencode({"username": "victor", "password": PASSWORD, "csrf": "x", "next": "/"})
    cross = web.request("POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded",
                                                "Origin": "https://evil.example"})
    assert cross.status == 403
    no_token = web.request("POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"})
    assert no_token.status == 400 and "wf_session" not in no_token.cookies()
    cookie = web.session("victor")
    dash_cross = web.request("POST", "/_dash-update-component", json.dumps(TICK),
                             {"Content-Type": "application/json", "Origin": "https://evil.example"}, cookie=cookie)
    assert dash_cross.status == 403
    reasons = [r["reason"] for r in audit_log(redis_client) if r["outcome"] == "refused"]
    assert reasons.count("cross-site request (Origin differs)") == 2
    assert "sign-in form token missing or wrong" in reasons


def test_unauthenticated_refusals_cannot_flood_the_audit_stream(web, redis_client):
    for _ in range(60):
        web.get("/_dash-layout")
    refused = [r for r in audit_log(redis_client) if r["outcome"] == "refused"]
    assert 30 <= len(refused) <= 32
    assert "not recorded" in refused[-1]["reason"]


# -- debug mode, audit retention, CLI -------------------------------------------------------------------
def test_debug_mode_refuses_to_start_in_production(redis_server):
    from fastapi import FastAPI

    with pytest.raises(ConfigError) as err:
        install_security(FastAPI(), make_config(redis_server.url, DASH_DEBUG="true"), lambda: None)
    assert "\n" not in str(err.value) and "DASH_DEBUG" in str(err.value)
    install_security(FastAPI(), make_config(redis_server.url, DASH_DEBUG="true",
                                            WATCHFLOOR_ENVIRONMENT="development"), lambda: None)


def test_audit_is_trimmed_by_age_only(redis_client):
    now_ms = int(time.time() * 1000)
    old = now_ms - 401 * 86_400_000
    kept = now_ms - 100 * 86_400_000
    redis_client.xadd(AuditKeys.AUDIT, {"action": "old"}, id=f"{old}-0")
    redis_client.xadd(AuditKeys.AUDIT, {"action": "kept"}, id=f"{kept}-0")
    assert trim(redis_client, 400) == 1
    assert trim(redis_client, 30) == 0  # never below a year: the 100-day record stays
    for i in range(50):
        audit("test", record=str(i), user="t", source="s", client=redis_client)
    assert redis_client.exists(AuditKeys.AUDIT_TRIMMED)  # audit() runs the daily trim by itself
    actions = [r.action for r in read(redis_client)]
    assert actions[0] == "kept" and len(actions) == 51
    since = [r.action for r in read(redis_client, since=datetime.now(UTC) - timedelta(days=1))]
    assert len(since) == 50


def run_cli(*args: str, redis_url: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REDIS_URL": redis_url}
    env.pop("WATCHFLOOR_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "watchfloor.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          input=stdin, timeout=60, env=env)


def test_cli_manages_accounts_and_prints_the_audit(redis_server, redis_client):
    url = redis_server.url
    added = run_cli("user", "add", "dana", "--role", "supervisor", "--password-stdin", redis_url=url,
                    stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    weak = run_cli("user", "add", "eve", "--role", "viewer", "--password-stdin", redis_url=url, stdin="short\n")
    assert weak.returncode == 2 and weak.stderr.count("\n") == 1 and "12 characters" in weak.stderr
    bad_role = run_cli("user", "add", "eve", "--role", "king", "--password-stdin", redis_url=url, stdin=PASSWORD)
    assert bad_role.returncode == 2 and "not a role" in bad_role.stderr and "Traceback" not in bad_role.stderr
    no_tty = run_cli("user", "add", "eve", "--role", "viewer", redis_url=url)
    assert no_tty.returncode == 2 and "--password-stdin" in no_tty.stderr
    assert run_cli("user", "disable", "dana", redis_url=url).returncode == 0
    assert run_cli("user", "unlock", "dana", redis_url=url).returncode == 0
    missing = run_cli("user", "disable", "nobody", redis_url=url)
    assert missing.returncode == 2 and "no account named" in missing.stderr
    listed = run_cli("user", "list", redis_url=url).stdout
    assert re.search(r"^dana\s+supervisor\s+disabled$", listed, re.M)
    display = run_cli("display", "add", "lobby", redis_url=url)
    assert display.returncode == 0
    link = urlsplit(display.stdout.strip())
    assert link.path == "/wall" and len(parse_qs(link.query)["display_token"][0]) >= 43
    trail = run_cli("audit", "--since", datetime.now(UTC).strftime("%Y-%m-%d"), redis_url=url)
    assert trail.returncode == 0
    rows = [json.loads(line) for line in trail.stdout.splitlines()]
    assert [r["action"] for r in rows] == ["account.create", "account.disable", "account.unlock", "account.display"]
    assert all(set(r) == {"id", "time", "user", "source", "action", "record", "outcome", "reason"} for r in rows)
    assert rows[0]["user"].startswith("cli") and rows[0]["record"] == "dana"
    future = run_cli("audit", "--since", "2999-01-01", redis_url=url)
    assert future.returncode == 0 and future.stdout == ""
    bad_date = run_cli("audit", "--since", "yesterday", redis_url=url)
    assert bad_date.returncode == 2 and "not a date" in bad_date.stderr


# -- a real browser -------------------------------------------------------------------------------------
@pytest.mark.browser
def test_browser_signs_in_through_the_form_and_sees_the_map_with_no_csp_violation(web, accounts):
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), "Chromium missing: `make test` installs it (apt-get install chromium)"
    base = f"http://127.0.0.1:{web.port}"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        console: list[str] = []
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))
        page.add_init_script("window.__csp = []; document.addEventListener('securitypolicyviolation',"
                             " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")
        page.goto(base + "/")
        assert urlsplit(page.url).path == "/login"
        page.fill("#wf-user", "olivia")
        page.fill("#wf-password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector(".wf-map-graph .js-plotly-plot, #wf-map .js-plotly-plot", timeout=30_000)
        page.wait_for_timeout(2500)  # a few refresh ticks
        violations = page.evaluate("window.__csp")
        csp_console = [m for m in console if "Content Security Policy" in m or "Content-Security-Policy" in m]
        errors = [m for m in console if m.startswith(("error", "pageerror"))]
        cookies = {c["name"]: c for c in page.context.cookies()}
        browser.close()
    assert not violations and not csp_console, (violations, csp_console)
    assert not errors, errors
    assert cookies["wf_session"]["httpOnly"] and cookies["wf_session"]["sameSite"] == "Strict"
