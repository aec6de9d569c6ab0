"""/agency in real headless Chromium: a supervisor sees what a partner pushed and what was refused,
with the partner's strings shown as text; an operator of no agency sees none; a viewer is refused."""

from __future__ import annotations

import json
import os

import pytest

from domain.access.accounts import AccountStore, Role
from domain.agencies import tokens
from domain.agencies.store import AgencyStore
from tests.dashboard.test_ingest import GOOD, feature, push, web  # noqa: F401 - the module's server fixture
from tests.domain.test_access import PASSWORD
from tests.domain.test_operator import audit_log

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.redis]

HOSTILE_ID = "\"><img src=x onerror=alert(1)> & 'q'"  # markup is dropped at intake; the rest shows as text


def signed_in_page(browser, served, cookie: str):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    name, _, value = cookie.partition("=")
    context.add_cookies([{"name": name, "value": value, "url": f"http://127.0.0.1:{served.port}"}])
    return context.new_page()


def test_the_agency_page_shows_pushes_and_refusals_as_text(web, browser, redis_client):  # noqa: F811
    AgencyStore(redis_client).add("MBTA", "MBTA Transit Police", kind="transit", sharing="own")
    token, token_id = tokens.create(redis_client, "MBTA")
    assert push(web, token, GOOD, query="?source=stations&interval=300").status == 200
    bad = json.dumps({"type": "FeatureCollection", "features": [
        feature("ok-1", "Fine"), feature(HOSTILE_ID, "Broken", when="2030-13-45T99:00Z")]}).encode()
    assert push(web, token, bad, query="?source=stations").status == 400
    accounts = AccountStore(redis_client)
    for name, role in (("sam", Role.SUPERVISOR), ("olivia", Role.OPERATOR), ("victor", Role.VIEWER)):
        accounts.create(name, role, PASSWORD)
    page = signed_in_page(browser, web, web.session("sam"))
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("dialog", lambda d: errors.append("dialog: " + d.message))
    page.goto(f"http://127.0.0.1:{web.port}/agency")
    card = page.locator("#agency-MBTA")
    card.wait_for(timeout=15_000)
    text = card.inner_text()
    assert "MBTA Transit Police" in text and "own agency only" in text
    rows = page.locator(".wf-agency-table").first.locator("tbody tr")
    assert rows.count() == 1 and rows.first.inner_text().split("\t")[:6] == ["stations", "2", "2", "0", "0", "1"]
    recent = page.locator(".wf-agency-table").nth(1).locator("tbody tr")
    assert recent.count() == 2
    assert "refused (400)" in recent.nth(0).inner_text() and token_id in recent.nth(0).inner_text()
    assert """feature 1 ("> & 'q') skipped: impossible date""" in recent.nth(0).inner_text()  # text, not markup
    assert "accepted" in recent.nth(1).inner_text()
    assert page.locator("img").count() == 0 and not errors, errors
    if os.environ.get("WF_SHOTS"):
        page.screenshot(path=os.path.join(os.environ["WF_SHOTS"], "agency-page.png"), full_page=True)
    page.context.close()
    operator = signed_in_page(browser, web, web.session("olivia"))
    operator.goto(f"http://127.0.0.1:{web.port}/agency")
    assert "belongs to no partner agency" in operator.locator("main").inner_text()
    operator.context.close()
    viewer = web.get("/agency", web.session("victor"), html=True)
    assert viewer.status == 403 and b"for operators, supervisors and admins" in viewer.body
    reads = [r for r in audit_log(redis_client) if r["action"] == "agency.page"]
    assert [r["outcome"] for r in reads] == ["ok", "ok", "refused"]


def test_the_desk_links_pushes_for_those_the_page_shows_something_and_an_agency_admin_sees_only_its_own(
        web, browser, redis_client):  # noqa: F811
    from domain.agencies.members import set_agency

    store = AgencyStore(redis_client)
    store.add("MBTA", "MBTA Transit Police", kind="transit")
    store.add("BFD", "Boston Fire Department", kind="fire-ems")
    accounts = AccountStore(redis_client)
    for name, role, agency in (("sam", Role.SUPERVISOR, None), ("olivia", Role.OPERATOR, None),
                               ("tom", Role.OPERATOR, "MBTA"), ("ada", Role.ADMIN, "BFD"), ("val", Role.VIEWER, "MBTA")):
        accounts.create(name, role, PASSWORD)
        if agency:
            set_agency(redis_client, name, agency)

    def desk_links(name: str) -> bool:
        page = signed_in_page(browser, web, web.session(name))
        page.goto(f"http://127.0.0.1:{web.port}/")
        page.wait_for_selector(".wf-desk .wf-who", timeout=30_000)  # the header is drawn
        links = page.locator("a.wf-pushes-open[href='/agency']").count()
        page.context.close()
        return links == 1

    assert {n: desk_links(n) for n in ("sam", "olivia", "tom", "ada", "val")} == {
        "sam": True, "olivia": False, "tom": True, "ada": True, "val": False}
    # An agency's admin is not the host center's: its own agency's pushes, never another's.
    page = web.get("/agency", web.session("ada"), html=True)
    assert page.status == 200 and b'id="agency-BFD"' in page.body and b"agency-MBTA" not in page.body
    host = web.get("/agency", web.session("sam"), html=True)
    assert b'id="agency-BFD"' in host.body and b'id="agency-MBTA"' in host.body
