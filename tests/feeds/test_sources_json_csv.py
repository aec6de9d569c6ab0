"""Conformance of the JSON and CSV adapters against the real captures in ../shared/corpus.

Expected counts and values were read from the documents themselves (feature/row counts, USGS
``metadata.count``, raw coordinates, epoch times converted by hand), not from adapter output.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from feeds.contract import DocumentRefused, FeedConfig, ParseResult
from feeds.model import Event, Kind, Severity
from feeds.sources import detect, get_source, load_sources

pytestmark = pytest.mark.corpus

FEED = FeedConfig(id="test-feed", url="https://data.example.org/resource/abcd-1234.json")
FETCHED = datetime(2030, 1, 1, tzinfo=UTC)


def t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def parse(corpus: Path, relpath: str, fmt: str, fetched_at: datetime = FETCHED) -> ParseResult:
    return get_source(fmt).parse((corpus / relpath).read_bytes(), FEED, fetched_at)


def by_id(result: ParseResult, event_id: str) -> Event:
    matches = [e for e in result.events if e.id == event_id]
    assert len(matches) == 1, f"{event_id}: {len(matches)} events"
    return matches[0]


# relpath -> (format, event count, probe: id or index, expected fields). "extra.x" checks extra["x"].
CASES: dict[str, tuple[str, int, str | int, dict[str, Any]]] = {
    "usgs-geojson/4.5_week_2018-06-12_api1.5.8.json": (
        "usgs-geojson", 71, "usgs:us1000envg",
        {"title": "M 4.8 - 84km SSE of Qishn, Yemen", "lon": 52.0471, "lat": 14.7484, "depth_km": 10.0,
         "magnitude": 4.8, "time": t("2018-06-12T04:22:39.870Z"), "updated": t("2018-06-12T04:39:32.040Z"),
         "severity": Severity.MODERATE, "kind": Kind.EARTHQUAKE, "place": "84km SSE of Qishn, Yemen",
         "link": "https://earthquake.usgs.gov/earthquakes/eventpage/us1000envg",
         "extra.status": "reviewed", "extra.sig": 354, "extra.net": "us", "extra.code": "1000envg",
         "extra.magType": "mb", "extra.tsunami": False, "extra.types": ["geoserve", "origin", "phase-data"]},
    ),
    "usgs-geojson/all_day_2016-11-03_api1.5.2.json": (
        "usgs-geojson", 151, "usgs:ci37517303",
        {"magnitude": 1.09, "depth_km": 4.52, "lon": -118.2046667, "lat": 35.6175, "severity": Severity.MINOR,
         "time": t("2016-11-03T18:38:16.090Z"), "extra.status": "automatic", "title": "M 1.1 - 24km E of Lake Isabella, CA"},
    ),
    "usgs-geojson/all_week_2013-08-16_api1.0.9.json": (
        "usgs-geojson", 1718, "usgs:nc72050181",
        # API 1.0.9: no title (built), upper-case status, tsunami null
        {"title": "M 0.5 - 6km W of Cobb, California", "time": t("2013-08-16T03:07:51.100Z"),
         "lon": -122.7947, "lat": 38.8283, "depth_km": 2.4, "extra.status": "automatic", "extra.tsunami": None,
         "extra.magType": "Md"},
    ),
    "usgs-geojson/significant_month_2014-03-24_api1.0.13.json": (
        "usgs-geojson", 12, "usgs:usc000njrq",
        # a green PAGER level never lowers a M 6.5 below its magnitude's band (#18)
        {"magnitude": 6.5, "extra.alert": "green", "severity": Severity.SEVERE, "extra.felt": 3,
         "extra.ids": ["usc000njrq", "gcmt20140321134107"], "place": "113km E of Mohean, India"},
    ),
    "usgs-geojson/significant_month_2020-06-08_api1.9.1.json": (
        "usgs-geojson", 6, "usgs:us6000a5r3",
        {"place": "134 km NNE of Tobelo, Indonesia", "extra.tsunami": True, "depth_km": 106.86,
         "lon": 128.2477, "lat": 2.9231, "magnitude": 6.4},
    ),
    "usgs-geojson/significant_month_2023-10-11_api1.10.3.json": (
        "usgs-geojson", 18, "usgs:us6000len8",
        {"title": "M 6.3 - western Afghanistan", "extra.alert": "red", "severity": Severity.EXTREME,
         "time": t("2023-10-11T00:41:56.160Z"), "extra.sig": 2029, "extra.felt": 49},
    ),
    "csv/usgs_all_day_2019-09-27.csv": (
        "usgs-csv", 348, "usgs:ci39096768",
        {"magnitude": 0.77, "depth_km": 1.0, "lat": 35.8641667, "lon": -117.6788333,
         "time": t("2019-09-27T12:50:46.460Z"), "updated": t("2019-09-27T12:54:38.658Z"),
         "place": "22km ESE of Little Lake, CA", "extra.net": "ci", "extra.code": "39096768",
         "extra.status": "automatic", "kind": Kind.EARTHQUAKE},
    ),
    "csv/firms_modis_c61_usa_24h_2025-03-25.csv": (
        "firms-csv", 1049, 0,
        {"lat": 20.04031, "lon": -77.49902, "time": t("2025-03-25T02:28:00Z"), "kind": Kind.FIRE,
         "extra.confidence": 45, "extra.confidence_class": "nominal", "extra.frp": 3.93, "extra.brightness": 301.84,
         "extra.satellite": "Terra", "extra.instrument": "MODIS", "extra.daynight": "night", "severity": Severity.MINOR},
    ),
    "csv/firms_modis_c6_usa_24h_2020-09-30.csv": (
        "firms-csv", 2575, 0,
        {"lat": 30.943, "lon": -88.017, "time": t("2020-09-30T04:05:00Z"), "extra.confidence": 54,
         "extra.frp": 7.7, "extra.version": "6.0NRT"},
    ),
    "csv/firms_viirs_snpp_south-america_24h_2023-11-02.csv": (
        "firms-csv", 6024, 0,
        {"lat": -19.50241, "lon": -44.2632, "time": t("2023-11-02T15:44:00Z"), "extra.confidence": "nominal",
         "extra.frp": 5.41, "extra.brightness": 336.94, "extra.satellite": "Suomi NPP", "extra.instrument": "VIIRS",
         "extra.daynight": "day"},
    ),
    # 710 rows; 16 have no usable ActionGeo/Actor1Geo position (14 empty, 2 at 0,0)
    "csv/gdelt1_events_export_mixed-2013-2016.tsv": (
        "gdelt", 694, "gdelt:564111644",
        {"lat": 38.8973, "lon": -77.0083, "time": t("2006-07-31T00:00:00Z"), "updated": t("2016-07-28T00:00:00Z"),
         "title": "UNITED STATES - Make public statement", "kind": Kind.NEWS, "extra.event_code": "010",
         "place": "National Postal Museum, District of Columbia, United States",
         "link": "http://wtop.com/lifestyle/2016/07/deepest-darkest-secrets-now-display-national-postal-museum/"},
    ),
    "incidents-geojson/nsw-rfs_majorIncidents_2020-03-04_polygons.json": (
        "nsw-rfs-geojson", 21, "Badja Forest Rd, Countegany",
        # UPDATED 1 Mar 2020 10:23 AEDT (+11) = 29 Feb 23:23 UTC = the pubDate
        {"time": t("2020-02-29T23:23:00Z"), "lon": 149.92444759700004, "lat": -36.25492599599994,
         "severity": Severity.MINOR, "kind": Kind.FIRE, "extra.size_ha": 315512.0, "extra.council_area": "Eurobodalla",
         "place": "Badja Forest Rd, Countegany, NSW 2630"},
    ),
    "incidents-geojson/nsw-rfs_majorIncidents_2020-03-10.json": (
        "nsw-rfs-geojson", 10, "Doyles River",
        {"time": t("2020-03-10T03:20:00Z"), "lon": 152.12409700000012, "lat": -31.402417998999965,
         "extra.status": "Under control"},
    ),
    "incidents-geojson/nsw-rfs_majorIncidents_2020-03-19.json": (
        "nsw-rfs-geojson", 12, "Big Foot HRB",
        {"time": t("2020-03-18T23:00:00Z"), "extra.type": "Hazard Reduction", "kind": Kind.FIRE,
         "extra.responsible_agency": "Forest Corporation of NSW"},
    ),
    "incidents-geojson/nsw-rfs_majorIncidents_raw_2024-12-06.json": (
        "nsw-rfs-geojson", 19, "JONES CREEK FIRETRAIL, CLEAR RANGE",
        {"time": t("2024-12-05T11:48:00Z"), "extra.status": "Being controlled", "lon": 149.11366272000009},
    ),
    "other/reliefweb_disaster_25466.json": (
        "reliefweb", 1, "reliefweb:25466",
        {"title": "Burkina Faso: Floods - Aug 2015", "lat": 12.28, "lon": -1.57, "time": t("2015-08-07T00:00:00Z"),
         "updated": t("2015-12-08T22:02:56Z"), "kind": Kind.FLOOD, "extra.glide": "FL-2015-000106-BFA",
         "link": "https://reliefweb.int/disaster/fl-2015-000106-bfa", "place": "Burkina Faso", "extra.status": "past"},
    ),
    "other/reliefweb_disaster_25846.json": (
        "reliefweb", 1, "reliefweb:25846",
        {"lat": 41.6, "lon": 21.7, "kind": Kind.FLOOD, "extra.type": "Flash Flood", "time": t("2015-08-03T00:00:00Z")},
    ),
    "nws-geojson/alerts_active_urn-oid_az_2024-07-18.json": (
        "nws-geojson", 2, 0,
        {"title": "Excessive Heat Warning issued July 18 at 12:47PM MST until July 20 at 8:00PM MST by NWS Phoenix AZ",
         # the time is the onset (10 AM MST on the 19th), not sent (#18); updated keeps sent
         "time": t("2024-07-19T17:00:00Z"), "updated": t("2024-07-18T19:47:00Z"),
         "severity": Severity.SEVERE, "kind": Kind.WEATHER, "lat": None,
         "geometry": None, "exercise": False},
    ),
    "nws-geojson/alerts_active_zone_2019-12-20.json": (
        "nws-geojson", 1, 0,
        {"time": t("2019-12-20T21:34:00Z"), "kind": Kind.FLOOD, "severity": Severity.SEVERE, "lon": None},
    ),
    "nws-geojson/alerts_active_zone_second_2019-12-20.json": ("nws-geojson", 2, 1, {"kind": Kind.FLOOD}),
    # documents that are valid but place nothing: zero events, and a warning saying why
    "other/socrata_fremont-bike-counts_page1_2016.json": ("socrata", 0, -1, {}),
    "other/socrata_fremont-bike-counts_page2_2016.json": ("socrata", 0, -1, {}),
    "other/reliefweb_disasters_list_2024-08.json": ("reliefweb", 0, -1, {}),
}

NWS_NOT_ALERTS = {
    "nws-geojson/alerts_active_count.json": "alert count",
    "nws-geojson/gridpoints_forecast_hourly_us_2019-10-14.json": "forecast documents are not alerts",
    "nws-geojson/gridpoints_forecast_us_2019-10-13.json": "forecast documents are not alerts",
    "nws-geojson/gridpoints_raw_detailed_2022-02-04.json": "gridpoint",
    "nws-geojson/points_2019.json": "/points",
    "nws-geojson/stations_observations_2019-06-27.json": "station observations",
    "nws-geojson/stations_observations_latest_2022-03-02.json": "station observations",
}


def probe(result: ParseResult, key: str | int) -> Event:
    if isinstance(key, int):
        return result.events[key]
    if ":" in key:
        return by_id(result, key)
    matches = [e for e in result.events if e.title == key]
    assert len(matches) == 1, f"title {key!r}: {len(matches)} events"
    return matches[0]


def check(event: Event, expected: dict[str, Any]) -> None:
    for name, want in expected.items():
        got = event.extra.get(name[6:]) if name.startswith("extra.") else getattr(event, name)
        if isinstance(want, float) and isinstance(got, float):
            assert math.isclose(got, want, rel_tol=0, abs_tol=1e-9), f"{name}: {got!r} != {want!r}"
        else:
            assert got == want, f"{name}: {got!r} != {want!r}"


@pytest.mark.parametrize("relpath", sorted(CASES))
def test_corpus_document(corpus: Path, relpath: str) -> None:
    fmt, count, key, expected = CASES[relpath]
    result = parse(corpus, relpath, fmt)
    assert len(result.events) == count
    assert len({e.id for e in result.events}) == count, "ids must be unique within a document"
    for event in result.events:
        assert event.time.tzinfo is not None and event.time.utcoffset().total_seconds() == 0
        assert event.source == fmt and event.feed == FEED.id
        assert event.title and "<" not in event.title
        if event.lat is not None:
            assert (event.lat, event.lon) != (0, 0)
        Event.from_json(event.to_json())  # survives the trip through Redis
    if count == 0:
        assert result.warnings, "an empty result must say why"
        return
    check(probe(result, key), expected)


@pytest.mark.parametrize("relpath", sorted(CASES) + sorted(NWS_NOT_ALERTS))
def test_detection_picks_the_right_adapter(corpus: Path, relpath: str) -> None:
    want = CASES[relpath][0] if relpath in CASES else "nws-geojson"
    assert detect((corpus / relpath).read_bytes()).name == want


@pytest.mark.parametrize("relpath", sorted(NWS_NOT_ALERTS))
def test_nws_non_alert_documents_are_refused_with_a_reason(corpus: Path, relpath: str) -> None:
    with pytest.raises(DocumentRefused) as info:
        parse(corpus, relpath, "nws-geojson")
    reason = str(info.value)
    assert NWS_NOT_ALERTS[relpath] in reason and "\n" not in reason


def test_usgs_kinds_and_severity_rules(corpus: Path) -> None:
    week = parse(corpus, "usgs-geojson/4.5_week_2018-06-12_api1.5.8.json", "usgs-geojson")
    assert sum(e.kind is Kind.VOLCANO for e in week.events) == 5  # properties.type "volcanic eruption"
    day = parse(corpus, "usgs-geojson/all_day_2016-11-03_api1.5.2.json", "usgs-geojson")
    others = [e for e in day.events if e.kind is Kind.OTHER]
    assert sorted({e.extra["type"] for e in others}) == ["explosion", "quarry blast"] and len(others) == 8
    csv_day = parse(corpus, "csv/usgs_all_day_2019-09-27.csv", "usgs-csv")
    assert sorted(e.extra["type"] for e in csv_day.events if e.kind is Kind.OTHER) == [
        "explosion", "ice quake", "quarry blast"]
    sig = parse(corpus, "usgs-geojson/significant_month_2023-10-11_api1.10.3.json", "usgs-geojson")
    # the one quake rule (#18): the PAGER colour raises the magnitude's band, never lowers it
    by_title = {e.title: e.severity for e in sig.events}
    assert by_title["M 6.3 - western Afghanistan"] is Severity.EXTREME  # red raises severe
    assert by_title["M 6.9 - 55 km SE of Madang, Papua New Guinea"] is Severity.SEVERE  # green does not lower
    assert by_title["M 4.3 - Port Townsend, WA"] is Severity.MINOR
    assert by_title["M 5.4 - 24 km S of Goālpāra, India"] is Severity.MODERATE  # yellow: moderate already


def test_usgs_reparse_gives_identical_ids_and_fingerprints(corpus: Path) -> None:
    relpath = "usgs-geojson/all_day_2016-11-03_api1.5.2.json"
    first = parse(corpus, relpath, "usgs-geojson", datetime(2016, 11, 3, 19, tzinfo=UTC))
    again = parse(corpus, relpath, "usgs-geojson", datetime(2016, 11, 3, 19, 5, tzinfo=UTC))
    assert [e.id for e in first.events] == [e.id for e in again.events]
    assert [e.fingerprint() for e in first.events] == [e.fingerprint() for e in again.events]


def _usgs_doc(features: list[dict[str, Any]]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "metadata": {"url": "https://earthquake.usgs.gov/x"},
                       "features": features}).encode()


def _quake(fid: str, coords: Any, mag: float = 5.0) -> dict[str, Any]:
    return {"type": "Feature", "id": fid, "geometry": {"type": "Point", "coordinates": coords},
            "properties": {"mag": mag, "place": "somewhere", "time": 1700000000000, "updated": 1700000100000,
                           "status": "reviewed", "type": "earthquake", "alert": None}}


def test_usgs_revised_magnitude_is_an_update_of_the_same_event() -> None:
    source = get_source("usgs-geojson")
    before = source.parse(_usgs_doc([_quake("us1", [10.0, 20.0, 5.0], 5.1)]), FEED, FETCHED).events[0]
    after = source.parse(_usgs_doc([_quake("us1", [10.0, 20.0, 5.0], 5.4)]), FEED, FETCHED).events[0]
    assert before.id == after.id == "usgs:us1"
    assert before.fingerprint() != after.fingerprint()


def test_usgs_bad_coordinates_are_skipped_with_a_warning_never_zero_zero() -> None:
    features = [
        _quake("nan", [float("nan"), 20.0, 5.0]),
        _quake("inf", [float("inf"), 20.0, 5.0]),
        _quake("lon-range", [200.0, 20.0, 5.0]),
        _quake("lat-range", [10.0, -95.0, 5.0]),
        _quake("null-island", [0, 0, 10.0]),
        _quake("text", ["10", "20"]),
        _quake("short", [10.0]),
        {"type": "Feature", "id": "nogeom", "geometry": None, "properties": {"time": 1700000000000}},
        _quake("good", [10.0, 20.0, 5.0]),
    ]
    result = get_source("usgs-geojson").parse(_usgs_doc(features), FEED, FETCHED)
    assert [e.id for e in result.events] == ["usgs:good"]
    assert len(result.warnings) == 9  # 8 skipped features + the NaN/Infinity flag on the document
    for fid in ("nan", "inf", "lon-range", "lat-range", "null-island", "text", "short", "nogeom"):
        assert any(f"({fid})" in w for w in result.warnings), fid


def test_firms_bad_rows_are_skipped_and_short_acq_time_is_padded() -> None:
    header = "latitude,longitude,brightness,scan,track,acq_date,acq_time,satellite,confidence,version,bright_t31,frp,daynight\n"
    rows = [
        "nan,10,300,1,1,2020-09-30,0405,T,50,6.0NRT,280,5,D",
        "0,0,300,1,1,2020-09-30,0405,T,50,6.0NRT,280,5,D",
        "95,10,300,1,1,2020-09-30,0405,T,50,6.0NRT,280,5,D",
        "10,10,300,1,1,2020-13-30,0405,T,50,6.0NRT,280,5,D",
        "10,10,300,1,1,2020-09-30,2561,T,50,6.0NRT,280,5,D",
        "10,10,300,1,1,2020-09-30,5,A,95,6.0NRT,280,1200,N",
    ]
    result = get_source("firms-csv").parse((header + "\n".join(rows)).encode(), FEED, FETCHED)
    assert len(result.events) == 1 and len(result.warnings) == 5
    event = result.events[0]
    assert event.time == t("2020-09-30T00:05:00Z")
    assert event.severity is Severity.EXTREME and event.extra["confidence_class"] == "high"


def test_nsw_rfs_local_time_outside_daylight_saving_and_bad_geometry() -> None:
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "GeometryCollection", "geometries": [
            {"type": "Point", "coordinates": [150.1, -33.5]},
            {"type": "GeometryCollection", "geometries": [
                {"type": "Polygon", "coordinates": [[[150, -33], [150.2, -33], [150.2, -33.2], [150, -33]]]},
                {"type": "Polygon", "coordinates": [[[400, -33], [150.2, -33], [150.2, -33.2], [400, -33]]]},
            ]}]},
         "properties": {"title": "<b>Test</b> Fire", "category": "Emergency Warning", "guid": "g1",
                        "link": "javascript:alert(1)",
                        "description": "ALERT LEVEL: Emergency Warning <br />TYPE: Bush Fire <br />UPDATED: 10 Jun 2020 10:00"}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [0, 0]},
         "properties": {"title": "Nowhere", "guid": "g2", "description": "UPDATED: 10 Jun 2020 10:00"}},
    ]}
    result = get_source("nsw-rfs-geojson").parse(json.dumps(doc).encode(), FEED, FETCHED)
    assert len(result.events) == 1 and any("incident 1 skipped" in w for w in result.warnings)
    event = result.events[0]
    assert event.time == t("2020-06-10T00:00:00Z")  # AEST, +10 in June
    assert any("Australia/Sydney" in w for w in event.warnings)
    assert any("polygon dropped" in w for w in event.warnings)
    assert event.geometry and event.geometry["type"] == "Polygon"
    assert event.title == "Test Fire" and event.link is None and event.severity is Severity.EXTREME
    assert (event.lon, event.lat) == (150.1, -33.5)


def test_nws_geometry_gives_a_representative_point_and_exercise_status() -> None:
    feature = {"type": "Feature", "id": "https://api.weather.gov/alerts/X1",
               "geometry": {"type": "Polygon", "coordinates": [[[-100, 40], [-99, 40], [-99, 41], [-100, 41], [-100, 40]]]},
               "properties": {"@type": "wx:Alert", "id": "X1", "sender": "w-nws.webmaster@noaa.gov",
                              "sent": "2024-01-01T00:00:00-06:00", "status": "Exercise", "messageType": "Alert",
                              "event": "Red Flag Warning", "severity": "Extreme", "category": "Met",
                              "geocode": {"SAME": ["031001"], "UGC": ["NEZ001"]}, "areaDesc": "Somewhere, NE"}}
    doc = json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()
    event = get_source("nws-geojson").parse(doc, FEED, FETCHED).events[0]
    assert event.kind is Kind.FIRE and event.severity is Severity.EXTREME and event.exercise
    assert -100 < event.lon < -99 and 40 < event.lat < 41 and event.geometry["type"] == "Polygon"
    assert event.time == t("2024-01-01T06:00:00Z")
    assert event.extra["cap"]["geocodes"] == {"SAME": ["031001"], "UGC": ["NEZ001"]}


def test_nws_ids_equal_the_cap_adapters_for_the_same_alert(corpus: Path) -> None:
    if "cap" not in load_sources():
        pytest.skip("CAP adapter not present")
    relpath = "nws-geojson/alerts_active_zone_2019-12-20.json"
    nws_event = parse(corpus, relpath, "nws-geojson").events[0]
    p = json.loads((corpus / relpath).read_bytes())["features"][0]["properties"]
    refs = " ".join(f"{r['sender']},{r['identifier']},{r['sent']}" for r in p["references"])
    cap_xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{p['id']}</identifier><sender>{p['sender']}</sender><sent>{p['sent']}</sent>
  <status>{p['status']}</status><msgType>{p['messageType']}</msgType><scope>Public</scope>
  <references>{refs}</references>
  <info><category>Met</category><event>{p['event']}</event><urgency>{p['urgency']}</urgency>
    <severity>{p['severity']}</severity><certainty>{p['certainty']}</certainty>
    <area><areaDesc>{p['areaDesc']}</areaDesc></area></info>
</alert>""".encode()
    cap_event = get_source("cap").parse(cap_xml, FEED, FETCHED).events[0]
    assert nws_event.id == cap_event.id
    assert nws_event.extra["cap"]["references_ids"] == cap_event.extra["cap"]["references_ids"]
    assert len(nws_event.extra["cap"]["references_ids"]) == 4
    for key in ("identifier", "sender", "sent", "status", "msgType", "severity", "event", "effective"):
        if cap_event.extra["cap"].get(key):
            assert nws_event.extra["cap"][key] == cap_event.extra["cap"][key], key


def test_socrata_rows_with_time_and_location_become_events(corpus: Path) -> None:
    bikes = parse(corpus, "other/socrata_fremont-bike-counts_page1_2016.json", "socrata")
    assert bikes.events == [] and any("rows carry no location" in w for w in bikes.warnings)
    rows = [
        {":id": "row-1", "date": "2016-09-21T15:45:00.000", "offense": "Burglary",
         "location": {"type": "Point", "coordinates": [-122.33, 47.61]}},
        {"datetime": "2016-09-21T16:00:00.000", "latitude": "47.6", "longitude": "-122.3", "title": "<i>x</i>"},
        {"date": "2016-09-21T16:00:00.000", "location": {"latitude": "47.5", "longitude": "-122.2"}},
        {"date": "2016-09-21T16:00:00.000", "latitude": "0", "longitude": "0"},
        {"latitude": "47.6", "longitude": "-122.3"},
    ]
    result = get_source("socrata").parse(json.dumps(rows).encode(), FEED, FETCHED)
    assert len(result.events) == 3
    first = result.events[0]
    assert (first.lon, first.lat, first.title) == (-122.33, 47.61, "Burglary")
    assert first.time == t("2016-09-21T15:45:00Z") and any("assumed UTC" in w for w in first.warnings)
    assert result.events[1].title == "x"
    assert any("no location: 1 of 5" in w for w in result.warnings)
    assert any("no readable time: 1 of 5" in w for w in result.warnings)
    again = get_source("socrata").parse(json.dumps(rows).encode(), FEED, FETCHED)
    assert [e.id for e in again.events] == [e.id for e in result.events]


def test_reliefweb_list_without_fields_explains_what_to_request(corpus: Path) -> None:
    result = parse(corpus, "other/reliefweb_disasters_list_2024-08.json", "reliefweb")
    assert result.events == [] and any("1000 of 1000" in w and "primary_country" in w for w in result.warnings)


def test_gdelt_57_column_rows_have_no_link(corpus: Path) -> None:
    result = parse(corpus, "csv/gdelt1_events_export_mixed-2013-2016.tsv", "gdelt", datetime(2016, 7, 29, tzinfo=UTC))
    old = by_id(result, "gdelt:1552829")
    assert old.link is None and old.time == t("1982-01-02T00:00:00Z") and (old.lat, old.lon) == (5.55, -0.216667)
    assert sum(1 for e in result.events if e.link) == 495  # 58-column rows that are placed
    assert all(e.kind is Kind.SECURITY for e in result.events if e.extra["root_code"] >= "14")
    assert any("16 rows carry no usable location" in w for w in result.warnings)


@pytest.mark.parametrize(
    "fmt", ["usgs-geojson", "nws-geojson", "nsw-rfs-geojson", "socrata", "reliefweb"]
)
@pytest.mark.parametrize("body", [b'{"type": "FeatureCollection", "features": [', b"<html>login</html>", b""])
def test_malformed_json_is_refused_with_one_line(fmt: str, body: bytes) -> None:
    with pytest.raises(DocumentRefused) as info:
        get_source(fmt).parse(body, FEED, FETCHED)
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


@pytest.mark.parametrize("fmt", ["usgs-csv", "firms-csv", "gdelt"])
def test_csv_of_the_wrong_shape_is_refused(fmt: str) -> None:
    with pytest.raises(DocumentRefused):
        get_source(fmt).parse(b"a,b,c\n1,2,3\n", FEED, FETCHED)
