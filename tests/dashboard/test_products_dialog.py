"""The desk's "Brief & export" dialog in real headless Chromium against the whole stack: a duty
officer downloads the morning brief as a PDF with its TLP line on every page, the picture as KML and
as CoT, and makes a share link; a viewer gets the files but no link; every product is in the
dissemination log. Screenshots are kept in test-artifacts/ (look at them)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest
from pypdf import PdfReader

from tests.stack import ROOT, start_stack

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.redis]

ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "products dialog passphrase 42"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = start_stack(tmp_path_factory.mktemp("products"), env={"WATCHFLOOR_SCENARIO_SPEED": "30"})
    stack.add_user("olive", "operator", PASSWORD)
    stack.add_user("vera", "viewer", PASSWORD)
    yield stack
    stack.stop()


def _desk(stack, browser, name):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    page = context.new_page()
    stack.sign_in(page, name, PASSWORD, "")
    page.wait_for_selector(".wf-desk .wf-conn-live", timeout=30_000)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and page.locator(".wf-desk .wf-list .wf-item").count() == 0:
        time.sleep(0.5)  # the exercise's first incidents
    return page


def _download(page, action: str, fmt: str) -> tuple[str, bytes]:
    with page.expect_download(timeout=60_000) as info:
        page.click(f".wf-products [data-action='{action}'][data-format='{fmt}']")
    download = info.value
    return download.suggested_filename, open(download.path(), "rb").read()


def test_an_officer_briefs_exports_and_shares(stack, browser):
    page = _desk(stack, browser, "olive")
    assert page.locator(".wf-products").is_hidden()
    page.click(".wf-products-open")
    page.fill("#wf-pr-to", "EOC morning call")
    page.fill("#wf-pr-summary", "Quiet night; the square fills from 20:00.")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "desk-products-1440x900.png"))
    name, pdf = _download(page, "products-brief", "pdf")
    assert name.startswith("watchfloor-brief-picture-") and name.endswith(".pdf") and pdf.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(pdf))
    texts = [p.extract_text() for p in reader.pages]
    assert texts and all("TLP:" in t for t in texts), "the TLP line is on every page"
    assert "Quiet night" in "".join(texts)
    assert "Saved watchfloor-brief" in page.inner_text(".wf-products .wf-form-result")
    name, kml = _download(page, "products-export", "kml")
    root = ET.fromstring(kml)
    assert name == "watchfloor-picture.kml" and root.tag.endswith("kml") and kml.count(b"<Placemark") >= 1
    name, cot = _download(page, "products-export", "cot")
    assert name.endswith(".xml") or name.endswith(".cot"), name
    assert b"<event" in cot and b'how="' in cot
    page.click(".wf-products [data-action='products-share']")
    page.locator(".wf-products-link", has_text="/share/").wait_for(timeout=20_000)  # (the CSP forbids eval)
    url = page.inner_text(".wf-products-link")
    shared = page.context.new_page()
    shared.goto(url)
    body = shared.inner_text("body")
    assert "Situation report" in body and "Read-only link shared by olive" in body and "No feed health given" not in body
    page.screenshot(path=str(ARTIFACTS / "desk-products-done-1440x900.png"))
    page.context.close()


def test_a_viewer_gets_files_but_no_link_and_every_product_is_logged(stack, browser):
    page = _desk(stack, browser, "vera")
    assert page.locator(".wf-compose-open").count() == 0, "viewers may not push alerts"
    page.click(".wf-products-open")
    assert page.locator(".wf-products [data-action='products-share']").count() == 0
    name, body = _download(page, "products-export", "geojson")
    assert name == "watchfloor-picture.geojson" and b'"FeatureCollection"' in body
    page.context.close()
    env = {**os.environ, "WATCHFLOOR_DATA_DIR": str(stack.data_dir), "REDIS_URL": ""}
    trail = subprocess.run([sys.executable, "-m", "watchfloor.cli", "audit"], capture_output=True, text=True, cwd=ROOT,
                           env=env, timeout=60)
    products = [r for r in map(json.loads, trail.stdout.splitlines()) if r["action"] == "product.export"]
    assert {r["user"] for r in products} >= {"olive", "vera"}, trail.stderr
    assert any(r["user"] == "olive" and "EOC morning call" in r["reason"] for r in products)
    assert sum(r["user"] == "olive" for r in products) >= 3, "the brief, the KML and the CoT"
