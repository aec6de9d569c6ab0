"""Conformance of the XML feed adapters (cap, cap-index, rss, gdacs, quakeml) over the real corpus.

Expectations were written after reading each document (entry/item/info counts, a title, a
coordinate, a time); the rss/georss/gdacs counts are also checked against a raw count of
``<item>``/``<entry>`` tags in the file. Hostile documents must be refused or defused in < 2 s.
"""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feeds.contract import DocumentRefused, FeedConfig, ParseResult
from feeds.model import Event, Kind, Severity, parse_iso
from feeds.sources import detect, get_source
from feeds.sources.cap import cap_event_id, circle_from_cap, polygon_from_cap

FEED = FeedConfig(id="test-feed", url="https://example.org/feed")
FETCHED = datetime(2026, 1, 1, tzinfo=UTC)
TIME_LIMIT_S = 2.0


def run(path: Path, fmt: str | None = None) -> tuple[str, ParseResult]:
    data = path.read_bytes()
    source = get_source(fmt) if fmt else detect(data)
    return source.name, source.parse(data, FEED, FETCHED)


def check_safe(event: Event) -> None:
    """Strings are plain text, links are http(s), positions are real."""
    for text in (event.title, event.text, event.place or ""):
        assert "<script" not in text.lower()
    if event.link is not None:
        assert event.link.startswith(("http://", "https://"))
    if event.lat is not None:
        assert event.lon is not None
        assert math.isfinite(event.lat) and math.isfinite(event.lon)
        assert abs(event.lat) <= 90 and abs(event.lon) <= 180
        assert (event.lat, event.lon) != (0, 0)
    assert event.time.tzinfo is not None
    Event.from_json(event.to_json())  # survives the trip through Redis


# filename -> (format detected, number of events, checks on events[0]); {} = none beyond count
CAP: dict[str, tuple[int, dict]] = {
    "athoc-ipaws_cancel_no-info_signed_2016-02-25.xml": (1, {"msgType": "Cancel", "lat": None, "refs": 1}),
    "bom-australia_cap-au_2019-01-16.xml": (1, {"kind": Kind.WEATHER, "geocodes": True}),
    "environment-canada_cap-cp_2012-05-02.xml": (
        1,
        {"msgType": "Update", "refs": 2, "lang": "en-CA", "other": ["fr-CA"], "geom": "MultiPolygon"},
    ),
    "environment-canada_naads_urn-oid_2019-07-12.xml": (1, {"lang": "en-CA", "geom": "Polygon"}),
    "environment-canada_signed_2012.xml": (1, {"title": "snowfall warning", "geom": "MultiPolygon"}),
    "icelandic-met-office_cap_2021-09-10.xml": (1, {"lang": "en-US", "other": ["is-IS"], "geom": "Polygon"}),
    "krisinformation-sweden_cap_2018-11-21.xml": (1, {"lang": "sv-SE", "lat": None}),
    "met-eireann_cap_2022-12-06.xml": (1, {"geom": "MultiPolygon", "severity": Severity.MODERATE}),
    "met-office-uk_cap_2022-12-07.xml": (1, {"place": "East Midlands"}),
    "meteo-france_cap_2022-12-07.xml": (1, {"lang": "en-GB", "title": "Moderate avalanches warning"}),
    "mexico-smn_tropical-cyclone_2018-10-20.xml": (1, {"kind": Kind.CYCLONE, "geom": "Polygon"}),
    "nsw-rfs_cap-au_2011-10-05.xml": (1, {"kind": Kind.FIRE, "circle": (-35.3888, 147.0598, 25.0)}),
    "nsw-rfs_edxl-de_georss_2014-05-08.xml": (1, {"lat": -33.1347, "lon": 151.558, "title": "MVA Gwandalan"}),
    "ntwc_tsunami-information_signed_2022-06-05.xml": (1, {"kind": Kind.TSUNAMI, "lat": 51.885, "lon": -131.076}),
    "nws_flash-flood-watch_cap11_2010-08-30.xml": (
        1,
        {"kind": Kind.FLOOD, "severity": Severity.SEVERE, "time": "2010-08-30T10:07:00+00:00"},
    ),
    "oasis_cap12_amber-alert_example.xml": (1, {"lang": "en-US", "other": ["es-US"]}),
    "pagasa-philippines_tc-test_2014-11-03.xml": (1, {"status": "Test", "kind": Kind.CYCLONE}),
    "smhi-sweden_alerts-container_2019-03-12.xml": (17, {"title": "Västerbottens län,södra Lapplandsfjällen"}),
    "taiwan-wra_reservoir_bom_2014-05-14.xml": (1, {"title": "明德水庫:洩洪中"}),
    "usgs_earthquake_cap11_2010-08-31.xml": (1, {"kind": Kind.EARTHQUAKE, "lat": -16.053, "lon": -173.274}),
    "usgs_earthquake_iso8859-1_2012-10-14.xml": (1, {"kind": Kind.EARTHQUAKE, "title": "Usulután"}),
    "wcatwc_tsunami-warning_2011-09-02.xml": (
        1,
        {"kind": Kind.TSUNAMI, "severity": Severity.EXTREME, "msgType": "Update", "refs": 1},
    ),
}


@pytest.mark.parametrize("name", sorted(CAP))
def test_cap_documents(corpus: Path, name: str) -> None:
    count, checks = CAP[name]
    fmt, result = run(corpus / "cap" / name)
    assert fmt == "cap"
    assert len(result.events) == count
    assert len({e.id for e in result.events}) == count
    for event in result.events:
        check_safe(event)
        cap = event.extra["cap"]
        assert event.id == cap_event_id(cap["sender"], cap["identifier"], cap["sent"])
        # the time is when it happens (#18): an EventTime parameter, else the onset, else sent
        time_field = event.provenance["fields"]["time"]
        if cap["parameters"].get("EventTime"):
            assert time_field == "info/parameter EventTime"
        elif cap["onset"]:
            assert time_field == "info/onset" and event.time == parse_iso(cap["onset"])
        else:
            assert time_field == "alert/sent" and event.time == parse_iso(cap["sent"])
    first = result.events[0]
    cap = first.extra["cap"]
    if "kind" in checks:
        assert first.kind is checks["kind"]
    if "severity" in checks:
        assert first.severity is checks["severity"]
    if "title" in checks:
        assert checks["title"] in first.title
    if "msgType" in checks:
        assert cap["msgType"] == checks["msgType"]
    if "status" in checks:
        assert cap["status"] == checks["status"]
    if "refs" in checks:
        assert len(cap["references_ids"]) == checks["refs"]
    if "lang" in checks:
        assert cap["language"] == checks["lang"]
    if "other" in checks:
        assert cap["other_languages"] == checks["other"]
    if "geom" in checks:
        assert first.geometry and first.geometry["type"] == checks["geom"]
        assert first.lat is not None
    if "lat" in checks:
        assert first.lat == (pytest.approx(checks["lat"]) if checks["lat"] is not None else None)
    if "lon" in checks:
        assert first.lon == pytest.approx(checks["lon"])
    if "place" in checks:
        assert checks["place"] in (first.place or "")
    if "geocodes" in checks:
        assert cap["geocodes"]
    if "circle" in checks:
        lat, lon, radius = checks["circle"]
        assert first.extra["circles"][0] == {"lat": lat, "lon": lon, "radius_km": radius}
    if "time" in checks:
        assert first.time.isoformat() == checks["time"]


CAP_INDEX: dict[str, tuple[int, int, dict]] = {
    # name: (events, follow links, checks on events[0])
    "krisinformation-sweden_atom_2018-11-21.xml": (4, 0, {"lat": 61.4418656555802, "lon": 16.5695265628148}),
    "meteoalarm_legacy-atom_france_2022-12-08.xml": (2, 0, {"entries": 6, "severity": Severity.MODERATE}),
    "meteoalarm_legacy-atom_poland_2023-04-28.xml": (2, 0, {"geocodes": {"EMMA_ID": ["PL805"]}}),
    "meteoalarm_legacy-atom_uk_2022-12-08.xml": (4, 0, {}),
    "nws_cap-atom_oregon_2014-05-09.xml": (
        1,
        0,
        {
            "geocodes": {
                "FIPS6": ["041003", "041005", "041039", "041043", "041047", "041051", "041053", "041071"],
                "UGC": ["ORZ007", "ORZ008", "ORZ010"],
            }
        },
    ),
    "nws_cap-atom_us_2014-05-10.xml": (2, 0, {"kind": Kind.WEATHER}),
    "nws_cap-atom_us_2018-08-15.xml": (163, 0, {"severity": Severity.SEVERE, "title": "High Wind Warning"}),
    "nws_cap-atom_weather-index_2010-08-31.xml": (2, 0, {"title": "Air Quality Alert"}),
}


@pytest.mark.parametrize("name", sorted(CAP_INDEX))
def test_cap_index_documents(corpus: Path, name: str) -> None:
    count, follow, checks = CAP_INDEX[name]
    fmt, result = run(corpus / "cap-feeds" / name)
    assert fmt == "cap-index"
    assert len(result.events) == count
    assert len(result.follow) == follow
    assert len({e.id for e in result.events}) == count
    for event in result.events:
        check_safe(event)
    first = result.events[0]
    if "lat" in checks:
        assert (first.lat, first.lon) == (pytest.approx(checks["lat"]), pytest.approx(checks["lon"]))
    if "entries" in checks:
        assert first.extra["cap"]["index_entries"] == checks["entries"]
    if "severity" in checks:
        assert first.severity is checks["severity"]
    if "geocodes" in checks:
        assert first.extra["cap"]["geocodes"] == checks["geocodes"]
    if "kind" in checks:
        assert first.kind is checks["kind"]
    if "title" in checks:
        assert checks["title"] in first.title


def test_nws_index_id_uses_entry_url_as_identifier(corpus: Path) -> None:
    _, result = run(corpus / "cap-feeds" / "nws_cap-atom_us_2018-08-15.xml")
    first = result.events[0]
    url = (
        "https://alerts.weather.gov/cap/wwacapget.php?x=AK125AB652A170.HighWindWarning."
        "125AB660BDF0AK.AFGNPWNSB.e9d4afdcacb3b7015f58bccc1db60d46"
    )
    assert first.extra["cap"]["identifier"] == url
    assert first.id == cap_event_id("w-nws.webmaster@noaa.gov", url, "2018-08-15T14:52:00-08:00")


def test_index_entry_without_cap_fields_is_followed() -> None:
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"
      xmlns:cap="urn:oasis:names:tc:emergency:cap:1.2"><id>x</id>
      <entry><id>a</id><title>t</title><link href="https://example.org/a.cap"/></entry>
      <entry><id>b</id><title>t</title><link href="javascript:alert(1)"/></entry>
      <entry><id>c</id><title>t</title><link href="https://example.org/c.cap"/>
        <cap:event>Flood Warning</cap:event><cap:sent>2024-01-01T00:00:00Z</cap:sent></entry></feed>"""
    result = detect(atom).parse(atom, FEED, FETCHED)
    assert result.follow == ["https://example.org/a.cap"]
    assert result.follow_format == "cap"
    assert [e.kind for e in result.events] == [Kind.FLOOD]


GEO_FEEDS: dict[str, tuple[str, int, dict]] = {
    # name: (folder, events, checks on events[0])
    "au-act-esa_currentincidents_2013-05-17.xml": ("georss", 8, {"lat": -35.3265209999961, "lon": 149.053015000006}),
    "au-ga-sentinel_hotspots_2013-05-17.xml": ("georss", 112, {"lat": -15.205, "lon": 130.521, "title": "15.205S"}),
    "au-nsw-rfs_majorIncidents_rss_2013-05-17.xml": ("georss", 29, {"lat": -30.8727, "lon": 152.7459}),
    "au-qld-qfrs_bushfireAlert_2013-05-13.xml": ("georss", 357, {"lat": -17.653688, "lon": 145.408889, "link": None}),
    "au-sa-cfs_current-incidents_2013-05-17.xml": ("georss", 11, {"lat": None}),
    "au-tas-fire_bushfire-summaries_2013-05-17.xml": ("georss", 1, {"title": "GEEVESTON"}),
    "au-vic-cfa_in-coming_2013-05-17.rss.xml": ("georss", 9, {"title": "BAYSWATER"}),
    "au-wa-dfes_sharepoint-alerts_2013-05-11.xml": ("georss", 25, {}),
    "emsc_rss_last50_2020-12-30.xml": ("georss", 50, {"lat": 45.65, "lon": 15.52, "title": "ML 1.2 CROATIA"}),
    "ign_sismologia_2019-03-18.xml": (
        "georss",
        4,
        # No date element: the time is read from the item's own words (day first, UTC assumed).
        {"lat": 27.62, "lon": -18.0859, "kind": Kind.EARTHQUAKE, "time": datetime(2019, 3, 18, 19, 34, 55, tzinfo=UTC)},
    ),
    "usgs_4.5_week_atom_2014-05-10.xml": ("georss", 1, {"lat": -23.3213, "lon": 170.27}),
    "usgs_7day-M5_atom_2010-08-31.xml": ("georss", 1, {"lat": -16.0529, "lon": -173.2739}),
    "usgs_all_hour_atom_2018-12-07.xml": (
        "georss",
        20,
        # the quake's origin time from the summary (05:58:25 UTC), not the entry's update time (06:00:28)
        {"lat": 33.5141678, "lon": -116.8001633, "time": datetime(2018, 12, 7, 5, 58, 25, tzinfo=UTC),
         "kind": Kind.EARTHQUAKE},
    ),
    "aktuality-sk_news_rss.xml": ("rss-atom", 30, {}),
    "bbc-news_front-page_2023-11-24.xml": ("rss-atom", 16, {}),
    "bbc-news_front-page_2026-04-25.xml": ("rss-atom", 27, {"time": datetime(2026, 4, 25, 12, 7, 54, tzinfo=UTC)}),
    "bio_rss1.0_rdf.xml": ("rss-atom", 30, {}),
    "blogger_atom_xml-stylesheet.xml": ("rss-atom", 25, {"title": "Bloopers"}),
    "cloudflare-blog_rss.xml": ("rss-atom", 20, {}),
    "daringfireball_atom.xml": ("rss-atom", 48, {}),
    "donthitsave_rss_bom.xml": ("rss-atom", 10, {"title": "Skipping Around"}),
    "heise-online_atom_2026-04-25.xml": ("rss-atom", 150, {}),
    "japantimes_2023-11-25.xml": ("rss-atom", 30, {}),
    "katiefloyd_squarespace_podcast_2016-08-25.xml": ("rss-atom", 20, {}),
    "kc0011_rss_gb2312.xml": ("rss-atom", 20, {"title": "建国35周年纪念", "time": FETCHED}),
    "livemint_news_rss.xml": ("rss-atom", 25, {}),
    "macworld_rss_no-xml-decl.xml": ("rss-atom", 30, {"title": "Best smart lock"}),
    "npr_news_2023-11-24.xml": ("rss-atom", 15, {}),
    "nytimes_homepage_2023-11-24.xml": ("rss-atom", 25, {}),
    "russcox_atom_no-decl.xml": ("rss-atom", 19, {"title": "Transparent Logs"}),
    "scriptingnews_rss_2017-06-26.xml": ("rss-atom", 50, {}),
    "tagesschau_rss_2026-04-25.xml": ("rss-atom", 40, {}),
}


@pytest.mark.parametrize("name", sorted(GEO_FEEDS))
def test_rss_documents(corpus: Path, name: str) -> None:
    folder, count, checks = GEO_FEEDS[name]
    path = corpus / folder / name
    raw = path.read_bytes()
    assert len(re.findall(rb"<(?:item|entry)[\s>]", raw)) == count  # independent count of the document
    fmt, result = run(path)
    assert fmt == "rss"
    assert len(result.events) == count
    for event in result.events:
        check_safe(event)
        assert event.id.startswith("rss:")
        assert event.kind in (
            Kind.NEWS,
            Kind.EARTHQUAKE,
            Kind.FIRE,
            Kind.FLOOD,
            Kind.CYCLONE,
            Kind.VOLCANO,
            Kind.TSUNAMI,
            Kind.TRAFFIC,  # agency incident feeds (#18): a car crash is traffic, a storm weather
            Kind.WEATHER,
            Kind.INCIDENT,
        )
    first = result.events[0]
    if "lat" in checks:
        if checks["lat"] is None:
            assert first.lat is None and first.lon is None
        else:
            assert (first.lat, first.lon) == (pytest.approx(checks["lat"]), pytest.approx(checks["lon"]))
    if "title" in checks:
        assert checks["title"] in first.title
    if "kind" in checks:
        assert first.kind is checks["kind"]
    if "time" in checks:
        assert first.time == checks["time"]
    if "link" in checks:
        assert first.link == checks["link"]
    # a re-poll gives the same ids
    assert [e.id for e in run(path)[1].events] == [e.id for e in result.events]


def test_gdacs_documents(corpus: Path) -> None:
    for name, count in (("gdacs_rss_2019-12-30.xml", 4), ("gdacs_rss_24h_2019-07-17.xml", 33)):
        path = corpus / "gdacs" / name
        assert len(re.findall(rb"<item[\s>]", path.read_bytes())) == count
        fmt, result = run(path)
        assert fmt == "gdacs"
        assert len(result.events) == count
        for event in result.events:
            check_safe(event)
            gd = event.extra["gdacs"]
            assert event.id == f"gdacs:{gd['eventtype']}{gd['eventid']}"
    _, result = run(corpus / "gdacs" / "gdacs_rss_2019-12-30.xml")
    tc, eq = result.events[0], result.events[1]
    assert (tc.id, tc.kind, tc.severity, tc.lat, tc.lon) == (
        "gdacs:TC1000643",
        Kind.CYCLONE,
        Severity.MINOR,
        -19.4,
        59.8,
    )
    assert tc.extra["gdacs"]["bbox"][0] == pytest.approx(55.0780533046962)
    assert tc.time == datetime(2019, 12, 29, 12, tzinfo=UTC)
    assert (eq.kind, eq.magnitude, eq.depth_km) == (Kind.EARTHQUAKE, 5.5, 10.0)


def test_gdacs_new_episode_updates_same_event(corpus: Path) -> None:
    data = (corpus / "gdacs" / "gdacs_rss_2019-12-30.xml").read_bytes()
    bumped = data.replace(b"<gdacs:episodeid>1</gdacs:episodeid>", b"<gdacs:episodeid>2</gdacs:episodeid>", 1)
    before = get_source("gdacs").parse(data, FEED, FETCHED).events[0]
    after = get_source("gdacs").parse(bumped, FEED, FETCHED).events[0]
    assert before.id == after.id
    assert before.fingerprint() != after.fingerprint()


def test_quakeml(corpus: Path) -> None:
    fmt, result = run(corpus / "quakeml" / "ingv_fdsnws-event_quakeml_2022-03-01.xml")
    assert fmt == "quakeml"
    [event] = result.events
    check_safe(event)
    assert event.id == "quakeml:smi:webservices.ingv.it/fdsnws/event/1/query?eventId=30116321"
    assert (event.kind, event.magnitude, event.depth_km) == (Kind.EARTHQUAKE, 2.6, 14.5)
    assert (event.lat, event.lon) == (42.5218, 13.3833)
    assert event.place == "4 km S Campotosto (AQ)"
    assert event.time == datetime(2022, 3, 1, 22, 53, 55, 680000, tzinfo=UTC)


# hostile/: None = must be refused; an int = defused to that many events (all safe)
HOSTILE: dict[str, int | None] = {
    "cap_atom_invalid-element.xml": 1,  # plain Atom (no cap ns): one harmless news entry
    "cap_atom_no-id.xml": 0,  # no CAP fields, no link: nothing
    "cap_environment-canada_errors.xml": 1,  # empty <references/> ignored with a warning
    "cap_invalid-namespace_taiwan.xml": None,  # not a CAP namespace
    "cap_missing-scope.xml": 1,  # kept, warned
    "cap_nws-atom_invalid.xml": 0,  # embedded alert with identifier "INVALID, " dropped
    "cap_nws_empty-references_2011-07-10.xml": 1,  # malformed polygons refused, alert kept unplaced
    "cap_xxe_alert.xml": None,
    "cap_xxe_nws-atom.xml": None,
    "defusedxml_billion-laughs_xmlbomb.xml": None,
    "defusedxml_cyclic-entities.xml": None,
    "defusedxml_external-dtd.xml": None,  # an XHTML page, not a feed
    "defusedxml_external-entity-file.xml": None,
    "defusedxml_external-entity-http.xml": None,
    "defusedxml_quadratic-blowup.xml": None,
    "defusedxml_xmlbomb2.xml": None,
    "feedparser_aaa_illformed.xml": 0,
    "feedparser_always_strip_doctype.xml": 0,
    "feedparser_bozo_bogus_encoding.xml": 0,
    "feedparser_bozo_double-encoded-html.xml": 1,
    "feedparser_bozo_encoding_mismatch_crash.xml": 1,
    "feedparser_bozo_invalid-bytes-with-bom.xml": 0,
    "feedparser_bozo_linenoise.xml": 1,
    "feedparser_chardet_big5_undeclared.xml": 0,
    "feedparser_chardet_koi8r_undeclared.xml": 1,
    "feedparser_chardet_shiftjis_undeclared.xml": 1,
    "feedparser_chardet_windows1255_undeclared.xml": 1,
    "feedparser_demoronize-1_cp1252.xml": 1,
    "feedparser_encoding_attribute_crash.xml": 0,
    "feedparser_georss_point_no_coords.xml": 0,
    "feedparser_georss_polygon_insufficient_coords.xml": 0,
    "feedparser_gml_point_without_where.xml": 0,
    "feedparser_http_high_bit_date.xml": 0,
    "feedparser_rdf_channel_empty_textinput.xml": 1,
    "feedparser_rss_empty_document.xml": None,
    "feedparser_rss_incomplete_cdata.xml": 0,
    "feedparser_rss_item_link_corrupted_ampersands.xml": 1,
    "feedparser_sanitize_entry_content_crazy.xml": 1,
    "feedparser_sanitize_entry_content_iframe.xml": 1,
    "feedparser_sanitize_entry_content_onabort.xml": 0,
    "feedparser_sanitize_entry_content_script_base64.xml": 1,
    "feedparser_sanitize_entry_summary_script_map_description.xml": 1,
    "feedparser_undeclared_namespace.xml": 0,
    "feedparser_utf-16le-bom.xml": 0,
    "feedparser_utf-32be-autodetect.xml": 0,
    "feedparser_utf-8-bom.xml": 0,
    "gdacs_bbox-only-entry_edited-2019.xml": 0,
    "gdacs_double-encoded-bom_2024-12-10.xml": 2,
    "pelmorex-naads_atom_declared-utf8-but-latin1_2014-05-10.xml": 0,  # its one entry is followed
    "rss_nyalert_invalid-empty-item.xml": 0,
    "rss_phpxml-declaration_fcutrecht_2021-09-07.xml": 20,
}


def test_every_hostile_xml_file_is_listed(corpus: Path) -> None:
    on_disk = {p.name for p in (corpus / "hostile").glob("*.xml")}
    assert on_disk == set(HOSTILE)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_refused_or_defused(corpus: Path, name: str) -> None:
    expected = HOSTILE[name]
    data = (corpus / "hostile" / name).read_bytes()
    start = time.monotonic()
    if expected is None:
        with pytest.raises(DocumentRefused) as info:
            detect(data).parse(data, FEED, FETCHED)
        reason = str(info.value)
        assert reason and "\n" not in reason
    else:
        result = detect(data).parse(data, FEED, FETCHED)
        assert len(result.events) == expected
        for event in result.events:
            check_safe(event)
            assert "javascript:" not in (event.link or "")
    assert time.monotonic() - start < TIME_LIMIT_S


def test_hostile_reasons_are_specific(corpus: Path) -> None:
    def reason(name: str) -> str:
        data = (corpus / "hostile" / name).read_bytes()
        with pytest.raises(DocumentRefused) as info:
            detect(data).parse(data, FEED, FETCHED)
        return str(info.value)

    assert "DTD" in reason("cap_xxe_alert.xml")
    assert "entities" in reason("defusedxml_billion-laughs_xmlbomb.xml")
    assert "not a CAP namespace" in reason("cap_invalid-namespace_taiwan.xml")
    assert "not an RSS/Atom feed" in reason("defusedxml_external-dtd.xml")


def test_hostile_warnings(corpus: Path) -> None:
    def warnings(name: str) -> str:
        data = (corpus / "hostile" / name).read_bytes()
        return " | ".join(detect(data).parse(data, FEED, FETCHED).warnings)

    assert "empty <references>" in warnings("cap_environment-canada_errors.xml")
    assert "polygon refused" in warnings("cap_nws_empty-references_2011-07-10.xml")
    assert "<scope> is missing" in warnings("cap_missing-scope.xml")
    assert "not valid UTF-8" in warnings("pelmorex-naads_atom_declared-utf8-but-latin1_2014-05-10.xml")
    assert "double-encoded" in warnings("gdacs_double-encoded-bom_2024-12-10.xml")
    assert "bounding box" in warnings("gdacs_bbox-only-entry_edited-2019.xml") or "eventtype" in warnings(
        "gdacs_bbox-only-entry_edited-2019.xml"
    )
    assert "CharacterEncodingOverride" in warnings("feedparser_chardet_koi8r_undeclared.xml")


def test_pelmorex_index_follows_cap_link(corpus: Path) -> None:
    _, result = run(corpus / "hostile" / "pelmorex-naads_atom_declared-utf8-but-latin1_2014-05-10.xml")
    assert result.follow == [
        "http://capcp2.naad-adna.pelmorex.com/2014-05-10/2014_05_10T02_17_00_00_00I2.49.0.1.124.41b6352f.2014.xml"
    ]


# ---- CAP units -----------------------------------------------------------------------------


def test_polygon_is_lat_lon_in_cap_and_lon_lat_in_geojson() -> None:
    warnings: list[str] = []
    poly = polygon_from_cap("10,20 10,21 11,21 11,20 10,20", warnings)
    assert poly is not None and not warnings
    assert list(poly.exterior.coords)[0] == (20.0, 10.0)  # (lon, lat)


def test_unclosed_polygon_is_closed_with_warning_and_short_one_refused() -> None:
    warnings: list[str] = []
    poly = polygon_from_cap("10,20 10,21 11,21", warnings)
    assert poly is not None and len(poly.exterior.coords) == 4
    assert any("not closed" in w for w in warnings)
    warnings.clear()
    assert polygon_from_cap("10,20 10,21 10,20", warnings) is None
    assert any("at least 4" in w for w in warnings)
    warnings.clear()
    assert polygon_from_cap("95,20 10,21 11,21 95,20", warnings) is None
    assert any("out of range" in w for w in warnings)


def test_circle_is_lat_lon_radius_km() -> None:
    warnings: list[str] = []
    got = circle_from_cap("-35.3888,147.0598 25.0", warnings)
    assert got is not None
    geom, info = got
    assert info == {"lat": -35.3888, "lon": 147.0598, "radius_km": 25.0}
    assert len(geom.exterior.coords) == 33  # 32 points, closed
    centre = geom.centroid
    assert (centre.y, centre.x) == (pytest.approx(-35.3888, abs=1e-3), pytest.approx(147.0598, abs=1e-3))
    minx, miny, maxx, maxy = geom.bounds
    assert (maxy - miny) / 2 * 111.32 == pytest.approx(25.0, rel=0.01)
    point, _ = circle_from_cap("51.885,-131.076 0.0", warnings)
    assert (point.x, point.y) == (-131.076, 51.885)


ALERT = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{ident}</identifier><sender>test@example.org</sender><sent>{sent}</sent>
  <status>Actual</status><msgType>{msg}</msgType><scope>Public</scope>{refs}
  <info><category>Met</category><event>Flood Warning</event><urgency>Expected</urgency>
    <severity>Severe</severity><certainty>Likely</certainty><headline>River <script>x</script>flood</headline>
    <web>javascript:alert(1)</web>
    <area><areaDesc>Town</areaDesc><polygon>45,-100 45,-99 46,-99 46,-100 45,-100</polygon>
      <circle>40,-90 10</circle><geocode><valueName>SAME</valueName><value>012345</value></geocode></area>
  </info></alert>"""


def test_cap_update_references_the_alert_it_updates() -> None:
    cap = get_source("cap")
    original = ALERT.format(ident="A-1", sent="2024-05-01T10:00:00-05:00", msg="Alert", refs="")
    update = ALERT.format(
        ident="A-2",
        sent="2024-05-01T12:00:00-05:00",
        msg="Update",
        refs="<references>test@example.org,A-1,2024-05-01T10:00:00-05:00</references>",
    )
    [first] = cap.parse(original.encode(), FEED, FETCHED).events
    [second] = cap.parse(update.encode(), FEED, FETCHED).events
    assert second.extra["cap"]["references_ids"] == [first.id]
    assert first.id == cap_event_id("test@example.org", "A-1", "2024-05-01T15:00:00Z")  # same instant
    assert first.kind is Kind.FLOOD and first.severity is Severity.SEVERE
    assert first.title == "River flood" and first.link is None
    assert first.geometry["type"] == "MultiPolygon" and len(first.extra["circles"]) == 1
    assert first.extra["cap"]["geocodes"] == {"SAME": ["012345"]}
    from shapely.geometry import shape

    assert shape(first.geometry).contains(shape({"type": "Point", "coordinates": [first.lon, first.lat]}))


def test_cap_with_doctype_is_refused() -> None:
    doc = ALERT.format(ident="A-1", sent="2024-05-01T10:00:00Z", msg="Alert", refs="")
    doc = doc.replace("?>", '?>\n<!DOCTYPE alert SYSTEM "http://example.org/cap.dtd">', 1)
    with pytest.raises(DocumentRefused, match="DTD"):
        get_source("cap").parse(doc.encode(), FEED, FETCHED)


def test_exercise_status_marks_event() -> None:
    doc = ALERT.format(ident="A-1", sent="2024-05-01T10:00:00Z", msg="Alert", refs="").replace(
        "<status>Actual</status>", "<status>Exercise</status>"
    )
    [event] = get_source("cap").parse(doc.encode(), FEED, FETCHED).events
    assert event.exercise and event.extra["cap"]["status"] == "Exercise"


def test_rss_geo_validation_and_html_refusal() -> None:
    rss = get_source("rss")
    doc = b"""<?xml version="1.0"?><rss version="2.0" xmlns:georss="http://www.georss.org/georss"><channel>
      <item><guid>g1</guid><title>&lt;script&gt;x&lt;/script&gt;Fire</title><link>javascript:alert(1)</link>
        <pubDate>2030-13-45T99:00Z</pubDate><georss:point>150.5 -33.9</georss:point></item>
      <item><guid>g2</guid><title>nowhere</title><georss:point>NaN 10</georss:point></item>
      <item><guid>g3</guid><title>null island</title><georss:point>0 0</georss:point></item>
    </channel></rss>"""
    result = rss.parse(doc, FEED, FETCHED)
    swapped, nan, null = result.events
    assert "<script" not in swapped.title and swapped.link is None
    assert swapped.time == FETCHED and any("date refused" in w for w in swapped.warnings)
    assert (swapped.lat, swapped.lon) == (-33.9, 150.5) and any("swapped" in w for w in swapped.warnings)
    assert nan.lat is None and null.lat is None
    assert swapped.id == "rss:" + __import__("feeds.model").model.stable_hash("g1")
    login = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body><form>pw</form></body></html>"
    with pytest.raises(DocumentRefused, match="not an RSS/Atom feed"):
        rss.parse(login, FEED, FETCHED)
    empty = b'<?xml version="1.0"?><rss version="2.0"><channel><title>quiet</title></channel></rss>'
    assert rss.parse(empty, FEED, FETCHED).events == []


def test_rss_never_opens_a_path_named_by_the_body(tmp_path: Path) -> None:
    secret = tmp_path / "secret.xml"
    secret.write_bytes(b'<rss version="2.0"><channel><item><title>SECRET</title></item></channel></rss>')
    with pytest.raises(DocumentRefused):
        get_source("rss").parse(str(secret).encode(), FEED, FETCHED)


def test_sniff_priorities(corpus: Path) -> None:
    gdacs = (corpus / "gdacs" / "gdacs_rss_2019-12-30.xml").read_bytes()
    index = (corpus / "cap-feeds" / "nws_cap-atom_us_2018-08-15.xml").read_bytes()
    news = (corpus / "rss-atom" / "npr_news_2023-11-24.xml").read_bytes()
    assert detect(gdacs).name == "gdacs"
    assert detect(index).name == "cap-index"
    assert detect(news).name == "rss"


def _rss_with_date(date: str, link: str) -> bytes:
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>{link}</link>'
            f"<item><title>Grass fire</title><guid>g1</guid><pubDate>{date}</pubDate></item></channel></rss>").encode()


def test_est_in_an_australian_feed_is_australian_eastern_time():
    now = datetime.now(UTC)
    feed = FeedConfig(id="au", url="https://x/")
    events = get_source("rss").parse(_rss_with_date("17 May 2013 20:33:01 EST", "http://esa.act.gov.au/"), feed, now).events
    assert events[0].time == datetime(2013, 5, 17, 10, 33, 1, tzinfo=UTC)
    assert any("read as Australian" in w for w in events[0].warnings)


def test_est_elsewhere_is_us_eastern_and_the_assumption_is_recorded():
    now = datetime.now(UTC)
    feed = FeedConfig(id="us", url="https://x/")
    events = get_source("rss").parse(_rss_with_date("17 May 2013 20:33:01 EST", "https://example.com/"), feed, now).events
    assert events[0].time == datetime(2013, 5, 18, 1, 33, 1, tzinfo=UTC)
    assert any("ambiguous" in w for w in events[0].warnings)
    configured = FeedConfig(id="au2", url="https://x/", country="AU")
    again = get_source("rss").parse(_rss_with_date("17 May 2013 20:33:01 EST", "https://example.com/"), configured, now).events
    assert again[0].time.hour == 10


# -- text that displays as something else (issue 12, item 5) --------------------------------------------------
BIDI_RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>t</title>
<item><guid>b1</guid><title>Shelter at \u202egnidliub\u202c City Hall \u2066now\u2069</title>
<description>Evacuate &amp;lt;b&amp;gt;Zone A&amp;lt;/b&amp;gt; &amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;
water level 3 &amp;lt; 5 m</description><pubDate>Thu, 01 Jan 2026 00:00:00 GMT</pubDate></item>
</channel></rss>""".encode()


def test_bidi_overrides_and_twice_encoded_markup_never_reach_a_screen() -> None:
    (event,) = get_source("rss").parse(BIDI_RSS, FEED, FETCHED).events
    check_safe(event)
    for text in (event.title, event.text):
        assert not set(text) & {chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]}, repr(text)
    assert event.title == "Shelter at gnidliub City Hall now"
    assert "<b>" not in event.text and "Zone A" in event.text and "alert(1)" not in event.text
    assert "3 < 5 m" in event.text  # a comparison written as an entity is text, kept
