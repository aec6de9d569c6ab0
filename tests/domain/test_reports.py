"""Suspicious-activity reports and tips: intake, vetting, entities and links, on a real Redis."""

from __future__ import annotations

import time
from types import SimpleNamespace

import orjson
import pytest

from domain.access.accounts import Role
from domain.errors import AboveMarking, Invalid, NotFound
from domain.reports import entities, graph, store, tips, vetting
from domain.reports.form import FormError, parse_report
from domain.reports.keys import EntityKeys, ReportKeys

pytestmark = pytest.mark.redis

OPERATOR = SimpleNamespace(name="olga", role=Role.OPERATOR)
SUPERVISOR = SimpleNamespace(name="sam", role=Role.SUPERVISOR)
VIEWER = SimpleNamespace(name="vic", role=Role.VIEWER)
DISPLAY = SimpleNamespace(name="wall", role=Role.DISPLAY)


def sar(**fields):
    base = {"category": "Photography", "narrative": "Man photographed the stadium gates and guard posts for an hour.",
            "time": "2026-04-20T14:05:00Z", "location": {"lat": 42.3467, "lon": -71.0972}}
    return {**base, **fields}


def add(client, data, kind="sar", by="olga"):
    return store.save_new(client, store.build(data, kind=kind, by=by, channel="test"))


def audit_rows(client, action):
    rows = []
    for _id, raw in client.xrange("wf:audit"):
        row = {k.decode(): v.decode() for k, v in raw.items()}
        if row.get("action") == action:
            rows.append(row)
    return rows


# -- the form ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("data", "field"), [
    ({"narrative": "x" * 9000}, "narrative"),
    ({"narrative": "A man <script>alert(1)</script> near the gate"}, "narrative"),
    ({"narrative": "A man near the gate\x07 taking photos of it"}, "narrative"),
    ({"narrative": "A man near the gate taking photos \u202eetag"}, "narrative"),
    ({"narrative": "A man near the gate taking photos", "vehicles": [{"plate": "AB<1>"}]}, "vehicles[0].plate"),
    ({"narrative": "A man near the gate taking photos", "subjects": [{"name": "A", "dob": "1990-02-31"}]},
     "subjects[0].dob"),
    ({"narrative": "A man near the gate taking photos", "vehicles": [{"plate": "ABC", "colr": "red"}]},
     "vehicles[0].colr"),
    ({"narrative": "A man near the gate taking photos", "hair": "red"}, "hair"),
    ({"narrative": "A man near the gate taking photos", "emails": ["not-an-email"]}, "emails[0]"),
    ({"narrative": "A man near the gate taking photos", "phones": ["call me"]}, "phones[0]"),
    ({"narrative": "A man near the gate taking photos", "location": {"lat": 95, "lon": 0}}, "location.lat"),
    ({"narrative": "A man near the gate taking photos", "tlp": "SECRET"}, "tlp"),
    ({"narrative": "A man near the gate taking photos", "category": "Loitering"}, "category"),
    ({"narrative": "short"}, "narrative"),
])
def test_a_wrong_field_gets_one_line_naming_it(data, field):
    with pytest.raises(FormError) as caught:
        parse_report(data, kind="tip")
    message = str(caught.value)
    assert message.startswith(field + ":"), message
    assert "\n" not in message


def test_an_officers_report_needs_category_and_time():
    with pytest.raises(FormError, match="^category: is required"):
        parse_report({"narrative": "A man near the gate taking photos", "time": "2026-04-20T14:05:00Z"})
    with pytest.raises(FormError, match="^time: is required"):
        parse_report({"narrative": "A man near the gate taking photos", "category": "PHOTO"})
    assert parse_report(sar())["category"] == "PHOTO"


def test_a_protected_attribute_as_the_reason_is_refused_at_intake(redis_client):
    with pytest.raises(FormError, match="^narrative: gives race"):
        store.build(sar(narrative="The man looked Middle Eastern and was standing near the gate for ten minutes."),
                    kind="sar", by="olga", channel="test")
    # As part of a specific description it is allowed.
    ok = store.build(sar(subjects=[{"name": "Unknown", "description": "Middle Eastern man, 30s, red cap"}]),
                     kind="sar", by="olga", channel="test")
    assert ok["subjects"][0]["description"].startswith("Middle Eastern")


def test_a_bad_report_stores_nothing(redis_client):
    before = redis_client.dbsize()
    with pytest.raises(FormError):
        store.build(sar(vehicles=[{"plate": "ABC 123"}, {"plate": "<b>"}]), kind="sar", by="olga", channel="test")
    assert redis_client.dbsize() == before


# -- entities ---------------------------------------------------------------------------------------------
def test_one_plate_written_three_ways_is_one_entity(redis_client):
    for plate in ("ABC 123", "abc-123", "ABC123"):
        add(redis_client, sar(vehicles=[{"plate": plate, "state": "MA"}]))
    add(redis_client, sar(vehicles=[{"plate": "ABC123", "state": "NY"}]))
    vehicles = [e for e in (entities.load(redis_client, i.decode())
                            for i in redis_client.zrange(EntityKeys.ENTITIES, 0, -1)) if e["type"] == "vehicle"]
    assert sorted(v["key"] for v in vehicles) == ["MA:ABC123", "NY:ABC123"]
    ma = next(v for v in vehicles if v["key"] == "MA:ABC123")
    assert len(entities.linked_reports(redis_client, ma["id"])) == 3
    whys = {m["why"] for m in entities.mentions(redis_client, ma["id"])}
    assert whys == {"first mention", "same plate and state"}


def test_phones_are_e164_and_people_need_a_date_of_birth_to_be_joined(redis_client):
    add(redis_client, sar(phones=["(617) 555-0142"], subjects=[{"name": "John Smith", "dob": "1990-01-31"}]))
    add(redis_client, sar(phones=["+1 617 555 0142"], subjects=[{"name": "Smith, Jon", "dob": "1990-01-31"}]))
    add(redis_client, sar(subjects=[{"name": "John Smith"}]))
    phone = entities.find(redis_client, "phone:617.555.0142")
    assert entities.load(redis_client, phone)["key"] == "+16175550142"
    assert len(entities.linked_reports(redis_client, phone)) == 2
    person = entities.find(redis_client, "person:John Smith|1990-01-31")
    rows = entities.mentions(redis_client, person)
    assert len(rows) == 2 and any("same date of birth 1990-01-31" in r["why"] for r in rows)
    nodob = entities.find(redis_client, "person:John Smith")
    assert nodob and nodob != person  # never joined on a name alone
    assert [c["id"] for c in entities.candidates(redis_client, nodob)] == [person]


def test_merge_split_and_confirm(redis_client):
    a = add(redis_client, sar(organisations=["Acme Logistics LLC"]))
    b = add(redis_client, sar(organisations=["ACME Logistic"]))
    ea, eb = (entities.report_entities(redis_client, r["id"])[0] for r in (a, b))
    assert ea != eb
    kept = entities.merge(redis_client, ea, eb, by="sam", reason="same company, typo in report")
    assert entities.find(redis_client, eb) == ea
    assert entities.report_entities(redis_client, b["id"]) == [ea]
    assert kept["history"][-1]["action"] == "merge"
    mention = next(m["id"] for m in entities.mentions(redis_client, ea) if m["report"] == b["id"])
    new = entities.split(redis_client, ea, [mention], by="sam", reason="different company after all")
    assert entities.report_entities(redis_client, b["id"]) == [new["id"]]
    assert entities.report_entities(redis_client, a["id"]) == [ea]
    assert entities.confirm(redis_client, ea, by="sam")["confirmed"] is True


# -- vetting ----------------------------------------------------------------------------------------------
def test_the_workflow_its_roles_and_its_audit(redis_client):
    report = add(redis_client, sar())
    rid = report["id"]
    with pytest.raises(NotFound):  # a viewer may not even read an unvetted report
        vetting.move(redis_client, rid, {"to": "screened", "reason": "looks like a SAR"}, VIEWER)
    with pytest.raises(Invalid, match="^reason"):
        vetting.move(redis_client, rid, {"to": "screened", "reason": ""}, OPERATOR)
    with pytest.raises(Invalid, match="cannot move to 'shared'"):
        vetting.move(redis_client, rid, {"to": "shared", "reason": "skip the steps"}, SUPERVISOR)
    vetting.move(redis_client, rid, {"to": "screened", "reason": "behaviour matches PHOTO"}, OPERATOR)
    vetting.move(redis_client, rid, {"to": "review", "reason": "for the analyst"}, OPERATOR)
    with pytest.raises(AboveMarking, match="needs role supervisor"):
        vetting.move(redis_client, rid, {"to": "shared", "reason": "share it", "affirm": True}, OPERATOR)
    with pytest.raises(Invalid, match="^affirm"):
        vetting.move(redis_client, rid, {"to": "shared", "reason": "potential nexus"}, SUPERVISOR)
    done = vetting.move(redis_client, rid, {"to": "shared", "reason": "potential nexus", "affirm": True}, SUPERVISOR)
    assert done["state"] == "shared" and done["shared"]["review_date"]
    assert [h["to"] for h in store.history(redis_client, rid)] == ["received", "screened", "review", "shared"]
    outcomes = [(r["user"], r["outcome"]) for r in audit_rows(redis_client, "sar.move")]
    assert outcomes.count(("vic", "refused")) == 1 and outcomes.count(("olga", "refused")) == 2
    assert outcomes.count(("sam", "ok")) == 1
    assert redis_client.zscore(ReportKeys.QUEUE, rid) is None


def test_first_amendment_activity_is_shared_only_with_criminal_facts(redis_client):
    text = "Group at the protest handed out leaflets and filmed police lines near the stadium entrance."
    for category, ok in (("PHOTO", False), ("THREAT", True)):
        rid = add(redis_client, sar(category=category, narrative=text))["id"]
        for to in ("screened", "review"):
            vetting.move(redis_client, rid, {"to": to, "reason": "next step"}, SUPERVISOR)
        move = {"to": "shared", "reason": "potential nexus", "affirm": True}
        if ok:
            assert vetting.move(redis_client, rid, move, SUPERVISOR)["state"] == "shared"
        else:
            with pytest.raises(Invalid, match="First Amendment"):
                vetting.move(redis_client, rid, move, SUPERVISOR)
            assert "First Amendment" in store.load(redis_client, rid)["privacy_flags"][0]


def test_a_tip_is_screened_into_a_category(redis_client):
    tip, code = tips.submit(redis_client, {"narrative": "Someone left a backpack by the finish line and walked off."},
                            address="203.0.113.9", per_hour=5)
    with pytest.raises(Invalid, match="^category"):
        vetting.move(redis_client, tip["id"], {"to": "screened", "reason": "check it"}, OPERATOR)
    moved = vetting.move(redis_client, tip["id"], {"to": "screened", "reason": "unattended bag", "category": "SECTOR"},
                         OPERATOR)
    assert moved["category"] == "SECTOR" and moved["kind"] == "tip"


def test_queue_status_counts_age_against_the_target(redis_client):
    now = time.time()
    for age_h in (5, 1, 30):
        report = store.build(sar(), kind="sar", by="olga", channel="test", now=now - age_h * 3600)
        store.save_new(redis_client, report)
    status = store.queue_status(redis_client, target_hours=24, now=now)
    assert status["waiting"] == 3 and status["late"] == 1 and 30 * 3600 - 5 <= status["oldest_seconds"] <= 30 * 3600 + 5
    assert store.queue_line(status) == "3 reports waiting, oldest 30 h (target 24 h), 1 late"


# -- who sees what ----------------------------------------------------------------------------------------
def test_a_viewer_sees_neither_the_tip_nor_its_vehicle(redis_client):
    tip, _code = tips.submit(redis_client, {"narrative": "Grey van ABC 123 circled the arena five times slowly.",
                                            "vehicles": [{"plate": "ABC 123", "state": "MA"}]},
                             address="198.51.100.7", per_hour=5)
    rid = tip["id"]
    for to, extra in (("screened", {"category": "SURVL"}), ("review", {}), ("shared", {"affirm": True})):
        vetting.move(redis_client, rid, {"to": to, "reason": "vetting step", **extra}, SUPERVISOR)
    vehicle = graph.node_id_for(redis_client, "vehicle:MA:ABC123")
    assert graph.neighbourhood(redis_client, vehicle, SUPERVISOR)["nodes"]
    for user in (VIEWER, DISPLAY):
        assert graph.neighbourhood(redis_client, vehicle, user) == {"nodes": [], "edges": [], "truncated": False,
                                                                     "found": False}
        assert store.listing(redis_client, user) == []
        with pytest.raises(NotFound):
            store.read(redis_client, rid, user)
    # A shared officer's report (not a tip) is readable by a viewer, up to their TLP maximum.
    green = add(redis_client, sar(tlp="TLP:GREEN", vehicles=[{"plate": "abc123", "state": "ma"}]))
    amber = add(redis_client, sar(tlp="TLP:AMBER"))
    for report in (green, amber):
        for to in ("screened", "review", "shared"):
            vetting.move(redis_client, report["id"], {"to": to, "reason": "vetting step", "affirm": True}, SUPERVISOR)
    assert [r["id"] for r in store.listing(redis_client, VIEWER)] == [green["id"]]
    seen = graph.neighbourhood(redis_client, vehicle, VIEWER)
    assert {n["id"] for n in seen["nodes"]} == {vehicle, f"R:{green['id']}"}


# -- links ------------------------------------------------------------------------------------------------
def test_two_reports_sharing_a_phone_are_linked_and_the_path_is_found(redis_client):
    a = add(redis_client, sar(phones=["617-555-0199"], vehicles=[{"plate": "XYZ 9", "state": "MA"}]))
    b = add(redis_client, sar(phones=["+16175550199"], emails=["drop@example.org"]))
    c = add(redis_client, sar(emails=["other@example.org"]))
    plate = graph.node_id_for(redis_client, "vehicle:MA:XYZ9")
    email = graph.node_id_for(redis_client, "email:drop@example.org")
    found = graph.path(redis_client, plate, email, SUPERVISOR)
    assert [n["id"] for n in found][0] == plate and found[-1]["id"] == email
    assert f"R:{a['id']}" in [n["id"] for n in found] and f"R:{b['id']}" in [n["id"] for n in found]
    lonely = graph.node_id_for(redis_client, "email:other@example.org")
    assert graph.path(redis_client, plate, lonely, SUPERVISOR) is None
    assert f"R:{c['id']}" not in {n["id"] for n in graph.neighbourhood(redis_client, plate, SUPERVISOR, depth=4)["nodes"]}


def test_a_big_neighbourhood_is_cut_and_says_so(redis_client):
    for i in range(30):
        add(redis_client, sar(phones=["617-555-0100"], emails=[f"u{i}@example.org"]))
    phone = graph.node_id_for(redis_client, "phone:+16175550100")
    view = graph.neighbourhood(redis_client, phone, SUPERVISOR, depth=2, limit=25)
    assert len(view["nodes"]) == 25 and view["truncated"] and view["left_out"] > 0
    full = graph.neighbourhood(redis_client, phone, SUPERVISOR, depth=2, limit=500)
    assert len(full["nodes"]) == 61 and not full["truncated"]
    assert 'edge source=' in graph.graphml(full) and graph.edges_csv(full).count("\n") == 61


def test_purge_removes_the_report_its_mentions_and_orphan_entities(redis_client):
    now = time.time()
    old = store.save_new(redis_client, store.build(sar(phones=["617-555-0111"], emails=["old@example.org"],
                                                       time="2025-06-01T10:00:00Z"),
                                                   kind="sar", by="olga", channel="test", now=now - 400 * 86400))
    add(redis_client, sar(phones=["617-555-0111"]))
    email = entities.find(redis_client, "email:old@example.org")
    phone = entities.find(redis_client, "phone:+16175550111")
    assert [r["id"] for r in vetting.purge(redis_client, 365, dry_run=True)] == [old["id"]]
    assert store.load(redis_client, old["id"]) is not None
    vetting.purge(redis_client, 365, dry_run=False, actor="sam", source="test")
    assert store.load(redis_client, old["id"]) is None
    assert entities.load(redis_client, email) is None and entities.find(redis_client, "email:old@example.org") is None
    assert len(entities.linked_reports(redis_client, phone)) == 1  # still held by the other report
    record = vetting.purged(redis_client)[0]
    assert record["id"] == old["id"] and "narrative" not in record and record["entities_removed"] == "1"
    assert audit_rows(redis_client, "sar.purge")[0]["record"] == old["id"]


# -- tips -------------------------------------------------------------------------------------------------
def test_a_tip_gets_a_receipt_that_adds_information_and_reveals_nothing(redis_client):
    tip, code = tips.submit(redis_client, {"narrative": "A drone flew over the crowd at the start line twice."},
                            address="192.0.2.1", per_hour=5)
    assert tips.add(redis_client, code.lower(), "It was white with red lights.", address="192.0.2.1",
                    per_hour=5) == tip["id"]
    assert store.load(redis_client, tip["id"])["addenda"][0]["text"] == "It was white with red lights."
    with pytest.raises(NotFound):
        tips.add(redis_client, "AAAA-BBBB-CCCC", "more", address="192.0.2.1", per_hour=5)
    assert not any(b"192.0.2.1" in redis_client.get(k) or b"192.0.2.1" in k
                   for k in redis_client.scan_iter() if redis_client.type(k) == b"string")


def test_a_flood_from_one_address_is_throttled(redis_client):
    for _ in range(3):
        tips.submit(redis_client, {"narrative": "Someone is filming the bridge supports again today."},
                    address="192.0.2.50", per_hour=3)
    with pytest.raises(tips.Throttled, match="911"):
        tips.submit(redis_client, {"narrative": "Someone is filming the bridge supports again today."},
                    address="192.0.2.50", per_hour=3)
    assert redis_client.zcard(ReportKeys.REPORTS) == 3
    tips.submit(redis_client, {"narrative": "Another person reports the same bridge filming."},
                address="192.0.2.51", per_hour=3)


def test_the_report_json_shape_from_the_issue_is_accepted(redis_client):
    data = {"category": "Photography", "narrative": "Photographed the gates and the guard rotation.",
            "time": "2026-04-20T14:05:00Z", "location": {"text": "Boylston Street, Boston"},
            "subjects": [{"name": "Ann Doe", "dob": "1990-01-31", "description": "tall, grey coat"}],
            "vehicles": [{"plate": "ABC 123", "state": "MA", "make": "Ford", "model": "Transit", "colour": "white"}],
            "phones": ["617 555 0123"], "emails": ["ann@example.org"], "organisations": ["Doe Imports"]}
    report = add(redis_client, data)
    assert report["location"]["text"] == "Boylston Street, Boston"
    kinds = sorted(entities.load(redis_client, e)["type"] for e in entities.report_entities(redis_client, report["id"]))
    assert kinds == ["email", "organisation", "person", "phone", "vehicle"]
    assert orjson.loads(redis_client.get(ReportKeys.report(report["id"])))["state"] == "received"


def test_a_batch_resolves_its_reports_against_each_other(redis_client):
    built = [store.build(sar(phones=["617-555-0142"], subjects=[{"name": "John Smith", "dob": "1990-01-31"}]),
                         kind="sar", by="olga", channel="test"),
             store.build(sar(phones=["+16175550142"], subjects=[{"name": "Jon Smith", "dob": "1990-01-31"}]),
                         kind="sar", by="olga", channel="test")]
    store.save_many(redis_client, built)
    assert entities.report_entities(redis_client, built[0]["id"]) == entities.report_entities(redis_client,
                                                                                              built[1]["id"])
    assert redis_client.zcard(EntityKeys.ENTITIES) == 2


def test_an_annotation_naming_a_phone_links_its_incident_to_the_reports(redis_client):
    from domain.operations import annotations
    from domain.picture.keys import IncidentKeys

    redis_client.hset(IncidentKeys.INCIDENTS, "inc:gate", orjson.dumps(
        {"id": "inc:gate", "kind": "security", "title": "Gate C disturbance", "lat": 42.3, "lon": -71.1,
         "severity": "minor", "time": "2026-04-20T14:00:00Z", "reports": []}))
    report = add(redis_client, sar(phones=["617-555-0188"], tlp="TLP:GREEN"))
    for to in ("screened", "review", "shared"):
        vetting.move(redis_client, report["id"], {"to": to, "reason": "vetting step", "affirm": True}, SUPERVISOR)
    annotations.save(redis_client, "inc:gate", {"version": 0, "note": "Caller on (617) 555-0188 and "
                                                 "tips@example.org said the van left."}, OPERATOR)
    phone = graph.node_id_for(redis_client, "phone:+16175550188")
    seen = {n["id"] for n in graph.neighbourhood(redis_client, phone, SUPERVISOR, depth=1)["nodes"]}
    assert seen == {phone, f"R:{report['id']}", "I:inc:gate"}
    assert graph.path(redis_client, f"R:{report['id']}", "email:tips@example.org", SUPERVISOR) is None  # not a node id
    email = graph.node_id_for(redis_client, "email:tips@example.org")
    assert [n["id"] for n in graph.path(redis_client, f"R:{report['id']}", email, SUPERVISOR)] == [
        f"R:{report['id']}", phone, "I:inc:gate", email]
    # Marked criminal intelligence, the note's mentions are for operators and above only.
    annotations.save(redis_client, "inc:gate", {"version": 1, "criminal_intel": True,
                                                 "nexus": "Drug distribution from the van at gate C, observed twice"},
                     SUPERVISOR)
    assert {n["id"] for n in graph.neighbourhood(redis_client, phone, VIEWER, depth=1)["nodes"]} == {
        phone, f"R:{report['id']}"}
    assert graph.node_id_for(redis_client, "email:tips@example.org") is not None
    assert graph.neighbourhood(redis_client, email, VIEWER)["found"] is False
    # The note no longer names the e-mail: its entity (held by nothing else) goes; the phone stays.
    annotations.save(redis_client, "inc:gate", {"version": 2, "note": "Caller on 617 555 0188 again."}, SUPERVISOR)
    assert entities.find(redis_client, "email:tips@example.org") is None
    assert graph.node_id_for(redis_client, "phone:+16175550188") == phone


def test_listing_by_state_reads_that_state_only(redis_client):
    ids = [add(redis_client, sar())["id"] for _ in range(3)]
    vetting.move(redis_client, ids[1], {"to": "screened", "reason": "vetting step"}, OPERATOR)
    assert [r["id"] for r in store.listing(redis_client, OPERATOR, state="screened")] == [ids[1]]
    assert {r["id"] for r in store.listing(redis_client, OPERATOR, state="received")} == {ids[0], ids[2]}
    assert redis_client.zcard(ReportKeys.in_state("received")) == 2
