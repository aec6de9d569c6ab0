"""Threat levels people can trust, in real headless Chromium against the whole stack: the desk, the
tablet and the wall's threat board show the same level and the same contributors for the marathon
and the whole picture; an incident marked resolved on the desk leaves every screen's list; the
changes of level are in the log a briefing reads. Screenshots are kept in test-artifacts/."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import redis

from domain.access.tlp import TLP
from domain.picture.threat import level_changes
from domain.store.connection import running_url
from tests.dashboard.test_alert_cycle import add_display
from tests.stack import ROOT, start_stack

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.redis]

ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "threat screens passphrase 42"

# Each level a screen shows: key -> [level, ids of the contributors listed, the "and N more" line].
LEVELS = """(screen) => {
  const listed = (ul) => [[...ul.querySelectorAll('li[data-wf-id]')].map((li) => li.dataset.wfId),
                          (ul.querySelector('.wf-drivers-more') || {}).textContent || ''];
  const out = {};
  if (screen === 'wall') {
    for (const t of document.querySelectorAll('.wf-wall .wf-tile')) {
      out[t.dataset.key] = [t.dataset.level, ...listed(t.querySelector('.wf-drivers'))];
    }
  } else {
    for (const b of document.querySelectorAll(`.wf-${screen} .wf-threat-badge`)) {
      out[b.dataset.key] = [b.dataset.level, ...listed(b.nextElementSibling)];
    }
  }
  return out;
}"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = start_stack(tmp_path_factory.mktemp("threat-screens"), env={"WATCHFLOOR_SCENARIO_SPEED": "20"})
    stack.add_user("officer", "operator", PASSWORD)
    stack.wall_url = add_display(stack, "wall-board")
    yield stack
    stack.stop()


def screens(stack, browser):
    desk = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
    stack.sign_in(desk, "officer", PASSWORD, "")
    tablet = browser.new_context(viewport={"width": 1024, "height": 768}).new_page()
    stack.sign_in(tablet, "officer", PASSWORD, "tablet")
    wall = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
    wall.goto(stack.wall_url)
    wall.goto(stack.url + "wall?view=threat")
    for screen, page in (("desk", desk), ("tablet", tablet), ("wall", wall)):
        page.wait_for_selector(f".wf-{screen} .wf-conn-live", timeout=30_000)
    wall.wait_for_selector(".wf-wall.view-threat .wf-tile", timeout=30_000)
    return desk, tablet, wall


def agreed(desk, tablet, wall, timeout: float = 60) -> tuple[str, dict]:
    """The levels once the three screens show the same (each refreshes on its own clock; the
    scenario keeps adding incidents): the tablet's workspace and the desk's levels by key."""
    deadline = time.monotonic() + timeout
    seen: tuple = ()
    while time.monotonic() < deadline:
        d, t, w = (page.evaluate(LEVELS, screen) for screen, page in (("desk", desk), ("tablet", tablet), ("wall", wall)))
        if len(t) == 1 and d:
            key = next(iter(t))
            if d.get(key) == t[key] == w.get(key) and d.get("global") == w.get("global") and d[key][1]:
                return key, d
        seen = (d, t, w)
        time.sleep(1)
    raise AssertionError(f"the screens never agreed: desk, tablet, wall = {seen}")


def test_desk_tablet_and_wall_show_one_level_and_one_list_and_a_resolution_leaves_them(stack, browser):
    started = datetime.now(UTC) - timedelta(minutes=1)
    desk, tablet, wall = screens(stack, browser)
    key, levels = agreed(desk, tablet, wall)
    level, drivers, _more = levels[key]
    assert level in ("LOW", "GUARDED", "ELEVATED", "HIGH", "SEVERE") and 1 <= len(drivers) <= 6
    desk.screenshot(path=str(ARTIFACTS / "threat-desk-1920x1080.png"))
    tablet.screenshot(path=str(ARTIFACTS / "threat-tablet-1024x768.png"))
    wall.screenshot(path=str(ARTIFACTS / "threat-wall-board-1920x1080.png"))
    # The wall's board names each level's drivers, with their weights, as the desk does.
    tile = wall.locator(f".wf-wall .wf-tile[data-key='{key}'] .wf-drivers li[data-wf-id]").first
    assert tile.locator(".wf-weight").inner_text().startswith("+")

    # The officer marks the heaviest contributor resolved, from the desk's drawer.
    top = drivers[0]
    desk.locator(f".wf-desk .wf-incidents li[data-wf-id='{top}']").click()
    desk.wait_for_selector(".wf-desk .wf-detail:not([hidden]) [data-action='save-annotation']", timeout=15_000)
    desk.select_option("#wf-ann-status", "resolved")
    desk.click("[data-action='save-annotation']")
    desk.wait_for_selector(".wf-detail .wf-form-result.wf-ok:has-text('Saved')", timeout=15_000)
    desk.keyboard.press("Escape")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        shown = [page.evaluate(LEVELS, screen) for screen, page in (("desk", desk), ("tablet", tablet), ("wall", wall))]
        if all(top not in ids for levels in shown for _level, ids, _more in levels.values()):
            break
        time.sleep(1)
    else:
        raise AssertionError(f"{top} still listed after it was resolved: {shown}")
    key, _levels = agreed(desk, tablet, wall)  # and the screens agree again
    wall.screenshot(path=str(ARTIFACTS / "threat-wall-board-resolved-1920x1080.png"))

    # Each change of level is logged with its cause, for the reader's marking (a briefing reads it).
    client = redis.Redis.from_url(running_url(stack.data_dir / "redis"))
    log = level_changes(client, started, ceiling=TLP.AMBER)
    assert log and {c["scope"] for c in log} >= {"global", key}
    assert all(c["text"] and c["to"] for c in log)
    assert log[0]["from"] == "" and log[0]["text"].startswith("first assessment: ")
    client.close()
    for page in (desk, tablet, wall):
        page.context.close()
