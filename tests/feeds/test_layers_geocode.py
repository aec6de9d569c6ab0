"""The offline basemap build, the map layers, US county boundaries, the gazetteer and placement.

These tests read the basemap that ``make install`` builds into assets/basemap; without it they fail
(not skip) and say how to build it.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

import numpy as np
import orjson
import plotly.graph_objects as go
import pytest
import shapely
from shapely.geometry import Point, shape

from feeds import geocode as gc
from feeds.geocode import Place, geocode, place_event
from feeds.geocode.reverse import _area_label
from feeds.model import Event, Kind
from layers import basemap_build, boundaries
from layers.basemap import BasemapMissing, load_basemap, map_layers

ROOT = Path(__file__).resolve().parents[2]
BASEMAP = ROOT / "assets" / "basemap"


@pytest.fixture(scope="module")
def built() -> Path:
    if not (BASEMAP / "manifest.json").is_file():
        pytest.fail("offline basemap not built (assets/basemap missing): run `make install`")
    return BASEMAP


def _collection(built: Path, name: str) -> list[dict]:
    return orjson.loads((built / f"{name}.geojson").read_bytes())["features"]


def _parts(geom):
    return list(geom.geoms) if hasattr(geom, "geoms") else [geom]


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


# --- build output -----------------------------------------------------------------------------


def test_build_output_counts_and_properties(built: Path) -> None:
    countries = _collection(built, "countries")
    states = _collection(built, "states")
    counties = _collection(built, "counties")
    assert 235 <= len(countries) <= 245  # Natural Earth 1:50m: 241 countries
    assert len(states) == 56  # 50 states, DC and 5 territories
    assert len(counties) >= 3200
    names = {f["properties"]["name"] for f in countries}
    assert {"Russia", "Fiji", "United States of America", "Japan", "France"} <= names
    for feature in counties:
        props = feature["properties"]
        assert len(props["fips"]) == 5 and props["fips"].isdigit(), props
        assert props["state"] == props["fips"][:2]
        assert props["name"]
    drawn = sum((built / f"{n}.geojson").stat().st_size for n in ("countries", "states"))
    assert drawn < 1_500_000, f"the map's GeoJSON is {drawn} bytes"


def test_manifest_names_sources_and_licences(built: Path) -> None:
    manifest = orjson.loads((built / "manifest.json").read_bytes())
    sources = manifest["sources"]
    assert sources["countries"]["package"] == "world-atlas" and sources["countries"]["version"] == "2.0.2"
    assert sources["counties"]["package"] == "us-atlas" and sources["counties"]["version"] == "3.0.1"
    assert sources["countries"]["data_licence"] == "public domain"
    assert sources["states"]["package_licence"] == "ISC"
    assert manifest["files"]["counties.geojson"]["features"] == len(_collection(built, "counties"))


@pytest.mark.parametrize("name", ["countries", "states", "counties"])
def test_every_geometry_valid_and_no_part_crosses_the_antimeridian(built: Path, name: str) -> None:
    for feature in _collection(built, name):
        geom = shape(feature["geometry"])
        label = feature["properties"]["name"]
        assert geom.is_valid, f"{name} {label}: {shapely.is_valid_reason(geom)}"
        assert geom.geom_type in ("Polygon", "MultiPolygon")
        for part in _parts(geom):
            minx, miny, maxx, maxy = part.bounds
            assert -180 <= minx and maxx <= 180, label
            polar_cap = miny <= -89.9 or maxy >= 89.9  # Antarctica legitimately spans all longitudes
            assert polar_cap or maxx - minx <= 180, f"{name} {label} part spans {maxx - minx:.0f} deg"
            for ring in [part.exterior, *part.interiors]:
                xy = np.asarray(ring.coords)
                jumps = np.abs(np.diff(xy[:, 0])) > 180
                along_pole = (np.abs(xy[:-1, 1]) >= 89.9) & (np.abs(xy[1:, 1]) >= 89.9)
                assert not np.any(jumps & ~along_pole), f"{name} {label}: a segment jumps across the map"


def test_russia_and_fiji_are_split_not_dropped(built: Path) -> None:
    by_name = {f["properties"]["name"]: shape(f["geometry"]) for f in _collection(built, "countries")}
    for name in ("Russia", "Fiji"):
        xs = [p.bounds for p in _parts(by_name[name])]
        assert min(b[0] for b in xs) < -179 and max(b[2] for b in xs) > 179, name
    assert by_name["Russia"].contains(Point(37.6, 55.75))  # Moscow
    assert by_name["Russia"].contains(Point(-173.0, 65.5))  # Chukotka, east of the antimeridian


def test_split_polygon_cuts_a_ring_that_jumps() -> None:
    crossing = shapely.Polygon([(170, 0), (-170, 0), (-170, 10), (170, 10), (170, 0)])
    pieces = basemap_build.split_polygon(crossing)
    assert len(pieces) == 2
    assert sum(p.area for p in pieces) == pytest.approx(200.0)
    assert all(p.bounds[2] - p.bounds[0] <= 10 for p in pieces)


def test_build_refuses_missing_npm_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert basemap_build.main([str(tmp_path / "node_modules"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "npm install" in err


# --- map layers -------------------------------------------------------------------------------


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_map_layers_are_valid_plotly_layers(built: Path, theme: str) -> None:
    basemap = load_basemap(ROOT / "assets")
    layers = map_layers(basemap, theme=theme)
    assert [layer["type"] for layer in layers] == ["fill", "fill", "line"]
    for layer in layers:
        assert layer["sourcetype"] == "geojson"
        assert layer["source"]["type"] == "FeatureCollection"
        assert layer["below"] == "traces"
    assert layers[1]["source"] is basemap["countries"] and layers[2]["source"] is basemap["states"]
    # plotly validates every attribute name and value: a malformed layer raises here.
    fig = go.Figure(go.Scattermap(lat=[34.05], lon=[-118.24]), layout={"map": {"style": "white-bg", "layers": layers}})
    assert len(fig.layout.map.layers) == 3


def test_map_layers_by_url_and_theme_colours(built: Path) -> None:
    layers = map_layers(None, theme="light", url_base="/assets/basemap/")
    assert [layer["source"] for layer in layers[1:]] == [
        "/assets/basemap/countries.geojson",
        "/assets/basemap/states.geojson",
        "/assets/basemap/countries.geojson",
    ]
    go.Figure(layout={"map": {"style": "white-bg", "layers": layers}})
    dark = map_layers(None, theme="dark", url_base="/b")
    assert dark[0]["color"] != layers[0]["color"]
    with pytest.raises(ValueError, match="unknown basemap theme"):
        map_layers(None, theme="neon", url_base="/b")


def test_load_basemap_is_cached_and_read_only(built: Path) -> None:
    first = load_basemap(built)
    assert load_basemap(ROOT / "assets") is first
    assert isinstance(first, MappingProxyType)
    with pytest.raises(TypeError):
        first["countries"] = {}  # type: ignore[index]


def test_load_basemap_missing_says_run_make_install(tmp_path: Path) -> None:
    with pytest.raises(BasemapMissing) as info:
        load_basemap(tmp_path)
    assert str(info.value) == "offline basemap not built: run `make install`"


# --- boundaries ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("same", "fips"), [("006037", "06037"), ("048201", "48201"), ("106037", "06037"), ("006000", "06000")]
)
def test_same_to_fips(same: str, fips: str) -> None:
    assert boundaries.same_to_fips(same) == fips


@pytest.mark.parametrize("bad", ["06037", "CAC037", "", "0060371"])
def test_same_to_fips_refuses_non_same_codes(bad: str) -> None:
    with pytest.raises(ValueError):
        boundaries.same_to_fips(bad)


@pytest.mark.parametrize(
    ("ugc", "fips"),
    [
        ("CAC037", "06037"),
        ("TXC201", "48201"),
        ("prc127", "72127"),
        ("CAZ041", None),
        ("PZZ530", None),
        ("XXC001", None),
        ("CA", None),
    ],
)
def test_ugc_county_to_fips(ugc: str, fips: str | None) -> None:
    assert boundaries.ugc_county_to_fips(ugc) == fips


def test_county_geometry_los_angeles(built: Path) -> None:
    la = boundaries.county_geometry(["06037"])
    assert la is not None and la.contains(Point(-118.24, 34.05))  # downtown LA
    assert not la.contains(Point(-122.42, 37.77))  # San Francisco
    both = boundaries.county_geometry(["06037", "06059", "99999"])
    assert both.contains(Point(-117.87, 33.74))  # Santa Ana, Orange County
    assert boundaries.county_geometry(["99999"]) is None
    assert boundaries.county_geometry(["06000"]).contains(Point(-122.42, 37.77))  # the whole state


def test_reverse(built: Path) -> None:
    la = boundaries.reverse(-118.24, 34.05)
    assert la["country"] == "United States of America"
    assert (la["state"], la["county"], la["county_fips"]) == ("California", "Los Angeles", "06037")
    assert boundaries.reverse(2.35, 48.85)["country"] == "France"
    assert boundaries.reverse(179.9, 65.0)["country"] == "Russia"
    assert boundaries.reverse(-30.0, 30.0) is None  # mid-Atlantic
    assert boundaries.reverse(500, 0) is None


# --- geocoder -----------------------------------------------------------------------------------


def test_offset_from_place_is_applied() -> None:
    place = geocode("M 4.5 - 12 km SW of Ridgecrest, CA")
    assert place is not None and place.name == "Ridgecrest" and place.precision == "exact"
    # Ridgecrest 35.62, -117.67 moved 12 km on bearing 225 (flat-earth is exact enough at 12 km).
    d = 12 / math.sqrt(2)
    lat = 35.62 - d / 111.32
    lon = -117.67 - d / (111.32 * math.cos(math.radians(35.62)))
    assert _km(place.lat, place.lon, lat, lon) < 25
    assert _km(place.lat, place.lon, 35.62, -117.67) > 8  # it really moved


@pytest.mark.parametrize(
    ("text", "name", "country", "admin1"),
    [
        ("Flooding in Paris, Texas", "Paris", "US", "TX"),
        ("Springfield, IL", "Springfield", "US", "IL"),
        ("Portland, Maine", "Portland", "US", "ME"),
        ("Magnitude 6.1 earthquake strikes near Tokyo, Japan", "Tokyo", "JP", None),
        ("Heavy rain in Paris", "Paris", "FR", None),
        ("Man arrested in Mobile, Alabama", "Mobile", "US", "AL"),
        ("Flood Warning issued for Harris, TX", "Harris County", "US", "TX"),
        ("Perth, WA", "Perth", "AU", None),
        ("Bushfire emergency warning for Blue Mountains, NSW", "Blue Mountains", "AU", "02"),
        ("Vancouver, WA", "Vancouver", "US", "WA"),
        ("Shelling reported in Kiev", "Kyiv", "UA", None),
    ],
)
def test_geocode_disambiguates(text: str, name: str, country: str, admin1: str | None) -> None:
    place = geocode(text)
    assert place is not None, text
    assert (place.name, place.country) == (name, country)
    if admin1:
        assert place.admin1 == admin1


def test_georgia_alone_is_the_country_unless_the_text_is_about_the_us() -> None:
    # Documented choice: "Georgia" with no US context is the country (the bigger prior); a US
    # city or state, a US country hint, or words like "NWS"/"county" make it the US state.
    alone = geocode("Storm hits Georgia coast")
    assert alone is not None and (alone.country, alone.precision) == ("GE", "country")
    hinted = geocode("Storm hits Georgia coast", country_hint="US")
    assert hinted is not None and (hinted.country, hinted.admin1) == ("US", "GA")
    with_city = geocode("Storm hits Georgia coast near Savannah")
    assert with_city is not None and (with_city.name, with_city.admin1) == ("Savannah", "GA")


@pytest.mark.parametrize(
    "text",
    [
        "Police say the man was arrested on Friday",
        "Fire crews respond",
        "Mobile home fire",
        "Reading festival cancelled",
        "Nice weather expected",
        "Storm warning in effect",
        "Jordan scores 30 points",
        "tornado warning",
        "",
        "   ",
    ],
)
def test_geocode_does_not_invent_places(text: str) -> None:
    assert geocode(text) is None


def test_geocode_names_after_hurricane_are_not_places() -> None:
    place = geocode("Hurricane Milton makes landfall in Florida")
    assert place is not None and (place.name, place.country, place.precision) == ("Florida", "US", "admin1")


def test_geocode_place_fields() -> None:
    place = geocode("Magnitude 6.1 earthquake strikes near Tokyo, Japan")
    assert isinstance(place, Place)
    assert abs(place.lat - 35.69) < 0.1 and abs(place.lon - 139.69) < 0.1
    assert place.precision == "city" and 0.9 <= place.confidence <= 1.0
    assert place.matched == "Tokyo, Japan"
    assert geocode(None) is None  # type: ignore[arg-type]


def test_gazetteer_builds_fast_and_matches_fast(built: Path) -> None:
    started = time.perf_counter()
    index = gc._build_index()
    assert time.perf_counter() - started < 5.0  # about 1 s here; generous for slow CI machines
    assert len(index.names) > 30_000
    titles = [
        "M 4.5 - 12 km SW of Ridgecrest, CA",
        "Police say the man was arrested on Friday",
        "Magnitude 6.1 earthquake strikes near Tokyo, Japan",
        "Flood Warning issued for Harris, TX",
    ] * 500
    geocode("warm-up")
    started = time.perf_counter()
    for title in titles:
        geocode(title)
    assert len(titles) / (time.perf_counter() - started) > 2000  # about 20,000/s here


# --- placement ----------------------------------------------------------------------------------


def _event(**fields) -> Event:
    base = {
        "id": "e1",
        "source": "nws",
        "kind": Kind.WEATHER,
        "title": "Red Flag Warning",
        "time": datetime(2025, 1, 7, tzinfo=UTC),
    }
    base.update(fields)
    return Event(**base)


def test_place_event_uses_same_county_codes(built: Path) -> None:
    event = _event(
        place="Los Angeles; Ventura",
        extra={"cap": {"geocodes": {"SAME": ["006037", "006111"], "UGC": ["CAZ369", "CAZ370"]}}},
    )
    placed = place_event(event)
    assert placed.placed_by == "county"
    geom = shape(placed.geometry)
    assert geom.is_valid and geom.contains(Point(-118.24, 34.05))
    assert geom.contains(Point(placed.lon, placed.lat))
    assert placed.extra["counties"] == ["06037", "06111"]
    orjson.dumps(placed.to_dict())  # still serialisable


def test_place_event_uses_ugc_county_codes(built: Path) -> None:
    placed = place_event(_event(extra={"cap": {"geocodes": {"UGC": ["TXC201"]}}}))
    assert placed.placed_by == "county"
    assert shape(placed.geometry).contains(Point(-95.37, 29.76))  # Houston


def test_place_event_keeps_positions_and_uses_geometry() -> None:
    positioned = _event(lat=34.0, lon=-118.0)
    assert place_event(positioned) is positioned
    polygon = {"type": "Polygon", "coordinates": [[[10, 10], [12, 10], [12, 12], [10, 12], [10, 10]]]}
    placed = place_event(_event(geometry=polygon))
    assert placed.placed_by == "geometry" and 10 < placed.lon < 12 and 10 < placed.lat < 12


def test_place_event_falls_back_to_the_gazetteer(built: Path) -> None:
    event = _event(source="rss", title="Flooding in Paris, Texas", extra={"cap": {"geocodes": {"UGC": ["TXZ095"]}}})
    placed = place_event(event)
    assert placed.placed_by == "gazetteer"
    assert placed.extra["geocode"]["name"] == "Paris" and placed.extra["geocode"]["precision"] == "city"
    assert abs(placed.lat - 33.66) < 0.1 and placed.extra["cap"] == event.extra["cap"]


def test_place_event_leaves_unplaceable_events_alone() -> None:
    event = _event(source="rss", title="Police say the man was arrested on Friday")
    assert place_event(event) is event
    broken = _event(geometry={"type": "Polygon", "coordinates": "nonsense"}, title="Fire crews respond")
    assert place_event(broken) is broken
    odd = _event(extra={"cap": {"geocodes": {"SAME": ["junk", 7], "UGC": None}}}, title="")
    assert place_event(odd) is odd


# --- reverse geocoding, small qualified places, the CLI ----------------------------------------


def test_describe_names_the_town_near_a_usgs_quake(built: Path) -> None:
    # USGS: "M 5.5 - 17km S of Searles Valley, CA" (2020) at 35.6148, -117.4282
    found = gc.describe(35.6148333, -117.4281667)
    assert found is not None
    assert found["name"] == "Ridgecrest" and found["state"] == "California"
    assert 15 < found["distance_km"] < 30 and found["bearing"] in ("E", "ENE", "ESE")
    assert found["label"] == f"{round(found['distance_km'])} km {found['bearing']} of Ridgecrest, California"
    assert found["county"] == "San Bernardino" and found["at_sea"] is False
    # the bearing is FROM the place TO the point: a point due south of Ridgecrest is "S of Ridgecrest"
    south = gc.describe(35.62246 - 0.15, -117.6709)
    assert south is not None and south["name"] == "Ridgecrest"
    assert south["bearing"] == "S" and south["label"] == "17 km S of Ridgecrest, California"


def test_describe_mid_ocean_is_none_and_offshore_keeps_the_nearest_town(built: Path) -> None:
    assert gc.describe(0.0, -140.0) is None  # more than DESCRIBE_MAX_KM from any town of 15,000+
    near_coast = gc.describe(33.5, -118.6)  # off Santa Monica Bay
    assert near_coast is not None and near_coast["at_sea"] is True and near_coast["distance_km"] < 60
    for bad in ((91.0, 0.0), (0.0, 181.0), (float("nan"), 0.0), ("x", 1.0)):
        assert gc.describe(*bad) is None


def test_a_far_or_foreign_town_gives_way_to_the_area_that_holds_the_point(built: Path) -> None:
    # a satellite hotspot in the Northern Territory, 300 km from the nearest town of 15,000+ (#18)
    far = gc.describe(-15.205, 130.521)
    assert far is not None and far["distance_km"] > gc.LABEL_NEAR_KM
    assert far["label"] == "Australia" and far["label_precision"] == "region"
    # near a border, a town across it still orients (4 km from Sunland Park, New Mexico)
    near = gc.describe(31.76, -106.6)
    assert near is not None and "km" in near["label"] and "label_precision" not in near
    # a point in one country labelled by a town 60 km away in another says the point's country
    index = gc.gazetteer()
    out = {"label": "60 km N of Nogales, Mexico", "distance_km": 60.0, "place_country": "MX", "country": "Mexico"}
    area = {"country": "United States of America", "country_id": "840", "state": "Arizona"}
    assert _area_label(out, area, index) == "Arizona, United States"
    assert _area_label({**out, "distance_km": 10.0}, area, index) is None


def test_describe_nearest_matches_brute_force_and_is_fast(built: Path) -> None:
    import random

    index = gc.gazetteer()
    rng = random.Random(7)
    points = [(rng.uniform(-89.0, 89.0), rng.uniform(-180.0, 180.0)) for _ in range(150)]
    points += [(0.0, 179.99), (0.0, -179.99), (89.5, 10.0), (-89.9, 0.0)]
    for lat, lon in points:
        found = gc._nearest_city(index, lat, lon, 1000.0)
        best = min(index.cities, key=lambda c: gc.distance_km(lat, lon, c.lat, c.lon))
        d = gc.distance_km(lat, lon, best.lat, best.lon)
        if d > 1000.0:
            assert found is None
        else:
            assert found is not None and abs(found[1] - d) < 1e-6
    started = time.perf_counter()
    for lat, lon in points * 5:
        gc.describe(lat, lon)
    per_call = (time.perf_counter() - started) / (len(points) * 5)
    print(f"describe: {per_call * 1e6:.0f} us per call")  # no timing assert: shared CI machines


def test_describe_many_gives_what_describe_gives_point_by_point(built: Path) -> None:
    """The bulk path (a 100,000-row fire file) must name every point exactly as one call would:
    land and sea, US counties, near the poles and across the antimeridian, impossible positions."""
    import random

    rng = random.Random(19)
    points: list[tuple[float, float]] = [(rng.uniform(-89.0, 89.0), rng.uniform(-180.0, 180.0)) for _ in range(400)]
    points += [(35.5 + rng.uniform(-2, 2), -117.8 + rng.uniform(-2, 2)) for _ in range(200)]  # a cluster, one cell
    points += [(-12.0 + rng.uniform(-8, 8), -55.0 + rng.uniform(-8, 8)) for _ in range(200)]  # the Amazon: far towns
    points += [(0.0, 179.99), (0.0, -179.99), (89.5, 10.0), (-89.9, 0.0), (64.1, -21.9), (35.5, -117.8),
               (float("nan"), 3.0), (95.0, 3.0), (10.0, 200.0)]
    many = gc.describe_many(points)
    assert len(many) == len(points)
    assert [gc.describe(lat, lon) for lat, lon in points] == many
    assert many[-3:] == [None, None, None] and any(m and m["county"] for m in many)


def test_reverse_many_gives_what_reverse_gives(built: Path) -> None:
    positions = [(-117.8, 35.5), (-118.24, 34.05), (2.35, 48.85), (-140.0, 0.0), (24.94, 60.17), (-74.0, 40.7),
                 (-180.0, 0.0), (181.0, 0.0)]
    assert boundaries.reverse_many(positions) == [boundaries.reverse(lon, lat) for lon, lat in positions]


def test_describe_events_names_each_like_describe_event(built: Path) -> None:
    events = [_event(lat=35.5, lon=-117.8), _event(lat=0.0, lon=-140.0), _event(lat=48.85, lon=2.35, place="Paris"),
              _event(source="rss", title="Police say the man was arrested on Friday")]
    assert gc.describe_events(events) == [gc.describe_event(e) for e in events]


def test_describe_event_sets_place_and_keeps_placed_by(built: Path) -> None:
    event = _event(lat=35.5, lon=-117.8)
    described = gc.describe_event(event)
    assert described.place and described.place.endswith("of Ridgecrest, California")
    assert described.placed_by == event.placed_by
    assert described.extra["reverse_geocode"]["name"] == "Ridgecrest"
    assert gc.describe_event(described) is described  # has a place: unchanged
    assert gc.describe_event(_event(lat=0.0, lon=-140.0)).place is None  # mid-ocean: unchanged
    unplaced = _event(source="rss", title="Police say the man was arrested on Friday")
    assert gc.describe_event(unplaced) is unplaced


@pytest.mark.parametrize(
    ("text", "lat", "lon", "km"),
    [
        ("M 1.1 - 24km E of Lake Isabella, CA", 35.6175, -118.2047, 5),  # a town of 3,000: small places
        ("M 4.8 - 84km SSE of Qishn, Yemen", 14.7484, 52.0471, 15),
        ("M 0.6 - 6km ESE of Hawthorne, Nevada", 38.51, -118.56, 10),  # not Hawthorne, California
        ("M 0.8 - 8km ESE of Valle Vista, CA", 33.72, -116.81, 10),  # the whole name, not Vista
    ],
)
def test_geocode_qualified_small_places(text: str, lat: float, lon: float, km: float) -> None:
    place = geocode(text)
    assert place is not None and _km(place.lat, place.lon, lat, lon) < km, place


def test_geocode_qualified_place_elsewhere_is_not_that_place() -> None:
    place = geocode("Flooding near Zzyzxville, Nevada")
    assert place is not None and place.precision == "admin1" and place.admin1 == "NV"


@pytest.mark.parametrize(
    "text",
    [
        "Novak Djokovic clashes with British fans after Davis Cup triumph",
        "Could Nikki Haley Really Beat Trump? Big Donors Are Daring to Dream.",
        "Oscar Pistorius, Olympic Athlete Convicted of Murder, to Be Paroled",
        "More Than 1,000 Uber Employees Ask for Travis Kalanick to Return",
    ],
)
def test_geocode_words_of_longer_names_are_not_places(text: str) -> None:
    assert geocode(text) is None


def test_geocode_country_name_is_the_country_not_its_capital() -> None:
    place = geocode("Green earthquake alert in Mexico")
    assert place is not None and place.precision == "country" and place.country == "MX"


def test_cli_geocode(capsys: pytest.CaptureFixture[str]) -> None:
    from watchfloor.cli import main

    assert main(["geocode", "M 4.5 - 12 km SW of Ridgecrest, CA"]) == 0
    out = orjson.loads(capsys.readouterr().out)
    assert out["name"] == "Ridgecrest" and out["precision"] == "exact" and out["admin1"] == "CA"
    assert {"lat", "lon", "confidence", "matched", "country"} <= set(out)
    assert main(["geocode", "Best smart lock"]) == 1
    assert capsys.readouterr().err.strip().endswith("no place found")
    assert main(["geocode", "Paris", "--country", "Nowhereland"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "not a country" in err
    assert main(["geocode", "Flooding in Paris", "--country", "US"]) == 0
    assert orjson.loads(capsys.readouterr().out)["admin1"] == "TX"
