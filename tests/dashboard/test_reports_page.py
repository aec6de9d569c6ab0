"""/reports in real headless Chromium against the whole stack: an officer files a report, a tip goes
through vetting to a shared ISE-SAR, viewers and display screens see only what they may, the desk and
the wall show the queue's line, and entity decisions change the entities. Screenshots in
test-artifacts/ (look at them)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import redis

from domain.access.audit import AuditQuery, search
from domain.reports import entities, store, tips, vetting
from domain.reports.keys import EntityKeys, ReportKeys
from tests.dashboard.test_screens import ARTIFACTS
from tests.stack import ROOT, start_stack

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.redis]

PASSWORD = "reports passphrase 42"
WIDE = {"width": 1920, "height": 1080}
# The map's trace 6 (dashboard/panels/figures.py): vetted reports. Predicates are functions (the CSP refuses eval).
REPORT_TRACE = """() => { const t = document.querySelector('.wf-desk .wf-map-graph .js-plotly-plot').data[6];
  return {visible: t.visible, lat: Array.from(t.lat || []), lon: Array.from(t.lon || []), hovertext: t.hovertext || []}; }"""
REPORT_POINT = """(id) => { const gd = document.querySelector('.wf-desk .wf-map-graph .js-plotly-plot');
  const t = gd && gd.data && gd.data[6]; return !!(t && t.visible && (t.hovertext || []).some((h) => h.includes(id))); }"""
NARRATIVE = "Man photographed the loading dock and the guard rota board for twenty minutes, then left in a grey van."


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = start_stack(tmp_path_factory.mktemp("reports"))
    for name, role in (("officer", "operator"), ("analyst", "supervisor"), ("reader", "viewer")):
        stack.add_user(name, role, PASSWORD)
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def client(stack) -> redis.Redis:
    url = (stack.data_dir / "redis" / "redis.url").read_text(encoding="utf-8").strip()
    return redis.Redis.from_url(url)


def open_as(stack, browser, name: str, path: str):
    page = browser.new_page(viewport=WIDE)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # A callback that failed on the server (500) says so in the console: none may.
    page.on("console", lambda msg: errors.append(msg.text) if "Callback error" in msg.text else None)
    stack.sign_in(page, name, PASSWORD, "reports")
    page.goto(stack.url + path)  # after signing in: sign_in's ?next= would cut a query at its first "&"
    return page, errors


def pattern_id(**parts: str | int) -> str:
    """The DOM id Dash gives a pattern-matching id (its keys sorted, JSON), as a CSS selector."""
    body = ",".join(f'"{k}":{v if isinstance(v, int) else chr(34) + v + chr(34)}' for k, v in sorted(parts.items()))
    return "[id='{" + body + "}']"


def officer_report(client, *, tlp: str = "TLP:GREEN", **fields) -> dict:
    data = {"category": "PHOTO", "narrative": NARRATIVE, "time": "2026-04-20T14:05:00Z",
            "location": {"lat": 42.3467, "lon": -71.0972}, "tlp": tlp, **fields}
    return store.save_new(client, store.build(data, kind="sar", by="officer", channel="desk"))


def tip(client, **fields) -> dict:
    data = {"narrative": "A man in a grey van filmed the stadium gates and asked a steward when the guards change.",
            "location": {"lat": 42.3467, "lon": -71.0972}, **fields}
    report, _code = tips.submit(client, data, address="198.51.100.7", per_hour=1000)
    return report


def share(client, report_id: str) -> None:
    """Through the domain (as the host's CLI would): screened, reviewed, shared."""
    vetting.move(client, report_id, {"to": "screened", "reason": "a behaviour of the list", "category": "PHOTO"}, None)
    vetting.move(client, report_id, {"to": "review", "reason": "for the analyst"}, None)
    vetting.move(client, report_id, {"to": "shared", "reason": "nexus to crime", "affirm": True}, None)


def audited(client, action: str, record: str = "", outcome: str = "ok") -> list:
    records, _more = search(client, AuditQuery.parse({"action": action, "outcome": outcome}))
    return [r for r in records if record in r.record]


def test_an_officer_files_a_report_and_a_bad_plate_is_named_in_plain_words(stack, browser, client):
    page, errors = open_as(stack, browser, "officer", "reports?new=1")
    page.wait_for_selector("#wf-sar-form:not([hidden])", timeout=30_000)
    page.wait_for_selector(".wf-sar-qline:has-text('waiting')", timeout=30_000)
    assert "never a reason for suspicion" in page.locator(".wf-sar-privacy").inner_text()
    page.screenshot(path=str(ARTIFACTS / "reports-form-1920x1080.png"))
    page.locator(".wf-sar-cats label", has_text="Photography").click()
    page.fill("#wf-sar-narrative", NARRATIVE)
    page.fill("#wf-sar-loc-text", "Boylston Street, Boston")
    page.fill(pattern_id(i=0, **{"wf-sar-vehicle": "plate"}), "AB#123")
    page.fill(pattern_id(i=0, **{"wf-sar-vehicle": "state"}), "MA")
    page.click("#wf-sar-add-subject")
    page.fill(pattern_id(i=1, **{"wf-sar-subject": "name"}), "Walter Example")
    page.fill(pattern_id(i=1, **{"wf-sar-subject": "dob"}), "1980-02-29")
    page.fill("#wf-sar-phones", "617-555-0134")
    page.locator("#wf-sar-tlp label", has_text="TLP:GREEN").click()
    before = client.zcard(ReportKeys.REPORTS)
    page.click("#wf-sar-file")
    page.wait_for_selector(".wf-sar-error:not(:empty)", timeout=20_000)
    error = page.locator(".wf-sar-error").inner_text()
    assert "Vehicle 1, plate" in error and "is not a plate" in error and "vehicles[0]" not in error, error
    assert page.locator("#wf-sar-narrative").input_value() == NARRATIVE, "what was typed is kept"
    plate = page.locator(pattern_id(i=0, **{"wf-sar-vehicle": "plate"}))
    page.wait_for_selector(pattern_id(i=0, **{"wf-sar-vehicle": "plate"}) + "[aria-invalid=true]", timeout=10_000)
    assert plate.input_value() == "AB#123"
    assert client.zcard(ReportKeys.REPORTS) == before, "nothing is stored from a report with a wrong field"
    page.locator(".wf-sar-submit").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "reports-form-error-1920x1080.png"))

    page.fill(pattern_id(i=0, **{"wf-sar-vehicle": "plate"}), "ABC 123")
    page.click("#wf-sar-file")
    page.wait_for_url(re.compile(r"/reports\?id=SAR-[0-9]{8}-[0-9A-F]{6}&filed=1$"), timeout=20_000)
    report_id = re.search(r"id=([^&]+)", page.url).group(1)
    page.wait_for_selector(f".wf-sar-title h2:has-text('{report_id}')", timeout=20_000)
    stored = store.load(client, report_id)
    assert stored["vehicles"][0]["plate"] == "ABC 123" and stored["vehicles"][0]["state"] == "MA"
    assert stored["subjects"] == [{"name": "Walter Example", "dob": "1980-02-29", "description": ""}]
    assert stored["category"] == "PHOTO" and stored["tlp"] == "TLP:GREEN" and stored["entered_by"] == "officer"
    assert stored["location"].get("lat") is not None, "a place given as text is geocoded"
    assert audited(client, "sar.add", report_id)
    page.wait_for_selector(f".wf-sar-item-on:has-text('{report_id}')", timeout=20_000)
    assert "ABC123 (MA)" in page.locator(".wf-sar-detail").inner_text()  # the plate as an entity
    page.screenshot(path=str(ARTIFACTS / "reports-detail-1920x1080.png"))
    assert not errors, errors
    page.close()


def _move(page, report_id: str, button: str, reason: str) -> None:
    page.fill(pattern_id(report=report_id, **{"wf-sar": "reason"}), reason)
    page.get_by_role("button", name=button, exact=True).click()


def test_a_tip_is_screened_submitted_and_shared_by_a_supervisor_only_with_the_affirmations(stack, browser, client):
    report = tip(client, vehicles=[{"plate": "xyz-987", "state": "MA"}])
    rid = report["id"]
    page, errors = open_as(stack, browser, "officer", f"reports?id={rid}")
    page.wait_for_selector(f".wf-sar-title h2:has-text('{rid}')", timeout=30_000)
    assert "Tip" in page.locator(".wf-sar-title").inner_text()
    page.locator(pattern_id(report=rid, **{"wf-sar": "category"})).click()
    page.get_by_role("option", name="SURVL: Observation/Surveillance").click()
    _move(page, rid, "Screen", "a behaviour of the sixteen: prolonged filming")
    page.wait_for_selector(".wf-sar-result:has-text('is now screened')", timeout=20_000)
    assert store.load(client, rid)["state"] == "screened" and store.load(client, rid)["category"] == "SURVL"
    # A move needs a reason.
    page.get_by_role("button", name="Submit for analyst review").click()
    page.wait_for_selector(".wf-sar-result:has-text('Reason: say why')", timeout=20_000)
    _move(page, rid, "Submit for analyst review", "needs the analyst's judgement")
    page.wait_for_selector(".wf-sar-result:has-text('is now analyst review')", timeout=20_000)
    # An operator cannot share: no button, and the page says who decides.
    page.wait_for_selector(".wf-sar-aside:has-text('an analyst (supervisor) decides')", timeout=20_000)
    assert page.get_by_role("button", name="Share as ISE-SAR").count() == 0
    page.close()

    page, more_errors = open_as(stack, browser, "analyst", f"reports?state=review&id={rid}")
    errors += more_errors
    page.wait_for_selector(f".wf-sar-title h2:has-text('{rid}')", timeout=30_000)
    _move(page, rid, "Share as ISE-SAR", "potential nexus: surveillance of a mass gathering")
    page.wait_for_selector(".wf-sar-result:has-text('Affirmations')", timeout=20_000)
    assert "before sharing, affirm" in page.locator(".wf-sar-result").inner_text()
    assert store.load(client, rid)["state"] == "review", "refused without the affirmations"
    assert audited(client, "sar.move", rid, outcome="refused")
    page.screenshot(path=str(ARTIFACTS / "reports-share-refused-1920x1080.png"))
    for label in ("Race, ethnicity", "No activity the First Amendment"):
        page.locator(".wf-sar-affirm label", has_text=label).click()
    page.get_by_role("button", name="Share as ISE-SAR").click()
    page.wait_for_selector(".wf-sar-result:has-text('is now shared')", timeout=20_000)
    shared = store.load(client, rid)
    assert shared["state"] == "shared" and shared["shared"]["by"] == "analyst" and shared["shared"]["affirmed"]
    page.wait_for_selector(".wf-sar-history tbody tr:nth-child(4)", timeout=20_000)
    history = page.locator(".wf-sar-history").inner_text()
    for who, words in (("officer", "Screened"), ("officer", "Analyst review"), ("analyst", "Shared (ISE-SAR)")):
        assert who in history and words in history, history
    assert "potential nexus: surveillance of a mass gathering" in history
    page.screenshot(path=str(ARTIFACTS / "reports-shared-1920x1080.png"))
    assert not errors, errors
    page.close()


def test_a_viewer_sees_the_shared_officer_report_but_not_the_tip_and_no_buttons(stack, browser, client):
    sar = officer_report(client, vehicles=[{"plate": "VWR 100", "state": "MA"}])
    shared_tip = tip(client, vehicles=[{"plate": "VWR 100", "state": "MA"}])
    share(client, sar["id"])
    share(client, shared_tip["id"])
    page, errors = open_as(stack, browser, "reader", "reports")
    page.wait_for_selector(f".wf-sar-item:has-text('{sar['id']}')", timeout=30_000)
    listed = page.locator("#wf-sar-queue").inner_text()
    assert shared_tip["id"] not in listed and "TIP-" not in listed
    assert page.locator(".wf-sar-tab").count() == 1 and page.locator("#wf-sar-form").count() == 0
    page.locator(".wf-sar-item", has_text=sar["id"]).click()
    page.wait_for_selector(f".wf-sar-title h2:has-text('{sar['id']}')", timeout=20_000)
    detail = page.locator("#wf-sar-detail")
    assert detail.locator("button").count() == 0 and "Decide on this entity" not in detail.inner_text()
    assert "VWR100 (MA)" in detail.inner_text()
    assert shared_tip["id"] not in detail.inner_text(), "the tip that shares the plate is not shown to a viewer"
    page.screenshot(path=str(ARTIFACTS / "reports-viewer-1920x1080.png"))
    page.goto(stack.url + f"reports?id={shared_tip['id']}")
    page.wait_for_selector(f"#wf-sar-detail:has-text('No report {shared_tip['id']} that you may read')", timeout=20_000)
    assert audited(client, "sar.read", shared_tip["id"], outcome="refused")
    # The desk's map layer of vetted reports: the shared officer report, never the shared tip.
    page.goto(stack.url)
    page.wait_for_selector(".wf-desk .wf-map-graph .js-plotly-plot", timeout=30_000)
    page.locator(".wf-desk .wf-filter-layers label", has_text="vetted reports").click()
    page.wait_for_function(REPORT_POINT, arg=sar["id"], timeout=30_000)
    trace = page.evaluate(REPORT_TRACE)
    assert trace["visible"] is True and not any("TIP-" in t for t in trace["hovertext"]), trace
    at = trace["hovertext"].index(next(t for t in trace["hovertext"] if sar["id"] in t))
    assert (trace["lat"][at], trace["lon"][at]) == (42.3467, -71.0972) and "Photography (PHOTO)" in trace["hovertext"][at]
    page.screenshot(path=str(ARTIFACTS / "desk-vetted-reports-layer-1920x1080.png"))
    page.locator(".wf-desk .wf-filter-layers label", has_text="vetted reports").click()
    page.wait_for_function("() => document.querySelector('.wf-desk .wf-map-graph .js-plotly-plot').data[6].visible === false",
                           timeout=30_000)
    assert not errors, errors
    page.close()


def _display_url(stack) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PORT", "REDIS_URL", "WATCHFLOOR_CONFIG")}
    done = subprocess.run([sys.executable, "-m", "watchfloor.cli", "display", "add", "reports-wall"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, env={**env, "WATCHFLOOR_DATA_DIR": str(stack.data_dir)})
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[0]


def test_the_desk_and_the_wall_show_the_vetting_queue_line(stack, browser, client):
    tip(client)
    tip(client)
    waiting = store.queue_status(client, 24)["waiting"]
    line = re.compile(rf"^{waiting} reports waiting, oldest \d+ (min|h) \(target 24 h\)")
    page, errors = open_as(stack, browser, "officer", "")
    desk = page.locator(".wf-desk .wf-sar-qscreen")
    page.wait_for_function("(re) => { const e = document.querySelector('.wf-desk .wf-sar-qscreen');"
                           " return !!e && !e.hidden && new RegExp(re).test(e.textContent); }", arg=line.pattern,
                           timeout=30_000)
    assert desk.get_attribute("href") == "/reports"
    page.screenshot(path=str(ARTIFACTS / "desk-queue-line-1920x1080.png"))
    page.close()

    page, more = open_as(stack, browser, "reader", "")
    page.wait_for_selector(".wf-desk .wf-sar-qscreen:not([hidden])", timeout=30_000)
    assert page.locator(".wf-desk .wf-sar-qscreen").inner_text() == "Shared reports", "viewers get no queue numbers"
    page.close()

    wall = browser.new_page(viewport=WIDE)
    wall.on("pageerror", lambda exc: more.append(str(exc)))
    wall.goto(_display_url(stack))
    wall.wait_for_function("(re) => { const e = document.querySelector('.wf-wall .wf-sar-qscreen');"
                           " return !!e && !e.hidden && new RegExp(re).test(e.textContent); }", arg=line.pattern,
                           timeout=30_000)
    wall.screenshot(path=str(ARTIFACTS / "wall-queue-line-1920x1080.png"))
    # The display screen's own session reads no report.
    wall.goto(stack.url + "reports")
    wall.wait_for_selector("text=Reports are not shown on display screens.", timeout=20_000)
    assert "TIP-" not in wall.content() and "SAR-" not in wall.content()
    assert audited(client, "page.read", "/reports", outcome="refused")
    assert not errors + more, errors + more
    wall.close()


def _open_decisions(page, label: str):
    """Opens the entity's decisions (idempotent: a click on an open summary would close it)."""
    block = page.locator(".wf-sar-entity", has_text=label)
    if not block.locator("details").first.evaluate("d => d.open"):
        block.locator("summary").first.click()
    block.locator("details[open] input[type=text]").first.wait_for(state="visible", timeout=10_000)
    return block


def _decide(page, label: str, reason: str) -> None:
    _open_decisions(page, label).locator("input[type=text]").first.fill(reason)


def test_entity_merge_and_split_through_the_page_change_the_entity_and_are_audited(stack, browser, client):
    first = officer_report(client, subjects=[{"name": "Jonathan Q Quartermaine"}])
    second = officer_report(client, subjects=[{"name": "Jonathon Q Quartermaine"}])
    keep = entities.report_entities(client, first["id"])[0]
    other = entities.report_entities(client, second["id"])[0]
    assert keep != other, "no date of birth: never joined by name alone"
    page, errors = open_as(stack, browser, "officer", f"reports?id={first['id']}")
    page.wait_for_selector(".wf-sar-entity:has-text('Jonathan Q Quartermaine')", timeout=30_000)
    _decide(page, "Jonathan Q Quartermaine", "same man, name misspelt in the second report")
    page.locator(pattern_id(entity=keep, **{"wf-ent-in": "other"})).click()
    page.get_by_role("option", name=re.compile(other)).click()
    page.locator(pattern_id(entity=keep, **{"wf-ent": "merge"})).click()
    page.wait_for_selector(f".wf-sar-result:has-text('Merged {other} into {keep}')", timeout=20_000)
    assert client.get(EntityKeys.alias(other)).decode() == keep
    assert sorted(m["report"] for m in entities.mentions(client, keep)) == sorted([first["id"], second["id"]])
    assert audited(client, "entity.merge", keep)
    page.wait_for_selector(f".wf-sar-entity:has-text('{second['id']}')", timeout=20_000)
    page.screenshot(path=str(ARTIFACTS / "reports-entity-merged-1920x1080.png"))

    _decide(page, "Jonathan Q Quartermaine", "two different men after all: different addresses")
    page.locator(pattern_id(entity=keep, **{"wf-ent-in": "mentions"})).locator("label", has_text=second["id"]).click()
    page.locator(pattern_id(entity=keep, **{"wf-ent": "split"})).click()
    page.wait_for_selector(".wf-sar-result:has-text('Split 1 mention(s) out of')", timeout=20_000)
    assert [m["report"] for m in entities.mentions(client, keep)] == [first["id"]]
    new_id = entities.report_entities(client, second["id"])[0]
    assert new_id not in (keep, other) and entities.load(client, new_id)["confirmed"]
    assert audited(client, "entity.split", keep)
    # Without a reason nothing is done, and the refusal is audited. (Once the page shows the split,
    # so its re-render cannot close the decisions between opening them and the click.)
    page.locator(".wf-sar-entity", has_text="Jonathan Q Quartermaine").locator(
        ".wf-sar-mentions", has_not_text=second["id"]).wait_for(timeout=20_000)
    _open_decisions(page, "Jonathan Q Quartermaine")
    page.locator(pattern_id(entity=keep, **{"wf-ent": "confirm"})).click()
    page.wait_for_selector(".wf-sar-result:has-text('Reason: say why')", timeout=20_000)
    assert not entities.load(client, keep)["confirmed"] and audited(client, "entity.confirm", keep, outcome="refused")
    assert not errors, errors
    page.close()
