"""/agencies in real Chromium: the host's admin adds an agency; an agency administrator lists and
assigns only its own people, and a try at another agency's person is refused and audited."""

from __future__ import annotations

import pytest

from domain.access.accounts import AccountStore
from domain.access.audit import read
from domain.agencies.store import AgencyStore
from tests.dashboard.test_agency_sharing import floor  # noqa: F401 - fixture
from tests.dashboard.test_reports_api import web  # noqa: F401 - fixture
from tests.domain.test_access import CHROMIUM, CHROMIUM_ARGS, PASSWORD

pytestmark = [pytest.mark.redis, pytest.mark.browser]


def _open(browser, base, name):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(base + "/login?next=/agencies")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#wf-ag-people table", timeout=60_000)
    return page


def _do(page, fields: dict[str, str], button: str) -> str:
    before = page.inner_text("#wf-ag-status")
    for id_, value in fields.items():
        page.fill(f"#{id_}", value)
    page.click(f"#{button}")
    page.wait_for_function("(old) => { const t = document.querySelector('#wf-ag-status').innerText; "
                           "return t.length > 0 && t !== old; }", arg=before, timeout=30_000)
    return page.inner_text("#wf-ag-status")


def test_host_admin_adds_and_an_agency_admin_keeps_to_its_own(web, floor, redis_client):  # noqa: F811
    from playwright.sync_api import sync_playwright

    base = f"http://127.0.0.1:{web.port}"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            root = _open(browser, base, "root")
            said = _do(root, {"wf-ag-code": "MBTA-2", "wf-ag-name": "Commuter Rail Police"}, "wf-ag-save")
            assert said.startswith("Added MBTA-2"), said
            assert AgencyStore(redis_client).get("MBTA-2") is not None
            assert "tom" in root.inner_text("#wf-ag-people"), "the host's admin sees everyone"
            root.screenshot(path="/tmp/mine/agencies-root.png", full_page=True)
            chief = _open(browser, base, "chief")
            people = chief.inner_text("#wf-ag-people")
            assert "fran" in people and "tom" not in people and "tess" not in people
            said = _do(chief, {"wf-ag-person": "tom", "wf-ag-member-of": "BFD"}, "wf-ag-assign")
            assert said.startswith("Not done:"), said
            assert AccountStore(redis_client).require("tom").agency == "MBTA"
            said = _do(chief, {"wf-ag-src-agency": "MBTA", "wf-ag-src-id": "mbta-cad", "wf-ag-src-rule": "all"},
                       "wf-ag-source")
            assert said.startswith("Not done:"), said
            said = _do(chief, {"wf-ag-src-agency": "BFD", "wf-ag-src-id": "bfd-cad", "wf-ag-src-rule": "own"},
                       "wf-ag-source")
            assert said.startswith("BFD source bfd-cad"), said
            chief.screenshot(path="/tmp/mine/agencies-chief.png", full_page=True)
        finally:
            browser.close()
    trail = [r.to_dict() for r in read(redis_client)]
    assert any(r["action"] == "agency.page.assign" and r["outcome"] == "refused" and r["user"] == "chief" for r in trail)
    assert any(r["action"] == "agency.create" and r["user"] == "root" for r in trail)
