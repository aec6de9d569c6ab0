"""Exports of the picture, each read back by an independent reader: GeoJSON by GDAL (pyogrio) and
shapely, KML by libkml (GDAL's LIBKML driver), CSV by the csv module, Cursor on Target by an XML
schema of the CoT 2.0 event; a reader's export never holds anything above their TLP maximum."""

from __future__ import annotations

import csv
import io
import socket
import threading
from pathlib import Path

import orjson
import pyogrio
import pytest
from lxml import etree
from shapely.geometry import shape

from domain.access.tlp import TLP
from domain.picture.keys import IncidentKeys
from domain.products import exports
from layers.zones import Venue, Workspace
from tests.domain.test_access import run_cli

pytestmark = pytest.mark.redis

HOSTILE = '=HYPERLINK("http://x")<b>\x07 Fire & "smoke"'
INCIDENTS = [
    {"id": "inc:clear", "kind": "fire", "title": HOSTILE, "lat": 60.1699, "lon": 24.9384, "severity": "severe",
     "time": "2026-12-31T22:10:00Z", "reports": [{"event_id": "e1", "source": "rss"}, {"event_id": "e2", "source": "cap"}]},
    {"id": "inc:green", "kind": "security", "title": "Crowd crush risk at gate", "lat": 60.1695, "lon": 24.9525,
     "severity": "moderate", "time": "2026-12-31T22:20:00Z", "tlp": "TLP:GREEN", "reports": [{"event_id": "e3"}]},
    {"id": "inc:amber", "kind": "security", "title": "Partner surveillance report", "lat": 60.17, "lon": 24.95,
     "severity": "minor", "time": "2026-12-31T22:30:00Z", "tlp": "TLP:AMBER", "reports": [{"event_id": "e4"}]},
    {"id": "inc:far", "kind": "earthquake", "title": "M5.1 far away", "lat": -33.9, "lon": 151.2,
     "severity": "moderate", "time": "2026-12-30T10:00:00Z", "reports": [{"event_id": "e5", "source": "usgs"}]},
]
SQUARE = Workspace("nye", "New Year's Eve", venues=(Venue("Senate Square", 60.1693, 24.9526, 0.5),), near_km=5.0)


@pytest.fixture
def picture(redis_client):
    for incident in INCIDENTS:
        redis_client.hset(IncidentKeys.INCIDENTS, incident["id"], orjson.dumps(incident))
    return redis_client


def export(client, fmt, ceiling=TLP.GREEN, **kw):
    return exports.export(client, fmt, ceiling, by="tester", recipient="Fire dept", channel="test", **kw)


def test_geojson_is_rfc7946_read_by_gdal_and_shapely(picture, tmp_path):
    body, count, marking = export(picture, "geojson")
    assert count == 3 and marking is TLP.GREEN
    data = orjson.loads(body)
    assert data["type"] == "FeatureCollection" and data["tlp"] == "TLP:GREEN"
    for feature in data["features"]:
        point = shape(feature["geometry"])
        assert point.is_valid and -180 <= point.x <= 180 and -90 <= point.y <= 90
    path = tmp_path / "picture.geojson"
    path.write_bytes(body)
    frame = pyogrio.read_dataframe(path)
    assert sorted(frame["id"]) == ["inc:clear", "inc:far", "inc:green"]
    helsinki = frame[frame["id"] == "inc:clear"].geometry.iloc[0]
    assert (round(helsinki.x, 4), round(helsinki.y, 4)) == (24.9384, 60.1699)  # [lon, lat]


def test_kml_read_by_libkml(picture, tmp_path):
    body, count, _ = export(picture, "kml", workspace=SQUARE)
    path = tmp_path / "picture.kml"
    path.write_bytes(body)
    frame = pyogrio.read_dataframe(path, driver="LIBKML")
    assert count == 2 and len(frame) == 2
    assert set(frame["Name"]) == {"=HYPERLINK(\"http://x\")<b> Fire & \"smoke\"", "Crowd crush risk at gate"}
    assert b"TLP:GREEN" in body.split(b"<Placemark")[0]


def test_csv_cells_never_run_as_formulas(picture):
    body, _, _ = export(picture, "csv", TLP.CLEAR)
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert [r["id"] for r in rows] == ["inc:far", "inc:clear"]
    assert rows[1]["title"].startswith("'=HYPERLINK") and rows[1]["sources"] == "cap rss"
    assert {r["tlp"] for r in rows} == {"TLP:CLEAR"}


def test_cot_events_validate_against_the_event_schema(picture):
    schema = etree.XMLSchema(etree.parse(str(Path(__file__).parent / "schemas" / "cot-event.xsd")))
    body, count, _ = export(picture, "cot", TLP.AMBER)
    lines = body.splitlines()
    assert count == len(lines) == 4
    for line in lines:
        event = etree.fromstring(line)
        schema.assertValid(event)
        assert event.get("uid").startswith("watchfloor.inc:") and event.get("stale") > event.get("time")
    amber = etree.fromstring(next(line for line in lines if b"inc:amber" in line))
    assert amber.find("detail/remarks").text.startswith("TLP:AMBER")


def test_a_viewer_export_holds_nothing_above_their_level_and_is_logged(picture):
    for fmt in exports.FORMATS:
        body, _, marking = export(picture, fmt, TLP.CLEAR)
        assert b"Crowd crush" not in body and b"Partner surveillance" not in body and marking is TLP.CLEAR
    rows = list(exports.disseminations(picture))
    assert len(rows) == 4 and {r["to"] for r in rows} == {"Fire dept"} and rows[0]["what"].startswith("geojson export")


def test_since_and_workspace_filter(picture):
    since = exports.parse_since("2026-12-31T22:15Z")
    body, count, _ = export(picture, "geojson", TLP.AMBER, since=since, workspace=SQUARE)
    assert count == 2 and {f["id"] for f in orjson.loads(body)["features"]} == {"inc:green", "inc:amber"}


def test_the_cli_writes_a_file_and_streams_cot_to_a_tak_input(picture, redis_server, tmp_path):
    out = tmp_path / "p.kml"
    done = run_cli("export", "--format", "kml", "--tlp", "TLP:GREEN", "--to", "County EOC", "--out", str(out),
                   redis_url=redis_server.url)
    assert done.returncode == 0, done.stderr
    assert "exported 3 incident(s) as kml, marked TLP:GREEN" in done.stderr and out.read_bytes().count(b"<Placemark") == 3
    received = bytearray()
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def accept():
        conn, _ = server.accept()
        with conn:
            while chunk := conn.recv(65536):
                received.extend(chunk)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    done = run_cli("export", "--format", "cot", "--send", f"tcp://127.0.0.1:{port}", redis_url=redis_server.url)
    thread.join(10)
    server.close()
    assert done.returncode == 0, done.stderr
    assert received.count(b"<event ") == 2 and b"inc:green" not in received  # TLP:CLEAR by default
    bad = run_cli("export", "--format", "kml", "--since", "yesterday", redis_url=redis_server.url)
    assert bad.returncode == 2 and "since: 'yesterday' is not a time" in bad.stderr and "Traceback" not in bad.stderr


def test_the_cli_exports_for_an_agency_its_own_items_capped_by_its_ceiling(picture, redis_server, tmp_path):
    from domain.agencies.store import AgencyStore

    AgencyStore(picture).add("MBTA", "MBTA Transit Police", kind="transit", tlp="TLP:GREEN")
    own = {"id": "inc:own", "kind": "security", "title": "Transit's own", "lat": 60.17, "lon": 24.95,
           "severity": "minor", "time": "2026-12-31T22:40:00Z", "reports": [{"event_id": "e6"}],
           "owners": [{"agency": "MBTA", "sharing": "own", "event_id": "e6"}]}
    picture.hset(IncidentKeys.INCIDENTS, own["id"], orjson.dumps(own))

    def ids(*extra: str) -> set[str]:
        done = run_cli("export", "--format", "geojson", "--tlp", "TLP:AMBER", *extra, redis_url=redis_server.url)
        assert done.returncode == 0, done.stderr
        return {f["id"] for f in orjson.loads(done.stdout)["features"]}

    host = ids()
    assert "inc:own" not in host and "inc:amber" in host  # the host center's partners: shared with all
    mbta = ids("--for-agency", "mbta")
    assert "inc:own" in mbta and "inc:amber" not in mbta  # its own items; its ceiling (GREEN) caps --tlp AMBER
    out = tmp_path / "b.html"
    brief = run_cli("brief", "--out", str(out), "--since", "2026-12-30", "--until", "2027-01-01", "--tlp", "TLP:AMBER",
                    "--for-agency", "MBTA", redis_url=redis_server.url)
    assert brief.returncode == 0, brief.stderr
    assert "Transit&#x27;s own" in out.read_text() or "Transit's own" in out.read_text()
    unknown = run_cli("export", "--format", "csv", "--for-agency", "NOPE", redis_url=redis_server.url)
    assert unknown.returncode == 2 and "no agency NOPE" in unknown.stderr and "Traceback" not in unknown.stderr
