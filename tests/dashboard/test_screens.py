"""The three screens in real headless Chromium at their sizes, against the whole stack.
Screenshots are kept in test-artifacts/ (look at them)."""

from __future__ import annotations

import time

import pytest

from feeds.text import plain_text
from tests.stack import ROOT, start_stack

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.redis]

ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "screens passphrase 42"
MAP = ".wf-{screen} .wf-map-graph .js-plotly-plot"
# Map drawn: some marker has a position. Predicates are functions, never expression strings:
# Playwright evaluates strings with eval, which the app's CSP (rightly) refuses.
DRAWN = """(sel) => { const gd = document.querySelector(sel);
  return !!(gd && gd.data && gd.data[0] && gd.data[0].lat && gd.data[0].lat.some(v => v !== null)); }"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = start_stack(tmp_path_factory.mktemp("screens"), env={"WATCHFLOOR_SCENARIO_SPEED": "20"})
    stack.add_user("officer", "operator", PASSWORD)
    stack.add_user("duty", "supervisor", PASSWORD)  # pushes alerts to officer's screens (a sender's own are acknowledged)
    yield stack
    stack.stop()


def open_screen(stack, browser, path: str, width: int, height: int):
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    stack.sign_in(page, "officer", PASSWORD, path)
    return page, errors


def test_desk_draws_lists_and_opens_an_incident_with_its_provenance(stack, browser):
    page, errors = open_screen(stack, browser, "", 1440, 900)
    page.wait_for_function(DRAWN, arg=MAP.format(screen="desk"), timeout=60_000)
    page.wait_for_selector(".wf-desk .wf-incidents li[data-wf-id]", timeout=30_000)
    first = page.locator(".wf-desk .wf-incidents li[data-wf-id]").first
    title = first.locator(".wf-item-title").inner_text()
    first.click()
    page.wait_for_selector(".wf-desk .wf-detail:not([hidden]) h3", timeout=15_000)
    detail = page.locator(".wf-desk .wf-detail")
    assert detail.locator("h3").inner_text() == title
    assert "Report" in detail.inner_text() and "Feed" in detail.inner_text()
    page.screenshot(path=str(ARTIFACTS / "desk-detail-1440x900.png"))
    page.keyboard.press("Escape")
    page.wait_for_selector(".wf-desk .wf-detail[hidden]", state="attached", timeout=10_000)
    # Filters run in the browser: EXTREME only leaves nothing of this scenario's first minutes.
    page.locator(".wf-desk label", has_text="EXTREME").first.click()
    page.wait_for_selector(".wf-desk .wf-incidents li:has-text('No incidents match')", timeout=10_000)
    assert not errors, errors
    page.close()


SMALL_TARGETS = """() => {
    // A form caption (label[for]) is not the target: the field it names is.
    const targets = document.querySelectorAll(
      '.wf-tablet label:not([for]), .wf-tablet button, .wf-tablet a, .wf-tablet [role=button], .wf-tablet .modebar-btn, '
      + '.wf-tablet input:not([type=radio]):not([type=checkbox]):not([type=hidden]), .wf-tablet select, .wf-tablet textarea');
    const bad = [];
    for (const el of targets) {
      const r = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      if (r.width === 0 || r.height === 0 || style.visibility === 'hidden') continue;
      if (r.height < 44 || r.width < 44) bad.push(`${el.tagName}.${el.className} ${Math.round(r.width)}x${Math.round(r.height)} "${el.textContent.slice(0, 30)}"`);
    }
    return bad;
}"""


@pytest.mark.parametrize(("width", "height"), [(1024, 768), (768, 1024)])
def test_tablet_touch_targets_are_at_least_44px(stack, browser, width, height):
    page, errors = open_screen(stack, browser, "tablet", width, height)
    page.wait_for_function(DRAWN, arg=MAP.format(screen="tablet"), timeout=60_000)
    page.wait_for_selector(".wf-tablet .wf-incidents li[data-wf-id]", timeout=30_000)
    small = page.evaluate(SMALL_TARGETS)
    page.screenshot(path=str(ARTIFACTS / f"tablet-{width}x{height}.png"))
    assert not small, f"touch targets under 44 px: {small}"
    # The detail drawer an operator opens on the tablet: split, merge candidates, source links.
    page.locator(".wf-tablet .wf-incidents li[data-wf-id]").first.click()
    page.wait_for_selector(".wf-tablet .wf-detail:not([hidden]) h3", timeout=15_000)
    page.wait_for_selector(".wf-tablet .wf-detail .wf-merge-candidates", timeout=15_000)
    small = page.evaluate(SMALL_TARGETS)
    page.screenshot(path=str(ARTIFACTS / f"tablet-detail-{width}x{height}.png"))
    assert not small, f"touch targets under 44 px in the detail drawer: {small}"
    assert page.locator(".wf-tablet .wf-threat-badge").count() == 1
    assert not errors, errors
    page.close()


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (3840, 2160)])
def test_wall_is_live_and_rotates_through_its_views(stack, browser, width, height):
    page, errors = open_screen(stack, browser, "wall", width, height)
    page.wait_for_function(DRAWN, arg=MAP.format(screen="wall"), timeout=60_000)
    page.wait_for_selector(".wf-wall .wf-conn-live", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / f"wall-map-{width}x{height}.png"))
    # Pinned by URL: the threat board, one tile per workspace plus the whole picture.
    page.goto(stack.url + "wall?view=threat")
    page.wait_for_selector(".wf-wall.view-threat .wf-tile", timeout=30_000)
    assert page.locator(".wf-wall .wf-tile").count() >= 2
    assert page.locator(".wf-wall .wf-map").is_hidden()
    page.screenshot(path=str(ARTIFACTS / f"wall-threat-{width}x{height}.png"))
    clock = page.locator(".wf-wall .wf-clock").inner_text()
    assert "UTC" in clock and "local" in clock
    assert not errors, errors
    page.close()


def test_wall_cycle_changes_view_by_itself(stack, browser, tmp_path):
    page, errors = open_screen(stack, browser, "wall", 1920, 1080)
    page.wait_for_selector(".wf-wall.view-map", timeout=30_000)
    # The default cycle is 20 s: within ~45 s the wall must have moved on from the map.
    page.wait_for_selector(".wf-wall:not(.view-map)", timeout=50_000)
    assert not errors, errors
    page.close()


def _web_child(stack):
    import psutil

    for child in psutil.Process(stack.process.pid).children(recursive=True):
        if child.cmdline()[-1:] == ["web"]:
            return child
    raise AssertionError("no web process under watchfloor up")


def test_wall_says_stale_when_the_server_stops_and_recovers_by_itself(tmp_path_factory, browser):
    import signal as sig

    import psutil

    stack = start_stack(tmp_path_factory.mktemp("stale"), env={"WATCHFLOOR_STALE_SECONDS": "4"})
    try:
        stack.add_user("officer", "operator", PASSWORD)
        page, errors = open_screen(stack, browser, "wall", 1920, 1080)
        page.wait_for_selector(".wf-wall .wf-conn-live", timeout=30_000)
        web = _web_child(stack)
        # A frozen server (or a network that drops packets): requests hang, nothing answers.
        web.send_signal(sig.SIGSTOP)
        try:
            page.wait_for_selector(".wf-wall .wf-conn-stale", timeout=15_000)
            text = page.locator(".wf-wall .wf-conn").inner_text()
            assert text.startswith("STALE since ") and text.endswith("retrying") and " UTC" in text
            page.screenshot(path=str(ARTIFACTS / "wall-stale-1920x1080.png"))
        finally:
            web.send_signal(sig.SIGCONT)
        page.wait_for_selector(".wf-wall .wf-conn-live", timeout=30_000)
        # A redeploy: the web process dies and stays down for a while (the supervisor is held so it
        # cannot restart it at once), then the supervisor brings it back.
        supervisor = psutil.Process(stack.process.pid)
        supervisor.send_signal(sig.SIGSTOP)
        try:
            _web_child(stack).kill()
            page.wait_for_selector(".wf-wall .wf-conn-stale", timeout=20_000)
        finally:
            supervisor.send_signal(sig.SIGCONT)
        page.wait_for_selector(".wf-wall .wf-conn-live", timeout=60_000)
        assert page.url.endswith("/wall"), "the screen must recover in place, without a reload or sign-in"
        # While the server is down MapLibre may fail to fetch a basemap tile set ("Map error."); any
        # other error is a bug.
        assert not [e for e in errors if e != "Map error."], errors
        page.close()
    finally:
        stack.stop()


def test_one_quake_from_two_sources_is_one_incident_on_the_desk(stack, browser):
    page, errors = open_screen(stack, browser, "", 1440, 900)
    page.wait_for_function(DRAWN, arg=MAP.format(screen="desk"), timeout=60_000)
    stamp = int(time.time()) % 100000
    title = f"M 4.6 - 3 km W of Framingham, Massachusetts ({stamp})"
    stack.inject({"channel": "usgs", "kind": "earthquake", "title": title, "place": "Framingham",
                  "lat": 42.2793, "lon": -71.4500, "magnitude": 4.6, "depth_km": 8.0, "severity": "moderate"})
    stack.inject({"channel": "news", "kind": "earthquake", "title": f"Magnitude 4.6 earthquake shakes Framingham ({stamp})",
                  "text": "A magnitude 4.6 earthquake shook Framingham, Massachusetts, minutes ago.",
                  "lat": 42.2793, "lon": -71.4500, "severity": "moderate"})
    item = page.locator(".wf-desk .wf-incidents li", has_text=str(stamp))
    # Both reports fuse into one incident: one list entry, whose detail lists two sources.
    page.wait_for_selector(f".wf-desk .wf-detail, .wf-desk .wf-incidents li:has-text('{stamp}')", timeout=60_000)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        item.first.click()
        page.wait_for_selector(".wf-desk .wf-detail:not([hidden]) .wf-corroboration", timeout=15_000)
        if "Corroborated by 2 sources" in page.locator(".wf-desk .wf-corroboration").inner_text():
            break
        page.keyboard.press("Escape")
        time.sleep(2)
    assert "Corroborated by 2 sources" in page.locator(".wf-desk .wf-corroboration").inner_text()
    assert item.count() == 1, "the two reports must be one incident in the list"
    assert page.locator(".wf-desk .wf-detail .wf-report").count() == 2
    page.screenshot(path=str(ARTIFACTS / "desk-corroborated-1440x900.png"))
    # The operator decides the news report is about something else: split it out, from the drawer.
    news = page.locator(".wf-desk .wf-detail .wf-report", has_text="RSS")
    news.locator("summary").click()
    news.locator("[data-action='split-report']").click()
    page.wait_for_function("""(stamp) => Array.from(document.querySelectorAll('.wf-desk .wf-incidents li'))
        .filter(li => li.textContent.includes(stamp)).length === 2""", arg=str(stamp), timeout=30_000)
    page.wait_for_selector(".wf-desk .wf-detail:not([hidden]) .wf-corroboration:has-text('Single source')", timeout=15_000)
    assert page.locator(".wf-desk .wf-detail .wf-report").count() == 1
    page.screenshot(path=str(ARTIFACTS / "desk-after-split-1440x900.png"))
    # Second thoughts: the split-off report is offered under "Merge with…" (same place, same time),
    # with its facts; its button merges the two again, no incident id typed.
    candidate = page.locator(".wf-desk .wf-detail .wf-candidate", has_text=str(stamp))
    candidate.wait_for(timeout=15_000)
    assert candidate.count() == 1
    facts = candidate.locator(".wf-candidate-facts").inner_text()
    assert "1 source" in facts and "< 1 km" in facts, facts
    assert page.locator(".wf-desk .wf-detail .wf-candidate[data-wf-candidate]").count() <= 5
    page.locator(".wf-desk .wf-detail #wf-merge-other").scroll_into_view_if_needed()  # the list and the id field
    page.screenshot(path=str(ARTIFACTS / "desk-merge-candidates-1440x900.png"))
    candidate.locator("[data-action='merge-incident']").click()
    page.wait_for_function("""(stamp) => Array.from(document.querySelectorAll('.wf-desk .wf-incidents li'))
        .filter(li => li.textContent.includes(stamp)).length === 1""", arg=str(stamp), timeout=30_000)
    page.wait_for_selector(".wf-desk .wf-detail:not([hidden]) .wf-corroboration:has-text('Corroborated by 2 sources')",
                           timeout=15_000)
    assert page.locator(".wf-desk .wf-detail .wf-report").count() == 2
    assert page.locator(".wf-desk .wf-detail .wf-candidate", has_text=str(stamp)).count() == 0
    assert not errors, errors
    page.close()


def test_a_viewer_gets_no_merge_candidates_in_the_drawer(stack, browser):
    stack.add_user("visitor", "viewer", PASSWORD)
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    stack.sign_in(page, "visitor", PASSWORD, "")
    page.wait_for_selector(".wf-desk .wf-incidents li[data-wf-id]", timeout=60_000)
    page.locator(".wf-desk .wf-incidents li[data-wf-id]").first.click()
    page.wait_for_selector(".wf-desk .wf-detail:not([hidden]) h3", timeout=15_000)
    html = page.content()
    assert "wf-merge-candidates" not in html and "merge-incident" not in html and "Merge with" not in html
    page.close()


def test_desk_layer_toggles_change_the_map(stack, browser):
    page, errors = open_screen(stack, browser, "", 1440, 900)
    sel = MAP.format(screen="desk")
    page.wait_for_function(DRAWN, arg=sel, timeout=60_000)
    page.locator(".wf-desk .wf-filter-layers label", has_text="density").click()
    page.wait_for_function("""(sel) => { const gd = document.querySelector(sel);
        return gd.data[1].visible === true && gd.data[1].lat.length > 0; }""", arg=sel, timeout=15_000)
    page.locator(".wf-desk .wf-filter-layers label", has_text="incidents").click()
    page.wait_for_function("(sel) => document.querySelector(sel).data[0].visible === false", arg=sel, timeout=15_000)
    page.locator(".wf-desk .wf-filter-layers label", has_text="alert areas").click()
    page.wait_for_function("""(sel) => { const l = document.querySelector(sel).layout.map.layers;
        return l.find(x => x.name === 'alert-areas').visible === false; }""", arg=sel, timeout=15_000)
    page.screenshot(path=str(ARTIFACTS / "desk-density-1440x900.png"))
    assert not errors, errors
    page.close()


def test_an_operator_alert_reaches_the_wall_desk_and_tablet_and_ack_takes_it_down(stack, browser):
    pages = {}
    for screen, path, size in (("wall", "wall", (1920, 1080)), ("desk", "", (1440, 900)), ("tablet", "tablet", (1024, 768))):
        page, errors = open_screen(stack, browser, path, *size)
        page.wait_for_selector(f".wf-{screen} .wf-conn-live", timeout=30_000)
        pages[screen] = (page, errors)
    desk = pages["desk"][0]
    sender = browser.new_page()
    stack.sign_in(sender, "duty", PASSWORD, "")
    headline = f"Shelter in place: Copley Square ({int(time.time())})"
    # Each page timestamps the banner's arrival itself (same machine clock as the push below).
    for page, _errors in pages.values():
        page.evaluate("""(text) => { window.__bannerAt = null;
            new MutationObserver(() => { const h = document.querySelector('.wf-banner .wf-alert-headline');
              if (!window.__bannerAt && h && h.textContent.includes(text)) { window.__bannerAt = Date.now(); }
            }).observe(document.body, {subtree: true, childList: true, characterData: true}); }""", headline)
    sent_ms = time.time() * 1000
    sent = time.monotonic()
    reply = sender.request.post(stack.url + "api/alerts", data={
        "headline": headline, "text": "Suspicious package. Avoid the area.", "severity": "extreme",
        "scope": "floor", "tlp": "TLP:GREEN"}, headers={"Origin": stack.url.rstrip("/")})
    assert reply.status == 201, reply.text()
    seen = {}
    for screen, (page, _errors) in pages.items():
        page.wait_for_selector(f".wf-{screen} .wf-banner .wf-alert-headline:has-text('{headline}')", timeout=15_000)
        seen[screen] = time.monotonic() - sent
    pages["wall"][0].screenshot(path=str(ARTIFACTS / "wall-alert-1920x1080.png"))
    arrived = {name: round((page.evaluate("() => window.__bannerAt") - sent_ms) / 1000, 3) for name, (page, _e) in pages.items()}
    print(f"alert on screen after (s, per screen): {arrived}")  # a figure for the README, not an assertion
    desk.locator(".wf-desk .wf-ack").first.click()
    desk.wait_for_selector(".wf-desk .wf-banner", state="hidden", timeout=10_000)
    assert pages["wall"][0].locator(".wf-wall .wf-banner").is_visible(), "an ack on the desk is the desk's alone"
    sender.close()
    for _screen, (page, errors) in pages.items():
        assert not errors, errors
        page.close()


def acknowledge_alerts(page, screen: str = "desk") -> None:
    """Alerts take over the screen until acknowledged (earlier tests push some): acknowledge them."""
    page.wait_for_selector(f".wf-{screen} .wf-conn-live", timeout=30_000)
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        buttons = page.locator(f".wf-{screen} .wf-banner:not([hidden]) .wf-ack:not([disabled])")
        if buttons.count():
            buttons.first.click()
            deadline = time.monotonic() + 2
        time.sleep(0.3)


def _open_incident(page, incident_id: str | None = None) -> str:
    """Open the given incident (or the newest) in the detail drawer; return its id."""
    acknowledge_alerts(page)
    page.wait_for_selector(".wf-desk .wf-incidents li[data-wf-id]", timeout=60_000)
    item = (page.locator(f".wf-desk .wf-incidents li[data-wf-id='{incident_id}']") if incident_id
            else page.locator(".wf-desk .wf-incidents li[data-wf-id]").first)
    chosen = item.get_attribute("data-wf-id")
    item.click()
    page.wait_for_selector(".wf-desk .wf-detail:not([hidden]) [data-action='save-annotation']", timeout=15_000)
    return chosen


def test_two_operators_annotating_at_once_get_a_conflict_not_an_overwrite(stack, browser):
    stack.add_user("second", "operator", PASSWORD)
    first, errors_a = open_screen(stack, browser, "", 1440, 900)
    other = browser.new_page(viewport={"width": 1440, "height": 900})
    stack.sign_in(other, "second", PASSWORD, "")
    # An incident of our own (the scenario's newest may be superseded by a CAP Update meanwhile).
    stamp = int(time.time() * 1000) % 10_000_000
    stack.inject({"channel": "news", "kind": "security", "title": f"Unattended bag at gate 4 ({stamp})",
                  "lat": 42.3496, "lon": -71.0746, "severity": "moderate"})
    first.wait_for_selector(f".wf-desk .wf-incidents li[data-wf-id]:has-text('{stamp}')", timeout=60_000)
    chosen = first.locator(".wf-desk .wf-incidents li[data-wf-id]", has_text=str(stamp)).first.get_attribute("data-wf-id")
    _open_incident(first, chosen)
    _open_incident(other, chosen)  # the same incident: new ones keep arriving meanwhile
    first.fill("#wf-ann-note", "Units on scene; perimeter set.")
    first.select_option("#wf-ann-status", "escalated")
    first.fill("#wf-ann-assignee", "second")
    first.fill("#wf-ann-tags", "perimeter, unit-7")
    first.click("[data-action='save-annotation']")
    first.wait_for_selector(".wf-form-result.wf-ok:has-text('Saved')", timeout=15_000)
    saved = first.request.get(stack.url + f"api/incidents/{chosen}/annotation").json()["annotation"]
    assert (saved["status"], saved["assignee"], saved["tags"]) == ("escalated", "second", ["perimeter", "unit-7"])
    other.fill("#wf-ann-note", "Nothing to add.")
    other.click("[data-action='save-annotation']")
    other.wait_for_selector(".wf-form-result.wf-bad", timeout=15_000)
    message = other.locator(".wf-detail .wf-form-result.wf-bad").inner_text()
    assert "changed by officer" in message, message
    first.screenshot(path=str(ARTIFACTS / "desk-annotation-1440x900.png"))
    assert not errors_a, errors_a
    first.close()
    other.close()


def test_an_alert_composed_on_the_desk_reaches_the_screen(stack, browser):
    page, errors = open_screen(stack, browser, "", 1440, 900)
    acknowledge_alerts(page)
    page.click("[data-action='compose-alert']")
    headline = f"Evacuate Boylston St ({int(time.time())})"
    page.fill("#wf-al-headline", headline)
    page.fill("#wf-al-text", "Move spectators west of Exeter St.")
    page.select_option("#wf-al-severity", "extreme")
    page.click("[data-action='push-alert']")
    page.wait_for_selector(".wf-composer .wf-form-result.wf-ok:has-text('Pushed')", timeout=15_000)
    # Its sender's own banner stays down; the desk lists it under open alerts, with its receipts.
    page.wait_for_selector(f"#wf-sent-alerts .wf-sent-alert:has-text('{headline}') .wf-receipt", timeout=30_000)
    assert not errors, errors
    page.close()


def test_the_desk_list_shows_a_title_as_text_and_the_focus_follows_its_incident(stack, browser):
    """The list is drawn outside Dash's component tree (assets/wf-40-render.js, drawList): a title is
    text, never markup (feeds strip tags too: both must hold), and when a new incident moves the list
    the keyboard focus stays on the incident it was on."""
    page, errors = open_screen(stack, browser, "", 1440, 900)
    page.wait_for_function(DRAWN, arg=MAP.format(screen="desk"), timeout=60_000)
    stamp = int(time.time() * 1000) % 10_000_000
    hostile = f'<img src=x onerror="window.__pwned=1">Bridge fire & "smoke" {stamp}'
    # Far from the scenario's Boston incidents, so nothing else fuses into it meanwhile.
    stack.inject({"channel": "news", "kind": "fire", "title": hostile, "lat": 45.55, "lon": -68.52, "severity": "severe"})
    item = page.locator(".wf-desk .wf-incidents li[data-wf-id]", has_text=f"Bridge fire & \"smoke\" {stamp}")
    item.wait_for(timeout=60_000)
    assert item.locator(".wf-item-title").inner_text() == plain_text(hostile)
    assert page.locator(".wf-desk .wf-incidents img").count() == 0
    assert page.evaluate("() => window.__pwned === undefined")
    item.focus()
    chosen = item.get_attribute("data-wf-id")
    stack.inject({"channel": "news", "kind": "flood", "title": f"Street flooding {stamp}", "lat": 44.31, "lon": -69.78,
                  "severity": "minor"})  # far away and of another kind: its own incident
    page.wait_for_selector(f".wf-desk .wf-incidents li:has-text('Street flooding {stamp}')", timeout=60_000)
    # The newer incident went on top, so the bridge fire moved down a row: the focus went with it.
    assert page.evaluate("() => document.activeElement.getAttribute('data-wf-id')") == chosen
    page.keyboard.press("Enter")
    page.wait_for_selector(".wf-desk .wf-detail:not([hidden]) h3", timeout=15_000)
    assert page.locator(".wf-desk .wf-detail h3").inner_text() == plain_text(hostile)
    assert not errors, errors
    page.close()
