"""Severity and focus you can see (#14): marker size and order by severity, the selected incident
highlighted on the map, list and timeline (and the map pans to it), the timeline's "now", empty
and brushed marks, the tablet's contrast, and the wall's smallest text at 1080p and 2160p.

The contrast tests read the colours from the code and the stylesheet, so a badly changed colour
fails here. The rest run in real headless Chromium against the whole stack; screenshots are kept
in test-artifacts/ (look at them)."""

from __future__ import annotations

import re
import time

import pytest

from dashboard.panels.figures import map_figure, timeline_figure
from domain.picture.markers import (
    LIGHT_SEVERITY_COLOURS,
    LIGHT_THREAT_COLOURS,
    SEVERITY_COLOURS,
    SEVERITY_SIZES,
    THREAT_LEVELS,
    marker_row,
    severity_colours,
)
from layers.basemap import BASEMAP_THEMES
from tests.dashboard.test_screens import DRAWN, MAP, PASSWORD, open_screen
from tests.stack import ROOT

ARTIFACTS = ROOT / "test-artifacts"
CSS = (ROOT / "assets" / "watchfloor.css").read_text(encoding="utf-8")


# -- WCAG 2.x contrast, computed from the colour values ------------------------------------------

def _channel(c: float) -> float:
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    h = colour.strip().lstrip("#")
    if len(h) == 3:
        h = "".join(ch * 2 for ch in h)
    assert re.fullmatch(r"[0-9a-fA-F]{6}", h), colour
    r, g, b = (_channel(int(h[i:i + 2], 16) / 255) for i in (0, 2, 4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_formula_matches_known_values():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


def css_block(selector: str) -> dict[str, str]:
    """The custom properties set by one rule of assets/watchfloor.css."""
    match = re.search(re.escape(selector) + r"\s*\{([^}]*)\}", CSS)
    assert match, f"no rule {selector} in watchfloor.css"
    return dict(re.findall(r"(--[\w-]+)\s*:\s*(#[0-9a-fA-F]{3,6})", match.group(1)))


def css_colour(selector: str, prop: str = "color") -> str:
    match = re.search(re.escape(selector) + r"\s*\{([^}]*)\}", CSS)
    assert match, f"no rule {selector} in watchfloor.css"
    found = re.search(r"(?<![-\w])" + prop + r"\s*:\s*(#[0-9a-fA-F]{3,6})", match.group(1))
    assert found, f"{selector} sets no {prop}"
    return found.group(1)


LIGHT = css_block(".wf-theme-light")
# Everything a tablet marker, badge or word sits on: the page, panels, the map's paper, the light
# basemap's land and sea, and the timeline's plot area.
TABLET_GROUNDS = {
    "--bg": LIGHT["--bg"], "--panel": LIGHT["--panel"],
    "map paper": map_figure([], theme="light").layout.paper_bgcolor,
    "land": BASEMAP_THEMES["light"].land, "sea": BASEMAP_THEMES["light"].sea,
    "timeline plot": timeline_figure([], theme="light").layout.plot_bgcolor,
}


@pytest.mark.parametrize("var", ["--text", "--muted", "--live", "--stale", "--degraded", "--accent", "--ex"])
def test_tablet_text_holds_7_to_1(var):
    for ground in ("--bg", "--panel"):
        ratio = contrast(LIGHT[var], LIGHT[ground])
        assert ratio >= 7.0, f"tablet {var} {LIGHT[var]} on {ground} {LIGHT[ground]}: {ratio:.2f}:1"


def test_tablet_words_on_coloured_badges_and_the_timeline_hold_7_to_1():
    white = css_colour(".wf-theme-light .wf-conn-stale, .wf-theme-light .wf-conn-degraded")
    for var in ("--stale", "--degraded"):
        assert contrast(white, LIGHT[var]) >= 7.0, var
    assert contrast(css_colour(".wf-theme-light .wf-button"), LIGHT["--accent"]) >= 7.0
    tl = timeline_figure([], theme="light").layout
    for ground in (tl.paper_bgcolor, tl.plot_bgcolor):
        assert contrast(tl.font.color, ground) >= 7.0


@pytest.mark.parametrize("severity", list(LIGHT_SEVERITY_COLOURS))
def test_every_tablet_severity_colour_holds_3_to_1(severity):
    colour = severity_colours("light")[severity]
    for name, ground in TABLET_GROUNDS.items():
        ratio = contrast(colour, ground)
        assert ratio >= 3.0, f"{severity} {colour} on {name} {ground}: {ratio:.2f}:1"


@pytest.mark.parametrize("level", [name for name, _m, _c in THREAT_LEVELS])
def test_every_tablet_threat_colour_holds_3_to_1(level):
    colour = LIGHT_THREAT_COLOURS[level]
    for name, ground in TABLET_GROUNDS.items():
        ratio = contrast(colour, ground)
        assert ratio >= 3.0, f"threat {level} {colour} on {name} {ground}: {ratio:.2f}:1"


def test_the_tablet_threat_badge_takes_the_light_colour():
    from dashboard.panels.status import threat_panel

    badge = threat_panel({"level": "ELEVATED", "colour": "#f0e442", "score": 7, "drivers": []}, title="x",
                         theme="light")[0]
    assert badge.style["color"] == LIGHT_THREAT_COLOURS["ELEVATED"]
    dark = threat_panel({"level": "ELEVATED", "colour": "#f0e442", "score": 7, "drivers": []}, title="x")[0]
    assert dark.style["color"] == "#f0e442"  # the wall and desk keep the Okabe-Ito colours


def test_marker_size_grows_with_severity():
    order = ["unknown", "minor", "moderate", "severe", "extreme"]
    sizes = [marker_row({"id": s, "severity": s})["size"] for s in order]
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)
    assert SEVERITY_SIZES["extreme"] >= 2 * SEVERITY_SIZES["minor"]
    assert marker_row({"id": "x", "severity": "severe"})["color"] == SEVERITY_COLOURS["severe"]


# -- In the browser ---------------------------------------------------------------------------------

TIMELINE = ".wf-{screen} .wf-timeline-graph .js-plotly-plot"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from tests.stack import start_stack

    stack = start_stack(tmp_path_factory.mktemp("focus"), env={"WATCHFLOOR_SCENARIO_SPEED": "20"})
    stack.add_user("officer", "operator", PASSWORD)
    yield stack
    stack.stop()


# Where an incident is drawn last: [trace index, point index] of the last trace/point drawing it.
DRAWN_AT = """([sel, id]) => { const gd = document.querySelector(sel); let at = null;
  (gd._fullData || []).forEach((t, k) => { if (t.visible !== true || k === 5) { return; }
    const ids = t.customdata || []; for (let i = 0; i < ids.length; i++) {
      if (ids[i] === id && t.lat[i] !== null) { at = [k, i]; } } });
  return at; }"""
ID_OF = """([sel, title]) => { const li = [...document.querySelectorAll(sel + ' li[data-wf-id]')]
  .find((el) => el.textContent.indexOf(title) >= 0); return li ? li.getAttribute('data-wf-id') : null; }"""


@pytest.mark.browser
@pytest.mark.redis
@pytest.mark.slow
def test_severe_is_drawn_over_minor_and_the_selection_is_highlighted_and_centred(stack, browser):
    page, errors = open_screen(stack, browser, "", 1440, 900)
    sel = MAP.format(screen="desk")
    page.wait_for_function(DRAWN, arg=sel, timeout=60_000)
    stamp = int(time.time()) % 100000
    # Two incidents at one place (far from the scenario's): the severe one must be drawn on top.
    stack.inject({"channel": "cap", "kind": "security", "place": "Reykjavik", "title": f"Severe incident Reykjavik ({stamp})",
                  "lat": 64.1466, "lon": -21.9426, "severity": "severe"})
    stack.inject({"channel": "cap", "kind": "weather", "place": "Reykjavik", "title": f"Minor incident Reykjavik ({stamp})",
                  "lat": 64.1466, "lon": -21.9426, "severity": "minor"})
    for word in ("Severe", "Minor"):
        page.wait_for_selector(f".wf-desk .wf-incidents li:has-text('{word} incident Reykjavik ({stamp})')",
                               timeout=60_000)
    severe = page.evaluate(ID_OF, [".wf-desk .wf-incidents", f"Severe incident Reykjavik ({stamp})"])
    minor = page.evaluate(ID_OF, [".wf-desk .wf-incidents", f"Minor incident Reykjavik ({stamp})"])
    page.wait_for_function("""([sel, id]) => { const t = document.querySelector(sel)._fullData[4];
      return !!t && (t.customdata || []).indexOf(id) >= 0; }""", arg=[sel, severe], timeout=30_000)
    top, low = page.evaluate(DRAWN_AT, [sel, severe]), page.evaluate(DRAWN_AT, [sel, minor])
    assert top is not None and low is not None
    assert tuple(top) > tuple(low), f"severe drawn at {top}, minor at {low}: minor would cover it"
    sizes = page.evaluate("""([sel, a, b]) => { const t = document.querySelector(sel).data[0];
      return [t.marker.size[t.customdata.indexOf(a)], t.marker.size[t.customdata.indexOf(b)]]; }""", [sel, severe, minor])
    assert sizes[0] > sizes[1]
    # Outline: a contrasting disc under the severe marker, wider than it.
    ring = page.evaluate("""([sel]) => { const d = document.querySelector(sel).data; return [d[3].marker.size, d[4].marker.size]; }""",
                         [sel])
    assert ring[0] and all(r > s for r, s in zip(ring[0], ring[1], strict=True))

    # A click in the list: the item is marked, the map gets a halo there and pans to it, the timeline rings it.
    before = page.evaluate("(sel) => document.querySelector(sel).layout.map.center", sel)
    page.locator(".wf-desk .wf-incidents li", has_text=f"Minor incident Reykjavik ({stamp})").first.click()
    page.wait_for_selector(f".wf-desk .wf-incidents li.wf-selected[data-wf-id='{minor}']", timeout=15_000)
    page.wait_for_function("""([sel, id]) => { const t = document.querySelector(sel).data[5];
      return !!t && t.customdata.length === 2 && t.customdata[0] === id; }""", arg=[sel, minor], timeout=15_000)
    page.wait_for_function("""(sel) => { const c = document.querySelector(sel)._fullLayout.map.center;
      return Math.abs(c.lat - 64.1466) < 0.01 && Math.abs(c.lon + 21.9426) < 0.01; }""", arg=sel, timeout=15_000)
    assert abs(before["lat"] - 64.1466) > 1
    halo = page.evaluate("(sel) => document.querySelector(sel).data[5].marker.size", sel)
    assert halo[0] > halo[1]  # the wide disc under the marker drawn again
    assert page.locator(".wf-desk .wf-incidents li.wf-selected").count() == 1
    tl = TIMELINE.format(screen="desk")
    page.wait_for_function("""([sel, id]) => { const t = document.querySelector(sel).data[1];
      return !!t && t.customdata && t.customdata[0] === id; }""", arg=[tl, minor], timeout=15_000)
    page.keyboard.press("Escape")  # the drawer closes: the highlight too
    page.wait_for_selector(".wf-desk .wf-detail[hidden]", state="attached", timeout=10_000)
    page.locator(".wf-desk .wf-incidents li", has_text=f"Severe incident Reykjavik ({stamp})").first.click()
    page.wait_for_selector(f".wf-desk .wf-incidents li.wf-selected[data-wf-id='{severe}']", timeout=15_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / "focus-desk-selected-1440x900.png"))
    assert not errors, errors
    page.close()


@pytest.mark.browser
@pytest.mark.redis
@pytest.mark.slow
def test_the_timeline_marks_now_the_brushed_band_and_says_when_it_is_empty(stack, browser):
    page, errors = open_screen(stack, browser, "", 1440, 900)
    page.wait_for_function(DRAWN, arg=MAP.format(screen="desk"), timeout=60_000)
    tl = TIMELINE.format(screen="desk")
    shapes = """([sel, name]) => { const gd = document.querySelector(sel); const l = (gd && gd.layout) || {};
      return (l.shapes || []).filter((s) => s.name === name).length + (l.annotations || []).filter((a) => a.name === name).length; }"""
    page.wait_for_function(shapes.replace("return (", "return 2 <= ("), arg=[tl, "now"], timeout=30_000)
    now_x = page.evaluate("(sel) => document.querySelector(sel).layout.shapes.find((s) => s.name === 'now').x0", tl)
    assert abs(time.time() - time.mktime(time.strptime(now_x[:19], "%Y-%m-%dT%H:%M:%S")) + time.timezone) < 120
    assert page.evaluate(shapes, [tl, "empty"]) == 0
    # Brushing a time range (what a drag on the timeline sends) draws the band and says its times.
    brush = """(sel) => { const gd = document.querySelector(sel); const now = Date.now();
      const iso = (ms) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
      return window.Plotly.relayout(gd, {'xaxis.range[0]': iso(now - 3 * 3600e3), 'xaxis.range[1]': iso(now + 600e3)})
        .then(() => true); }"""
    page.wait_for_timeout(1000)  # let the first renders settle, as a person's first drag would
    for _attempt in range(3):  # a drag that lands while the figure is being replaced is redone by hand, too
        page.evaluate(brush, tl)
        try:
            page.wait_for_function(shapes.replace("return (", "return 2 <= ("), arg=[tl, "brush"], timeout=8_000)
            break
        except Exception:
            continue
    assert page.evaluate(shapes, [tl, "brush"]) == 2, page.locator(".wf-desk [id*=count]").first.inner_text()
    page.wait_for_timeout(800)
    page.screenshot(path=str(ARTIFACTS / "focus-desk-timeline-brushed-1440x900.png"))
    # EXTREME only leaves nothing of this scenario's first minutes: the timeline says so.
    page.locator(".wf-desk label", has_text="EXTREME").first.click()
    page.wait_for_function(shapes, arg=[tl, "empty"], timeout=15_000)
    text = page.evaluate("(sel) => document.querySelector(sel).layout.annotations.find((a) => a.name === 'empty').text", tl)
    assert text == "Nothing in this window"
    assert page.locator(f"{tl} .annotation-text", has_text="Nothing in this window").count() == 1
    assert not errors, errors
    page.close()


@pytest.mark.browser
@pytest.mark.redis
@pytest.mark.slow
def test_the_tablet_uses_its_light_palette_and_reads_well(stack, browser):
    page, errors = open_screen(stack, browser, "tablet", 1280, 800)
    sel = MAP.format(screen="tablet")
    page.wait_for_function(DRAWN, arg=sel, timeout=60_000)
    colours = set(page.evaluate("(sel) => document.querySelector(sel).data[0].marker.color", sel))
    assert colours and colours <= set(LIGHT_SEVERITY_COLOURS.values()), colours
    page.wait_for_selector(".wf-tablet .wf-threat-badge", timeout=30_000)
    badge = page.evaluate("""() => getComputedStyle(document.querySelector('.wf-tablet .wf-threat-badge')).color""")
    level = page.locator(".wf-tablet .wf-threat-badge").get_attribute("data-level")
    r, g, b = (int(v) for v in re.findall(r"\d+", badge)[:3])
    assert f"#{r:02x}{g:02x}{b:02x}" == LIGHT_THREAT_COLOURS[level]
    page.wait_for_timeout(1000)
    page.screenshot(path=str(ARTIFACTS / "focus-tablet-1280x800.png"))
    assert not errors, errors
    page.close()


# Every visible element with its own text: its computed font size (HTML and SVG text alike).
SMALLEST_TEXT = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode; const el = node.parentElement;
    if (!el || !node.textContent.trim()) continue;
    if (el.closest('script, style, noscript, [hidden]')) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none' || parseFloat(style.opacity) === 0) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || r.bottom < 0 || r.top > innerHeight || r.right < 0 || r.left > innerWidth) continue;
    let hidden = false;
    for (let p = el; p; p = p.parentElement) {
      const s = getComputedStyle(p);
      if (s.display === 'none' || s.visibility === 'hidden') { hidden = true; break; }
    }
    if (hidden) continue;
    out.push([parseFloat(style.fontSize), el.tagName + '.' + (el.getAttribute('class') || ''), node.textContent.trim().slice(0, 40)]);
  }
  out.sort((a, b) => a[0] - b[0]);
  return out;
}"""


@pytest.mark.browser
@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (3840, 2160)])
def test_no_wall_text_is_under_a_ninetieth_of_the_screen_height(stack, browser, width, height):
    floor = height / 90
    page, errors = open_screen(stack, browser, "wall", width, height)
    page.wait_for_function(DRAWN, arg=MAP.format(screen="wall"), timeout=60_000)
    page.wait_for_selector(".wf-wall .wf-conn-live", timeout=30_000)
    page.wait_for_selector(".wf-wall .wf-incidents li[data-wf-id]", timeout=30_000)
    page.wait_for_timeout(1500)
    sizes = page.evaluate(SMALLEST_TEXT)
    assert len(sizes) > 10
    small = [s for s in sizes if s[0] < floor - 0.01]
    page.screenshot(path=str(ARTIFACTS / f"focus-wall-map-{width}x{height}.png"))
    assert not small, f"text under {floor:.1f} px on the wall at {width}x{height}: {small[:12]}"
    # dots grow with the screen too: the smallest (unknown, 8 px at 1080p) is 16 px at 2160p
    dots = page.evaluate("""(sel) => document.querySelector(sel).data[0].marker.size""", MAP.format(screen="wall"))
    assert dots and min(dots) >= 8 * height / 1080 - 0.5, dots
    for view in ("threat", "timeline"):
        page.goto(stack.url + f"wall?view={view}")
        page.wait_for_selector(f".wf-wall.view-{view}", timeout=30_000)
        if view == "timeline":
            page.wait_for_function("""(sel) => { const gd = document.querySelector(sel); const l = gd && gd.layout;
              return !!l && (l.shapes || []).some((s) => s.name === 'now'); }""", arg=TIMELINE.format(screen="wall"),
                                   timeout=30_000)
        else:
            page.wait_for_selector(".wf-wall .wf-tile", timeout=30_000)
        page.wait_for_timeout(1000)
        small = [s for s in page.evaluate(SMALLEST_TEXT) if s[0] < floor - 0.01]
        page.screenshot(path=str(ARTIFACTS / f"focus-wall-{view}-{width}x{height}.png"))
        assert not small, f"{view} view: text under {floor:.1f} px at {width}x{height}: {small[:12]}"
    assert not errors, errors
    page.close()
