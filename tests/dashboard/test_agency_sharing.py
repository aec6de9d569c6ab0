"""Two agencies on one floor, over real HTTP and in real Chromium: fire (BFD) and transit (MBTA).

An MBTA item shared with its own agency only is invisible to BFD's people in each API, export, search
and on the desk, and visible to MBTA's own (so the check can fail both ways); a refused direct read is
403 and audited like a TLP refusal; a fused incident of a public and an own-only report shows BFD only
the public report; when the owner shares with all, BFD sees it again."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from domain.access.accounts import AccountStore, Role
from domain.access.audit import read
from domain.agencies.members import set_agency
from domain.agencies.store import AgencyStore
from domain.picture.keys import IncidentKeys
from domain.store.streams import EventStore
from tests.dashboard.test_reports_api import REPORT, web  # noqa: F401 - fixture
from tests.domain.test_access import CHROMIUM, CHROMIUM_ARGS, PASSWORD
from tests.domain.test_operator import api
from tests.workers.test_fusion_pipeline import FEEDS, gdacs_doc, usgs_doc
from workers.ingest import parse_document, prepare
from workers.overrides import fuse_now

pytestmark = [pytest.mark.redis]

QUAKE = "inc:usgs:us6000ldpg"
PACKAGE = "inc:mbta:package"
PEOPLE = (("fran", Role.OPERATOR, "BFD"), ("chief", Role.ADMIN, "BFD"), ("tom", Role.OPERATOR, "MBTA"),
          ("tess", Role.SUPERVISOR, "MBTA"), ("root", Role.ADMIN, None))


def _ingest(client, cfg, doc) -> None:
    fetched_at = datetime.now(UTC)
    EventStore(client).append(prepare(parse_document(doc, cfg, fetched_at), cfg, fetched_at).events)


def _now(minutes: int = 0) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def floor(redis_client, web):  # noqa: F811
    agencies, accounts = AgencyStore(redis_client), AccountStore(redis_client)
    agencies.add("BFD", "Boston Fire Department", kind="fire-ems")
    agencies.add("MBTA", "MBTA Transit Police", kind="transit")
    for name, role, code in PEOPLE:
        accounts.create(name, role, PASSWORD)
        if code:
            set_agency(redis_client, name, code)
    origin = datetime.now(UTC) - timedelta(minutes=20)
    _ingest(redis_client, FEEDS["usgs"], usgs_doc(origin=origin))
    _ingest(redis_client, replace(FEEDS["gdacs"], agency="MBTA", sharing="own"), gdacs_doc(origin=origin))
    assert fuse_now(redis_client)
    for iid, title, owners in (("inc:public", "Water main break on Tremont St", None),
                               (PACKAGE, "Suspicious package at Park St station", [("MBTA", "own")])):
        record = {"id": iid, "kind": "security", "title": title, "lat": 42.3564, "lon": -71.0624,
                  "severity": "moderate", "time": _now(5), "reports": [{"event_id": f"e:{iid}", "source": "mbta-cad",
                                                                        "feed": "mbta-cad", "time": _now(5)}]}
        if owners:
            record["owners"] = [{"agency": a, "sharing": s, "event_id": f"e:{iid}"} for a, s in owners]
        redis_client.hset(IncidentKeys.INCIDENTS, iid, orjson.dumps(record))
    return {name: web.session(name) for name, _, _ in PEOPLE}


def ids_of(web, cookie, path="/api/incidents") -> set[str]:  # noqa: F811
    reply = api(web, "GET", path, cookie)
    assert reply.status == 200, reply.body[:300]
    return {i["id"] for i in orjson.loads(reply.body)["incidents"]}


def test_own_only_is_invisible_to_the_other_agency_in_every_api(web, floor, redis_client):  # noqa: F811
    fran, tom, root = floor["fran"], floor["tom"], floor["root"]
    assert PACKAGE in ids_of(web, tom), "the restricted item IS visible to its own agency"
    assert ids_of(web, fran) == {"inc:public", QUAKE}
    assert ids_of(web, root) == {"inc:public", QUAKE}, "the host center sees only what is shared with all"
    assert ids_of(web, fran, "/api/incidents?q=package") == set() and ids_of(web, tom, "/api/incidents?q=package") == {PACKAGE}
    # A direct read is refused like a TLP refusal, and audited.
    refused = api(web, "GET", f"/api/incidents/{PACKAGE}", fran)
    assert refused.status == 403 and b"not with yours" in refused.body
    trail = [r.to_dict() for r in read(redis_client)]
    assert any(r["action"] == "incident.read" and r["record"] == PACKAGE and r["outcome"] == "refused"
               and r["user"] == "fran" for r in trail)
    assert api(web, "GET", f"/api/incidents/{PACKAGE}", tom).status == 200
    assert api(web, "GET", f"/api/incidents/{PACKAGE}/annotation", fran).status == 403
    # Exports: GeoJSON and CSV.
    geo = api(web, "GET", "/api/export?format=geojson", fran)
    assert {f["id"] for f in orjson.loads(geo.body)["features"]} == {"inc:public", QUAKE}
    rows = list(csv.DictReader(io.StringIO(api(web, "GET", "/api/export?format=csv", fran).body.decode())))
    assert PACKAGE not in {r.get("id") for r in rows} and "Suspicious" not in str(rows)
    mine = api(web, "GET", "/api/export?format=geojson", tom)
    assert PACKAGE in {f["id"] for f in orjson.loads(mine.body)["features"]}


def test_a_fused_incident_shows_the_other_agency_only_the_public_report(web, floor, redis_client):  # noqa: F811
    fran, tom = floor["fran"], floor["tom"]
    theirs = orjson.loads(api(web, "GET", f"/api/incidents/{QUAKE}", fran).body)["incident"]
    assert theirs["sources"] == ["usgs-geojson"] and [r["owner"] for r in theirs["reports"]] == ["public"]
    ours = orjson.loads(api(web, "GET", f"/api/incidents/{QUAKE}", tom).body)["incident"]
    assert ours["sources"] == ["gdacs", "usgs-geojson"]
    assert sorted(r["owner"] for r in ours["reports"]) == ["MBTA, own agency only", "public"], "both owners kept"
    # The owner shares its source with all: the re-ingested report carries the new rule.
    _ingest(redis_client, replace(FEEDS["gdacs"], agency="MBTA", sharing="all"),
            gdacs_doc(origin=datetime.now(UTC) - timedelta(minutes=20)))
    assert fuse_now(redis_client)
    again = orjson.loads(api(web, "GET", f"/api/incidents/{QUAKE}", fran).body)["incident"]
    assert again["sources"] == ["gdacs", "usgs-geojson"], "visible again once shared with all"


def test_alerts_notes_and_reports_carry_their_owner(web, floor, redis_client):  # noqa: F811
    fran, tom, tess = floor["fran"], floor["tom"], floor["tess"]
    sent = api(web, "POST", "/api/alerts", tom, {"headline": "Red Line suspended at Park St", "tlp": "TLP:GREEN",
                                                 "sharing": "own"})
    assert sent.status in (200, 201), sent.body
    alert = orjson.loads(sent.body)
    alert_id = alert.get("id") or alert["alert"]["id"]
    listed = lambda who: {a["id"] for a in orjson.loads(api(web, "GET", "/api/alerts", who).body)["alerts"]}  # noqa: E731
    assert alert_id in listed(tess) and alert_id not in listed(fran)
    assert api(web, "GET", f"/api/alerts/{alert_id}", fran).status == 403
    # A note on a public incident, own-only: fire cannot read it; shared with all: it can.
    note = api(web, "PUT", "/api/incidents/inc:public/annotation", tom, {"note": "Our crew on scene", "sharing": "own", "version": 0})
    assert note.status == 201, note.body
    assert api(web, "GET", "/api/incidents/inc:public/annotation", fran).status == 403
    version = orjson.loads(note.body)["version"]
    assert api(web, "PUT", "/api/incidents/inc:public/annotation", fran, {"sharing": "all", "version": version}).status == 403
    shared = api(web, "PUT", "/api/incidents/inc:public/annotation", tom, {"sharing": "all", "version": version})
    assert shared.status == 200, shared.body
    assert api(web, "GET", "/api/incidents/inc:public/annotation", fran).status == 200
    # A suspicious-activity report shared with MBTA only.
    made = api(web, "POST", "/api/sars", tom, {**REPORT, "sharing": "own"})
    assert made.status == 201, made.body
    sar = orjson.loads(made.body)["ids"][0]
    seen = lambda who: {r["id"] for r in orjson.loads(api(web, "GET", "/api/sars", who).body)["reports"]}  # noqa: E731
    assert sar in seen(tess) and sar not in seen(fran)
    assert api(web, "GET", f"/api/sars/{sar}", fran).status == 404 and api(web, "GET", f"/api/sars/{sar}", tess).status == 200


@pytest.mark.browser
def test_the_desk_shows_each_agency_its_share(web, floor):  # noqa: F811
    from playwright.sync_api import sync_playwright

    base = f"http://127.0.0.1:{web.port}"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for name, sees, hidden in (("fran", "Water main break", "Suspicious package"),
                                       ("tom", "Suspicious package", None)):
                page = browser.new_page(viewport={"width": 1440, "height": 900})
                page.goto(base + "/login?next=/")
                page.fill("input[name=username]", name)
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_selector(".wf-desk .wf-incidents li[data-wf-id]", timeout=60_000)
                page.wait_for_function("(t) => document.body.innerText.includes(t)", arg=sees, timeout=30_000)
                text = page.inner_text("body")
                assert ("BFD" if name == "fran" else "MBTA") in page.inner_text(".wf-who")
                if hidden:
                    assert hidden not in text and hidden not in page.content()
                page.locator(f'.wf-desk .wf-incidents li[data-wf-id="{QUAKE}"]').click()
                page.wait_for_selector(".wf-desk .wf-detail:not([hidden]) h3", timeout=15_000)
                drawer = page.inner_text(".wf-desk .wf-detail").lower()
                assert "usgs" in drawer
                assert ("gdacs" in drawer) is (name == "tom"), "the drawer lists only the reports the reader may see"
                page.screenshot(path=f"/tmp/mine/agency-desk-{name}.png")
                page.set_viewport_size({"width": 1024, "height": 768})
                page.goto(base + "/tablet")
                page.wait_for_selector(".wf-who", timeout=30_000)
                assert ("BFD" if name == "fran" else "MBTA") in page.inner_text(".wf-who"), "the tablet shows it too"
                page.screenshot(path=f"/tmp/mine/agency-tablet-{name}.png")
                page.close()
        finally:
            browser.close()


def test_the_agency_ceiling_caps_its_members(web, floor, redis_client):  # noqa: F811
    tess = floor["tess"]  # a supervisor: TLP:RED by role
    redis_client.hset(IncidentKeys.INCIDENTS, "inc:amber", orjson.dumps({
        "id": "inc:amber", "kind": "security", "title": "Threat to the Red Line", "lat": 42.35, "lon": -71.06,
        "severity": "severe", "time": _now(2), "tlp": "TLP:AMBER", "reports": [{"event_id": "e:amber", "source": "x"}]}))
    assert "inc:amber" in ids_of(web, tess)
    AgencyStore(redis_client).update("MBTA", tlp="TLP:GREEN")
    assert "inc:amber" not in ids_of(web, tess), "MBTA's ceiling now caps its supervisor"
    assert api(web, "GET", "/api/incidents/inc:amber", tess).status == 403
