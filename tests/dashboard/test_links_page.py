"""The link-analysis page (/links) in real headless Chromium against the whole stack: the graph draws,
expands, highlights a path, says when it is cut, exports what is drawn, and shows each reader only
what they may see. Screenshots are kept in test-artifacts/ (look at them)."""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import networkx as nx
import pytest
import redis

from dashboard.links.view import LIMIT
from domain.access.accounts import Role
from domain.reports import entities, store, tips, vetting
from tests.stack import ROOT, start_stack

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.redis]

ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "links passphrase 42"
ANALYST = SimpleNamespace(name="sam", role=Role.SUPERVISOR)
CROWD = 600  # reports sharing one phone: more than the page draws

DRAWN_IDS = "() => window.cy ? window.cy.nodes().map((n) => n.id()) : []"
AT_LEAST = "(n) => !!window.cy && window.cy.nodes().length >= n && window.cy.nodes().boundingBox().w > 0"
HAS_NODE = "(id) => !!window.cy && window.cy.getElementById(id).length === 1"
PATH_DRAWN = "([n, e]) => !!window.cy && window.cy.$('node.path').length === n && window.cy.$('edge.path').length === e"
NODE_AT = """(id) => { const n = window.cy.getElementById(id); const p = n.renderedPosition();
  const r = window.cy.container().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }"""


def sar(**fields):
    base = {"category": "Photography", "narrative": "Man photographed the stadium gates and guard posts for an hour.",
            "time": "2026-04-20T14:05:00Z", "location": {"lat": 42.3467, "lon": -71.0972}, "tlp": "TLP:GREEN"}
    return {**base, **fields}


def share(client: redis.Redis, report_id: str, screened: dict | None = None) -> None:
    for to, extra in (("screened", screened or {}), ("review", {}), ("shared", {"affirm": True})):
        vetting.move(client, report_id, {"to": to, "reason": "vetting step", **extra}, ANALYST)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = start_stack(tmp_path_factory.mktemp("links"))
    stack.add_user("analyst", "supervisor", PASSWORD)
    stack.add_user("vic", "viewer", PASSWORD)
    url = (stack.data_dir / "redis" / "redis.url").read_text(encoding="utf-8").strip()
    client = redis.Redis.from_url(url)
    add = lambda data: store.save_new(client, store.build(data, kind="sar", by="olga", channel="test"))  # noqa: E731
    a = add(sar(vehicles=[{"plate": "ABC 123", "state": "MA"}], phones=["617-555-0100"]))
    b = add(sar(phones=["+16175550100"], emails=["drop@example.org"], time="2026-04-22T09:30:00Z",
                location={"lat": 42.3601, "lon": -71.0589}))
    tip, _code = tips.submit(client, {"narrative": "Grey van ABC 123 circled the arena five times slowly.",
                                      "vehicles": [{"plate": "abc-123", "state": "MA"}],
                                      "emails": ["tipster-only@example.org"]}, address="198.51.100.7", per_hour=5)
    for report in (a, b):
        share(client, report["id"])
    share(client, tip["id"], {"category": "SURVL"})  # even a shared tip stays hidden from viewers
    for i in range(CROWD):
        add(sar(phones=["617-555-0199"], narrative=f"Caller number {i} rang the stadium office asking about gates."))
    stack.ids = {"a": f"R:{a['id']}", "b": f"R:{b['id']}", "tip": f"R:{tip['id']}",
                 "vehicle": "E:" + entities.find(client, "vehicle:MA:ABC123"),
                 "phone": "E:" + entities.find(client, "phone:+16175550100"),
                 "email": "E:" + entities.find(client, "email:drop@example.org"),
                 "tip_email": "E:" + entities.find(client, "email:tipster-only@example.org"),
                 "crowd": "E:" + entities.find(client, "phone:+16175550199")}
    client.close()
    yield stack
    stack.stop()


def open_links(stack, browser, user: str, query: str = ""):
    page = browser.new_page(viewport={"width": 1920, "height": 1080}, accept_downloads=True)
    problems: list[str] = []
    origin = stack.url.rstrip("/")
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("request", lambda req: problems.append(f"off-origin request: {req.url}")
            if not req.url.startswith((origin, "data:", "blob:")) else None)
    stack.sign_in(page, user, PASSWORD, "links" + query)
    return page, problems


def click_node(page, node_id: str) -> None:
    page.wait_for_function(HAS_NODE, arg=node_id, timeout=30_000)
    x, y = page.evaluate(NODE_AT, node_id)
    page.mouse.click(x, y)
    page.wait_for_selector(f".wf-links-detail .wf-links-id:text-is('{node_id}')", timeout=30_000)


def test_the_graph_draws_expands_and_highlights_the_path(stack, browser):
    ids = stack.ids
    page, problems = open_links(stack, browser, "analyst", f"?node={ids['vehicle']}")
    page.wait_for_function(AT_LEAST, arg=5, timeout=60_000)
    drawn = set(page.evaluate(DRAWN_IDS))
    assert {ids["vehicle"], ids["a"], ids["phone"], ids["tip"], ids["tip_email"]} <= drawn
    assert ids["b"] not in drawn and ids["email"] not in drawn  # three steps out: not in a 2-step view
    # Tap the phone: its details name the reports that mention it, with the evidence.
    click_node(page, ids["phone"])
    detail = page.locator(".wf-links-detail").inner_text()
    assert "same number (E.164)" in detail and ids["b"][2:] in detail and ids["a"][2:] in detail
    page.click("#wf-links-expand")
    page.wait_for_function(HAS_NODE, arg=ids["b"], timeout=30_000)
    # The tip came in unmarked (TLP:AMBER by default): the view carries its most restrictive marking.
    assert "Marking of this view: TLP:AMBER." in page.locator("#wf-links-status").inner_text()
    # The path from the vehicle to the e-mail of the other report: vehicle, A, phone, B, e-mail.
    page.fill("#wf-links-path-a", "vehicle:MA:ABC 123")
    page.fill("#wf-links-path-b", "email:drop@example.org")
    page.click("#wf-links-path-go")
    page.wait_for_function(PATH_DRAWN, arg=[5, 4], timeout=30_000)
    on_path = page.evaluate("() => window.cy.$('node.path').map((n) => n.id())")
    assert set(on_path) == {ids["vehicle"], ids["a"], ids["phone"], ids["b"], ids["email"]}
    assert "Path (4 links" in page.locator("#wf-links-path-result").inner_text()
    click_node(page, ids["email"])  # the timeline and the map of the e-mail's report
    page.wait_for_selector(".wf-links-detail .wf-links-map .js-plotly-plot", timeout=30_000)
    page.wait_for_timeout(1500)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "links-path-1920x1080.png"))
    page.locator(".wf-links-map").scroll_into_view_if_needed()
    page.wait_for_timeout(1500)
    page.locator(".wf-links-side").screenshot(path=str(ARTIFACTS / "links-detail-side.png"))
    # No path between two things that do not connect, said plainly.
    page.fill("#wf-links-path-b", f"phone:{'+16175550199'}")
    page.click("#wf-links-path-go")
    page.wait_for_selector("#wf-links-path-result:has-text('No path between')", timeout=30_000)
    assert not problems, problems
    page.close()


def test_exports_hold_what_is_drawn(stack, browser, tmp_path):
    page, problems = open_links(stack, browser, "analyst", f"?node={stack.ids['vehicle']}")
    page.wait_for_function(AT_LEAST, arg=5, timeout=60_000)
    drawn = set(page.evaluate(DRAWN_IDS))
    with page.expect_download(timeout=30_000) as got:
        page.click("#wf-links-graphml")
    path = tmp_path / got.value.suggested_filename
    got.value.save_as(path)
    assert path.name.endswith(".graphml") and "TLP-AMBER" in path.name
    exported = nx.read_graphml(path)
    assert set(exported.nodes) == drawn and exported.graph["tlp"] == "TLP:AMBER"
    assert exported.number_of_edges() == page.evaluate("() => window.cy.edges().length")
    with page.expect_download(timeout=30_000) as got:
        page.click("#wf-links-csv-edges")
    rows = got.value.path().read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("source,source_type") and len(rows) - 1 == exported.number_of_edges()
    with page.expect_download(timeout=30_000) as got:
        page.click("#wf-links-png")
    assert got.value.path().read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not problems, problems
    page.close()


def test_a_big_neighbourhood_is_cut_at_the_limit_and_says_so(stack, browser):
    page, problems = open_links(stack, browser, "analyst", f"?node={stack.ids['crowd']}")
    page.wait_for_selector(".wf-links-banner:not([hidden])", timeout=60_000)
    banner = page.locator(".wf-links-banner").inner_text()
    assert banner.startswith(f"Showing {LIMIT} of ") and banner.endswith("+ nodes: narrow by type or date")
    assert int(banner.split(" of ")[1].split("+")[0]) >= CROWD + 1
    page.wait_for_function(AT_LEAST, arg=LIMIT, timeout=60_000)
    assert len(page.evaluate(DRAWN_IDS)) == LIMIT
    page.wait_for_timeout(1000)
    page.screenshot(path=str(ARTIFACTS / "links-truncated-1920x1080.png"))
    assert not problems, problems
    page.close()


def test_a_viewer_never_sees_the_tip_or_what_only_it_names(stack, browser):
    ids = stack.ids
    page, problems = open_links(stack, browser, "vic", f"?node={ids['vehicle']}")
    page.wait_for_function(AT_LEAST, arg=3, timeout=60_000)
    page.wait_for_timeout(500)
    drawn = set(page.evaluate(DRAWN_IDS))
    assert {ids["vehicle"], ids["a"], ids["phone"]} <= drawn
    assert ids["tip"] not in drawn and ids["tip_email"] not in drawn
    page.fill("#wf-links-search", "email:tipster-only@example.org")
    page.keyboard.press("Enter")  # draws (n_submit); it once submitted a form and reloaded the page
    page.wait_for_selector("#wf-links-status:has-text('Nothing you may see matches')", timeout=30_000)
    assert page.evaluate(DRAWN_IDS) == [] and "?" not in page.url.split("/links")[1].replace(f"?node={ids['vehicle']}", "")
    assert not problems, problems
    page.close()


def test_a_display_screen_gets_nothing(stack, browser):
    env = {**os.environ, "WATCHFLOOR_DATA_DIR": str(stack.data_dir), "REDIS_URL": ""}
    result = subprocess.run([sys.executable, "-m", "watchfloor.cli", "display", "add", "lobby", "--page", "/links",
                             "--url", stack.url.rstrip("/")], text=True, capture_output=True, cwd=ROOT, env=env,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(result.stdout.strip().splitlines()[-1])  # the screen's one-time sign-in URL, onto /links
    page.wait_for_selector(".wf-refused", timeout=30_000)
    assert "not display screens" in page.locator(".wf-refused").inner_text()
    assert page.locator("#wf-links-graph").count() == 0
    page.close()
