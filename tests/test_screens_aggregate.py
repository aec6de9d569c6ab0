"""Past map_max_points the screens draw hexagon bins and still show each change; each workspace has
its own timeline. Real headless Chromium against the whole stack (screenshots in test-artifacts/)."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import pytest
import redis

from tests.stack import start_stack
from tests.test_screens import ARTIFACTS, DRAWN, MAP, PASSWORD, acknowledge_alerts, browser, open_screen  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.redis]

LIMIT = 40
LOADED = 300

BINS = """(sel) => { const gd = document.querySelector(sel);
  return !!(gd && gd.data && gd.data[2] && gd.data[2].lat && gd.data[2].lat.length > 0); }"""
BINNED_TOTAL = """(screen) => { let n = 0; window.__watchfloor[screen].bins.forEach((b) => { n += b.count; }); return n; }"""
BINNED_AT_LEAST = """([screen, n]) => { let t = 0; window.__watchfloor[screen].bins.forEach((b) => { t += b.count; }); return t >= n; }"""
MARKER = """([sel, id]) => { const gd = document.querySelector(sel); const t = gd && gd.data && gd.data[0];
  if (!t || !t.customdata) { return false; } const i = t.customdata.indexOf(id); return i >= 0 && t.lat[i] !== null; }"""
# Timeline points (x not null) by incident id, and map markers with a position.
TIMELINE_IDS = """(screen) => { const gd = document.querySelector('.wf-' + screen + ' .wf-timeline-graph .js-plotly-plot');
  const t = gd && gd.data && gd.data[0]; if (!t || !t.x) { return null; }
  return t.customdata.filter((id, i) => t.x[i] !== null && t.x[i] !== undefined); }"""
ON_TIMELINE = """([screen, id]) => { const gd = document.querySelector('.wf-' + screen + ' .wf-timeline-graph .js-plotly-plot');
  const t = gd && gd.data && gd.data[0]; if (!t || !t.customdata) { return false; }
  const i = t.customdata.indexOf(id); return i >= 0 && t.x[i] !== null && t.x[i] !== undefined; }"""


def _client(stack) -> redis.Redis:
    url = (stack.data_dir / "redis" / "redis.url").read_text(encoding="utf-8").strip()
    return redis.Redis.from_url(url)


def _event(tag: str, lat: float, lon: float, severity: str, when: datetime):
    from feeds.model import Event, Kind, Severity

    return Event(id=f"test:{tag}", source="test", kind=Kind.EARTHQUAKE, title=f"EXERCISE test quake {tag}", time=when,
                 severity=Severity(severity), lat=lat, lon=lon, magnitude=4.0, depth_km=10.0, feed="test",
                 exercise=True, place=f"test {tag}")


def _fused(client: redis.Redis, event_id: str, timeout: float = 60) -> str:
    from workers.streams import Keys

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        incident = client.hget(Keys.INCIDENT_OF, event_id)
        if incident:
            return incident.decode()
        time.sleep(0.1)
    raise AssertionError(f"the fuser did not place {event_id} within {timeout}s")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from workers.streams import EventStore

    stack = start_stack(tmp_path_factory.mktemp("bins"), env={"WATCHFLOOR_SCENARIO_SPEED": "20",
                                                              "WATCHFLOOR_MAP_MAX_POINTS": str(LIMIT)})
    stack.add_user("officer", "operator", PASSWORD)
    client = _client(stack)
    rng = random.Random(11)
    now = datetime.now(UTC)
    # Quakes all over the world, 30 s apart (each its own incident), none near the marathon.
    EventStore(client).append([_event(f"world{i}", round(rng.uniform(-50, 60), 4), round(rng.uniform(-170, 170), 4),
                                      "moderate", now - timedelta(seconds=30 * i)) for i in range(LOADED)])
    _fused(client, f"test:world{LOADED - 1}", timeout=120)
    yield stack
    stack.stop()


def test_past_the_limit_the_desk_draws_bins_and_still_shows_new_incidents(stack, browser):  # noqa: F811
    from workers.streams import EventStore

    client = _client(stack)
    page, errors = open_screen(stack, browser, "", 1440, 900)
    polls: list[str] = []  # what each poll answered (for the failure message)

    def on_response(resp) -> None:
        if resp.url.endswith("_dash-update-component") and '"wf":"delta"' in (resp.request.post_data or ""):
            try:
                body = resp.text()
            except Exception as exc:  # noqa: BLE001
                body = f"<{exc}>"
            polls.append(f"{time.strftime('%H:%M:%S')} {resp.status} {(resp.request.post_data or '')[-160:]} -> {body[:300]}")

    page.on("response", on_response)
    sel = MAP.format(screen="desk")
    page.wait_for_function(DRAWN, arg=sel, timeout=60_000)
    page.wait_for_function(BINS, arg=sel, timeout=60_000)
    markers = page.evaluate("(sel) => document.querySelector(sel).data[0].lat.filter((v) => v !== null).length", sel)
    assert 0 < markers <= LIMIT, f"{markers} markers drawn past a limit of {LIMIT}"
    binned = page.evaluate(BINNED_TOTAL, "desk")
    assert binned >= LOADED - LIMIT, f"only {binned} incidents counted in bins"
    hover = page.evaluate("(sel) => document.querySelector(sel).data[2].hovertext[0]", sel)
    assert "incidents (hex bin)" in hover and "worst: " in hover
    # Tapping a bin (a tablet has no hover) shows the same summary on the map, as text.
    page.evaluate("""(sel) => { const t = document.querySelector(sel).data[2];  // what a tap on the bin sets
        window.dash_clientside.set_props({wf: 'map', screen: 'desk'},
                                         {clickData: {points: [{curveNumber: 2, pointNumber: 0, customdata: t.customdata[0]}]}}); }""", sel)
    page.wait_for_selector(".wf-desk .wf-map .wf-bin-info", timeout=10_000)
    summary = page.locator(".wf-desk .wf-bin-info").inner_text()
    assert "incidents (hex bin)" in summary and "worst: " in summary and "<br>" not in summary
    assert page.locator(".wf-desk .wf-detail:not([hidden])").count() == 0  # a bin opens no incident
    page.screenshot(path=str(ARTIFACTS / "desk-bin-tapped-1440x900.png"))
    page.locator(".wf-desk .wf-bin-close").click()
    assert page.locator(".wf-desk .wf-bin-info").count() == 0
    # A new extreme quake: the most important incident now, so a marker (and the least important
    # marker moves into a bin: the bins count one more).
    stamp = int(time.time())
    # On the marathon course: incidents in or near a workspace rank first, and the scenario keeps
    # adding its own near the course, so one far away could rank below 40 of them (a test that once
    # waited for a Sydney quake that was, rightly, counted in a bin).
    EventStore(client).append([_event(f"new{stamp}", 42.3374, -71.2092, "extreme", datetime.now(UTC))])
    incident = _fused(client, f"test:new{stamp}")
    try:
        page.wait_for_function(MARKER, arg=[sel, incident], timeout=60_000)
    except Exception:
        print([line for line in stack.log().splitlines() if "Traceback" in line or "aggregat" in line or "Error" in line])
        print("\n".join(polls[-12:]))
        print(page.evaluate("""(id) => { const st = window.__watchfloor.desk; const i = st.index.get(id);
            return {i, row: i === undefined ? null : st.rows[i], n: st.rows.length, bins: st.bins.size}; }""", incident))
        raise
    page.wait_for_function(BINNED_AT_LEAST, arg=["desk", binned + 1], timeout=30_000)
    # A new unimportant one (old, unknown severity): counted in its bin, not drawn as a marker.
    before = page.evaluate(BINNED_TOTAL, "desk")
    EventStore(client).append([_event(f"old{stamp}", 10.0, 10.0, "unknown", datetime.now(UTC) - timedelta(hours=30))])
    quiet = _fused(client, f"test:old{stamp}")
    page.wait_for_function(BINNED_AT_LEAST, arg=["desk", before + 1], timeout=30_000)
    assert not page.evaluate(MARKER, [sel, quiet])
    acknowledge_alerts(page)
    page.evaluate("""(sel) => window.Plotly.relayout(document.querySelector(sel), {"map.center": {lat: 20, lon: 0}, "map.zoom": 1})""", sel)
    page.wait_for_timeout(2000)
    page.screenshot(path=str(ARTIFACTS / "desk-bins-1440x900.png"))
    assert not errors, errors
    page.close()


def test_each_workspace_has_its_own_timeline(stack, browser):  # noqa: F811
    from workers.streams import EventStore

    client = _client(stack)
    stamp = int(time.time())
    now = datetime.now(UTC)
    # One severe incident on the marathon course (Newton) and one far away (Tokyo), both markers.
    EventStore(client).append([_event(f"course{stamp}", 42.3378, -71.1681, "extreme", now),
                               _event(f"tokyo{stamp}", 35.68, 139.69, "extreme", now - timedelta(seconds=40))])
    course, tokyo = _fused(client, f"test:course{stamp}"), _fused(client, f"test:tokyo{stamp}")
    tablet, errors = open_screen(stack, browser, "tablet", 1024, 768)
    tablet.wait_for_function(MARKER, arg=[MAP.format(screen="tablet"), tokyo], timeout=60_000)
    tablet.wait_for_function(ON_TIMELINE, arg=["tablet", course], timeout=30_000)
    on_tablet = tablet.evaluate(TIMELINE_IDS, "tablet")
    assert tokyo not in on_tablet, "the event's timeline keeps only incidents inside or near it"
    assert not any(i.startswith("inc:test:world") for i in on_tablet)
    title = tablet.evaluate("() => document.querySelector('.wf-tablet .wf-timeline-graph .js-plotly-plot').layout.title.text")
    assert "Marathon" in title
    acknowledge_alerts(tablet, "tablet")
    tablet.screenshot(path=str(ARTIFACTS / "tablet-timeline-1024x768.png"), full_page=True)
    # The tablet can widen it to the whole picture.
    tablet.locator(".wf-tablet .wf-tl-scope label", has_text="whole picture").click()
    tablet.wait_for_function(ON_TIMELINE, arg=["tablet", tokyo], timeout=15_000)
    assert not errors, errors
    tablet.close()
    # The desk starts on the whole picture and selects a workspace's timeline.
    desk, errors = open_screen(stack, browser, "", 1440, 900)
    desk.wait_for_function(ON_TIMELINE, arg=["desk", tokyo], timeout=60_000)
    acknowledge_alerts(desk)
    desk.locator(".wf-desk .wf-tl-scope label", has_text="Marathon").click()
    desk.wait_for_function("""([id]) => { const gd = document.querySelector('.wf-desk .wf-timeline-graph .js-plotly-plot');
        const t = gd.data[0]; const i = t.customdata.indexOf(id); return i >= 0 && t.x[i] === null; }""",
                           arg=[tokyo], timeout=15_000)
    assert desk.evaluate(ON_TIMELINE, ["desk", course])
    assert not errors, errors
    desk.close()
    # The wall: an event view shows that workspace's timeline under its map.
    wall, errors = open_screen(stack, browser, "wall?view=event:exercise-marathon", 1920, 1080)
    wall.wait_for_selector(".wf-wall.view-event", timeout=30_000)
    wall.wait_for_function(ON_TIMELINE, arg=["wall", course], timeout=60_000)
    assert tokyo not in wall.evaluate(TIMELINE_IDS, "wall")
    assert wall.locator(".wf-wall .wf-timeline-graph").is_visible()
    # ... under a map moved to that workspace (and kept there while updates arrive).
    wall.wait_for_function("""() => { const gd = document.querySelector('.wf-wall .wf-map-graph .js-plotly-plot');
        const c = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map.center;
        return !!c && Math.abs(c.lat - 42.3) < 0.5 && Math.abs(c.lon + 71.3) < 0.5; }""", timeout=30_000)
    time.sleep(3)
    center = wall.evaluate("() => document.querySelector('.wf-wall .wf-map-graph .js-plotly-plot')._fullLayout.map.center")
    assert abs(center["lat"] - 42.3) < 0.5, center
    wall.screenshot(path=str(ARTIFACTS / "wall-event-timeline-1920x1080.png"))
    assert not errors, errors
    wall.close()
