"""The exercise feed server over real HTTP on loopback: scenario clock, real-format feeds,
CAP 1.2 schema validity, ad-hoc injects, conditional GET, escaping, and the built-in adapters."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from domain.config.scenario import (
    CAP_NS,
    ExerciseError,
    Scenario,
    ScenarioError,
    load_scenario,
    parse_scenario,
)
from watchfloor.exercise import ExerciseServer

ROOT = Path(__file__).resolve().parents[2]
ATOM = "{http://www.w3.org/2005/Atom}"
CAP = f"{{{CAP_NS}}}"
GEORSS = "{http://www.georss.org/georss}"
T0 = 1_795_000_000.0  # 2026-11-18: a fixed wall clock for the deterministic tests


class FakeClock:
    """A wall clock the test moves by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def fetch(url: str, headers: dict[str, str] | None = None, data: bytes | None = None) -> tuple[int, Any, bytes]:
    """Status, headers and body of one request; HTTP errors are answers, not exceptions."""
    request = urllib.request.Request(
        url, headers=headers or {}, data=data, method="POST" if data is not None else "GET"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def post_json(url: str, body: Any) -> tuple[int, dict[str, Any]]:
    status, _, raw = fetch(url, {"Content-Type": "application/json"}, json.dumps(body).encode())
    return status, json.loads(raw)


def state(server: ExerciseServer) -> dict[str, Any]:
    status, _, body = fetch(server.url + "/scenario")
    assert status == 200
    return json.loads(body)


@pytest.fixture(scope="module")
def marathon() -> Scenario:
    return load_scenario("marathon")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server(marathon: Scenario, clock: FakeClock) -> Any:
    with ExerciseServer(marathon, clock=clock) as running:
        yield running


@pytest.fixture(scope="session")
def cap_schema() -> Any:
    """The OASIS CAP 1.2 schema from ../shared/schemas or $WATCHFLOOR_SCHEMAS; skip if absent (fail under CI)."""
    from lxml import etree

    folder = Path(os.environ.get("WATCHFLOOR_SCHEMAS") or ROOT.parent / "shared" / "schemas")
    path = folder / "cap12.xsd"
    if not path.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the CAP 1.2 schema is missing: expected {path} (or set WATCHFLOOR_SCHEMAS)")
        pytest.skip(f"CAP 1.2 schema not present at {path}; set WATCHFLOOR_SCHEMAS to validate CAP output")
    return etree.XMLSchema(etree.parse(str(path)))


def assert_valid_cap(schema: Any, body: bytes) -> None:
    from lxml import etree

    doc = etree.fromstring(body)
    assert schema.validate(doc), str(schema.error_log.last_error)


# --- The built-in scenario --------------------------------------------------------------------


def test_marathon_scenario_is_a_full_exercise(marathon: Scenario) -> None:
    injects = marathon.injects
    assert 25 <= len(injects) <= 40
    assert 50 * 60 <= marathon.duration <= 65 * 60
    assert sum(1 for i in injects if i.offset <= 30) >= 4, "the map must not be empty at the start"
    assert {i.channel for i in injects} == {"usgs", "cap", "news"}
    assert len({i.kind for i in injects}) >= 7
    assert any(i.msg_type == "Update" and i.channel == "cap" for i in injects)
    assert any(i.msg_type == "Cancel" for i in injects)
    unplaced = [i for i in injects if i.channel == "news" and i.lat is None]
    assert len(unplaced) >= 3 and all(i.place for i in unplaced), "some news must be left to the geocoder"
    assert list(injects) == sorted(injects, key=lambda i: i.offset)
    venues = marathon.event["venues"]
    assert venues and all(v["radius_km"] > 0 for v in venues)
    assert marathon.event["end_offset"] >= marathon.duration - 60


# --- The scenario clock -----------------------------------------------------------------------


def test_at_start_only_offset_zero_injects_are_published(server: ExerciseServer, marathon: Scenario) -> None:
    zero = [i for i in marathon.injects if i.offset == 0]
    assert 0 < len(zero) < len(marathon.injects)
    assert state(server)["published"] == len(zero)
    _, _, geojson = fetch(server.url + "/usgs/summary.geojson")
    quakes = [i for i in zero if i.channel == "usgs"]
    assert json.loads(geojson)["metadata"]["count"] == len(quakes)
    _, _, atom = fetch(server.url + "/cap/index.atom")
    entries = ET.fromstring(atom).findall(f"{ATOM}entry")
    assert len(entries) == sum(1 for i in zero if i.channel == "cap")
    later = next(i for i in marathon.injects if i.channel == "cap" and i.offset > 0)
    assert fetch(f"{server.url}/cap/alerts/{later.key}.xml")[0] == 404, "future injects must not leak"


def test_items_appear_as_the_clock_runs(server: ExerciseServer, clock: FakeClock, marathon: Scenario) -> None:
    counts = []
    for _ in range(8):
        counts.append(state(server)["published"])
        clock.advance(600)
    counts.append(state(server)["published"])
    assert counts == sorted(counts) and len(set(counts)) >= 5
    assert counts[-1] == len(marathon.injects)


def test_item_time_is_start_plus_offset_over_speed(marathon: Scenario, clock: FakeClock) -> None:
    with ExerciseServer(marathon, clock=clock, speed=10) as server:
        clock.advance(marathon.duration / 10 + 1)
        _, _, body = fetch(server.url + "/cap/alerts/cap-copley-package.xml")
        sent = ET.fromstring(body).findtext(f"{CAP}sent")
        assert sent == datetime.fromtimestamp(T0 + 1200 / 10, UTC).strftime("%Y-%m-%dT%H:%M:%S-00:00")
        _, _, rss = fetch(server.url + "/news/georss.xml")
        item = next(i for i in ET.fromstring(rss).iter("item") if i.findtext("guid") == "watchfloor-ex-news-winners")
        assert parsedate_to_datetime(item.findtext("pubDate")).timestamp() == int(T0 + 2460 / 10)


@pytest.mark.slow
def test_at_speed_1000_everything_appears_within_seconds(marathon: Scenario) -> None:
    with ExerciseServer(marathon, speed=1000) as server:
        seen = [state(server)["published"]]
        deadline = time.monotonic() + 15
        while seen[-1] < len(marathon.injects) and time.monotonic() < deadline:
            time.sleep(0.2)
            seen.append(state(server)["published"])
    assert seen[0] < len(marathon.injects)
    assert seen[-1] == len(marathon.injects)
    assert len(set(seen)) >= 3, f"injects should arrive over time, saw {seen}"


# --- The documents ----------------------------------------------------------------------------


def test_usgs_geojson_has_the_usgs_structure(server: ExerciseServer, clock: FakeClock) -> None:
    clock.advance(3600)
    status, headers, body = fetch(server.url + "/usgs/summary.geojson")
    assert status == 200 and headers["Content-Type"].startswith("application/geo+json")
    doc = json.loads(body)
    assert doc["type"] == "FeatureCollection"
    meta = doc["metadata"]
    assert meta["status"] == 200 and meta["api"] == "1.10.3" and isinstance(meta["generated"], int)
    assert meta["count"] == len(doc["features"]) == 3, "the revised quake replaces its original"
    for feature in doc["features"]:
        props, geometry = feature["properties"], feature["geometry"]
        assert feature["id"].startswith("ex") and props["ids"] == f",{feature['id']},"
        assert isinstance(props["time"], int) and isinstance(props["updated"], int)
        assert props["time"] > 1_000_000_000_000, "epoch milliseconds"
        assert props["type"] == "earthquake" and props["magType"] == "ml" and props["status"] == "reviewed"
        assert props["net"] == "ex" and props["tsunami"] == 0 and props["tz"] is None
        assert props["title"] == f"M {props['mag']:.1f} - {props['place']}"
        lon, lat, depth = geometry["coordinates"]
        assert geometry["type"] == "Point" and -72 < lon < -70 and 42 < lat < 43 and 0 < depth < 30
    revised = next(f for f in doc["features"] if f["properties"]["mag"] == 3.2)
    assert revised["properties"]["title"] == "M 3.2 - 5 km W of Natick, Massachusetts"
    assert revised["properties"]["updated"] - revised["properties"]["time"] == 180_000
    times = [f["properties"]["time"] for f in doc["features"]]
    assert times == sorted(times, reverse=True)
    status, _, detail = fetch(revised["properties"]["detail"])
    assert status == 200 and json.loads(detail)["id"] == revised["id"]


def test_every_cap_alert_validates_against_cap12(server: ExerciseServer, clock: FakeClock, cap_schema: Any) -> None:
    clock.advance(3600)
    status, headers, atom = fetch(server.url + "/cap/index.atom")
    assert status == 200 and headers["Content-Type"].startswith("application/atom+xml")
    feed = ET.fromstring(atom)
    assert not [el for el in feed.iter() if el.tag.startswith(CAP)], "the index must only link to alerts"
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 12
    for entry in entries:
        assert entry.findtext(f"{ATOM}id") and entry.findtext(f"{ATOM}updated") and entry.findtext(f"{ATOM}title")
        link = entry.find(f"{ATOM}link[@rel='alternate']")
        assert link is not None and link.get("type") == "application/cap+xml"
        status, headers, body = fetch(link.get("href"))
        assert status == 200 and headers["Content-Type"].startswith("application/cap+xml")
        assert_valid_cap(cap_schema, body)
        alert = ET.fromstring(body)
        assert alert.findtext(f"{CAP}status") == "Exercise"
        assert alert.findtext(f"{CAP}identifier").startswith("WATCHFLOOR-EX-")
        assert alert.findtext(f"{CAP}sender") == "exercise@watchfloor.invalid"


def test_update_and_cancel_reference_the_original(server: ExerciseServer, clock: FakeClock) -> None:
    clock.advance(3600)
    _, _, original = fetch(server.url + "/cap/alerts/cap-heat-advisory.xml")
    _, _, update = fetch(server.url + "/cap/alerts/cap-heat-warning.xml")
    original_doc, update_doc = ET.fromstring(original), ET.fromstring(update)
    assert original_doc.findtext(f"{CAP}msgType") == "Alert"
    assert original_doc.find(f"{CAP}references") is None
    assert update_doc.findtext(f"{CAP}msgType") == "Update"
    expected = ",".join(original_doc.findtext(f"{CAP}{f}") for f in ("sender", "identifier", "sent"))
    assert update_doc.findtext(f"{CAP}references") == expected
    _, _, cancel = fetch(server.url + "/cap/alerts/cap-newton-tstorm-cancel.xml")
    cancel_doc = ET.fromstring(cancel)
    assert cancel_doc.findtext(f"{CAP}msgType") == "Cancel"
    assert ",WATCHFLOOR-EX-cap-newton-tstorm," in cancel_doc.findtext(f"{CAP}references")


def test_cap_geometry_is_lat_lon_and_closed(server: ExerciseServer, clock: FakeClock) -> None:
    clock.advance(3600)
    _, _, body = fetch(server.url + "/cap/alerts/cap-newton-tstorm.xml")
    polygon = ET.fromstring(body).findtext(f"{CAP}info/{CAP}area/{CAP}polygon").split()
    assert polygon[0] == polygon[-1] and len(polygon) >= 4
    lat, lon = map(float, polygon[0].split(","))
    assert 42 < lat < 43 and -72 < lon < -70
    _, _, body = fetch(server.url + "/cap/alerts/cap-copley-package.xml")
    assert ET.fromstring(body).findtext(f"{CAP}info/{CAP}area/{CAP}circle") == "42.35,-71.077 0.3"


def test_georss_points_only_for_placed_news(server: ExerciseServer, clock: FakeClock, marathon: Scenario) -> None:
    clock.advance(3600)
    status, headers, body = fetch(server.url + "/news/georss.xml")
    assert status == 200 and headers["Content-Type"].startswith("application/rss+xml")
    assert b'xmlns:georss="http://www.georss.org/georss"' in body
    rss = ET.fromstring(body)
    assert rss.get("version") == "2.0"
    items = {i.findtext("guid").removeprefix("watchfloor-ex-"): i for i in rss.iter("item")}
    news = {i.key: i for i in marathon.injects if i.channel == "news"}
    assert set(items) == set(news)
    for key, item in items.items():
        assert item.find("guid").get("isPermaLink") == "false"
        assert parsedate_to_datetime(item.findtext("pubDate")).tzinfo is not None
        point = item.findtext(f"{GEORSS}point")
        if news[key].lat is None:
            assert point is None
        else:
            assert point == f"{news[key].lat} {news[key].lon}"


# --- Ad-hoc injects ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inject", "path"),
    [
        (
            {
                "kind": "earthquake",
                "channel": "usgs",
                "place": "2 km N of Ashland, Massachusetts",
                "title": "M 2.4 quake",
                "lat": 42.279,
                "lon": -71.463,
                "magnitude": 2.4,
                "depth_km": 4.0,
            },
            "/usgs/summary.geojson",
        ),
        (
            {
                "kind": "security",
                "channel": "cap",
                "place": "Fenway, Boston",
                "title": "Shelter in place",
                "severity": "severe",
                "circle": [42.3467, -71.0972, 0.5],
            },
            "/cap/index.atom",
        ),
        (
            {
                "kind": "news",
                "channel": "news",
                "title": "Parade route changed in Newton",
                "text": "Officials in Newton moved the route.",
            },
            "/news/georss.xml",
        ),
    ],
)
def test_post_inject_adds_an_item_to_its_feed(
    server: ExerciseServer, clock: FakeClock, inject: dict, path: str
) -> None:
    clock.advance(100)
    before = fetch(server.url + path)[2]
    status, stored = post_json(server.url + "/inject", inject)
    assert status == 201, stored
    assert stored["key"].startswith("adhoc-") and stored["offset"] == pytest.approx(100)
    after = fetch(server.url + path)[2]
    assert after != before
    if inject["channel"] == "usgs":
        assert json.loads(after)["metadata"]["count"] == json.loads(before)["metadata"]["count"] + 1
        assert "M 2.4 quake" in [f["properties"]["title"] for f in json.loads(after)["features"]]
    elif inject["channel"] == "cap":
        assert stored["key"] in after.decode()
        assert fetch(f"{server.url}/cap/alerts/{stored['key']}.xml")[0] == 200
    else:
        assert b"Parade route changed in Newton" in after
    assert state(server)["published"] == state(server)["total"] - sum(
        1 for i in server.scenario.injects if i.offset > 100
    )


def test_post_inject_can_update_a_published_alert(server: ExerciseServer, clock: FakeClock, cap_schema: Any) -> None:
    clock.advance(1300)
    status, stored = post_json(
        server.url + "/inject",
        {
            "key": "copley-upd",
            "kind": "security",
            "channel": "cap",
            "place": "Copley Square, Boston",
            "title": "Perimeter widened",
            "severity": "severe",
            "updates": "cap-copley-package",
            "circle": [42.35, -71.077, 0.5],
        },
    )
    assert status == 201, stored
    _, _, body = fetch(server.url + "/cap/alerts/copley-upd.xml")
    assert_valid_cap(cap_schema, body)
    assert "WATCHFLOOR-EX-cap-copley-package" in ET.fromstring(body).findtext(f"{CAP}references")


@pytest.mark.parametrize(
    ("inject", "words"),
    [
        ({"kind": "volcanic-ish", "channel": "news", "title": "x"}, ["kind", "volcanic-ish"]),
        ({"kind": "news", "channel": "telegram", "title": "x"}, ["channel"]),
        ({"kind": "news", "channel": "news", "title": "x", "severity": "apocalyptic"}, ["severity"]),
        ({"kind": "news", "channel": "news", "title": "x", "lat": 95, "lon": 10}, ["lat", "out of range"]),
        ({"kind": "news", "channel": "news", "title": "x", "offset": 5}, ["offset"]),
        ({"kind": "news", "channel": "news"}, ["title", "missing"]),
        ({"kind": "weather", "channel": "cap", "place": "x", "title": "x", "updates": "nope"}, ["updates", "nope"]),
        (
            {"kind": "weather", "channel": "cap", "place": "x", "title": "x", "updates": "cap-finish-mci"},
            ["updates", "later"],
        ),
        ({"kind": "news", "channel": "news", "title": "x", "colour": "red"}, ["colour", "unknown field"]),
        ({"kind": "news", "channel": "news", "title": "bell \x07"}, ["title", "control"]),
        ([1, 2], ["object"]),
    ],
)
def test_bad_inject_gets_400_with_a_reason(server: ExerciseServer, inject: Any, words: list[str]) -> None:
    status, answer = post_json(server.url + "/inject", inject)
    assert status == 400
    reason = answer["error"]
    assert "\n" not in reason
    for word in words:
        assert word in reason


def test_inject_transport_errors(server: ExerciseServer) -> None:
    url = server.url + "/inject"
    assert fetch(url, {"Content-Type": "text/plain"}, b"{}")[0] == 415
    assert fetch(url, {"Content-Type": "application/json"}, b"{not json")[0] == 400
    status, _, body = fetch(url, {"Content-Type": "application/json"}, b" " * (64 * 1024 + 1))
    assert status == 413 and b"65536" in body
    assert fetch(server.url + "/elsewhere", {"Content-Type": "application/json"}, b"{}")[0] == 404


def test_ad_hoc_key_collision_is_refused(server: ExerciseServer) -> None:
    status, answer = post_json(
        server.url + "/inject", {"key": "cap-heat-advisory", "kind": "news", "channel": "news", "title": "again"}
    )
    assert status == 400 and "cap-heat-advisory" in answer["error"] and "key" in answer["error"]


# --- HTTP behaviour ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/usgs/summary.geojson", "/cap/index.atom", "/news/georss.xml"])
def test_conditional_get(server: ExerciseServer, clock: FakeClock, path: str) -> None:
    clock.advance(1000)
    status, headers, body = fetch(server.url + path)
    etag, modified = headers["ETag"], headers["Last-Modified"]
    assert status == 200 and etag.startswith('"') and modified.endswith("GMT")
    status, headers, body = fetch(server.url + path, {"If-None-Match": etag})
    assert status == 304 and body == b""
    assert fetch(server.url + path, {"If-Modified-Since": modified})[0] == 304
    assert fetch(server.url + path, {"If-None-Match": '"other"'})[0] == 200
    clock.advance(2600)  # more injects on every channel
    status, headers, _ = fetch(server.url + path, {"If-None-Match": etag})
    assert status == 200 and headers["ETag"] != etag


def test_hostile_title_is_escaped_everywhere(server: ExerciseServer, cap_schema: Any) -> None:
    hostile = "Tom & Jerry <script>alert(1)</script>"
    for inject in (
        {"kind": "news", "channel": "news", "title": hostile, "text": hostile, "lat": 42.35, "lon": -71.06},
        {"kind": "incident", "channel": "cap", "title": hostile, "text": hostile, "place": hostile},
        {
            "kind": "earthquake",
            "channel": "usgs",
            "title": hostile,
            "place": hostile,
            "lat": 42.3,
            "lon": -71.2,
            "magnitude": 2.0,
            "depth_km": 3.0,
        },
    ):
        status, stored = post_json(server.url + "/inject", inject)
        assert status == 201, stored
    _, _, rss = fetch(server.url + "/news/georss.xml")
    assert b"<script>" not in rss and b"Tom &amp; Jerry &lt;script&gt;" in rss
    assert hostile in [i.findtext("title") for i in ET.fromstring(rss).iter("item")]
    _, _, atom = fetch(server.url + "/cap/index.atom")
    assert b"<script>" not in atom
    entry = ET.fromstring(atom).find(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == hostile
    _, _, alert = fetch(entry.find(f"{ATOM}link").get("href"))
    assert b"<script>" not in alert
    assert_valid_cap(cap_schema, alert)
    assert ET.fromstring(alert).findtext(f"{CAP}info/{CAP}headline") == hostile
    _, _, geojson = fetch(server.url + "/usgs/summary.geojson")
    quake = next(f for f in json.loads(geojson)["features"] if f["properties"]["place"] == hostile)
    assert quake["properties"]["title"] == hostile


def test_healthz_and_unknown_paths(server: ExerciseServer) -> None:
    status, headers, body = fetch(server.url + "/healthz")
    assert status == 200 and body == b"ok\n"
    assert fetch(server.url + "/nothing")[0] == 404
    assert fetch(server.url + "/cap/alerts/../../etc/passwd.xml")[0] == 404
    assert fetch(server.url + "/cap/alerts/no-such-alert.xml")[0] == 404


def test_scenario_json(server: ExerciseServer, clock: FakeClock, marathon: Scenario) -> None:
    clock.advance(30)
    doc = state(server)
    assert doc["name"] == "marathon" and doc["total"] == len(marathon.injects)
    assert doc["elapsed_seconds"] == 30 and doc["speed"] == 1.0
    assert len(doc["center"]) == 2 and doc["event"]["venues"]
    assert sum(doc["by_channel"].values()) == doc["published"]


def test_non_loopback_host_header_is_refused(server: ExerciseServer) -> None:
    assert fetch(server.url + "/healthz", {"Host": "evil.example:80"})[0] == 403
    assert fetch(server.url + "/healthz", {"Host": "localhost"})[0] == 200


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.org", "::"])
def test_refuses_to_bind_anything_but_loopback(marathon: Scenario, host: str) -> None:
    with pytest.raises(ExerciseError, match="loopback"):
        ExerciseServer(marathon, host=host)


def test_bad_speed_is_refused(marathon: Scenario) -> None:
    with pytest.raises(ExerciseError, match="speed"):
        ExerciseServer(marathon, speed=0)


# --- Loading scenarios ------------------------------------------------------------------------


def base_inject(**fields: Any) -> dict[str, Any]:
    return {"key": "i1", "offset": 0, "kind": "news", "channel": "news", "title": "t"} | fields


@pytest.mark.parametrize(
    ("injects", "words"),
    [
        ([base_inject(kind="alien")], ["i1.kind", "alien"]),
        ([base_inject(channel="fax")], ["i1.channel"]),
        ([base_inject(severity="big")], ["i1.severity"]),
        ([base_inject(lat=42.0, lon=-181.0)], ["i1.lon", "out of range"]),
        ([base_inject(lat=42.0)], ["i1.lon", "missing"]),
        ([base_inject(offset=-5)], ["i1.offset", "out of range"]),
        ([base_inject(offset="soon")], ["i1.offset", "not a number"]),
        (
            [
                base_inject(),
                base_inject(key="i2", offset=10, channel="cap", place="p", kind="weather", updates="ghost"),
            ],
            ["i2.updates", "ghost"],
        ),
        (
            [
                base_inject(channel="cap", place="p", kind="weather", updates="i2"),
                base_inject(key="i2", offset=10, channel="cap", place="p", kind="weather"),
            ],
            ["i1.updates", "later"],
        ),
        (
            [
                base_inject(key="i2", offset=10, channel="cap", place="p", kind="weather", updates="i1"),
                base_inject(offset=5),
            ],
            ["i2.updates", "channel news"],
        ),
        ([base_inject(), base_inject()], ["i1.key", "twice"]),
        ([base_inject(key="Bad Key")], ["key", "Bad Key"]),
        (
            [base_inject(channel="usgs", kind="earthquake", place="p", lat=42.0, lon=-71.0, depth_km=5)],
            ["i1.magnitude", "missing"],
        ),
        ([base_inject(magnitude=3.0)], ["i1.magnitude", "usgs"]),
        ([base_inject(channel="cap", kind="fire", place="p", polygon=[[42, -71], [43, -71]])], ["i1.polygon"]),
        ([base_inject(channel="cap", kind="fire", place="p", circle=[42, -71, -1])], ["i1.circle", "radius"]),
    ],
)
def test_scenario_errors_name_the_inject_and_field(injects: list[dict[str, Any]], words: list[str]) -> None:
    raw = {"scenario": {"name": "t", "center": [42.0, -71.0], "zoom": 9}, "injects": injects}
    with pytest.raises(ScenarioError) as err:
        parse_scenario(raw, "test.toml")
    message = str(err.value)
    assert "\n" not in message and message.startswith("test.toml")
    for word in words:
        assert word in message


def test_load_scenario_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "drill.toml"
    path.write_text(
        '[scenario]\nname = "drill"\ncenter = [40.7, -74.0]\nzoom = 11\n\n'
        '[[injects]]\nkey = "a"\noffset = 0\nkind = "fire"\nchannel = "news"\ntitle = "Fire"\n'
    )
    scenario = load_scenario(str(path))
    assert scenario.name == "drill" and [i.key for i in scenario.injects] == ["a"]
    path.write_text(path.read_text().replace('kind = "fire"', 'kind = "fyre"'))
    with pytest.raises(ScenarioError, match=r"injects\.a\.kind: 'fyre'"):
        load_scenario(path)


def test_load_scenario_unknown_name_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no built-in scenario 'nosuch'.*marathon"):
        load_scenario("nosuch")
    with pytest.raises(ScenarioError, match="does not exist"):
        load_scenario(str(tmp_path / "missing.toml"))
    bad = tmp_path / "bad.toml"
    bad.write_text("[scenario\n")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(str(bad))


# --- Standalone use -----------------------------------------------------------------------------


def test_module_main_prints_the_base_url() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "watchfloor.exercise", "--port", "0", "--speed", "100"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            url = proc.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.poll() is not None else url
            assert fetch(url + "/healthz")[0] == 200
            assert json.loads(fetch(url + "/scenario")[2])["speed"] == 100
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def test_module_main_bad_scenario_is_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "watchfloor.exercise", "--scenario", "nosuch"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "nosuch" in proc.stderr and "Traceback" not in proc.stderr


# --- The built-in adapters read what the server writes -------------------------------------------


def adapter(module: str) -> Any:
    """The registered source of ``feeds.sources.<module>``; skip while that adapter is not written yet."""
    if importlib.util.find_spec(f"feeds.sources.{module}") is None:
        pytest.skip(f"feeds/sources/{module}.py does not exist yet")
    from feeds.sources import get_source

    return get_source


def exercise_feed(feed_id: str, fmt: str) -> Any:
    from feeds.contract import FeedConfig

    return FeedConfig(id=feed_id, url="exercise:/", format=fmt, exercise=True, allow_local=True)


def test_usgs_adapter_reads_the_summary(server: ExerciseServer, clock: FakeClock) -> None:
    get_source = adapter("usgs_geojson")
    clock.advance(3600)
    body = fetch(server.url + "/usgs/summary.geojson")[2]
    result = get_source("usgs-geojson").parse(body, exercise_feed("exercise-quakes", "usgs-geojson"), datetime.now(UTC))
    assert len(result.events) == json.loads(body)["metadata"]["count"] == 3
    assert {round(e.magnitude, 1) for e in result.events} == {1.6, 3.2, 2.1}
    assert all(e.placed and e.kind.value == "earthquake" for e in result.events)


def test_cap_adapters_read_the_index_and_alerts(server: ExerciseServer, clock: FakeClock) -> None:
    get_source = adapter("cap_index")
    adapter("cap")
    clock.advance(3600)
    fetched = datetime.now(UTC)
    index = get_source("cap-index").parse(
        fetch(server.url + "/cap/index.atom")[2], exercise_feed("exercise-cap", "cap-index"), fetched
    )
    assert index.events == [] and len(index.follow) == 12 and index.follow_format == "cap"
    events = []
    for url in index.follow:
        result = get_source(index.follow_format).parse(fetch(url)[2], exercise_feed("exercise-cap", "cap"), fetched)
        assert len(result.events) == 1, result.warnings
        events.extend(result.events)
    assert len(events) == 12 and all(e.exercise for e in events)
    assert sum(1 for e in events if e.geometry is not None or e.placed) >= 10


def test_rss_adapter_reads_the_news(server: ExerciseServer, clock: FakeClock, marathon: Scenario) -> None:
    get_source = adapter("rss")
    clock.advance(3600)
    body = fetch(server.url + "/news/georss.xml")[2]
    result = get_source("rss").parse(body, exercise_feed("exercise-news", "rss"), datetime.now(UTC))
    news = [i for i in marathon.injects if i.channel == "news"]
    assert len(result.events) == len(news)
    assert sum(1 for e in result.events if e.placed) == sum(1 for i in news if i.lat is not None)
    placed = next(e for e in result.events if e.title == "Unauthorised drone over Kenmore Square")
    assert (placed.lat, placed.lon) == (42.3489, -71.0954), "GeoRSS is lat lon; the adapter must not swap it"
