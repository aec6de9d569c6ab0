"""The public tip page (/tip, /tip/more) against the real app: uvicorn on loopback, a real Redis, crafted HTTP,
and real headless Chromium at a phone's size (375x667). Screenshots go to test-artifacts/ (look at them).

Each test sends from its own address (the app trusts 127.0.0.1 as a proxy, so X-Forwarded-For names the
tipster), as many people behind one server would."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import orjson
import pytest
import redis

from domain.access.keys import AuditKeys
from domain.reports.keys import ReportKeys
from domain.reports.store import receipt_digest
from tests.domain.test_access import Reply, Web, make_config, serve, stop
from tests.stack import ROOT

pytestmark = [pytest.mark.redis]

ARTIFACTS = ROOT / "test-artifacts"
PER_HOUR = 4
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
NARRATIVE = "A man photographed every entrance of the train station for an hour and wrote in a notebook."
SPRINGFIELD = "Main St, Springfield, MA"


@pytest.fixture(scope="module")
def web(redis_server) -> Iterator[Web]:
    from dashboard import create_app

    app = create_app(make_config(redis_server.url, WATCHFLOOR_TRUSTED_PROXIES="127.0.0.1",
                                 WATCHFLOOR_TIP_PER_HOUR=str(PER_HOUR)))
    server = serve(app.server)
    yield server
    stop(server)


@pytest.fixture
def fresh_window() -> None:
    """Throttle counters are per clock hour: start a flood well inside one."""
    if time.time() % 3600 > 3540:
        time.sleep(3601 - time.time() % 3600)


class Tipster:
    """A person at one address using the tip pages over HTTP, as a browser would."""

    def __init__(self, web: Web, address: str) -> None:
        self.web = web
        self.headers = {"X-Forwarded-For": address}
        page = web.get("/tip", html=True, headers=self.headers)
        assert page.status == 200, page.body[:300]
        self.cookie = next(v for k, v in page.cookies().items() if k.endswith("wf_tip")).split(";")[0]
        self.token = token_of(page)

    def post(self, path: str, fields: dict, **headers: str) -> Reply:
        body = urlencode({"csrf": self.token, **fields})
        return self.web.request("POST", path, body, {**FORM, **self.headers, **headers}, cookie=self.cookie)

    def review(self, fields: dict) -> Reply:
        return self.post("/tip", {"action": "review", **fields})

    def send(self, fields: dict) -> Reply:
        """Check, then confirm the place found (or send the words when none was found)."""
        review = self.review(fields)
        assert review.status == 200, alert_of(review)
        carried = hidden_fields(review)
        action = "send-spot" if b'value="send-spot"' in review.body else "send-words"
        return self.post("/tip", {**carried, "action": action})

    def more(self, code: str, text: str) -> Reply:
        return self.post("/tip/more", {"code": code, "information": text})


def token_of(reply: Reply) -> str:
    return re.search(rb'name="csrf" value="([^"]+)"', reply.body).group(1).decode()


def hidden_fields(reply: Reply) -> dict[str, str]:
    found = re.findall(rb'<input type="hidden" name="([^"]+)" value="([^"]*)">', reply.body)
    return {html.unescape(k.decode()): html.unescape(v.decode()) for k, v in found if k != b"csrf"}


def alerts_of(reply: Reply) -> list[str]:
    return [html.unescape(m.decode()) for m in re.findall(rb'role="alert"[^>]*>([^<]*)<', reply.body)]


def alert_of(reply: Reply) -> str:
    found = alerts_of(reply)
    return found[0] if found else ""


def code_of(reply: Reply) -> str:
    match = re.search(rb'id="tip-code">([A-Z0-9-]+)<', reply.body)
    assert match, reply.body[:500]
    return match.group(1).decode()


def stored(client: redis.Redis) -> list[dict]:
    return [orjson.loads(client.get(ReportKeys.report(i.decode()))) for i in client.zrange(ReportKeys.REPORTS, 0, -1)]


def report_keys(client: redis.Redis) -> int:
    return len(client.keys("wf:report*")) + len(client.keys("wf:entit*")) + len(client.keys("wf:tip-receipt:*"))


def tip_audit(client: redis.Redis) -> list[dict]:
    out = []
    for _, raw in client.xrange(AuditKeys.AUDIT):
        entry = {k.decode(): v.decode() for k, v in raw.items()}
        if entry["action"].startswith("tip."):
            out.append(entry)
    return out


# -- HTTP ---------------------------------------------------------------------------------------------
def test_a_tip_with_a_place_confirmed_is_stored_whole_and_answered_with_its_receipt_only(web, redis_client):
    tipster = Tipster(web, "203.0.113.7")
    fields = {"narrative": NARRATIVE, "where": SPRINGFIELD, "when": "2026-01-10T14:05", "tz": "300",
              "p1_desc": "Tall, grey hoodie, red backpack", "v1_plate": "abc-123", "v1_state": "ma",
              "v1_colour": "blue", "contact": "555-0142"}
    review = tipster.review(fields)
    assert review.status == 200 and b"We found:" in review.body and b"Springfield, Massachusetts" in review.body
    assert b"the town or city as a whole" in review.body  # what a city-level spot means, said plainly
    assert stored(redis_client) == []  # checking stores nothing
    carried = hidden_fields(review)
    assert carried["narrative"] == NARRATIVE and carried["spot_precision"] == "city"

    answer = tipster.post("/tip", {**carried, "action": "send-spot"})
    assert answer.status == 200
    code = code_of(answer)
    (tip,) = stored(redis_client)
    assert tip["kind"] == "tip" and tip["state"] == "received" and tip["channel"] == "tip"
    assert redis_client.get(ReportKeys.receipt(receipt_digest(code))).decode() == tip["id"]
    assert code not in str(tip)  # only the code's digest is kept
    assert tip["narrative"] == NARRATIVE and tip["time"] == "2026-01-10T19:05:00Z"  # 14:05 at UTC-5
    assert tip["location"]["text"] == SPRINGFIELD and tip["location"]["precision"] == "city"
    assert round(tip["location"]["lat"], 2) == 42.10 and tip["location"]["label"] == "Springfield, Massachusetts"
    assert tip["vehicles"] == [{"plate": "abc-123", "state": "MA", "make": "", "model": "", "colour": "blue"}]
    assert tip["subjects"][0]["description"] == "Tall, grey hoodie, red backpack" and tip["contact"] == "555-0142"
    # The answer is the receipt code and nothing else of the tip; the address is nowhere in the store.
    body = answer.body.decode()
    assert tip["id"] not in body and "photographed" not in body and "abc-123" not in body.lower()
    assert all(b"203.0.113.7" not in (redis_client.dump(k) or b"") for k in redis_client.keys("*"))
    assert not [k for k in redis_client.keys("*") if b"203.0.113.7" in k]
    assert "wf_tip=;" in answer.header("set-cookie")  # the form's token is spent: a reload cannot send it twice
    again = web.request("POST", "/tip", urlencode({**carried, "action": "send-spot", "csrf": tipster.token}),
                        {**FORM, **tipster.headers})  # the browser dropped the spent cookie
    assert again.status == 400 and len(stored(redis_client)) == 1
    (received,) = [r for r in tip_audit(redis_client) if r["outcome"] == "ok"]
    assert received["action"] == "tip.receive" and received["source"] == "-" and received["user"] == "public"
    assert "photographed" not in str(received) and "203.0.113" not in str(received)


def test_more_information_goes_to_the_tip_by_its_code_and_a_wrong_code_reveals_nothing(web, redis_client):
    tipster = Tipster(web, "203.0.113.8")
    code = code_of(tipster.send({"narrative": NARRATIVE, "where": "Worcester, MA"}))
    added = tipster.more(code.lower().replace("-", " "), "He came back the next day in a white van.")
    assert added.status == 200 and b"We added your information" in added.body
    assert b"photographed" not in added.body and b"TIP-" not in added.body
    (tip,) = stored(redis_client)
    assert [a["text"] for a in tip["addenda"]] == ["He came back the next day in a white van."]

    other = Tipster(web, "203.0.113.9")
    before = redis_client.get(ReportKeys.report(tip["id"]))
    wrong = other.more("ABCD-EFGH-JKMN", "Anything you have on this?")
    assert wrong.status == 404 and alert_of(wrong).startswith("Receipt code: no tip has this code")
    assert b"photographed" not in wrong.body and tip["id"].encode() not in wrong.body and b"white van" not in wrong.body
    assert redis_client.get(ReportKeys.report(tip["id"])) == before
    empty = other.more(code, "")
    assert empty.status == 422 and alert_of(empty) == "More information: please fill it in"
    outcomes = [(r["action"], r["outcome"]) for r in tip_audit(redis_client)]
    assert ("tip.more", "ok") in outcomes and ("tip.more", "refused") in outcomes
    assert all(r["source"] == "-" for r in tip_audit(redis_client))


BAD_INPUT = [
    ({"narrative": "x" * 8001}, "What happened: is too long (8001 characters); at most 8000", "narrative"),
    ({"narrative": NARRATIVE + " <script>alert(1)</script>"}, "What happened: has < > tags or & codes in it", "narrative"),
    ({"narrative": NARRATIVE, "v1_plate": "AB\x07123"}, "Vehicle 1, plate: has invisible control characters", "v1_plate"),
    ({"narrative": NARRATIVE, "v2_plate": "AB<i>1"}, "Vehicle 2, plate: has < > tags", "v2_plate"),
    ({"narrative": NARRATIVE, "where": "Main St \u202eAM ,dleifgnirpS"}, "Where: has invisible characters that turn text around",
     "where"),
    ({"narrative": NARRATIVE, "p2_name": "Jo\u2066hn"}, "Person 2, name: has invisible characters that turn", "p2_name"),
    ({"narrative": NARRATIVE, "when": "2999-01-01T10:00"}, "When: that time is in the future",
     "when"),
    ({"narrative": "too short"}, "What happened: say what happened in at least 20 characters", "narrative"),
    ({"narrative": NARRATIVE, "lat": "nan", "lon": "10"}, "Your location: must be between", "where"),
]


@pytest.mark.parametrize("fields, line, field", BAD_INPUT, ids=[f[2] + str(i) for i, f in enumerate(BAD_INPUT)])
@pytest.mark.parametrize("action", ["review", "send-words"])
def test_bad_input_gets_one_line_naming_the_field_keeps_what_was_typed_and_stores_nothing(
        web, redis_client, fields, line, field, action):
    tipster = Tipster(web, "198.51.100.20")
    before = report_keys(redis_client)
    reply = tipster.post("/tip", {"action": action, **fields})
    assert reply.status == 422
    assert len(alerts_of(reply)) == 1 and alert_of(reply).startswith(line), alerts_of(reply)
    assert re.search(rf'name="{field}"[^>]*aria-invalid="true"'.encode(), reply.body)
    assert b"<script>alert" not in reply.body and b"<i>1" not in reply.body  # shown as text, never as markup
    kept = fields.get("narrative", "")[:60]
    assert html.escape(kept, quote=True).encode() in reply.body  # what was typed is still in the form
    assert report_keys(redis_client) == before == 0
    refused = [r for r in tip_audit(redis_client) if r["outcome"] == "refused"]
    assert len(refused) == 1 and "198.51.100" not in str(refused) and "script" not in str(refused)


def test_a_flood_from_one_address_is_answered_429_with_one_audit_record(web, redis_client, fresh_window):
    tipster = Tipster(web, "192.0.2.50")
    answers = [tipster.send({"narrative": f"{NARRATIVE} ({i})"}).status for i in range(PER_HOUR)]
    assert answers == [200] * PER_HOUR
    flood = [tipster.post("/tip", {"action": "send-words", "narrative": NARRATIVE}) for _ in range(6)]
    assert {r.status for r in flood} == {429}
    assert 1 <= int(flood[0].header("retry-after")) <= 3600
    assert alert_of(flood[0]).startswith("Too many tips from this connection") and "call 911" in alert_of(flood[0])
    more = tipster.more("ABCD-EFGH-JKMN", "more from the same address")  # additions share the counter
    assert more.status == 429 and "your information was not added" in alert_of(more)
    assert len(stored(redis_client)) == PER_HOUR
    refused = [r for r in tip_audit(redis_client) if r["outcome"] == "refused"]
    assert len(refused) == 1 and "not recorded" in refused[0]["reason"]
    assert Tipster(web, "192.0.2.51").send({"narrative": NARRATIVE}).status == 200  # others still get through
    keys = redis_client.keys("wf:tip-throttle:*")
    assert keys and all(0 < redis_client.ttl(k) <= 3660 for k in keys)  # counters that expire, hashed
    assert not [k for k in keys if b"192.0.2" in k]


def test_cross_site_posts_expired_forms_and_oversize_bodies_store_nothing(web, redis_client):
    tipster = Tipster(web, "198.51.100.30")
    fields = {"action": "send-words", "narrative": NARRATIVE}
    assert tipster.post("/tip", fields, Origin="https://evil.example").status == 403
    expired = tipster.web.request("POST", "/tip", urlencode({**fields, "csrf": "forged"}), {**FORM, **tipster.headers})
    assert expired.status == 400 and "page had expired" in alert_of(expired)
    assert NARRATIVE.encode() in expired.body  # kept: send it again
    huge = tipster.post("/tip", {**fields, "narrative": "x" * 70_000})
    assert huge.status == 413
    assert report_keys(redis_client) == 0


def test_the_pages_are_public_and_their_script_and_style_are_same_origin(web, redis_client):
    for path in ("/tip", "/tip/more"):
        reply = web.get(path, html=True, headers={"X-Forwarded-For": "198.51.100.40"})
        assert reply.status == 200 and b"Emergency? Call" in reply.body and b'href="tel:911"' in reply.body
        assert "geolocation=(self)" in reply.header("permissions-policy")
        assert "script-src 'self'" in reply.header("content-security-policy")
        assert not re.search(rb"<script(?![^>]*src=\"/tip\.js\")", reply.body)  # no inline script
        assert not re.search(rb'(src|href)="(https?:)?//', reply.body)  # nothing from elsewhere
    assert web.get("/tip.js").status == 200 and web.get("/tip.css").status == 200
    assert web.get("/tip/other", html=True).status == 303  # only the tip pages are public


# -- Chromium at a phone's size ----------------------------------------------------------------------------
def phone_page(web: Web, browser, address: str, **context):
    ctx = browser.new_context(viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True,
                              extra_http_headers={"X-Forwarded-For": address}, **context)
    page = ctx.new_page()
    seen: list[str] = []
    errors: list[str] = []
    page.on("request", lambda req: seen.append(req.url))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # A refused form answers 422 with its page, which Chromium logs; anything else (a CSP refusal) counts.
    page.on("console", lambda msg: errors.append(msg.text)
            if msg.type == "error" and "status of 422" not in msg.text else None)
    return ctx, page, seen, errors


def fits_the_phone(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.browser
def test_on_a_phone_a_tip_with_a_place_is_confirmed_and_a_receipt_adds_information(web, browser, redis_client):
    ARTIFACTS.mkdir(exist_ok=True)
    base = f"http://127.0.0.1:{web.port}"
    ctx, page, seen, errors = phone_page(web, browser, "198.51.100.50")
    page.goto(base + "/tip")
    banner = page.locator("#tip-emergency")
    assert banner.is_visible() and "Call 911" in banner.inner_text()
    assert page.locator("#tip-locate").is_visible()  # the script ran (no CSP refusal)
    page.fill("#tip-narrative", NARRATIVE)
    page.fill("#tip-where", SPRINGFIELD)
    page.click("summary:has-text('Vehicles')")
    page.fill("#tip-v1_plate", "ABC 123")
    page.fill("#tip-v1_state", "MA")
    page.fill("#tip-v1_colour", "Blue")
    assert fits_the_phone(page)
    page.screenshot(path=str(ARTIFACTS / "tip-phone-form.png"), full_page=True)

    page.click("button:has-text('Next: check your tip')")
    page.wait_for_selector("text=Check your tip")
    assert "Springfield, Massachusetts" in page.locator(".tip-where").inner_text()
    assert fits_the_phone(page) and stored(redis_client) == []
    page.screenshot(path=str(ARTIFACTS / "tip-phone-confirm.png"), full_page=True)

    page.click("button:has-text('Yes, that is the place')")
    code = page.locator("#tip-code").inner_text(timeout=15_000)
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", code)
    assert "photographed" not in page.content()
    page.screenshot(path=str(ARTIFACTS / "tip-phone-receipt.png"), full_page=True)
    (tip,) = stored(redis_client)
    assert tip["location"]["label"] == "Springfield, Massachusetts" and tip["vehicles"][0]["plate"] == "ABC 123"

    page.click("text=Add information now")
    page.fill("#tip-code", code)
    page.fill("#tip-information", "The van had a ladder on its roof.")
    page.click("button:has-text('Add to my tip')")
    page.wait_for_selector("text=We added your information")
    assert [a["text"] for a in stored(redis_client)[0]["addenda"]] == ["The van had a ladder on its roof."]
    assert all(url.startswith(base + "/") for url in seen), [u for u in seen if not u.startswith(base)]
    assert not errors, errors
    ctx.close()


@pytest.mark.browser
def test_on_a_phone_use_my_location_and_a_bad_field_answer_plainly(web, browser, redis_client):
    ARTIFACTS.mkdir(exist_ok=True)
    base = f"http://127.0.0.1:{web.port}"
    ctx, page, seen, errors = phone_page(web, browser, "198.51.100.60", permissions=["geolocation"],
                                         geolocation={"latitude": 42.3601, "longitude": -71.0589, "accuracy": 25})
    page.goto(base + "/tip")
    # Markup typed in the narrative: refused with one line, the text kept, nothing stored.
    page.fill("#tip-narrative", NARRATIVE + " <b>look</b>")
    page.click("button:has-text('Next: check your tip')")
    page.wait_for_selector("#tip-error")
    assert page.locator("[role=alert]").count() == 1
    assert page.locator("#tip-error").inner_text().startswith("What happened: has < > tags or & codes in it")
    assert page.input_value("#tip-narrative").endswith("<b>look</b>")
    assert page.locator("#tip-narrative").get_attribute("aria-invalid") == "true"
    page.screenshot(path=str(ARTIFACTS / "tip-phone-error.png"), full_page=True)
    assert report_keys(redis_client) == 0

    page.fill("#tip-narrative", NARRATIVE)
    page.click("#tip-locate")
    page.wait_for_selector("text=Got your location")
    page.click("button:has-text('Next: check your tip')")
    page.wait_for_selector("text=Check your tip")
    assert "Your phone's location: Boston, Massachusetts" in page.locator(".tip-where").inner_text()
    page.click("button:has-text('Send my tip')")
    page.wait_for_selector("#tip-code")
    (tip,) = stored(redis_client)
    assert tip["location"]["lat"] == 42.3601 and tip["location"]["lon"] == -71.0589
    assert "Boston" in tip["location"]["label"] and tip["time"]  # "when" left empty: now
    assert all(url.startswith(base + "/") for url in seen) and not errors, errors
    ctx.close()


def test_with_the_store_down_the_page_says_so_and_keeps_the_tip_typed():
    from dashboard import create_app
    from watchfloor.redis_server import free_port

    down = serve(create_app(make_config(f"redis://127.0.0.1:{free_port()}/0")).server)  # nothing listens there
    try:
        page = down.get("/tip", html=True)
        assert page.status == 200 and b"We cannot take tips right now" in page.body
        cookie = next(v for k, v in page.cookies().items() if k.endswith("wf_tip")).split(";")[0]
        fields = {"csrf": token_of(page), "action": "review", "narrative": NARRATIVE}
        reply = down.request("POST", "/tip", urlencode(fields), FORM, cookie=cookie)
        assert reply.status == 503 and alert_of(reply).startswith("We cannot take tips right now")
        assert NARRATIVE.encode() in reply.body and b"Traceback" not in reply.body
    finally:
        stop(down)
