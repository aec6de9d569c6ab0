"""The reports, entities and links API over real HTTP (uvicorn on loopback) and a real Redis:
the analyst's minute from a report to "what else is this plate linked to", with every refusal audited."""

from __future__ import annotations

from collections.abc import Iterator

import networkx as nx
import pytest

from domain.access.accounts import AccountStore, Role
from domain.reports import store, tips
from tests.domain.test_access import PASSWORD, Web, serve, stop
from tests.domain.test_operator import api, audit_log

pytestmark = [pytest.mark.redis]


@pytest.fixture(scope="module")
def web(redis_server) -> Iterator[Web]:
    import dashboard.app
    from domain.config.loader import load_config

    patch = pytest.MonkeyPatch()
    patch.delenv("WATCHFLOOR_CONFIG", raising=False)
    patch.setenv("REDIS_URL", redis_server.url)
    patch.setenv("WATCHFLOOR_EXERCISE", "false")
    served = serve(dashboard.app.create_app(load_config()).server)
    yield served
    stop(served)
    patch.undo()


@pytest.fixture
def people(redis_client, web) -> dict[str, str]:
    accounts = AccountStore(redis_client)
    for name, role in (("olivia", Role.OPERATOR), ("victor", Role.VIEWER), ("sam", Role.SUPERVISOR)):
        accounts.create(name, role, PASSWORD)
    return {name: web.session(name) for name in ("olivia", "victor", "sam")}


REPORT = {"category": "SURVL", "narrative": "Two men paced the distance between the barriers and took notes.",
          "time": "2026-04-20T14:05:00Z", "location": {"lat": 42.3496, "lon": -71.0784},
          "vehicles": [{"plate": "ABC 123", "state": "MA", "make": "Ford", "colour": "grey"}],
          "phones": ["617-555-0177"]}


def test_from_a_tip_to_a_shared_report_and_the_earlier_report_on_its_vehicle(web, people, redis_client):
    olivia, victor, sam = people["olivia"], people["victor"], people["sam"]
    earlier = api(web, "POST", "/api/sars", olivia, REPORT)
    assert earlier.status == 201, earlier.body
    earlier_id = earlier.json()["ids"][0]
    tip, _code = tips.submit(redis_client, {"narrative": "A grey Ford with plate abc-123 parked by gate C all day.",
                                            "vehicles": [{"plate": "abc-123", "state": "ma"}]},
                             address="192.0.2.7", per_hour=5)
    # The viewer may not read the tip, and its existence is not revealed; the refusal is audited.
    refused = api(web, "GET", f"/api/sars/{tip['id']}", victor)
    assert refused.status == 404
    assert any(r["action"] == "sar.read" and r["outcome"] == "refused" and r["user"] == "victor"
               for r in audit_log(redis_client))
    # Vetting: the operator screens and submits; she may not share; the supervisor shares after affirming.
    for to, extra in (("screened", {"category": "SURVL"}), ("review", {})):
        moved = api(web, "POST", f"/api/sars/{tip['id']}/move", olivia, {"to": to, "reason": "vetting", **extra})
        assert moved.status == 200, moved.body
    share = {"to": "shared", "reason": "potential nexus: repeated surveillance of the venue"}
    assert api(web, "POST", f"/api/sars/{tip['id']}/move", olivia, {**share, "affirm": True}).status == 403
    no_affirm = api(web, "POST", f"/api/sars/{tip['id']}/move", sam, share)
    assert no_affirm.status == 422 and no_affirm.json()["reason"].startswith("affirm")
    assert api(web, "POST", f"/api/sars/{tip['id']}/move", sam, {**share, "affirm": True}).status == 200
    # "What else is this plate linked to": the earlier report, through one vehicle entity.
    links = api(web, "GET", "/api/links?node=vehicle:MA:ABC123&depth=1", sam)
    assert links.status == 200, links.body
    ids = {n["id"] for n in links.json()["nodes"]}
    assert {f"R:{earlier_id}", f"R:{tip['id']}"} <= ids
    graphml = api(web, "GET", "/api/links.graphml?node=vehicle:MA:ABC123&depth=1", sam)
    parsed = nx.parse_graphml(graphml.body.decode())
    assert set(parsed.nodes) == ids
    # The viewer sees neither the tip nor (before the earlier report is shared) the vehicle.
    assert api(web, "GET", "/api/links?node=vehicle:MA:ABC123", victor).status == 404
    assert api(web, "GET", "/api/sars", victor).json() == {"reports": []}


def test_a_batch_with_one_wrong_field_stores_nothing(web, people, redis_client):
    bad = [REPORT, {**REPORT, "vehicles": [{"plate": "ABC 123", "colr": "red"}]}]
    reply = api(web, "POST", "/api/sars", people["olivia"], bad)
    assert reply.status == 422
    assert reply.json()["reason"].startswith("reports[1].vehicles[0].colr:")
    assert redis_client.zcard("wf:reports") == 0
    assert api(web, "POST", "/api/sars", people["victor"], REPORT).status == 403


def test_the_queue_line_and_paths(web, people, redis_client):
    a = api(web, "POST", "/api/sars", people["olivia"], REPORT).json()["ids"][0]
    api(web, "POST", "/api/sars", people["olivia"], {**REPORT, "vehicles": [], "emails": ["x@example.org"]})
    queue = api(web, "GET", "/api/sars/queue", people["victor"]).json()
    assert queue["waiting"] == 2 and queue["line"].startswith("2 reports waiting, oldest")
    path = api(web, "GET", "/api/links/path?a=vehicle:MA:ABC123&b=email:x@example.org", people["olivia"])
    assert path.status == 200 and path.json()["path"][1]["id"] == f"R:{a}"
    none = api(web, "GET", "/api/links/path?a=vehicle:MA:ABC123&b=email:nobody@example.org", people["olivia"])
    assert none.status == 404 and none.json()["reason"] == "no path"
    assert store.load(redis_client, a)["entered_by"] == "olivia"
