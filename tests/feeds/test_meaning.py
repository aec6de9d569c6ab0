"""Read as a reader reads (#18): each capture's events mean what their source says.

The table below is what an analyst reading each capture expects of its events: their kind, where
their time comes from (when it happened, not when it was published), whether they carry a
magnitude, and which severity rule applies. It was written by reading the documents, not from the
adapters' output. Every capture of the corpus that yields events must be in it.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feeds.contract import DocumentRefused, FeedConfig
from feeds.meaning import (
    METEOALARM_TYPES,
    alert_colour,
    magnitude_number,
    magnitude_severity,
    meteoalarm_kind,
    quake_severity,
    warning_kind,
)
from feeds.model import Event, Kind, Severity
from workers.ingest import parse_document

ROOT = Path(__file__).resolve().parents[2]
K = Kind


@dataclass(frozen=True)
class Reader:
    """What a reader expects of every event of one capture."""

    kinds: frozenset[Kind]
    time: str  # a pattern the provenance's time field must match
    magnitude: str = "none"  # all | none | some (some: the events that state one)
    severity: str = "any"  # quake: the one quake rule | level: from the agency's alert level | any
    source: str | None = None


def reader(kinds: set[Kind], time: str, **kw: str) -> Reader:
    return Reader(frozenset(kinds), time, **kw)


CAP_TIME = r"^(info/parameter EventTime|info/onset|alert/sent)$"
NEWS = reader({K.NEWS, K.FLOOD, K.FIRE, K.EARTHQUAKE, K.CYCLONE, K.VOLCANO, K.TSUNAMI}, r"^(published|updated|fetched_at)$",
              source="rss")
EXPECTED: dict[str, Reader] = {
    # CAP: kind from the event, time when it happens
    "cap/athoc-ipaws_cancel_no-info_signed_2016-02-25.xml": reader({K.OTHER}, "^alert/sent$"),
    "cap/bom-australia_cap-au_2019-01-16.xml": reader({K.WEATHER}, CAP_TIME),
    "cap/environment-canada_cap-cp_2012-05-02.xml": reader({K.WEATHER}, CAP_TIME),
    "cap/environment-canada_naads_urn-oid_2019-07-12.xml": reader({K.WEATHER}, CAP_TIME),
    "cap/environment-canada_signed_2012.xml": reader({K.WEATHER}, CAP_TIME),
    "cap/icelandic-met-office_cap_2021-09-10.xml": reader({K.WEATHER}, "^info/onset$"),
    "cap/krisinformation-sweden_cap_2018-11-21.xml": reader({K.OTHER}, CAP_TIME),  # "important public message"
    "cap/met-eireann_cap_2022-12-06.xml": reader({K.WEATHER}, "^info/onset$"),
    "cap/met-office-uk_cap_2022-12-07.xml": reader({K.WEATHER}, "^info/onset$"),
    "cap/meteo-france_cap_2022-12-07.xml": reader({K.WEATHER}, "^info/onset$"),  # the Alps avalanche warning
    "cap/mexico-smn_tropical-cyclone_2018-10-20.xml": reader({K.CYCLONE}, CAP_TIME),
    "cap/nsw-rfs_cap-au_2011-10-05.xml": reader({K.FIRE}, CAP_TIME),
    "cap/nsw-rfs_edxl-de_georss_2014-05-08.xml": reader({K.TRAFFIC}, CAP_TIME),  # "MVA Gwandalan"
    "cap/ntwc_tsunami-information_signed_2022-06-05.xml": reader({K.TSUNAMI}, CAP_TIME),
    "cap/nws_flash-flood-watch_cap11_2010-08-30.xml": reader({K.FLOOD}, CAP_TIME),
    "cap/oasis_cap12_amber-alert_example.xml": reader({K.INCIDENT}, CAP_TIME),
    "cap/pagasa-philippines_tc-test_2014-11-03.xml": reader({K.CYCLONE}, CAP_TIME),
    "cap/smhi-sweden_alerts-container_2019-03-12.xml": reader({K.WEATHER}, "^info/onset$"),
    "cap/taiwan-wra_reservoir_bom_2014-05-14.xml": reader({K.INCIDENT}, CAP_TIME),
    "cap/usgs_earthquake_cap11_2010-08-31.xml": reader({K.EARTHQUAKE}, "^info/parameter EventTime$",
                                                       magnitude="all", severity="quake"),
    "cap/usgs_earthquake_iso8859-1_2012-10-14.xml": reader({K.EARTHQUAKE}, "^info/parameter EventTime$",
                                                           magnitude="all", severity="quake"),
    "cap/wcatwc_tsunami-warning_2011-09-02.xml": reader({K.TSUNAMI}, "^info/onset$"),
    # CAP indexes: Meteoalarm's warnings are weather, timed by their onset
    "cap-feeds/krisinformation-sweden_atom_2018-11-21.xml": reader({K.OTHER, K.WEATHER}, "^entry/cap:sent"),
    "cap-feeds/meteoalarm_legacy-atom_france_2022-12-08.xml": reader({K.WEATHER}, "^entry/cap:onset$"),
    "cap-feeds/meteoalarm_legacy-atom_poland_2023-04-28.xml": reader({K.WEATHER}, "^entry/cap:onset$"),
    "cap-feeds/meteoalarm_legacy-atom_uk_2022-12-08.xml": reader({K.WEATHER}, "^entry/cap:onset$"),
    "cap-feeds/nws_cap-atom_oregon_2014-05-09.xml": reader({K.WEATHER}, "^entry/cap:"),
    "cap-feeds/nws_cap-atom_us_2014-05-10.xml": reader({K.WEATHER}, "^entry/cap:"),
    "cap-feeds/nws_cap-atom_us_2018-08-15.xml": reader({K.WEATHER, K.FLOOD, K.FIRE}, "^entry/cap:"),
    "cap-feeds/nws_cap-atom_weather-index_2010-08-31.xml": reader({K.WEATHER}, "^entry/cap:"),
    # satellite fire detections and quake catalogues
    "csv/firms_modis_c61_usa_24h_2025-03-25.csv": reader({K.FIRE}, "^acq_date"),
    "csv/firms_modis_c6_usa_24h_2020-09-30.csv": reader({K.FIRE}, "^acq_date"),
    "csv/firms_viirs_snpp_south-america_24h_2023-11-02.csv": reader({K.FIRE}, "^acq_date"),
    "csv/gdelt1_events_export_mixed-2013-2016.tsv": reader({K.NEWS, K.SECURITY}, "^SQLDATE"),  # coded news events
    "csv/usgs_all_day_2019-09-27.csv": reader({K.EARTHQUAKE, K.OTHER}, "^time$", magnitude="all", severity="quake"),
    "gdacs/gdacs_rss_2019-12-30.xml": reader({K.CYCLONE, K.EARTHQUAKE, K.DROUGHT}, "^gdacs:fromdate",
                                             magnitude="some", severity="quake"),
    "gdacs/gdacs_rss_24h_2019-07-17.xml": reader({K.FLOOD, K.DROUGHT, K.EARTHQUAKE, K.CYCLONE}, "^gdacs:fromdate",
                                                 magnitude="some", severity="quake"),
    # agency feeds that travel as GeoRSS: read by their profile, never as news
    "georss/au-act-esa_currentincidents_2013-05-17.xml": reader({K.TRAFFIC, K.FIRE}, "TIME OF CALL",
                                                                 severity="level", source="rss:agency-fields"),
    "georss/au-ga-sentinel_hotspots_2013-05-17.xml": reader({K.FIRE}, "OBS TIME", source="rss:agency-fields"),
    "georss/au-nsw-rfs_majorIncidents_rss_2013-05-17.xml": reader({K.FIRE, K.INCIDENT}, "^published$",
                                                                   severity="level", source="rss:agency-fields"),
    "georss/au-qld-qfrs_bushfireAlert_2013-05-13.xml": reader({K.FIRE}, "REPORTED", severity="level",
                                                               source="rss:agency-fields"),
    "georss/au-sa-cfs_current-incidents_2013-05-17.xml": reader({K.FIRE, K.INCIDENT, K.TRAFFIC, K.WEATHER},
                                                                 "FIRST REPORTED", source="rss:agency-fields"),
    "georss/au-tas-fire_bushfire-summaries_2013-05-17.xml": reader({K.FIRE}, "^published$", severity="level",
                                                                    source="rss:agency-fields"),
    "georss/au-vic-cfa_in-coming_2013-05-17.rss.xml": reader({K.FIRE, K.INCIDENT}, "START DATE/TIME",
                                                              source="rss:agency-fields"),
    "georss/au-wa-dfes_sharepoint-alerts_2013-05-11.xml": reader({K.WEATHER, K.FIRE}, "^published$",
                                                                  source="rss:agency-fields"),
    "georss/emsc_rss_last50_2020-12-30.xml": reader({K.EARTHQUAKE}, "^emsc:time", magnitude="all", severity="quake",
                                                    source="rss:emsc"),
    "georss/ign_sismologia_2019-03-18.xml": reader({K.EARTHQUAKE}, r"^(title\|summary|fetched_at)$", magnitude="some",
                                                   severity="quake", source="rss:ign-sismologia"),
    "georss/usgs_4.5_week_atom_2014-05-10.xml": reader({K.EARTHQUAKE}, "origin time", magnitude="all",
                                                       severity="quake", source="rss:usgs-atom"),
    "georss/usgs_7day-M5_atom_2010-08-31.xml": reader({K.EARTHQUAKE}, "origin time", magnitude="all",
                                                      severity="quake", source="rss:usgs-atom"),
    "georss/usgs_all_hour_atom_2018-12-07.xml": reader({K.EARTHQUAKE}, "origin time", magnitude="all",
                                                       severity="quake", source="rss:usgs-atom"),
    # NSW RFS GeoJSON and NWS alerts
    **{f"incidents-geojson/{name}": reader({K.FIRE, K.INCIDENT, K.TRAFFIC, K.WEATHER}, "UPDATED", severity="level")
       for name in ("nsw-rfs_majorIncidents_2020-03-04_polygons.json", "nsw-rfs_majorIncidents_2020-03-10.json",
                    "nsw-rfs_majorIncidents_2020-03-19.json", "nsw-rfs_majorIncidents_raw_2024-12-06.json")},
    "nws-geojson/alerts_active_urn-oid_az_2024-07-18.json": reader({K.WEATHER}, "^properties.onset"),
    "nws-geojson/alerts_active_zone_2019-12-20.json": reader({K.FLOOD}, "^properties.onset"),
    "nws-geojson/alerts_active_zone_second_2019-12-20.json": reader({K.FLOOD}, "^properties.onset"),
    "other/reliefweb_disaster_25466.json": reader({K.FLOOD}, "^fields.date.event"),
    "other/reliefweb_disaster_25846.json": reader({K.FLOOD}, "^fields.date.event"),
    "quakeml/ingv_fdsnws-event_quakeml_2022-03-01.xml": reader({K.EARTHQUAKE}, "^origin/time", magnitude="all",
                                                               severity="quake"),
    **{f"usgs-geojson/{name}": reader({K.EARTHQUAKE, K.VOLCANO, K.OTHER}, "^properties.time$", magnitude="all",
                                      severity="quake")
       for name in ("4.5_week_2018-06-12_api1.5.8.json", "all_day_2016-11-03_api1.5.2.json",
                    "all_week_2013-08-16_api1.0.9.json", "significant_month_2014-03-24_api1.0.13.json",
                    "significant_month_2020-06-08_api1.9.1.json", "significant_month_2023-10-11_api1.10.3.json")},
}
NEWS_CAPTURES = "rss-atom/"  # every news capture: news (or the hazard its title names), timed by its date
LEVEL_SEVERITIES = {Severity.UNKNOWN, Severity.MINOR, Severity.SEVERE, Severity.EXTREME}


def _parse(path: Path) -> list[Event]:
    feed = FeedConfig(id="reader", url="https://reader.invalid/", name=path.name)
    return parse_document(path.read_bytes(), feed, datetime(2026, 12, 4, tzinfo=UTC)).events


def _captures(corpus: Path) -> list[Path]:
    return sorted(p for p in corpus.rglob("*") if p.is_file() and p.suffix in (".xml", ".json", ".csv", ".tsv")
                  and "hostile" not in p.parts and p.name != "SOURCES.tsv")


def quake_rule_holds(event: Event) -> bool:
    """Severity between the magnitude's band and the band of a quake one magnitude bigger."""
    if event.magnitude is None:
        return True
    low, high = magnitude_severity(event.magnitude), magnitude_severity(event.magnitude + 1.0)
    return low.rank <= event.severity.rank <= high.rank


def test_every_capture_that_yields_events_has_a_readers_row(corpus: Path) -> None:
    missing = []
    for path in _captures(corpus):
        rel = path.relative_to(corpus).as_posix()
        if rel in EXPECTED or rel.startswith(NEWS_CAPTURES):
            continue
        try:
            if _parse(path):
                missing.append(rel)
        except DocumentRefused:
            continue
    assert missing == []


@pytest.mark.parametrize("relpath", sorted(EXPECTED))
def test_each_event_means_what_its_source_says(corpus: Path, relpath: str) -> None:
    want = EXPECTED[relpath]
    events = _parse(corpus / relpath)
    assert events, relpath
    assert {e.kind for e in events} <= want.kinds, {e.kind for e in events} - want.kinds
    for event in events:
        assert re.search(want.time, event.provenance["fields"]["time"]), (event.title, event.provenance["fields"]["time"])
        if want.source:
            assert event.source == want.source
        if want.magnitude == "all":
            assert event.magnitude is not None, event.title
        if want.magnitude == "none":
            assert event.magnitude is None, event.title
        if want.severity == "quake" and event.kind is Kind.EARTHQUAKE:
            assert quake_rule_holds(event), (event.title, event.magnitude, event.severity)
        if want.severity == "level" and event.extra.get("alert_level"):
            assert event.severity in LEVEL_SEVERITIES
    if want.magnitude == "some":
        assert any(e.magnitude is not None for e in events if e.kind is Kind.EARTHQUAKE)


def test_news_captures_stay_news_timed_by_their_date(corpus: Path) -> None:
    for path in _captures(corpus / NEWS_CAPTURES.rstrip("/")):
        for event in _parse(path):
            assert event.kind in NEWS.kinds and event.source == "rss", (path.name, event.title)
            assert re.search(NEWS.time, event.provenance["fields"]["time"])
            assert event.magnitude is None


def test_no_quake_in_any_feed_outranks_a_quake_a_whole_magnitude_bigger(corpus: Path) -> None:
    quakes = [e for path in _captures(corpus) if not path.relative_to(corpus).as_posix().startswith(NEWS_CAPTURES)
              for e in _safe_parse(path) if e.kind is Kind.EARTHQUAKE and e.magnitude is not None]
    assert len(quakes) > 2000 and len({e.source for e in quakes}) >= 7, {e.source for e in quakes}
    by_magnitude = sorted(quakes, key=lambda e: e.magnitude)
    # for each quake, the highest rank of any quake at least a whole magnitude smaller
    ranks = [(e.magnitude, e.severity.rank, e) for e in by_magnitude]
    best = -1
    j = 0
    for magnitude, rank, event in ranks:
        while j < len(ranks) and ranks[j][0] <= magnitude - 1.0:
            best = max(best, ranks[j][1])
            j += 1
        assert best <= rank, f"{event.source} {event.title} (M{magnitude}, {event.severity.value}) is outranked"


def _safe_parse(path: Path) -> list[Event]:
    try:
        return _parse(path)
    except DocumentRefused:
        return []


def test_the_quake_rule_over_every_magnitude_and_alert_level() -> None:
    magnitudes = [m / 10 for m in range(-10, 100)]
    alerts = [None, *Severity]
    for (m1, a1), (m2, a2) in itertools.product(itertools.product(magnitudes, alerts), repeat=2):
        if m2 >= m1 + 1.0:
            assert quake_severity(m1, a1).rank <= quake_severity(m2, a2).rank, (m1, a1, m2, a2)
    for m in magnitudes:
        for alert in alerts:
            assert quake_severity(m, alert).rank >= magnitude_severity(m).rank  # an alert never lowers
    assert quake_severity(6.3, Severity.EXTREME) is Severity.EXTREME  # red PAGER on a M 6.3 raises it
    assert quake_severity(5.0, Severity.EXTREME) is Severity.SEVERE  # ... but not above a M 6.0's band
    assert quake_severity(6.9, Severity.MINOR) is Severity.SEVERE  # green never lowers a M 6.9
    assert quake_severity(None, Severity.SEVERE) is Severity.SEVERE and quake_severity(None) is Severity.UNKNOWN


def test_words_and_numbers_of_the_sources() -> None:
    assert [magnitude_number(t) for t in ("ML 1.2", "M 4.5 - 10km", "mb4.9", "Mw 7.1", "magnitud 3.1")] == [
        1.2, 4.5, 4.9, 7.1, 3.1]
    assert magnitude_number("M 12") is None and magnitude_number(None) is None
    assert alert_colour("Red") is Severity.EXTREME and alert_colour("pending") is None
    # every Meteoalarm awareness type is a kind of hazard, never "other"
    assert all(kind is not Kind.OTHER for kind in METEOALARM_TYPES.values()) and len(METEOALARM_TYPES) == 12
    assert meteoalarm_kind("3; thunderstorm") is Kind.WEATHER and meteoalarm_kind("12; flooding") is Kind.FLOOD
    assert meteoalarm_kind("8; forest-fire") is Kind.FIRE and meteoalarm_kind("nonsense") is None
    names = {"Yellow Thunderstorm Warning": K.WEATHER, "Moderate avalanches warning": K.WEATHER, "Frost": K.WEATHER,
             "Orange Rain-Flood Warning": K.FLOOD, "Forest-fire warning": K.FIRE, "Road closure: Pacific Highway": K.TRAFFIC,
             "Low-temperature warning": K.WEATHER, "Coastal event warning": K.FLOOD, "Quarterly results": None}
    assert {name: warning_kind(name) for name in names} == names


def test_the_alps_avalanche_warning_is_weather_on_its_alert_time(corpus: Path) -> None:
    (event,) = _parse(corpus / "cap" / "meteo-france_cap_2022-12-07.xml")
    assert event.kind is Kind.WEATHER and event.time.isoformat() == event.extra["cap"]["onset"].replace("Z", "+00:00")


def test_a_quake_from_each_quake_source_has_magnitude_depth_and_origin_time(corpus: Path) -> None:
    cases = {
        "georss/usgs_all_hour_atom_2018-12-07.xml": (1.2, 4.48, "2018-12-07T05:58:25+00:00"),
        "georss/emsc_rss_last50_2020-12-30.xml": (1.2, 13.0, "2020-12-30T21:37:51+00:00"),
        "cap/usgs_earthquake_cap11_2010-08-31.xml": (6.3, 38.7, "2010-08-30T23:25:40+00:00"),
        "georss/usgs_7day-M5_atom_2010-08-31.xml": (5.3, 38.7, "2010-08-30T23:25:40+00:00"),
    }
    for relpath, (magnitude, depth, origin) in cases.items():
        first = _parse(corpus / relpath)[0]
        assert (first.kind, first.magnitude, first.depth_km, first.time.isoformat()) == (
            Kind.EARTHQUAKE, magnitude, pytest.approx(depth), origin), relpath
        assert first.severity is quake_severity(magnitude)


def test_an_australian_bush_fire_is_a_fire_with_its_alert_level_and_local_time(corpus: Path) -> None:
    events = _parse(corpus / "georss" / "au-qld-qfrs_bushfireAlert_2013-05-13.xml")
    first = events[0]
    # "Alert Level: Permitted Burn ... Reported: 13/04/2013 5:44:09 PM" in Queensland (UTC+10)
    assert (first.kind, first.severity, first.extra["alert_level"]) == (Kind.FIRE, Severity.MINOR, "Permitted Burn")
    assert first.time == datetime(2013, 4, 13, 7, 44, 9, tzinfo=UTC)
    act = _parse(corpus / "georss" / "au-act-esa_currentincidents_2013-05-17.xml")
    crash = next(e for e in act if e.title.startswith("MOTOR VEHICLE ACCIDENT - WESTON CREEK"))
    # "Time of Call: 17 May 2013 09:34:50" in Canberra (AEST, UTC+10): a car crash is traffic
    assert crash.kind is Kind.TRAFFIC and crash.time == datetime(2013, 5, 16, 23, 34, 50, tzinfo=UTC)
    vic = _parse(corpus / "georss" / "au-vic-cfa_in-coming_2013-05-17.rss.xml")[0]
    # "Start Date/Time: 17/05/13 08:34:00 PM" in Victoria (AEST), though its pubDate is written in GMT
    assert vic.time == datetime(2013, 5, 17, 10, 34, tzinfo=UTC)


def test_no_event_says_none_for_missing_text(corpus: Path) -> None:
    for path in _captures(corpus):
        raw = path.read_bytes()
        for event in _safe_parse(path):
            for name in ("title", "text", "place"):
                value = getattr(event, name) or ""
                for word in ("None", "null", "nan"):
                    if re.search(rf"\b{word}\b", value):
                        assert word.encode() in raw, (path.name, name, value[:80])


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "watchfloor.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_parse_says_what_the_document_says(corpus: Path) -> None:
    actual = _cli("parse", str(corpus / "cap" / "usgs_earthquake_cap11_2010-08-31.xml"))
    assert actual.returncode == 0 and '"exercise":false' in actual.stdout.replace(" ", "")
    test_alert = _cli("parse", str(corpus / "cap" / "pagasa-philippines_tc-test_2014-11-03.xml"))
    assert test_alert.returncode == 0 and test_alert.stdout == ""
    assert "1 Test alert skipped" in test_alert.stderr and "Traceback" not in test_alert.stderr
    shown = _cli("parse", "--all", "--exercise", str(corpus / "cap" / "pagasa-philippines_tc-test_2014-11-03.xml"))
    assert '"exercise":true' in shown.stdout.replace(" ", "") and "skipped" not in shown.stderr


def test_a_podcast_has_no_dot_on_the_map(corpus: Path) -> None:
    from workers.ingest import prepare

    path = corpus / "rss-atom" / "katiefloyd_squarespace_podcast_2016-08-25.xml"
    feed = FeedConfig(id="podcast", url="https://podcast.invalid/", name=path.name)
    fetched = datetime(2026, 12, 4, tzinfo=UTC)
    prepared = prepare(parse_document(path.read_bytes(), feed, fetched), feed, fetched)
    assert len(prepared.events) == 20
    assert [e.title for e in prepared.events if e.placed] == []  # names of hosts, guests, outlets: no places


def test_an_agency_feed_s_own_state_weighs_in_when_its_words_are_geocoded(corpus: Path) -> None:
    events = _parse(corpus / "georss" / "au-vic-cfa_in-coming_2013-05-17.rss.xml")
    assert {e.extra.get("country") for e in events} == {"AU-VIC"}
    sa = _parse(corpus / "georss" / "au-sa-cfs_current-incidents_2013-05-17.xml")
    assert {e.extra.get("country") for e in sa} == {"AU-SA"}
