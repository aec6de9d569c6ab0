"""Share links over real HTTP: a read-only page without sign-in, scoped to its target and its TLP
ceiling, expiring, revocable, and every use (refused ones too) in the audit trail."""

from __future__ import annotations

import time

import orjson
import pytest

from domain.picture.keys import IncidentKeys
from domain.products import shares
from domain.products.keys import ProductKeys
from tests.dashboard.test_reports_api import people, web  # noqa: F401 - fixtures
from tests.domain.test_exports import INCIDENTS
from tests.domain.test_operator import api, audit_log

pytestmark = [pytest.mark.redis]


@pytest.fixture
def picture(redis_client):
    for incident in INCIDENTS:
        redis_client.hset(IncidentKeys.INCIDENTS, incident["id"], orjson.dumps(incident))
    return redis_client


def path_of(url: str) -> str:
    return "/share/" + url.rsplit("/share/", 1)[1]


def test_a_link_shows_its_incident_without_sign_in_and_dies_when_revoked(web, people, picture):  # noqa: F811
    made = api(web, "POST", "/api/shares", people["olivia"], {"kind": "incident", "target": "inc:green", "hours": 2,
                                                              "to": "Transit control"})
    assert made.status == 201, made.body
    link = made.json()
    page = web.get(path_of(link["url"]), html=True)
    assert page.status == 200 and b"Crowd crush risk at gate" in page.body and b"TLP:GREEN" in page.body
    assert b"OpenStreetMap" in page.body  # the map of the place, drawn on the server
    assert api(web, "DELETE", f"/api/shares/{link['id']}", people["victor"]).status == 403  # a viewer may not
    assert api(web, "DELETE", f"/api/shares/{link['id']}", people["olivia"]).status == 200
    gone = web.get(path_of(link["url"]), html=True)
    assert gone.status == 404 and b"Crowd crush" not in gone.body
    uses = [(r["outcome"], r["reason"]) for r in audit_log(picture) if r["action"] == "share.use"]
    assert ("ok", "incident inc:green") in uses and ("refused", "revoked") in uses
    assert not any(link["url"].rsplit("/", 1)[1] in k.decode() for k in picture.scan_iter())  # token never stored


def test_a_link_is_useless_above_its_level_and_expires(web, people, picture):  # noqa: F811
    # An operator (TLP:AMBER) may not make a link above her own level.
    refused = api(web, "POST", "/api/shares", people["olivia"], {"kind": "incident", "target": "inc:amber",
                                                                 "tlp": "TLP:RED"})
    assert refused.status == 403
    token, record = shares.create(picture, kind="incident", target="inc:green", creator=None, tlp="TLP:GREEN", hours=1)
    # The incident is marked higher after the link was made: the link no longer shows it.
    raised = {**INCIDENTS[1], "tlp": "TLP:AMBER"}
    picture.hset(IncidentKeys.INCIDENTS, "inc:green", orjson.dumps(raised))
    page = web.get(f"/share/{token}", html=True)
    assert page.status == 404 and b"Crowd crush" not in page.body
    # A workspace link leaves out what is above it; a lapsed link is refused.
    expired = {**record, "expires": time.time() - 1}
    picture.set(ProductKeys.share(shares.digest(token)), orjson.dumps(expired))
    assert web.get(f"/share/{token}", html=True).status == 404
    assert web.get("/share/not-a-token", html=True).status == 404
    assert web.request("POST", f"/share/{token}", "", {}).status in (401, 403, 405)
