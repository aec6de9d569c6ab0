"""The generic ``geojson`` and ``csv`` adapters partners push with: what they read, what they skip
(with the reason push intake refuses a document for), and that neither is ever chosen by sniffing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from feeds.contract import DocumentRefused, FeedConfig
from feeds.model import Kind
from feeds.sources import detect, get_source
from feeds.sources.records_csv import MappingError, has_report_columns, parse_mapped, parse_mapping

FEED = FeedConfig(id="push:FD:default", url="push:")
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def geojson(*features: dict) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


def test_geojson_points_areas_and_words():
    doc = geojson(
        {"type": "Feature", "id": 7, "geometry": {"type": "Point", "coordinates": [-71.06, 42.36]},
         "properties": {"title": "<b>Fire</b> at Pier 4", "time": "2026-12-04T11:00:00Z", "kind": "fire",
                        "severity": "Severe", "url": "javascript:alert(1)", "sharing": "own", "crew": "E7"}},
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[-71, 42], [-71.1, 42], [-71.1, 42.1],
                                                                               [-71, 42]]]},
         "properties": {"name": "Evacuation zone", "time": 1764846000000}},
        {"type": "Feature", "geometry": None, "properties": {"title": "Crash", "time": "2026-12-04T11:30Z",
                                                             "place": "Kenmore Square, Boston"}})
    result = get_source("geojson").parse(doc, FEED, NOW)
    assert result.warnings == []
    fire, zone, crash = result.events
    assert (fire.id, fire.title, fire.kind, fire.severity.value) == ("push:FD:default:7", "Fire at Pier 4", Kind.FIRE, "severe")
    assert fire.link is None and fire.extra == {"crew": "E7", "sharing": "own"} and (fire.lon, fire.lat) == (-71.06, 42.36)
    assert zone.geometry["type"] == "Polygon" and zone.lat is None and zone.id.startswith("push:FD:default:")
    assert crash.place == "Kenmore Square, Boston" and not crash.placed and crash.kind is Kind.INCIDENT
    assert get_source("geojson").parse(doc, FEED, NOW).events[1].id == zone.id  # stable without an id


@pytest.mark.parametrize("feature, reason", [
    ({"type": "Feature", "geometry": None, "properties": {"title": "x"}}, "no time"),
    ({"type": "Feature", "geometry": None, "properties": {"time": "2026-12-04T11:00Z"}}, "no title"),
    ({"type": "Feature", "geometry": {"type": "Point", "coordinates": [0, 0]},
      "properties": {"title": "x", "time": "2026-12-04T11:00Z"}}, "0,0"),
    ({"type": "Feature", "geometry": {"type": "Point", "coordinates": [200, 10]},
      "properties": {"title": "x", "time": "2026-12-04T11:00Z"}}, "out of range"),
    ({"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[1, 1], [2, 2]]},
      "properties": {"title": "x", "time": "2026-12-04T11:00Z"}}, "not Point, Polygon or MultiPolygon"),
    ({"type": "Feature", "geometry": None, "properties": {"title": "x", "time": "2026-02-30T10:00Z"}}, "impossible"),
    ("not a feature", "not a Feature"),
])
def test_geojson_features_that_cannot_be_reports_are_skipped_with_the_reason(feature, reason):
    result = get_source("geojson").parse(geojson(feature), FEED, NOW)
    assert result.events == [] and len(result.warnings) == 1
    assert result.warnings[0].startswith("feature 0 (") and " skipped: " in result.warnings[0]
    assert reason in result.warnings[0]


def test_not_a_feature_collection_is_refused():
    with pytest.raises(DocumentRefused, match="not a GeoJSON FeatureCollection"):
        get_source("geojson").parse(b'{"type": "Feature"}', FEED, NOW)


def test_csv_by_its_header_or_a_mapping():
    plain = b"id,time,title,lat,lon,sharing\na1,2026-12-04T11:00Z,Bus fire,42.35,-71.05,agencies:BFD\n"
    assert has_report_columns(plain)
    event = get_source("csv").parse(plain, FEED, NOW).events[0]
    assert (event.id, event.lat, event.extra["sharing"]) == ("push:FD:default:a1", 42.35, "agencies:BFD")
    theirs = b"REF,When,Y,X,What\n9,2026-12-04T11:00Z,42.35,-71.05,Crash\n10,2026-12-04T11:05Z,91,-71,Bad\n"
    mapping = parse_mapping("id:REF,time:When,lat:Y,lon:X,title:What")
    assert not has_report_columns(theirs) and has_report_columns(theirs, mapping)
    result = parse_mapped(theirs, FEED, NOW, mapping)
    assert [e.id for e in result.events] == ["push:FD:default:9"]
    assert result.warnings == ["row 3 (10) skipped: lat/lon: lat 91.0 is out of range"]
    with pytest.raises(MappingError, match="map: 'colour:Y' is not field:column"):
        parse_mapping("colour:Y")
    with pytest.raises(MappingError, match="map: column 'Z' is not in the header"):
        parse_mapped(theirs, FEED, NOW, {"lat": "Z"})


def test_neither_is_chosen_by_sniffing():
    doc = geojson({"type": "Feature", "geometry": None, "properties": {"title": "x", "time": "2026-12-04T11:00Z"}})
    with pytest.raises(DocumentRefused):
        detect(doc)
    with pytest.raises(DocumentRefused):
        detect(b"time,title,lat,lon\n2026-12-04T11:00Z,x,42,-71\n")


def test_a_file_the_csv_module_cannot_read_is_refused_not_raised():
    huge = b"time,title\n2026-12-04T10:00Z,\"" + b"a" * 200_000 + b"\"\n"
    with pytest.raises(DocumentRefused, match="not readable as CSV: field larger than field limit"):
        parse_mapped(huge, FEED, NOW)
