"""Exports from the desk over real HTTP: the reader's TLP bounds the file, and it is logged."""

from __future__ import annotations

import orjson
import pytest

from domain.picture.keys import IncidentKeys
from domain.products import exports
from tests.dashboard.test_reports_api import people, web  # noqa: F401 - fixtures
from tests.domain.test_exports import INCIDENTS
from tests.domain.test_operator import api

pytestmark = [pytest.mark.redis]


def test_a_viewer_downloads_only_what_they_may_see(web, people, redis_client):  # noqa: F811
    for incident in INCIDENTS:
        redis_client.hset(IncidentKeys.INCIDENTS, incident["id"], orjson.dumps(incident))
    viewer = api(web, "GET", "/api/export?format=geojson&to=Transit%20ops", people["victor"])
    assert viewer.status == 200 and viewer.header("x-tlp") == "TLP:GREEN"
    assert {f["id"] for f in orjson.loads(viewer.body)["features"]} == {"inc:clear", "inc:green", "inc:far"}
    supervisor = api(web, "GET", "/api/export?format=kml", people["sam"])
    assert supervisor.body.count(b"<Placemark") == 4 and supervisor.header("x-tlp") == "TLP:AMBER"
    assert api(web, "GET", "/api/export?format=shp", people["sam"]).status == 422
    log = list(exports.disseminations(redis_client))
    assert [(r["by"], r["to"]) for r in log] == [("victor", "Transit ops"), ("sam", "(not said)")]
