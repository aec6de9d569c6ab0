"""Past map_max_points the screens draw hexagon bins and still show each change; each workspace has
its own timeline. Real headless Chromium against the whole stack (screenshots in test-artifacts/)."""

from __future__ import annotations

import random
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
import redis

from domain.picture.keys import IncidentKeys
from tests.dashboard.test_screens import ARTIFACTS, DRAWN, MAP, PASSWORD, acknowledge_alerts, open_screen
from tests.stack import start_stack

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

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        incident = client.hget(IncidentKeys.INCIDENT_OF, event_id)
        if incident:
            return incident.decode()
        time.sleep(0.1)
    raise AssertionError(f"the fuser did not place {event_id} within {timeout}s")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from domain.store.streams import EventStore

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
    from domain.store.streams import EventStore

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
    # The aggregated picture's changes come on the push stream too (its cursor is a bin model's).
    assert page.evaluate("window.__watchfloor.desk.pushed || 0") >= 1, "no bins delta applied from the push stream"
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
    from domain.store.streams import EventStore

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


# The drawn count of one bin, read from the bins trace's hover text ("N incidents (hex bin)" or
# "N of M incidents (hex bin) match the filters"); null when the bin is not drawn.
BIN_DRAWN = """([sel, id]) => { const t = document.querySelector(sel).data[2];
  const i = t && t.customdata ? Array.prototype.indexOf.call(t.customdata, id) : -1;
  if (i < 0) { return null; }
  return {n: parseInt(t.hovertext[i].split('<br>')[0].replace(/,/g, ''), 10), text: t.hovertext[i], size: t.marker.size[i],
          color: t.marker.color[i]}; }"""
BIN_IS = """([sel, id, n]) => { const t = document.querySelector(sel).data[2];
  const i = t && t.customdata ? Array.prototype.indexOf.call(t.customdata, id) : -1;
  if (n === null) { return i < 0; }
  return i >= 0 && parseInt(t.hovertext[i].split('<br>')[0].replace(/,/g, ''), 10) === n; }"""


def pick_kind(page, kind: str) -> None:
    """Pick (or unpick) a kind in the desk's kinds dropdown, as an officer does."""
    page.locator(".wf-desk .wf-filter-kinds .dash-dropdown").first.click()
    page.locator(".dash-dropdown-options").get_by_text(kind, exact=True).click()
    page.keyboard.press("Escape")


def _report(tag: str, kind: str, lat: float, lon: float, when: datetime, *, exercise: bool, title: str):
    from feeds.model import Event, Kind, Severity

    return Event(id=f"test:{tag}", source="test", kind=Kind(kind), title=title, time=when, severity=Severity.MINOR,
                 lat=lat, lon=lon, magnitude=3.0 if kind == "earthquake" else None, depth_km=10.0 if kind == "earthquake" else None,
                 feed="test", exercise=exercise, place=f"test {tag}")


def test_bins_count_what_the_time_window_kinds_and_exercise_filters_keep(stack, browser):  # noqa: F811
    """Past the limit the bins honour the desk's filters: minor incidents far from everything are
    binned; one hexagon holds 3 real reports 3-4 h old (a fire, a flood, a storm) and 2 exercise
    ones of the last half hour, another only 2 exercise reports. (Each of its own kind: reports of
    one kind this close would rightly fuse into one incident.)"""
    from domain.picture.markers import hex_key
    from domain.store.streams import EventStore

    client = _client(stack)
    stamp = int(time.time())
    now = datetime.now(UTC)
    real = [("fire", 68.0, 175.0, 3 * 60, "Anadyr grass blaze"), ("flood", 68.05, 175.05, 3 * 60 + 20, "Chukotka river over its banks"),
            ("weather", 67.95, 174.95, 3 * 60 + 40, "Provideniya blizzard warning")]
    recent = [("earthquake", 68.0, 174.9, 5, "EXERCISE test quake Chukchi"), ("volcano", 68.02, 175.02, 25, "EXERCISE test ash Chukchi")]
    drill = [("tsunami", 68.0, -175.0, 10, "EXERCISE test wave Bering"), ("cyclone", 68.05, -174.95, 30, "EXERCISE test storm Bering")]
    events = [_report(f"{kind}{stamp}", kind, lat, lon, now - timedelta(minutes=m), exercise=False, title=title)
              for kind, lat, lon, m, title in real]
    events += [_report(f"{kind}{stamp}", kind, lat, lon, now - timedelta(minutes=m), exercise=True, title=title)
               for kind, lat, lon, m, title in recent + drill]
    EventStore(client).append(events)
    incidents = {_fused(client, e.id) for e in events}
    assert len(incidents) == len(events), "each report its own incident"
    mixed, only_drill = "bin:" + hex_key(68.0, 175.0, 3.0), "bin:" + hex_key(68.0, -175.0, 3.0)
    assert {hex_key(lat, lon, 3.0) for _k, lat, lon, *_ in real + recent} == {mixed[4:]}
    assert {hex_key(lat, lon, 3.0) for _k, lat, lon, *_ in drill} == {only_drill[4:]}

    page, errors = open_screen(stack, browser, "", 1440, 900)
    sel = MAP.format(screen="desk")
    page.wait_for_function(BINS, arg=sel, timeout=60_000)
    acknowledge_alerts(page)
    page.evaluate("""(sel) => window.Plotly.relayout(document.querySelector(sel), {"map.center": {lat: 25, lon: 0}, "map.zoom": 1})""", sel)
    window = page.locator(".wf-desk .wf-filter").first  # Window: 1 h, 6 h, 24 h, 7 d, all

    def expect(bin_id: str, n: int | None, what: str) -> None:
        try:
            page.wait_for_function(BIN_IS, arg=[sel, bin_id, n], timeout=15_000)
        except Exception:
            raise AssertionError(f"{what}: {bin_id} should draw {n}, draws {page.evaluate(BIN_DRAWN, [sel, bin_id])}") from None

    # The desk opens on 24 h: everything of these two is in it.
    expect(mixed, 5, "24 h")
    expect(only_drill, 2, "24 h")
    full = page.evaluate(BIN_DRAWN, [sel, mixed])
    assert full["text"].startswith("5 incidents (hex bin)") and "worst: MINOR" in full["text"]
    # Last hour: the fires (3 h and more ago) drop out of the mixed hexagon; the hover says so.
    window.get_by_text("1 h", exact=True).click()
    expect(mixed, 2, "1 h")
    expect(only_drill, 2, "1 h")
    hour = page.evaluate(BIN_DRAWN, [sel, mixed])
    assert hour["text"].startswith("2 of 5 incidents (hex bin) match the filters (time to the hour)"), hour
    assert "earthquake 1" in hour["text"] and "volcano 1" in hour["text"] and "fire" not in hour["text"]
    assert hour["size"] < full["size"], "sized by what it counts under the filters"
    footer = page.locator(".wf-desk h2 .wf-muted").text_content()
    assert re.search(r"; [\d,]+ more counted in map bins, of [\d,]+ binned", footer), footer
    page.mouse.move(10, 10)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / "desk-bins-window-1h-1440x900.png"))
    # All of time again, then one kind: fires only.
    window.get_by_text("all", exact=True).click()
    expect(mixed, 5, "all")
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / "desk-bins-window-all-1440x900.png"))
    pick_kind(page, "fire")
    expect(mixed, 1, "kinds: fire")
    expect(only_drill, None, "kinds: fire")
    fire = page.evaluate(BIN_DRAWN, [sel, mixed])["text"]
    assert fire.startswith("1 of 5 incidents (hex bin) match the filters<br>") and fire.endswith("<br>fire 1"), fire
    pick_kind(page, "fire")  # unpicked: all kinds
    expect(only_drill, 2, "all kinds again")
    # Exercise data off: the exercise-only hexagon goes, the mixed one keeps its real fires.
    page.locator(".wf-desk label", has_text="exercise data").click()
    expect(mixed, 3, "exercise off")
    expect(only_drill, None, "exercise off")
    page.locator(".wf-desk label", has_text="exercise data").click()
    expect(only_drill, 2, "exercise on again")
    # Free text cannot be counted in a bin: the hover and the incident count say so.
    page.locator(".wf-desk .wf-search input").fill("Anadyr")
    page.wait_for_function("""([sel, id]) => { const t = document.querySelector(sel).data[2];
        const i = Array.prototype.indexOf.call(t.customdata, id); return i >= 0 && t.hovertext[i].indexOf('search text not applied') >= 0; }""",
                           arg=[sel, mixed], timeout=15_000)
    assert "the search text does not apply to bins" in page.locator(".wf-desk h2 .wf-muted").text_content()
    assert not errors, errors
    page.close()
