"""Operator actions against the real app: annotations, push alerts, outbound copies, rules, TLP and
28 CFR Part 23. uvicorn on loopback, a real Redis, a real webhook receiver and a real SMTP server
(both on loopback, started here), RQ jobs run by a real worker.

Covers the Access items of RELIABILITY.md that tests/domain/test_access.py does not: a changed incident id
for a record above the user's TLP (403 + audit), records above the TLP never returned, two operators
saving the same annotation (409 "changed by X at T"), a viewer's write (403 + audit), audit records
for reads of annotated incidents, writes, pushes and exports.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socketserver
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import pytest
import redis
from rq import SimpleWorker
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from domain.access import tlp
from domain.access.accounts import AccountStore, Role
from domain.access.audit import read
from domain.config.loader import load_config
from domain.operations import alerts, annotations, criminal_intel, outbound, rules
from domain.operations.keys import AlertKeys, AnnotationKeys, IntelKeys, OutboundKeys, RuleKeys
from domain.picture.keys import IncidentKeys
from domain.store.connection import JOB_SERIALIZER, job_queue, job_worker
from domain.store.streams import EventKeys
from layers.zones import Venue, Workspace
from tests.domain.test_access import PASSWORD, Reply, Web, run_cli, serve, session_cookie, stop
from tests.stack import ROOT

pytestmark = [pytest.mark.redis]

SECRET = "test-webhook-secret-0123456789"


# -- loopback receivers ------------------------------------------------------------------------------
class WebhookReceiver:
    """An HTTP server that records POSTs and checks their HMAC itself (not with our code)."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.fail_next = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                if receiver.fail_next:
                    receiver.fail_next -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.received.append({
                    "body": body, "signature_ok": hmac.compare_digest(expected, self.headers.get("X-Watchfloor-Signature", "")),
                    "delivery": self.headers.get("X-Watchfloor-Delivery")})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmtpReceiver:
    """A tiny SMTP server (RFC 5321 subset: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), with
    STARTTLS (RFC 3207) when given a TLS context and AUTH PLAIN (RFC 4954) when given credentials;
    with both, AUTH is only offered after STARTTLS, as a real relay does."""

    def __init__(self, credentials: tuple[str, str] | None = None, tls: ssl.SSLContext | None = None) -> None:
        self.messages: list[dict] = []
        self.logins: list[tuple[str, bool, bool]] = []  # (user, accepted, over TLS)
        receiver = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(b"220 test ESMTP\r\n")
                sender, recipients, secure, authed = "", [], False, credentials is None
                while True:
                    line = self.rfile.readline(10_000)
                    if not line:
                        return
                    verb = line.decode("ascii", "replace").strip()
                    upper = verb.upper()
                    if upper.startswith("EHLO"):
                        offers = [b"8BITMIME"]
                        if tls is not None and not secure:
                            offers.append(b"STARTTLS")
                        if credentials is not None and (secure or tls is None):
                            offers.append(b"AUTH PLAIN")
                        self.wfile.write(b"".join(b"250-" + o + b"\r\n" for o in [b"test", *offers[:-1]])
                                         + b"250 " + offers[-1] + b"\r\n")
                    elif upper.startswith("HELO"):
                        self.wfile.write(b"250 test\r\n")
                    elif upper == "STARTTLS" and tls is not None and not secure:
                        self.wfile.write(b"220 go ahead\r\n")
                        self.wfile.flush()
                        self.connection = tls.wrap_socket(self.connection, server_side=True)
                        self.rfile = self.connection.makefile("rb")
                        self.wfile = self.connection.makefile("wb", buffering=0)
                        secure = True
                    elif upper.startswith("AUTH PLAIN ") and credentials is not None:
                        _authz, user, password = base64.b64decode(verb[11:]).decode().split("\0")
                        ok = (user, password) == credentials
                        receiver.logins.append((user, ok, secure))
                        authed = authed or ok
                        self.wfile.write(b"235 OK\r\n" if ok else b"535 bad credentials\r\n")
                    elif upper.startswith("MAIL FROM:"):
                        if not authed:
                            self.wfile.write(b"530 authentication required\r\n")
                            continue
                        sender, recipients = verb[10:].strip(" <>").split(">")[0], []
                        self.wfile.write(b"250 OK\r\n")
                    elif upper.startswith("RCPT TO:"):
                        recipients.append(verb[8:].strip(" <>"))
                        self.wfile.write(b"250 OK\r\n")
                    elif upper == "DATA":
                        self.wfile.write(b"354 go ahead\r\n")
                        data = []
                        while True:
                            chunk = self.rfile.readline(100_000)
                            if chunk in (b".\r\n", b".\n", b""):
                                break
                            data.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                        receiver.messages.append({"from": sender, "to": recipients, "data": b"".join(data),
                                                  "tls": secure})
                        self.wfile.write(b"250 queued\r\n")
                    elif upper in ("RSET", "NOOP"):
                        self.wfile.write(b"250 OK\r\n")
                    elif upper == "QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"502 not implemented\r\n")

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- the app --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def receivers() -> Iterator[tuple[WebhookReceiver, SmtpReceiver]]:
    hook, smtp = WebhookReceiver(), SmtpReceiver()
    yield hook, smtp
    hook.close()
    smtp.close()


@pytest.fixture(scope="module")
def web(redis_server, receivers) -> Iterator[Web]:
    """The real app from create_app, with the operator API, outbound channels pointed at loopback.

    The environment is what the outbound job reads too (RQ jobs load the configuration)."""
    import dashboard.app
    from dashboard.api import register_operator_api

    hook, smtp = receivers
    patch = pytest.MonkeyPatch()
    patch.delenv("WATCHFLOOR_CONFIG", raising=False)
    for name, value in {"REDIS_URL": redis_server.url, "WATCHFLOOR_EXERCISE": "false",
                        "WATCHFLOOR_WEBHOOK_URL": hook.url, "WATCHFLOOR_WEBHOOK_SECRET": SECRET,
                        "WATCHFLOOR_SMTP_HOST": "127.0.0.1", "WATCHFLOOR_SMTP_PORT": str(smtp.port),
                        "WATCHFLOOR_ALERT_EMAIL_TO": "duty@partner.example", "WATCHFLOOR_OUTBOUND_TLP": "TLP:GREEN",
                        "WATCHFLOOR_OUTBOUND_TIMEOUT": "5"}.items():
        patch.setenv(name, value)
    config = load_config()
    original = dashboard.app.install_security

    def install_with_operator_api(server, cfg, get_client, **kw):  # what create_app does once integrated
        guard = original(server, cfg, get_client, **kw)
        register_operator_api(server, cfg, get_client)
        return guard

    patch.setattr(dashboard.app, "install_security", install_with_operator_api)
    app = dashboard.app.create_app(config)
    served = serve(app.server)
    served.extra["config"] = config
    yield served
    stop(served)
    patch.undo()


INCIDENTS = {
    "inc:quake-1": {"id": "inc:quake-1", "kind": "earthquake", "title": "M4.9 near the stadium", "lat": 40.0,
                    "lon": -75.0, "severity": "moderate", "time": "2026-11-01T12:00:00Z", "reports": []},
    "inc:red-1": {"id": "inc:red-1", "kind": "security", "title": "Restricted case", "lat": 40.1, "lon": -75.1,
                  "severity": "severe", "time": "2026-11-01T12:00:00Z", "reports": [], "tlp": "TLP:RED"},
    "inc:amber-1": {"id": "inc:amber-1", "kind": "security", "title": "Partner report", "lat": 40.2, "lon": -75.2,
                    "severity": "minor", "time": "2026-11-01T12:00:00Z", "reports": [], "tlp": "TLP:AMBER"},
}
EVENT = {"id": "usgs:us7000abcd", "kind": "earthquake", "title": "M3.1 event", "lat": 40.0, "lon": -75.0,
         "severity": "minor"}


@pytest.fixture
def floor(redis_client) -> dict[str, str]:
    """Accounts and incidents; returns nothing but the names (sessions are made by each test)."""
    store = AccountStore(redis_client)
    store.create("olivia", Role.OPERATOR, PASSWORD)
    store.create("oscar", Role.OPERATOR, PASSWORD)
    store.create("victor", Role.VIEWER, PASSWORD)
    store.create("sam", Role.SUPERVISOR, PASSWORD)
    for incident_id, data in INCIDENTS.items():
        redis_client.hset(IncidentKeys.INCIDENTS, incident_id, orjson.dumps(data))
    redis_client.hset(EventKeys.CURRENT, EVENT["id"], orjson.dumps(EVENT))
    return {"operator": "olivia", "viewer": "victor", "supervisor": "sam"}


def api(web: Web, method: str, path: str, cookie: str | None, body: object = None) -> Reply:
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body)
    return web.request(method, path, data, headers, cookie=cookie)


def audit_log(client: redis.Redis) -> list[dict]:
    return [r.to_dict() for r in read(client)]


def last(client: redis.Redis, action: str) -> dict:
    return [r for r in audit_log(client) if r["action"] == action][-1]


def run_outbound(client: redis.Redis) -> None:
    """What `watchfloor outbound work --burst` does, in this process (no fork)."""
    job_worker([job_queue(OutboundKeys.OUTBOUND_QUEUE, client)], client, SimpleWorker).work(burst=True)


def release_retries(client: redis.Redis) -> int:
    """Move retries scheduled for later onto the queue now, as RQ's scheduler will when their time comes."""
    queue = job_queue(OutboundKeys.OUTBOUND_QUEUE, client)
    registry = ScheduledJobRegistry(queue=queue)
    ids = registry.get_jobs_to_schedule(int(time.time()) + 3600)
    for job_id in ids:
        job = Job.fetch(job_id, connection=client, serializer=JOB_SERIALIZER)
        registry.remove(job)
        queue.enqueue_job(job)
    return len(ids)


def schema_path() -> Path | None:
    env = os.environ.get("WATCHFLOOR_SCHEMAS")
    base = Path(env) if env else ROOT.parent / "shared" / "schemas"
    path = base / "cap12.xsd"
    return path if path.is_file() else None


@pytest.fixture(scope="module")
def cap_schema():
    from lxml import etree

    path = schema_path()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but the CAP 1.2 schema is missing: expected ../shared/schemas/cap12.xsd or $WATCHFLOOR_SCHEMAS")
        pytest.skip("CAP 1.2 schema not present (../shared/schemas/cap12.xsd); set WATCHFLOOR_SCHEMAS to run this test")
    return etree.XMLSchema(etree.parse(str(path)))


def cap_of(web: Web, alert_id: str, cookie: str, schema) -> dict:
    from lxml import etree

    reply = web.get(f"/api/alerts/{alert_id}.cap", cookie=cookie)
    assert reply.status == 200, reply.body[:300]
    doc = etree.fromstring(reply.body, etree.XMLParser(resolve_entities=False, no_network=True))
    schema.assertValid(doc)
    ns = {"c": "urn:oasis:names:tc:emergency:cap:1.2"}
    return {"msgType": doc.findtext("c:msgType", namespaces=ns), "identifier": doc.findtext("c:identifier", namespaces=ns),
            "references": doc.findtext("c:references", namespaces=ns) or "",
            "scope": doc.findtext("c:scope", namespaces=ns), "restriction": doc.findtext("c:restriction", namespaces=ns),
            "headline": doc.findtext("c:info/c:headline", namespaces=ns), "sent": doc.findtext("c:sent", namespaces=ns)}


# -- TLP ------------------------------------------------------------------------------------------------
def test_tlp_labels_are_exact_and_ordered(redis_client):
    assert tlp.TLP.labels() == ["TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"]
    for wrong in ("tlp:red", "TLP:WHITE", "TLP: RED", "RED", "TLP:AMBER STRICT", ""):
        with pytest.raises(tlp.TLPError):
            tlp.parse(wrong)
    assert tlp.TLP.AMBER_STRICT.allows("TLP:AMBER") and not tlp.TLP.AMBER.allows("TLP:AMBER+STRICT")
    assert tlp.highest("TLP:GREEN", None, "TLP:AMBER+STRICT") is tlp.TLP.AMBER_STRICT
    store = AccountStore(redis_client)
    defaults = {Role.VIEWER: "TLP:GREEN", Role.OPERATOR: "TLP:AMBER", Role.SUPERVISOR: "TLP:RED", Role.ADMIN: "TLP:RED"}
    for role, label in defaults.items():
        user = store.create(f"u-{role.value}", role, PASSWORD)
        assert tlp.max_marking(user, redis_client).value == label
    display, _token = store.create_display("lobby")
    assert tlp.max_marking(display, redis_client) is tlp.TLP.GREEN
    assert tlp.set_max_marking(redis_client, "u-operator", "TLP:CLEAR") is tlp.TLP.CLEAR
    assert not tlp.visible("TLP:GREEN", store.require("u-operator"), redis_client)
    assert tlp.visible("TLP:BOGUS", store.require("u-supervisor"), redis_client)  # malformed counts as RED
    assert not tlp.visible("TLP:BOGUS", store.require("u-viewer"), redis_client)
    assert tlp.visible("TLP:RED", store.require("u-admin"), redis_client)
    assert tlp.set_max_marking(redis_client, "u-operator", None) is tlp.TLP.AMBER


def test_operator_routes_need_a_session(web, redis_client):
    for method, path in (("GET", "/api/alerts"), ("POST", "/api/alerts"), ("GET", "/api/incidents/inc:quake-1/annotation"),
                         ("PUT", "/api/incidents/inc:quake-1/annotation"), ("GET", "/api/alerts.atom"),
                         ("GET", "/api/rules")):
        reply = api(web, method, path, None, {} if method in ("POST", "PUT") else None)
        assert reply.status == 401, (method, path, reply.status)
    assert any(r["record"] == "PUT /api/incidents/inc:quake-1/annotation" and r["outcome"] == "refused"
               for r in audit_log(redis_client))


# -- annotations ----------------------------------------------------------------------------------------
def test_annotation_save_history_and_audited_reads(web, floor, redis_client):
    olivia, victor = web.session("olivia"), web.session("victor")
    path = "/api/incidents/inc:quake-1/annotation"
    empty = api(web, "GET", path, victor)
    assert empty.status == 200 and empty.json() == {"incident": "inc:quake-1", "annotation": None, "version": 0}
    assert not [r for r in audit_log(redis_client) if r["action"] == "annotation.read"]  # not annotated: not a record read
    saved = api(web, "PUT", path, olivia, {"version": 0, "note": "Crews staged at gate B.\x07 <script>x</script>",
                                           "status": "acknowledged", "assignee": "oscar", "tags": ["Stadium", "quake"]})
    assert saved.status == 201, saved.body
    note = saved.json()
    assert note["version"] == 1 and note["tlp"] == "TLP:GREEN" and note["status"] == "acknowledged"
    assert note["note"] == "Crews staged at gate B. <script>x</script>"  # plain text stored; control char removed
    assert note["tags"] == ["stadium", "quake"] and note["updated_by"] == "olivia"
    second = api(web, "PUT", path, olivia, {"version": 1, "status": "monitoring"})
    assert second.status == 200 and second.json()["version"] == 2
    read_back = api(web, "GET", path, victor)
    assert read_back.status == 200 and read_back.json()["annotation"]["status"] == "monitoring"
    record = last(redis_client, "annotation.read")
    assert record["user"] == "victor" and record["record"] == "inc:quake-1" and record["outcome"] == "ok"
    assert record["source"] == "127.0.0.1" and record["time"].endswith("Z")
    history = api(web, "GET", path + "/history", victor).json()["history"]
    assert [h["version"] for h in history] == [1, 2] and all(h["by"] == "olivia" and h["at"].endswith("Z") for h in history)
    assert history[1]["changes"] == {"status": ["acknowledged", "monitoring"]}
    saves = [r for r in audit_log(redis_client) if r["action"] == "annotation.save" and r["outcome"] == "ok"]
    assert [r["user"] for r in saves] == ["olivia", "olivia"] and "status" in saves[1]["reason"]
    # An event id works as well as an incident id; an unknown id is a 404, audited.
    assert api(web, "PUT", f"/api/incidents/{EVENT['id']}/annotation", olivia, {"version": 0, "note": "x"}).status == 201
    missing = api(web, "GET", "/api/incidents/inc:nope/annotation", victor)
    assert missing.status == 404 and last(redis_client, "annotation.read")["outcome"] == "refused"
    bad = api(web, "PUT", path, olivia, {"version": 2, "status": "done"})
    assert bad.status == 422 and "status must be one of" in bad.json()["reason"]
    unknown = api(web, "PUT", path, olivia, {"version": 2, "colour": "red"})
    assert unknown.status == 400 and "unknown field" in unknown.json()["reason"]


def test_two_operators_saving_the_same_annotation_second_gets_409(web, floor, redis_client):
    olivia, oscar = web.session("olivia"), web.session("oscar")
    path = "/api/incidents/inc:quake-1/annotation"
    assert api(web, "PUT", path, olivia, {"version": 0, "note": "first"}).status == 201
    # Both read version 1, both save on top of it.
    assert api(web, "GET", path, oscar).json()["version"] == 1
    ok = api(web, "PUT", path, olivia, {"version": 1, "note": "olivia's change"})
    assert ok.status == 200
    stale = api(web, "PUT", path, oscar, {"version": 1, "note": "oscar's change"})
    assert stale.status == 409
    body = stale.json()
    assert body["reason"] == f"changed by olivia at {ok.json()['updated_at']}"
    assert body["changed_by"] == "olivia"
    stored = annotations.load(redis_client, "inc:quake-1")
    assert stored["note"] == "olivia's change" and stored["version"] == 2  # never silently overwritten
    refused = last(redis_client, "annotation.save")
    assert refused["outcome"] == "refused" and refused["user"] == "oscar" and "409" in refused["reason"]
    # Truly concurrent: ten saves on version 2 at once, exactly one wins.
    results: list[int] = []

    def save(i: int) -> None:
        results.append(api(web, "PUT", path, oscar if i % 2 else olivia, {"version": 2, "note": f"race {i}"}).status)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200] + [409] * 9
    assert annotations.load(redis_client, "inc:quake-1")["version"] == 3
    assert len(annotations.history(redis_client, "inc:quake-1")) == 3


def test_viewer_and_display_cannot_write(web, floor, redis_client):
    victor = web.session("victor")
    reply = api(web, "PUT", "/api/incidents/inc:quake-1/annotation", victor, {"version": 0, "note": "mine"})
    assert reply.status == 403 and b"mine" not in reply.body
    record = last(redis_client, "annotation.save")
    assert record["outcome"] == "refused" and record["user"] == "victor" and "needs role operator" in record["reason"]
    assert annotations.load(redis_client, "inc:quake-1") is None
    push = api(web, "POST", "/api/alerts", victor, {"headline": "x"})
    assert push.status == 403 and last(redis_client, "alert.push")["outcome"] == "refused"
    _user, token = AccountStore(redis_client).create_display("lobby")
    screen = session_cookie(web.get(f"/wall?display_token={token}", html=True))
    assert api(web, "PUT", "/api/incidents/inc:quake-1/annotation", screen, {"version": 0}).status == 403
    assert not redis_client.exists(AlertKeys.ALERT_IDS)


def test_changed_incident_id_above_tlp_is_refused_and_audited(web, floor, redis_client):
    victor, olivia, sam = web.session("victor"), web.session("olivia"), web.session("sam")
    assert api(web, "GET", "/api/incidents/inc:quake-1/annotation", victor).status == 200
    # The same request with the id changed to a TLP:RED incident.
    assert api(web, "PUT", "/api/incidents/inc:red-1/annotation", sam, {"version": 0, "note": "the informant is X"}).status == 201
    for cookie, who in ((victor, "victor"), (olivia, "olivia")):
        reply = api(web, "GET", "/api/incidents/inc:red-1/annotation", cookie)
        assert reply.status == 403 and b"informant" not in reply.body
        record = last(redis_client, "annotation.read")
        assert record["outcome"] == "refused" and record["user"] == who and record["record"] == "inc:red-1"
        assert "TLP:RED" in record["reason"]
        history = api(web, "GET", "/api/incidents/inc:red-1/annotation/history", cookie)
        assert history.status == 403 and b"informant" not in history.body
        overwrite = api(web, "PUT", "/api/incidents/inc:red-1/annotation", cookie, {"version": 1, "note": "mine"})
        assert overwrite.status == 403
    assert annotations.load(redis_client, "inc:red-1")["note"] == "the informant is X"
    assert api(web, "GET", "/api/incidents/inc:red-1/annotation", sam).status == 200


def test_records_above_the_users_tlp_are_never_returned(web, floor, redis_client):
    olivia, victor, sam = web.session("olivia"), web.session("victor"), web.session("sam")
    # An operator cannot mark above their own maximum (AMBER), nor below the incident's marking.
    too_high = api(web, "PUT", "/api/incidents/inc:quake-1/annotation", olivia, {"version": 0, "tlp": "TLP:RED"})
    assert too_high.status == 403 and last(redis_client, "annotation.save")["outcome"] == "refused"
    too_low = api(web, "PUT", "/api/incidents/inc:amber-1/annotation", olivia, {"version": 0, "tlp": "TLP:GREEN"})
    assert too_low.status == 422 and "cannot be marked lower" in too_low.json()["reason"]
    misspelt = api(web, "PUT", "/api/incidents/inc:quake-1/annotation", olivia, {"version": 0, "tlp": "TLP:WHITE"})
    assert misspelt.status == 422
    # An AMBER annotation on a CLEAR incident: operators see it, viewers do not.
    assert api(web, "PUT", "/api/incidents/inc:quake-1/annotation", olivia,
               {"version": 0, "note": "amber detail", "tlp": "TLP:AMBER"}).status == 201
    assert api(web, "GET", "/api/incidents/inc:quake-1/annotation", victor).status == 403
    # Alerts: an AMBER+STRICT alert is not listed, read, exported or fed to those below it.
    green = api(web, "POST", "/api/alerts", olivia, {"headline": "Gate B closed", "tlp": "TLP:GREEN"}).json()
    strict = api(web, "POST", "/api/alerts", sam, {"headline": "Strict matter", "tlp": "TLP:AMBER+STRICT",
                                                   "text": "names here"}).json()
    for cookie in (olivia, victor):
        listed = api(web, "GET", "/api/alerts?all=1", cookie)
        assert [a["id"] for a in listed.json()["alerts"]] == [green["id"]] and b"Strict matter" not in listed.body
        assert api(web, "GET", f"/api/alerts/{strict['id']}", cookie).status == 403
        assert api(web, "GET", f"/api/alerts/{strict['id']}.cap", cookie).status == 403
        atom = web.get("/api/alerts.atom", cookie=cookie)
        assert atom.status == 200 and b"Strict matter" not in atom.body and b"Gate B closed" in atom.body
    assert last(redis_client, "alert.export")["outcome"] == "refused"
    # The screens' delta function applies the same filter.
    viewer = AccountStore(redis_client).require("victor")
    shown, cursor = alerts.alerts_after(redis_client, "", viewer)
    assert [a["id"] for a in shown] == [green["id"]] and cursor != "0-0"
    supervisor = AccountStore(redis_client).require("sam")
    assert {a["id"] for a in alerts.alerts_after(redis_client, "0-0", supervisor)[0]} == {green["id"], strict["id"]}
    # A lowered maximum takes effect on the next request.
    tlp.set_max_marking(redis_client, "victor", "TLP:CLEAR")
    assert api(web, "GET", f"/api/alerts/{green['id']}", victor).status == 403


# -- alerts, CAP, outbound --------------------------------------------------------------------------------
def test_alert_push_update_cancel_with_valid_cap(web, floor, redis_client, cap_schema):
    olivia, victor = web.session("olivia"), web.session("victor")
    expires = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    started = time.monotonic()
    pushed = api(web, "POST", "/api/alerts", olivia, {
        "headline": "Shelter in place: stadium north", "text": "Gas leak <b>reported</b> & under investigation",
        "severity": "severe", "scope": "floor", "expires": expires, "tlp": "TLP:GREEN", "incident": "inc:quake-1"})
    assert pushed.status == 201, pushed.body
    assert time.monotonic() - started < 2  # copies are queued, not sent inside the request
    alert = pushed.json()
    assert set(alert) >= {"id", "headline", "text", "severity", "scope", "expires", "tlp", "issued_by", "issued_at", "status"}
    assert alert["status"] == "active" and alert["issued_by"] == "olivia" and alert["expires"] == expires
    assert len(alert["outbound"]) == 2  # webhook + one e-mail address, queued
    first = cap_of(web, alert["id"], victor, cap_schema)
    assert first["msgType"] == "Alert" and first["references"] == "" and first["scope"] == "Restricted"
    assert first["restriction"].startswith("TLP:GREEN") and first["sent"].endswith("+00:00")
    cursor = alerts.alerts_after(redis_client, "", AccountStore(redis_client).require("victor"))[1]

    updated = api(web, "PUT", f"/api/alerts/{alert['id']}", olivia, {"version": 1, "headline": "Shelter in place: stadium north and east"})
    assert updated.status == 200 and updated.json()["status"] == "updated" and updated.json()["version"] == 2
    second = cap_of(web, alert["id"], victor, cap_schema)
    assert second["msgType"] == "Update" and first["identifier"] in second["references"]
    assert second["references"] == f"watchfloor@localhost,{first['identifier']},{first['sent']}"
    stale = api(web, "PUT", f"/api/alerts/{alert['id']}", web.session("sam"), {"version": 1, "headline": "old"})
    assert stale.status == 409 and stale.json()["reason"].startswith("changed by olivia at ")
    # Only its sender or a supervisor changes an alert: another operator is refused, and audited.
    other = web.session("oscar")
    for method, path, body in (("PUT", f"/api/alerts/{alert['id']}", {"version": 2, "headline": "mine now"}),
                               ("DELETE", f"/api/alerts/{alert['id']}", None)):
        refused = api(web, method, path, other, body)
        assert refused.status == 403 and "sender (olivia) or a supervisor" in refused.json()["reason"], refused.body
    assert last(redis_client, "alert.cancel")["outcome"] == "refused"

    cancelled = api(web, "DELETE", f"/api/alerts/{alert['id']}", olivia)
    assert cancelled.status == 200 and cancelled.json()["status"] == "cancelled"
    third = cap_of(web, alert["id"], victor, cap_schema)
    assert third["msgType"] == "Cancel"
    assert third["references"].split() == [f"watchfloor@localhost,{m['identifier']},{m['sent']}" for m in (first, second)]
    assert api(web, "PUT", f"/api/alerts/{alert['id']}", olivia, {"version": 3, "headline": "again"}).status == 422

    delta, _ = alerts.alerts_after(redis_client, cursor, AccountStore(redis_client).require("victor"))
    assert [(a["id"], a["status"], a["version"]) for a in delta] == [(alert["id"], "cancelled", 3)]
    assert alerts.alerts_after(redis_client, "", AccountStore(redis_client).require("victor"))[0] == []
    actions = [(r["action"], r["user"]) for r in audit_log(redis_client) if r["outcome"] == "ok"
               and r["action"] in ("alert.push", "alert.update", "alert.cancel", "alert.export")]
    assert ("alert.push", "olivia") in actions and ("alert.update", "olivia") in actions
    assert ("alert.cancel", "olivia") in actions and ("alert.export", "victor") in actions
    # Bad input is refused with the field named.
    for body, word in (({"headline": ""}, "headline"), ({"headline": "x", "severity": "huge"}, "severity"),
                       ({"headline": "x", "scope": "everyone"}, "scope"), ({"headline": "x", "expires": "2020-01-01T00:00:00Z"}, "expires"),
                       ({"headline": "x", "expires": "2030-13-45T99:00Z"}, "expires"), ({"headline": "x", "tlp": "TLP:RED"}, "TLP")):
        reply = api(web, "POST", "/api/alerts", olivia, body)
        assert reply.status in (403, 422) and word in reply.json()["reason"], (body, reply.body)


def test_outbound_webhook_is_signed_and_email_is_delivered(web, floor, redis_client, receivers, cap_schema):
    from lxml import etree

    hook, smtp = receivers
    hook.received.clear()
    smtp.messages.clear()
    olivia = web.session("olivia")
    alert = api(web, "POST", "/api/alerts", olivia, {"headline": "Road closed at 5th", "severity": "moderate",
                                                    "text": "Use 7th Street.", "tlp": "TLP:GREEN"}).json()
    amber = api(web, "POST", "/api/alerts", olivia, {"headline": "Amber only", "tlp": "TLP:AMBER"}).json()
    assert amber["outbound"] == []  # above outbound_tlp: withheld, recorded
    assert hook.received == [] and smtp.messages == []  # nothing sent inside the request
    run_outbound(redis_client)
    assert len(hook.received) == 1 and hook.received[0]["signature_ok"]
    assert outbound.verify(SECRET, hook.received[0]["body"], outbound.sign(SECRET, hook.received[0]["body"]))
    payload = json.loads(hook.received[0]["body"])
    assert payload["alert"]["id"] == alert["id"] and payload["msgType"] == "Alert"
    assert hook.received[0]["delivery"] == f"{alert['id']}:1:webhook"
    cap_schema.assertValid(etree.fromstring(payload["cap"].encode()))
    assert len(smtp.messages) == 1
    mail = message_from_bytes(smtp.messages[0]["data"], policy=email_policy)
    assert smtp.messages[0]["to"] == ["duty@partner.example"]
    assert mail["Subject"] == "[TLP:GREEN] MODERATE: Road closed at 5th"
    assert "Use 7th Street." in mail.get_body(("plain",)).get_content()
    attachment = next(mail.iter_attachments())
    cap_schema.assertValid(etree.fromstring(attachment.get_content() if isinstance(attachment.get_content(), bytes)
                                            else attachment.get_content().encode()))
    rows = outbound.disseminations(redis_client)
    assert {(r["alert"], r["channel"], r["outcome"]) for r in rows} >= {
        (alert["id"], "webhook", "queued"), (alert["id"], "webhook", "delivered"),
        (alert["id"], "email", "queued"), (alert["id"], "email", "delivered"),
        (amber["id"], "webhook", "withheld"), (amber["id"], "email", "withheld")}
    assert any(r["action"] == "alert.disseminate" and r["outcome"] == "refused" and amber["id"] in r["record"]
               for r in audit_log(redis_client))
    # A retried job (at-least-once) does not send the same copy twice.
    run_outbound(redis_client)
    assert len(hook.received) == 1 and len(smtp.messages) == 1


def test_failed_webhook_is_retried_and_recorded(web, floor, redis_client, receivers):
    hook, smtp = receivers
    hook.received.clear()
    hook.fail_next = 1
    olivia = web.session("olivia")
    alert = api(web, "POST", "/api/alerts", olivia, {"headline": "Retry me"}).json()
    run_outbound(redis_client)
    assert hook.received == []
    assert [r["outcome"] for r in outbound.disseminations(redis_client, alert["id"]) if r["channel"] == "webhook"] == [
        "queued", "failed"]
    assert release_retries(redis_client) == 1  # scheduled for later by RQ's Retry
    run_outbound(redis_client)
    assert len(hook.received) == 1 and hook.received[0]["signature_ok"]
    assert [r["outcome"] for r in outbound.disseminations(redis_client, alert["id"]) if r["channel"] == "webhook"] == [
        "queued", "failed", "delivered"]


def test_acknowledgements_per_user_and_screen_visible_to_supervisors(web, floor, redis_client):
    olivia, victor, sam = web.session("olivia"), web.session("victor"), web.session("sam")
    _user, token = AccountStore(redis_client).create_display("lobby")
    screen = session_cookie(web.get(f"/wall?display_token={token}", html=True))
    alert = api(web, "POST", "/api/alerts", olivia, {"headline": "Acknowledge me"}).json()
    assert api(web, "POST", f"/api/alerts/{alert['id']}/ack", victor).status == 200
    assert api(web, "POST", f"/api/alerts/{alert['id']}/ack", screen).status == 200
    first = api(web, "POST", f"/api/alerts/{alert['id']}/ack", victor).json()["at"]
    as_supervisor = api(web, "GET", f"/api/alerts/{alert['id']}", sam).json()
    # Its sender acknowledged it by sending it (their own screens are not taken over).
    assert set(as_supervisor["acks"]) == {"olivia", "victor", "lobby"}
    assert as_supervisor["acks"]["victor"]["at"] == first and as_supervisor["acked"] is False
    as_sender = api(web, "GET", f"/api/alerts/{alert['id']}", olivia).json()
    assert set(as_sender["acks"]) == {"olivia", "victor", "lobby"} and as_sender["acked"] is True  # sees who
    as_operator = api(web, "GET", f"/api/alerts/{alert['id']}", web.session("oscar")).json()
    assert "acks" not in as_operator and "receipts" not in as_operator and as_operator["acked"] is False
    assert api(web, "GET", f"/api/alerts/{alert['id']}", victor).json()["acked"] is True
    assert sum(1 for r in audit_log(redis_client) if r["action"] == "alert.ack" and r["outcome"] == "ok") == 3
    assert api(web, "POST", "/api/alerts/a-0000000000000000/ack", victor).status == 404


def test_the_alert_cycle_receipts_acknowledgements_per_version_and_for_a_wall(web, floor, redis_client):
    olivia, oscar, victor, sam = (web.session(n) for n in ("olivia", "oscar", "victor", "sam"))
    store = AccountStore(redis_client)
    _user, token = store.create_display("lobby")
    lobby = session_cookie(web.get(f"/wall?display_token={token}", html=True))
    alert = api(web, "POST", "/api/alerts", olivia, {"headline": "Close gate B", "severity": "severe"}).json()
    path = f"/api/alerts/{alert['id']}"
    cursor = alerts.alerts_after(redis_client, "", store.require("lobby"), screen="wall")[1]
    # Received: each screen says so (the first report of a version is kept); its sender sees the list.
    first = api(web, "POST", path + "/receipt", lobby, {"screen": "wall", "version": 1}).json()
    assert api(web, "POST", path + "/receipt", lobby, {"screen": "wall", "version": 1}).json()["at"] == first["at"]
    assert api(web, "POST", path + "/receipt", victor, {"screen": "tablet"}).status == 200
    assert api(web, "POST", path + "/receipt", victor, {"screen": "kiosk"}).status == 422
    seen = api(web, "GET", path, olivia).json()["receipts"]
    assert {k: (r["account"], r["screen"], r["ack_as"], r["version"]) for k, r in seen.items()} == {
        "lobby/wall": ("lobby", "wall", "lobby", 1), "victor/tablet": ("victor", "tablet", "victor", 1)}
    assert "receipts" not in api(web, "GET", path, oscar).json()  # not his alert, not a supervisor
    # A person's acknowledgement is theirs on the desk and tablet; on a wall it is the wall's.
    assert api(web, "POST", path + "/ack", oscar, {"screen": "wall"}).json()["for"] == "oscar/wall"
    as_oscar = store.require("oscar")
    assert [a["acked"] for a in alerts.alerts_after(redis_client, "", as_oscar, screen="wall")[0]] == [True]
    assert [a["acked"] for a in alerts.alerts_after(redis_client, "", as_oscar, screen="desk")[0]] == [False]
    # On behalf of a wall that received it: operators and above, for such a wall only.
    assert api(web, "POST", path + "/ack", victor, {"for": "lobby"}).status == 403
    assert api(web, "POST", path + "/ack", olivia, {"for": "victor"}).status == 422
    assert api(web, "POST", path + "/ack", olivia, {"for": "lobby", "colour": "red"}).status == 400
    done = api(web, "POST", path + "/ack", olivia, {"for": "lobby", "version": 1})
    assert done.status == 200 and done.json()["by"] == "olivia" and done.json()["for"] == "lobby"
    assert last(redis_client, "alert.ack")["reason"].endswith("for lobby")
    # The wall hears of it through its usual poll: the banner clears there by itself.
    delta, cursor = alerts.alerts_after(redis_client, cursor, store.require("lobby"), screen="wall")
    assert [(a["id"], a["acked"]) for a in delta] == [(alert["id"], True)]
    acks = api(web, "GET", path, sam).json()["acks"]
    assert acks["lobby"]["by"] == "olivia" and acks["oscar/wall"]["version"] == 1 and "by" not in acks["oscar/wall"]
    assert acks["olivia"]["version"] == 1  # its sender, by sending it
    # An update is a new version: it shows again everywhere until acknowledged again.
    assert api(web, "PUT", path, olivia, {"version": 1, "headline": "Close gates B and C"}).status == 200
    delta, cursor = alerts.alerts_after(redis_client, cursor, store.require("lobby"), screen="wall")
    assert [(a["headline"], a["version"], a["acked"]) for a in delta] == [("Close gates B and C", 2, False)]
    # Withdrawn by its sender: the screens' next poll takes it down.
    assert api(web, "DELETE", path + "?version=2", olivia).status == 200
    delta, _ = alerts.alerts_after(redis_client, cursor, store.require("lobby"), screen="wall")
    assert [a["status"] for a in delta] == ["cancelled"]


def test_partner_atom_feed_is_filtered_by_the_partners_tlp(web, floor, redis_client, redis_server):
    olivia = web.session("olivia")
    clear = api(web, "POST", "/api/alerts", olivia, {"headline": "Public: road closed", "tlp": "TLP:CLEAR"}).json()
    green = api(web, "POST", "/api/alerts", olivia, {"headline": "Community only", "tlp": "TLP:GREEN"}).json()
    added = run_cli("partner", "add", "county-eoc", "--tlp", "TLP:CLEAR", redis_url=redis_server.url)
    assert added.returncode == 0, added.stderr
    url = added.stdout.strip()
    path = url[url.index("/api/"):]
    exchanged = web.get(path)
    assert exchanged.status == 303 and exchanged.header("location") == "/api/alerts.atom"
    partner = session_cookie(exchanged)
    feed = web.get("/api/alerts.atom", cookie=partner)
    assert feed.status == 200 and feed.header("content-type").startswith("application/atom+xml")
    from lxml import etree

    doc = etree.fromstring(feed.body)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    ids = [e.findtext("a:id", namespaces=ns) for e in doc.findall("a:entry", ns)]
    assert ids == [f"urn:watchfloor:alert:{clear['id']}"] and b"Community only" not in feed.body
    assert any(r["recipient"] == "partner:county-eoc" and r["alert"] == clear["id"]
               for r in outbound.disseminations(redis_client))
    # A partner reads nothing else.
    assert web.get("/api/alerts", cookie=partner).status == 403
    assert web.get("/api/incidents/inc:quake-1/annotation", cookie=partner).status == 403
    assert web.get(f"/api/alerts/{green['id']}.cap", cookie=partner).status == 403
    assert web.get(f"/api/alerts/{clear['id']}.cap", cookie=partner).status == 200
    assert last(redis_client, "alerts.atom")["user"] == "county-eoc"
    # Nor the floor's screens or the data behind them.
    for page in ("/", "/wall", "/tablet", "/_dash-layout", "/api/health?full=1"):
        assert web.get(page, cookie=partner, html=page in ("/", "/wall", "/tablet")).status == 403, page


def test_alert_scope_and_the_screens_read_helper(web, floor, redis_client):
    sam, olivia = web.session("sam"), web.session("olivia")
    role_only = api(web, "POST", "/api/alerts", sam, {"headline": "Supervisors only", "scope": "role:supervisor"}).json()
    zone_only = api(web, "POST", "/api/alerts", olivia, {"headline": "Stadium only", "scope": "zone:stadium"}).json()
    store = AccountStore(redis_client)
    viewer, supervisor = store.require("victor"), store.require("sam")

    def ids(rows: list[dict]) -> set[str]:
        return {a["id"] for a in rows}

    assert ids(alerts.alerts_after(redis_client, "", viewer)[0]) == {zone_only["id"]}
    assert ids(alerts.alerts_after(redis_client, "", viewer, workspace="park")[0]) == set()
    assert ids(alerts.alerts_after(redis_client, "0-0", supervisor, workspace="stadium")[0]) == {role_only["id"], zone_only["id"]}
    assert ids(api(web, "GET", "/api/alerts", web.session("victor")).json()["alerts"]) == {zone_only["id"]}
    # Nor by its id: the alert, its CAP document, its acknowledgement (each refusal audited).
    victor = web.session("victor")
    for method, path in (("GET", f"/api/alerts/{role_only['id']}"), ("GET", f"/api/alerts/{role_only['id']}.cap"),
                         ("POST", f"/api/alerts/{role_only['id']}/ack")):
        reply = web.request(method, path, headers={"Accept": "application/json"}, cookie=victor)
        assert reply.status == 404 and b"Supervisors only" not in reply.body, (path, reply.status)
        assert last(redis_client, {"GET": "alert.read", "POST": "alert.ack"}[method] if not path.endswith(".cap")
                    else "alert.export")["outcome"] == "refused"
    assert api(web, "GET", f"/api/alerts/{role_only['id']}", sam).status == 200  # those it was sent to still read it
    # The detail drawer's helper: the note when visible (read audited), None when above the TLP (refusal audited).
    api(web, "PUT", "/api/incidents/inc:quake-1/annotation", olivia, {"version": 0, "note": "visible"})
    api(web, "PUT", "/api/incidents/inc:red-1/annotation", sam, {"version": 0, "note": "hidden"})
    assert annotations.audited_read(redis_client, "inc:quake-1", viewer)["note"] == "visible"
    assert [r["user"] for r in audit_log(redis_client) if r["action"] == "annotation.read"] == ["victor"]
    assert annotations.audited_read(redis_client, "inc:red-1", viewer) is None
    assert last(redis_client, "annotation.read")["outcome"] == "refused"


# -- rules ----------------------------------------------------------------------------------------------------
STADIUM = Workspace(id="stadium", name="Stadium", venues=(Venue("Stadium", 40.0, -75.0, 0.5),))
PARK = Workspace(id="park", name="Park", venues=(Venue("Park", 40.0, -75.02, 0.5),))


def quake(i: int, lat: float = 40.001, severity: str = "severe", kind: str = "earthquake") -> dict:
    return {"id": f"inc:storm-{i}", "kind": kind, "title": f"Cell {i}", "lat": lat, "lon": -75.0, "severity": severity}


def test_rule_fires_once_per_cooldown_per_workspace(web, floor, redis_client):
    sam, olivia = web.session("sam"), web.session("olivia")
    refused = api(web, "POST", "/api/rules", olivia, {"name": "x"})
    assert refused.status == 403 and last(redis_client, "rule.add")["outcome"] == "refused"
    bad = api(web, "POST", "/api/rules", sam, {"name": "x", "kinds": ["meteor"]})
    assert bad.status == 422 and "kinds" in bad.json()["reason"]
    rule = api(web, "POST", "/api/rules", sam, {"name": "Quake near venues", "kinds": ["earthquake"],
                                               "min_severity": "moderate", "within_km": 3, "action": "push",
                                               "cooldown_minutes": 10, "tlp": "TLP:GREEN"})
    assert rule.status == 201, rule.body
    rule_id = rule.json()["id"]
    storm = [quake(i) for i in range(50)]
    for item in storm:
        redis_client.hset(IncidentKeys.INCIDENTS, item["id"], orjson.dumps(item))
    far, weak, other = quake(100, lat=41.0), quake(101, severity="minor"), quake(102, kind="fire")
    results = rules.evaluate_rules(redis_client, [*storm, far, weak, other], [STADIUM, PARK], config=web.extra["config"])
    by_space = {s: [r["status"] for r in results if r["workspace"] == s] for s in ("stadium", "park")}
    assert by_space["stadium"] == ["pushed"] + ["suppressed"] * 49
    assert by_space["park"] == ["pushed"] + ["suppressed"] * 49  # the park is 1.2 km away: within 3 km
    assert not [r for r in results if r["incident"] in (far["id"], weak["id"], other["id"])]
    pushed = [r for r in results if r["status"] == "pushed"]
    stored = [alerts.load(redis_client, r["alert"]) for r in pushed]
    assert {a["scope"] for a in stored} == {"zone:stadium", "zone:park"} and all(a["issued_by"] == f"rule:{rule_id}" for a in stored)
    # Re-evaluating the same incidents raises nothing; after the cooldown a new incident fires again.
    assert rules.evaluate_rules(redis_client, storm, [STADIUM], config=web.extra["config"]) == []
    redis_client.delete(RuleKeys.rule_cooldown(rule_id, "stadium"))  # what EX does after cooldown_minutes
    again = rules.evaluate_rules(redis_client, [quake(60), quake(61)], [STADIUM], config=web.extra["config"])
    assert [r["status"] for r in again] == ["pushed", "suppressed"]
    # A queue rule goes to the operator queue instead of pushing.
    api(web, "POST", "/api/rules", sam, {"name": "Fire in park", "kinds": ["fire"], "within_km": 0, "action": "queue",
                                         "min_severity": "minor", "workspaces": ["park"]})
    queued = rules.evaluate_rules(redis_client, [{**quake(103, kind="fire"), "lon": -75.02}], [STADIUM, PARK])
    assert [(r["status"], r["workspace"]) for r in queued] == [("raised", "park")]
    listing = api(web, "GET", "/api/rules/queue", olivia).json()["queue"]
    assert listing[0]["incident"] == "inc:storm-103" and listing[0]["status"] == "raised"
    assert any(r["action"] == "rule.pushed" and r["user"] == f"rule:{rule_id}" for r in audit_log(redis_client))
    assert api(web, "DELETE", f"/api/rules/{rule_id}", sam).status == 200
    assert rules.evaluate_rules(redis_client, [quake(70)], [STADIUM], config=web.extra["config"]) == []


# -- 28 CFR Part 23 ---------------------------------------------------------------------------------------------
NEXUS = "Suspected arson of utility substations (state code 13-1704); two witnesses."


def test_criminal_intelligence_rules(web, floor, redis_client):
    olivia, victor, sam = web.session("olivia"), web.session("victor"), web.session("sam")
    path = "/api/incidents/inc:quake-1/annotation"

    def attempt(**fields: object) -> Reply:
        return api(web, "PUT", path, olivia, {"version": 0, "criminal_intel": True, "nexus": NEXUS, **fields})

    no_nexus = api(web, "PUT", path, olivia, {"version": 0, "criminal_intel": True, "note": "x"})
    assert no_nexus.status == 422 and "criminal nexus" in no_nexus.json()["reason"]
    views = attempt(note="Subject attends the Elm Street mosque every Friday")
    assert views.status == 422 and "religious association" in views.json()["reason"] and "28 CFR 23.20(b)" in views.json()["reason"]
    politics = attempt(note="Known Republican donor")
    assert politics.status == 422 and "political" in politics.json()["reason"]
    tag = attempt(note="Seen at substation 4", tags=["religion"])
    assert tag.status == 422 and "tag 'religion' is refused" in tag.json()["reason"]
    field = attempt(note="Seen at substation 4", political_views="left")
    assert field.status == 422 and "'political_views' is refused" in field.json()["reason"]
    far = (date.today() + timedelta(days=5 * 366 + 2)).isoformat()
    too_far = attempt(note="Seen at substation 4", review_date=far)
    assert too_far.status == 422 and "more than 5 years" in too_far.json()["reason"]
    assert annotations.load(redis_client, "inc:quake-1") is None  # nothing refused was stored
    refusals = [r for r in audit_log(redis_client) if r["action"] == "annotation.save" and r["outcome"] == "refused"]
    assert len(refusals) == 6

    ok = attempt(note="Seen at substation 4 with accelerant cans", tlp="TLP:AMBER")
    assert ok.status == 201, ok.body
    intel = ok.json()["intel"]
    assert intel["nexus"] == NEXUS and intel["marked_by"] == "olivia" and not intel["validated_at"]
    review = date.fromisoformat(intel["review_date"])
    assert date.today() < review <= criminal_intel.review_limit(date.today())
    assert redis_client.sismember(IntelKeys.INTEL, "inc:quake-1")
    unmark = api(web, "PUT", path, olivia, {"version": 1, "criminal_intel": False})
    assert unmark.status == 422 and "stays one until it is purged" in unmark.json()["reason"]
    edit = api(web, "PUT", path, olivia, {"version": 1, "note": "His church group was there"})
    assert edit.status == 422  # the check applies to every later edit
    # Need to know: a viewer is refused even when the marking would allow it.
    tlp.set_max_marking(redis_client, "victor", "TLP:AMBER")
    assert api(web, "GET", path, victor).status == 403
    # Dissemination outside the agency: recipient and reason, logged.
    no_reason = api(web, "POST", path + "/export", olivia, {"recipient": "County DA"})
    assert no_reason.status == 422 and last(redis_client, "intel.disseminate")["outcome"] == "refused"
    exported = api(web, "POST", path + "/export", olivia, {"recipient": "County DA", "reason": "prosecution request 26-114"})
    assert exported.status == 200 and exported.json()["marking"] == "TLP:AMBER"
    log = criminal_intel.disseminations(redis_client, "inc:quake-1")
    assert [(r["recipient"], r["reason"], r["by"], r["channel"]) for r in log] == [
        ("County DA", "prosecution request 26-114", "olivia", "export")]
    assert log[0]["at"].endswith("Z")
    assert last(redis_client, "annotation.export")["outcome"] == "ok"
    # A push about the record needs a reason and is logged per recipient.
    tlp.set_max_marking(redis_client, "olivia", "TLP:AMBER")
    bare = api(web, "POST", "/api/alerts", olivia, {"headline": "Substation watch", "incident": "inc:quake-1", "tlp": "TLP:AMBER"})
    assert bare.status == 422 and "reason" in bare.json()["reason"]
    patch = pytest.MonkeyPatch()
    patch.setitem(web.extra["config"].values, "outbound_tlp", "TLP:AMBER")
    try:
        pushed = api(web, "POST", "/api/alerts", olivia, {"headline": "Substation watch", "incident": "inc:quake-1",
                                                         "tlp": "TLP:AMBER", "reason": "officer safety bulletin"})
    finally:
        patch.undo()
    assert pushed.status == 201
    log = criminal_intel.disseminations(redis_client, "inc:quake-1")
    assert {(r["recipient"], r["channel"], r["reason"]) for r in log[1:]} == {
        (web.extra["config"].webhook_url, "webhook", "officer safety bulletin"),
        ("duty@partner.example", "email", "officer safety bulletin")}
    # A supervisor validates: new review date, at most five years from today.
    validated = api(web, "POST", path + "/validate", sam, {"version": 1})
    assert validated.status == 200 and validated.json()["intel"]["validated_by"] == "sam"
    assert api(web, "POST", path + "/validate", olivia, {"version": 2}).status == 403


def test_purge_dry_run_lists_then_purge_removes_and_audits(web, floor, redis_client, redis_server):
    olivia = web.session("olivia")
    for incident in ("inc:quake-1", EVENT["id"]):
        reply = api(web, "PUT", f"/api/incidents/{incident}/annotation", olivia,
                    {"version": 0, "criminal_intel": True, "nexus": NEXUS, "note": "Seen at substation 4"})
        assert reply.status == 201
    assert api(web, "PUT", "/api/incidents/inc:amber-1/annotation", olivia, {"version": 0, "note": "ordinary"}).status == 201
    # Let the first record's review date pass (as if five years went by without validation).
    stored = annotations.load(redis_client, "inc:quake-1")
    stored["intel"]["review_date"] = (date.today() - timedelta(days=1)).isoformat()
    redis_client.set(AnnotationKeys.annotation("inc:quake-1"), orjson.dumps(stored))

    preview = run_cli("intel", "purge", "--dry-run", redis_url=redis_server.url)
    assert preview.returncode == 0, preview.stderr
    listed = [json.loads(line) for line in preview.stdout.splitlines()]
    assert [r["incident"] for r in listed] == ["inc:quake-1"] and "would remove 1" in preview.stderr
    assert annotations.load(redis_client, "inc:quake-1") is not None  # a preview removes nothing
    assert last(redis_client, "intel.purge.preview")["user"].startswith("cli")

    done = run_cli("intel", "purge", redis_url=redis_server.url)
    assert done.returncode == 0 and "removed 1" in done.stderr
    assert annotations.load(redis_client, "inc:quake-1") is None
    assert annotations.history(redis_client, "inc:quake-1") == []
    assert not redis_client.sismember(IntelKeys.INTEL, "inc:quake-1")
    assert annotations.load(redis_client, EVENT["id"]) is not None  # still within review
    assert annotations.load(redis_client, "inc:amber-1") is not None  # not criminal intelligence
    record = last(redis_client, "intel.purge")
    assert record["record"] == "inc:quake-1" and "without validation" in record["reason"]
    assert "substation" not in record["reason"]  # the audit keeps ids and dates, not the note
    again = run_cli("intel", "purge", "--dry-run", redis_url=redis_server.url)
    assert again.stdout == ""


def test_cli_sets_an_accounts_maximum_marking(floor, redis_client, redis_server):
    done = run_cli("tlp", "set", "victor", "TLP:AMBER", redis_url=redis_server.url)
    assert done.returncode == 0 and "TLP:AMBER" in done.stdout
    assert tlp.max_marking(AccountStore(redis_client).require("victor"), redis_client) is tlp.TLP.AMBER
    wrong = run_cli("tlp", "set", "victor", "TLP:WHITE", redis_url=redis_server.url)
    assert wrong.returncode == 2 and "not a TLP 2.0 label" in wrong.stderr and "Traceback" not in wrong.stderr
    assert run_cli("tlp", "set", "nobody", "TLP:RED", redis_url=redis_server.url).returncode == 2
    shown = run_cli("tlp", "show", redis_url=redis_server.url).stdout
    assert "victor" in shown and "sam" in shown and "TLP:RED" in shown
    assert last(redis_client, "account.tlp")["record"] == "victor"


# -- incidents on the screens are filtered by TLP, on the server ---------------------------------------
SCREEN_INCIDENTS = {
    "inc:clear-9": ("Public quake near the stadium", None),
    "inc:amber-9": ("Partner feed: suspicious package at gate C", "TLP:AMBER"),
    "inc:red-9": ("Source reporting on crew movements", "TLP:RED"),
}


def _dash_callback(web: Web, cookie: str, marker: str) -> dict:
    """The registered callback whose output names ``marker``, as /_dash-dependencies lists it."""
    deps = web.get("/_dash-dependencies", cookie=cookie).json()
    return next(d for d in deps if marker in d["output"])


def _callback_body(dep: dict, inputs: dict, state: dict, concrete: dict) -> dict:
    """A request body like the browser's, for a pattern-matching callback on one screen."""
    def item(spec: dict, values: dict) -> dict:
        ident = spec["id"]
        if ident.startswith("{"):
            parsed = json.loads(ident)
            ident = {k: (concrete[k] if isinstance(v, list) else v) for k, v in parsed.items()}
        return {"id": ident, "property": spec["property"], "value": values.get(spec["property"])}

    outs = [o for o in dep["output"].strip(".").split("...")]
    outputs = []
    for out in outs:
        ident, _, prop = out.rpartition(".")
        parsed = json.loads(ident) if ident.startswith("{") else ident
        if isinstance(parsed, dict):
            parsed = {k: (concrete[k] if isinstance(v, list) else v) for k, v in parsed.items()}
        outputs.append({"id": parsed, "property": prop})
    return {"output": dep["output"], "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": [item(i, inputs) for i in dep["inputs"]], "state": [item(s, state) for s in dep["state"]],
            "changedPropIds": []}


def test_screens_never_receive_incidents_above_the_readers_marking(web, floor, redis_client):
    """Snapshot (the page's hidden store), deltas, the detail drawer and the threat panels: a viewer
    (maximum TLP:GREEN) gets the CLEAR incident only, an operator (AMBER) also the AMBER one, a
    supervisor all three. Data is not merely hidden in the page: it never leaves the server."""
    for incident_id, (title, marking) in SCREEN_INCIDENTS.items():
        data = {"id": incident_id, "kind": "security", "title": title, "lat": 40.0, "lon": -75.0,
                "severity": "severe", "time": datetime.now(UTC).isoformat(), "reports": [
                    {"event_id": f"ev:{incident_id}", "source": "rss", "feed": "partner"}]}
        if marking:
            data["tlp"] = marking
        redis_client.hset(IncidentKeys.INCIDENTS, incident_id, orjson.dumps(data))
        redis_client.xadd(IncidentKeys.INCIDENT_CHANGES, {"id": incident_id, "op": "upsert"})
    victor, olivia, sam = web.session("victor"), web.session("olivia"), web.session("sam")
    titles = {i: t for i, (t, _m) in SCREEN_INCIDENTS.items()}
    expected = {victor: {"inc:clear-9"}, olivia: {"inc:clear-9", "inc:amber-9"}, sam: set(titles)}
    pages = _dash_callback(web, victor, "_pages_content.children")
    poll = _dash_callback(web, victor, '"wf":"delta"')
    detail = _dash_callback(web, victor, '"wf":"detail"')
    for cookie, allowed in expected.items():
        # 1. The page itself, with its snapshot store, as the browser loads it.
        page = web.update(_callback_body(pages, {"pathname": "/", "search": "", "hash": ""}, {}, {}), cookie)
        assert page.status == 200, page.body[:300]
        for incident_id, title in titles.items():
            assert (title.encode() in page.body) == (incident_id in allowed), (incident_id, allowed)
        # 2. The delta from the beginning of the change stream: rows only for what the reader may see;
        #    the others at most as a bare removal (id and hidden), never their content.
        delta = web.update(_callback_body(poll, {"n_intervals": 1}, {"data": "0-0"}, {"screen": "desk"}), cookie)
        assert delta.status == 200, delta.body[:300]
        rows = {r["id"]: r for r in json.loads(delta.json()["response"][json.dumps({"screen": "desk", "wf": "delta"},
                                                                                    separators=(",", ":"))]["data"]["rows"])}
        shown = {i for i, r in rows.items() if not r.get("hide")}
        assert shown == allowed
        for incident_id, title in titles.items():
            assert (title.encode() in delta.body) == (incident_id in allowed)
        # 3. A crafted selection of an incident the screen never received: refused, audited.
        for incident_id, title in titles.items():
            reply = web.update(_callback_body(detail, {"data": incident_id}, {}, {"screen": "desk"}), cookie)
            assert reply.status == 200 and (title.encode() in reply.body) == (incident_id in allowed)
            if incident_id not in allowed:
                record = last(redis_client, "incident.read")
                assert record["outcome"] == "refused" and record["record"] == incident_id
    # 4. Threat panels: computed from what each marking may see, so a title never leaks through them.
    from domain.access.tlp import TLP
    from domain.picture.threat import threat_summary

    green = orjson.dumps(threat_summary(redis_client, [], TLP.GREEN))
    red = orjson.dumps(threat_summary(redis_client, [], TLP.RED))
    assert b"gate C" not in green and b"crew movements" not in green and b"crew movements" in red


def test_the_daily_purge_announces_first_and_purges_only_after_the_notice(web, floor, redis_client):
    """The scheduled 28 CFR purge: day 0 announces (audited preview, nothing removed); a record a
    supervisor validates meanwhile is kept; the other goes once the notice period has passed."""
    from workers.jobs import purge_intel
    from workers.schedule import INTEL_PURGE_CRON, build_cron

    olivia, sam = web.session("olivia"), web.session("sam")
    for incident in ("inc:quake-1", EVENT["id"]):
        assert api(web, "PUT", f"/api/incidents/{incident}/annotation", olivia,
                   {"version": 0, "criminal_intel": True, "nexus": NEXUS, "note": "Seen at substation 4"}).status == 201
        stored = annotations.load(redis_client, incident)
        stored["intel"]["review_date"] = (date.today() - timedelta(days=1)).isoformat()
        redis_client.set(AnnotationKeys.annotation(incident), orjson.dumps(stored))
    config = web.extra["config"]
    today = date.today()
    first = criminal_intel.scheduled_purge(redis_client, notice_days=7, today=today)
    assert sorted(first["announced"]) == sorted(["inc:quake-1", EVENT["id"]]) and first["purged"] == []
    assert annotations.load(redis_client, "inc:quake-1") is not None
    previews = [r for r in audit_log(redis_client) if r["action"] == "intel.purge.preview"]
    assert {r["record"] for r in previews} == {"inc:quake-1", EVENT["id"]}
    assert all((today + timedelta(days=7)).isoformat() in r["reason"] and r["user"] == "scheduler" for r in previews)
    # The next days announce nothing new and purge nothing before the date.
    later = criminal_intel.scheduled_purge(redis_client, notice_days=7, today=today + timedelta(days=6))
    assert later["announced"] == [] and later["purged"] == []
    # A supervisor validates one of them meanwhile.
    assert api(web, "POST", f"/api/incidents/{EVENT['id']}/annotation/validate", sam, {"version": 1}).status == 200
    due = criminal_intel.scheduled_purge(redis_client, notice_days=7, today=today + timedelta(days=7))
    assert due["purged"] == ["inc:quake-1"] and due["pending"] == {}
    assert annotations.load(redis_client, "inc:quake-1") is None
    assert annotations.load(redis_client, EVENT["id"]) is not None
    assert last(redis_client, "intel.purge")["record"] == "inc:quake-1"
    # The job the cron process enqueues daily runs the same thing with the configured notice.
    assert purge_intel(config, redis_client) == {"announced": [], "purged": [], "pending": {}}
    jobs = {job.name: job for job in build_cron(config, redis_client).get_jobs()}
    assert jobs["intel:purge"].cron == INTEL_PURGE_CRON and jobs["intel:purge"].func is purge_intel


# -- SMTP with authentication and STARTTLS ------------------------------------------------------------
def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (openssl, Debian's), used both by the relay and as the CA file."""
    cert, key = tmp_path / "relay.pem", tmp_path / "relay.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=relay.test", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def _smtp_config(port: int, **extra: str):
    env = {"WATCHFLOOR_EXERCISE": "false", "WATCHFLOOR_SMTP_HOST": "127.0.0.1", "WATCHFLOOR_SMTP_PORT": str(port),
           "WATCHFLOOR_ALERT_EMAIL_TO": "duty@partner.example", "WATCHFLOOR_OUTBOUND_TLP": "TLP:AMBER",
           "WATCHFLOOR_OUTBOUND_TIMEOUT": "5", **extra}
    return load_config(env=env)


def test_email_copies_authenticate_over_starttls_verified_against_the_agency_ca(redis_client, tmp_path):
    cert, key = _self_signed(tmp_path)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    relay = SmtpReceiver(credentials=("watchfloor", "s3cret relay pw"), tls=server_tls)
    try:
        store = AccountStore(redis_client)
        sam = store.create("sam", Role.SUPERVISOR, PASSWORD)
        alert = alerts.issue(redis_client, {"headline": "Shelter in place, sector 4", "tlp": "TLP:GREEN"}, sam,
                             sender="watchfloor@test")
        config = _smtp_config(relay.port, WATCHFLOOR_SMTP_STARTTLS="true", WATCHFLOOR_SMTP_USER="watchfloor",
                              WATCHFLOOR_SMTP_PASSWORD="s3cret relay pw", WATCHFLOOR_SMTP_CA_FILE=str(cert))
        done = outbound.deliver(alert["id"], 1, "email", "duty@partner.example", config=config, client=redis_client)
        assert done.get("delivered") is True
        assert relay.logins == [("watchfloor", True, True)]  # authenticated, and only once TLS was up
        assert len(relay.messages) == 1 and relay.messages[0]["tls"]
        assert b"Shelter in place" in relay.messages[0]["data"]
        # Without the agency CA the relay's certificate is refused: nothing sent, the failure recorded.
        alert2 = alerts.issue(redis_client, {"headline": "Second", "tlp": "TLP:GREEN"}, sam, sender="watchfloor@test")
        untrusted = _smtp_config(relay.port, WATCHFLOOR_SMTP_STARTTLS="true", WATCHFLOOR_SMTP_USER="watchfloor",
                                 WATCHFLOOR_SMTP_PASSWORD="s3cret relay pw")
        with pytest.raises(outbound.DeliveryError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            outbound.deliver(alert2["id"], 1, "email", "duty@partner.example", config=untrusted, client=redis_client)
        # A wrong password: refused by the relay, recorded, retried later by RQ (DeliveryError).
        wrong = _smtp_config(relay.port, WATCHFLOOR_SMTP_STARTTLS="true", WATCHFLOOR_SMTP_USER="watchfloor",
                             WATCHFLOOR_SMTP_PASSWORD="guess", WATCHFLOOR_SMTP_CA_FILE=str(cert))
        with pytest.raises(outbound.DeliveryError, match="535"):
            outbound.deliver(alert2["id"], 1, "email", "duty@partner.example", config=wrong, client=redis_client)
        assert len(relay.messages) == 1 and relay.logins[-1] == ("watchfloor", False, True)
    finally:
        relay.close()


def test_smtp_credentials_never_cross_the_network_in_clear(tmp_path):
    from domain.config.loader import ConfigError

    base = {"WATCHFLOOR_SMTP_USER": "watchfloor", "WATCHFLOOR_SMTP_PASSWORD": "pw"}
    with pytest.raises(ConfigError, match="smtp_starttls = true"):
        load_config(env={"WATCHFLOOR_SMTP_HOST": "relay.agency.example", **base})
    with pytest.raises(ConfigError, match="WATCHFLOOR_SMTP_PASSWORD"):
        load_config(env={"WATCHFLOOR_SMTP_HOST": "relay.agency.example", "WATCHFLOOR_SMTP_STARTTLS": "true",
                         "WATCHFLOOR_SMTP_USER": "watchfloor"})
    with pytest.raises(ConfigError, match="smtp_ca_file"):
        load_config(env={"WATCHFLOOR_SMTP_HOST": "relay.agency.example", "WATCHFLOOR_SMTP_STARTTLS": "true",
                         "WATCHFLOOR_SMTP_CA_FILE": str(tmp_path / "missing.pem"), **base})
    assert load_config(env={"WATCHFLOOR_SMTP_HOST": "relay.agency.example", "WATCHFLOOR_SMTP_STARTTLS": "true",
                            **base}).smtp_user == "watchfloor"
    assert load_config(env={"WATCHFLOOR_SMTP_HOST": "127.0.0.1", **base}).smtp_user == "watchfloor"  # loopback relay


# -- the supervisor's audit view -------------------------------------------------------------------------
def test_supervisors_read_and_export_the_audit_trail_others_are_refused(web, floor, redis_client):
    olivia, victor, sam = web.session("olivia"), web.session("victor"), web.session("sam")
    web.login("victor", "wrong password")  # a failed sign-in to find
    found = api(web, "GET", "/api/audit?action=login&outcome=failed", sam)
    assert found.status == 200, found.body
    rows = found.json()["records"]
    assert rows and all(r["action"] == "login" and r["outcome"] == "failed" for r in rows)
    assert rows[0]["record"] == "victor" and rows[0]["time"].endswith("Z")
    assert last(redis_client, "audit.read")["user"] == "sam"  # reading the trail is itself recorded
    prefix = api(web, "GET", "/api/audit?action=login&limit=2", sam).json()
    assert len(prefix["records"]) == 2 and prefix["more"] is True  # four sign-ins above: the limit says so
    bad = api(web, "GET", "/api/audit?since=yesterday", sam)
    assert bad.status == 422 and "since" in bad.json()["reason"] and "\n" not in bad.json()["reason"]
    export = web.get("/api/audit.jsonl?action=login", cookie=sam)
    assert export.status == 200 and "attachment" in export.header("Content-Disposition")
    lines = [json.loads(x) for x in export.body.decode().splitlines()]
    assert [r["id"] for r in lines] == sorted((r["id"] for r in lines), key=lambda i: tuple(map(int, i.split("-"))))
    assert last(redis_client, "audit.export")["user"] == "sam"
    for cookie, who in ((olivia, "olivia"), (victor, "victor")):
        for path in ("/api/audit", "/api/audit.jsonl"):
            reply = web.get(path, cookie=cookie)
            assert reply.status == 403 and b'"login"' not in reply.body
        assert last(redis_client, "audit.read")["outcome"] == "refused"
        assert [r for r in audit_log(redis_client) if r["action"] == "audit.export"][-1]["user"] == who
    # The /audit page: a table for the supervisor; a refusal (audited) and no records for an operator,
    # and the callback that reads the trail refuses a crafted request from one.
    pages = _dash_callback(web, sam, "_pages_content.children")
    shown = web.update(_callback_body(pages, {"pathname": "/audit", "search": "", "hash": ""}, {}, {}), sam)
    assert shown.status == 200 and b"wf-audit-show" in shown.body
    refused = web.update(_callback_body(pages, {"pathname": "/audit", "search": "", "hash": ""}, {}, {}), olivia)
    assert b"for supervisors and admins" in refused.body and b"wf-audit-show" not in refused.body
    assert last(redis_client, "page.read")["record"] == "/audit"
    table = _dash_callback(web, sam, "wf-audit-table.children")
    body = _callback_body(table, {"n_clicks": 1}, {"value": ""}, {})
    ok = web.update(body, sam)
    assert ok.status == 200 and b"victor" in ok.body
    crafted = web.update(body, olivia)
    assert crafted.status == 403 and b"victor" not in crafted.body
    assert last(redis_client, "callback")["record"].endswith("show")


# -- split and merge from the screens (operators) --------------------------------------------------------
def test_operators_split_and_merge_incidents_through_the_api_and_it_sticks(web, floor, redis_client):
    from tests.workers.test_fusion_pipeline import NEWS, gdacs_doc, ingest, news_doc, three_sources, usgs_doc
    from workers.overrides import fuse_now, load_incidents

    three_sources(redis_client)
    assert fuse_now(redis_client)
    quake = next(i for i in load_incidents(redis_client) if i["kind"] == "earthquake")
    news_id = next(r["event_id"] for r in quake["reports"] if r["source"] == "rss")
    olivia, victor = web.session("olivia"), web.session("victor")
    path = f"/api/incidents/{quake['id']}"
    # A viewer's crafted request is refused and audited; nothing changes.
    refused = api(web, "POST", path + "/split", victor, {"event": news_id})
    assert refused.status == 403 and last(redis_client, "incident.split")["outcome"] == "refused"
    assert len(next(i for i in load_incidents(redis_client) if i["id"] == quake["id"])["reports"]) == 3
    bad = api(web, "POST", path + "/split", olivia, {"event": "rss:not-in-it"})
    assert bad.status == 422 and "holds no report" in bad.json()["reason"]
    # The operator splits the news report out; the quake keeps its id and two reports.
    split = api(web, "POST", path + "/split", olivia, {"event": news_id})
    assert split.status == 200, split.body
    new_id = split.json()["new"]
    assert split.json()["incident"] == quake["id"] and new_id != quake["id"]
    by_id = {i["id"]: i for i in load_incidents(redis_client)}
    assert {r["source"] for r in by_id[quake["id"]]["reports"]} == {"usgs-geojson", "gdacs"}
    assert [r["event_id"] for r in by_id[new_id]["reports"]] == [news_id]
    record = last(redis_client, "incident.split")
    assert record["outcome"] == "ok" and record["user"] == "olivia" and new_id in record["reason"]
    # It sticks: re-ingesting everything (and a fresh fusion pass) does not put it back.
    ingest(redis_client, "usgs", usgs_doc())
    ingest(redis_client, "gdacs", gdacs_doc())
    ingest(redis_client, "news", news_doc(NEWS))
    fuse_now(redis_client)
    assert len({i["id"]: i for i in load_incidents(redis_client)}[quake["id"]]["reports"]) == 2
    # Merging them back is the operator's other move; an unknown id is a clear refusal.
    unknown = api(web, "POST", path + "/merge", olivia, {"other": "inc:nothing"})
    assert unknown.status == 404 and "no incident" in unknown.json()["reason"]
    merged = api(web, "POST", path + "/merge", olivia, {"other": new_id})
    assert merged.status == 200, merged.body
    survivor = {i["id"]: i for i in load_incidents(redis_client)}[merged.json()["incident"]]
    assert len(survivor["reports"]) == 3 and new_id not in {i["id"] for i in load_incidents(redis_client)}
    assert last(redis_client, "incident.merge")["outcome"] == "ok"
    # An incident above the operator's marking cannot be split or merged (nor named as the other).
    redis_client.hset(IncidentKeys.INCIDENTS, "inc:red-1", orjson.dumps(INCIDENTS["inc:red-1"]))  # fusion kept only its own
    assert api(web, "POST", path + "/merge", olivia, {"other": "inc:red-1"}).status == 403
    assert api(web, "POST", "/api/incidents/inc:red-1/split", olivia, {"event": "x"}).status == 403
