"""The replay page in real Chromium against the whole stack (`watchfloor up`, the marathon exercise):
REPLAY marked on the desk and on a wall display, the live indicator absent, the picture at an instant
the same as the replay domain's, play, step and a refused typed time; a viewer is refused."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.parse
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from tests.stack import ROOT, start_stack

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.redis]
# Predicates are functions, never expression strings: Playwright evaluates strings with eval, which the
# app's CSP refuses.
BANNER_HAS = """(text) => { const b = document.querySelector('.wf-replay-banner');
  return !!(b && b.innerText.includes(text)); }"""
BANNER_LACKS = """(text) => { const b = document.querySelector('.wf-replay-banner');
  return !!(b && !b.innerText.includes(text)); }"""
DRAWN = """() => { const g = document.querySelector('#wf-replay-map .js-plotly-plot');
  return !!(g && g.data && g.data[0].lat.length > 0); }"""
MESSAGE_HAS = """(text) => document.querySelector('#wf-replay-message').innerText.includes(text)"""

PASSWORD = "replay passphrase 42"
BANNER = re.compile(r"^REPLAY — (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = start_stack(tmp_path_factory.mktemp("replay"), env={"WATCHFLOOR_SCENARIO": "marathon",
                                                              "WATCHFLOOR_SCENARIO_SPEED": "40"})
    stack.add_user("officer", "operator", PASSWORD)
    stack.add_user("vic", "viewer", PASSWORD)
    stack.started = datetime.now(UTC) - timedelta(minutes=1)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and cli(stack, "incidents", "--json").stdout.count("\n") < 8:
        time.sleep(2)  # generous: the exercise's first injects, polled and fused
    yield stack
    stack.stop()


def cli(stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PORT", "REDIS_URL", "WATCHFLOOR_CONFIG")}
    return subprocess.run([sys.executable, "-m", "watchfloor.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**env, "WATCHFLOOR_DATA_DIR": str(stack.data_dir)})


def query(stack, **extra: str) -> str:
    end = datetime.now(UTC)
    fields = {"from": f"{stack.started:%Y-%m-%dT%H:%M:%SZ}", "to": f"{end:%Y-%m-%dT%H:%M:%SZ}", **extra}
    return "replay?" + urllib.parse.urlencode(fields)


def banner_time(page) -> str:
    found = BANNER.match(page.inner_text(".wf-replay-banner"))
    assert found, page.inner_text(".wf-replay-banner")
    return found.group(1)


def points(page) -> int:
    return page.evaluate("(() => { const g = document.querySelector('#wf-replay-map .js-plotly-plot');"
                         " return g && g.data ? g.data[0].lat.length : -1; })()")


def assert_marked_replay(page) -> None:
    assert page.locator(".wf-replay-banner").is_visible()
    assert page.locator(".wf-conn").count() == 0, "the live indicator is not on a replay"
    assert "LIVE ·" not in page.inner_text("body") and "STALE since" not in page.inner_text("body")
    colour = page.evaluate("getComputedStyle(document.querySelector('.wf-replay-banner')).backgroundImage")
    assert "gradient" in colour


def test_the_desk_replays_the_picture_marked_replay(stack, browser) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    end = datetime.now(UTC)
    at = f"{end:%Y-%m-%dT%H:%M:%SZ}"
    stack.sign_in(page, "officer", PASSWORD, urllib.parse.quote(query(stack, at=at), safe="/"))
    page.wait_for_function(BANNER_HAS, arg="REPLAY — ", timeout=60_000)
    assert_marked_replay(page)
    page.wait_for_function(DRAWN, timeout=60_000)
    # The same incidents as `watchfloor replay --at` (the replay domain) holds at that instant, for this reader.
    expected = cli(stack, "replay", "--from", f"{stack.started:%Y-%m-%dT%H:%M:%SZ}", "--to", at, "--at", at,
                   "--tlp", "TLP:AMBER", "--json")
    assert expected.returncode == 0, expected.stderr
    wanted = {i["id"] for i in orjson.loads(expected.stdout)["picture"]["incidents"] if i["lat"] is not None}
    shown = set(page.evaluate("document.querySelector('#wf-replay-map .js-plotly-plot').data[0].customdata"))
    assert shown == wanted
    # The alert areas as they were: the exercise's CAP polygons (its first injects) on the map's area layer.
    shaped = page.evaluate("""() => { const g = document.querySelector('#wf-replay-map .js-plotly-plot');
        const layer = g.layout.map.layers.find(l => l.name === 'alert-areas');
        return layer.source.features.map(f => [f.properties.id, f.geometry.type]); }""")
    assert shaped and {i for i, _ in shaped} <= shown and {t for _, t in shaped} <= {"Polygon", "MultiPolygon"}, shaped
    # Step one minute back by typing a time, then +1 minute: the banner follows.
    earlier = (end - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    page.fill("#wf-replay-jump", earlier)
    page.click("#wf-replay-jump-go")
    page.wait_for_function(BANNER_HAS, arg=earlier[11:19], timeout=30_000)
    page.click("#wf-replay-step-minute")
    page.wait_for_function(BANNER_HAS, arg=at[11:19], timeout=30_000)
    page.fill("#wf-replay-jump", "2026-13-45T99:00Z")
    page.click("#wf-replay-jump-go")
    page.wait_for_function(MESSAGE_HAS, arg="is not a time", timeout=30_000)
    assert "\n" not in page.inner_text("#wf-replay-message")
    assert not errors, errors
    page.close()


def test_play_moves_the_replay_clock(stack, browser) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    stack.sign_in(page, "officer", PASSWORD, urllib.parse.quote(query(stack, speed="60", play="1"), safe="/"))
    page.wait_for_function(BANNER_HAS, arg="60×", timeout=60_000)
    first = banner_time(page)
    page.wait_for_function(BANNER_LACKS, arg=first, timeout=30_000)
    assert banner_time(page) > first
    assert_marked_replay(page)
    page.close()


def test_a_wall_display_shows_a_replay_marked_replay(stack, browser) -> None:
    added = cli(stack, "display", "add", "replay-wall")
    assert added.returncode == 0, added.stderr
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(added.stdout.strip()).query)["display_token"][0]
    page = browser.new_page(viewport={"width": 3840, "height": 2160})
    page.goto(stack.url + query(stack, screen="wall", display_token=token))
    page.wait_for_function(BANNER_HAS, arg="REPLAY — ", timeout=60_000)
    assert_marked_replay(page)
    assert page.locator("[data-replay=wall]").count() == 1
    height = page.evaluate("document.querySelector('.wf-replay-banner').getBoundingClientRect().height")
    assert height >= 60, "readable across the room"
    # The same display on the desk profile is refused: a wall shows a replay only when its URL says so.
    page.goto(stack.url + query(stack))
    assert page.locator(".wf-replay-banner").count() == 0
    page.close()


def test_a_viewer_is_refused(stack, browser) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    stack.sign_in(page, "vic", PASSWORD, urllib.parse.quote(query(stack), safe="/"))
    page.wait_for_selector(".wf-refused", timeout=60_000)
    assert "operators and above" in page.inner_text(".wf-refused")
    assert page.locator(".wf-replay-banner").count() == 0
    page.close()


def test_the_tablet_replays_its_event_in_its_own_profile(stack, browser) -> None:
    """The event commander's debrief: from the tablet's Replay button, the light theme readable in
    sunlight, touch-sized controls, the map on the event, and back to the same event live."""
    from domain.picture.markers import LIGHT_SEVERITY_COLOURS, SEVERITY_COLOURS

    page = browser.new_page(viewport={"width": 1024, "height": 768}, has_touch=True)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    stack.sign_in(page, "officer", PASSWORD, "tablet")
    link = page.locator(".wf-tablet a.wf-replay-open")
    link.wait_for(timeout=60_000)
    href = link.get_attribute("href")
    assert href.startswith("/replay?screen=tablet&event="), href
    event = urllib.parse.parse_qs(urllib.parse.urlsplit(href).query)["event"][0]
    page.goto(stack.url + query(stack, screen="tablet", event=event, at=f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}"))
    page.wait_for_function(BANNER_HAS, arg="REPLAY — ", timeout=60_000)
    assert_marked_replay(page)
    assert page.locator(".wf-root.wf-replay-tablet.wf-theme-light[data-replay=tablet]").count() == 1
    page.wait_for_function(DRAWN, timeout=60_000)
    colours = set(page.evaluate("document.querySelector('#wf-replay-map .js-plotly-plot').data[0].marker.color"))
    assert colours and colours <= set(LIGHT_SEVERITY_COLOURS.values()), colours
    assert not colours & (set(SEVERITY_COLOURS.values()) - set(LIGHT_SEVERITY_COLOURS.values()))
    for control in ("#wf-replay-play", "#wf-replay-step-event", "#wf-replay-step-minute", "#wf-replay-jump-go",
                    ".wf-replay-live-link"):
        box = page.locator(control).bounding_box()
        assert box and box["height"] >= 44 and box["width"] >= 44, (control, box)
    centre = page.evaluate("document.querySelector('#wf-replay-map .js-plotly-plot').layout.map.center")
    assert abs(centre["lat"] - 42.3) < 0.5 and abs(centre["lon"] + 71.3) < 0.5, centre  # on the marathon
    assert page.locator(".wf-replay-live-link").get_attribute("href") == f"/tablet?event={event}"
    first = banner_time(page)
    page.fill("#wf-replay-jump", f"{stack.started:%Y-%m-%dT%H:%M:%SZ}")
    page.tap("#wf-replay-jump-go")  # touches, not clicks
    page.wait_for_function(BANNER_LACKS, arg=first, timeout=30_000)
    assert banner_time(page) < first
    assert not errors, errors
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    page.screenshot(path=str(ROOT / "test-artifacts" / "replay-tablet-1024x768.png"))
    page.close()
