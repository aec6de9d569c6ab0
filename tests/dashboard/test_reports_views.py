"""The reports pages' pieces without a browser, against a real Redis: plain words for form errors, the
form's values as the domain reads them, the queue line per screen and role, what each role's page and
detail hold, and entity decisions (refusals audited, nothing shown above a reader's marking)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dashboard.reports import entity_view
from dashboard.reports.officer_form import field_dom_id, form_data, markings_for
from dashboard.reports.page import detail_view, reports_layout
from dashboard.reports.plain import age_words, plain
from dashboard.reports.queue_line import line_for, phrases
from domain.access.accounts import Role, User
from domain.access.audit import AuditQuery, RequestContext, request_context, search
from domain.errors import Invalid, NotFound
from domain.reports import entities, store, tips, vetting
from domain.reports.form import parse_report

pytestmark = [pytest.mark.redis]

OPERATOR, SUPERVISOR = User("olga", Role.OPERATOR), User("sam", Role.SUPERVISOR)
VIEWER, DISPLAY = User("vic", Role.VIEWER), User("lobby", Role.DISPLAY)
NARRATIVE = "Two men paced out the distance from the fence to the substation transformer and took notes."


@pytest.fixture
def signed_in(redis_client) -> Iterator[callable]:
    """Run as a signed-in user (what the access middleware sets for each request)."""
    tokens = []

    def as_user(user: User) -> None:
        tokens.append(request_context.set(RequestContext(lambda: redis_client, "203.0.113.9", user)))

    yield as_user
    for token in reversed(tokens):
        request_context.reset(token)


def _text(component) -> str:
    return str(component)


def _report(client, *, tlp="TLP:GREEN", **fields) -> dict:
    data = {"category": "SURVL", "narrative": NARRATIVE, "time": "2026-04-20T14:05:00Z", "tlp": tlp, **fields}
    return store.save_new(client, store.build(data, kind="sar", by="olga", channel="desk"))


def _shared(client, report: dict) -> dict:
    for step in ({"to": "screened", "category": "SURVL"}, {"to": "review"}, {"to": "shared", "affirm": True}):
        vetting.move(client, report["id"], {**step, "reason": "as the analyst decided"}, None)
    return store.load(client, report["id"])


def test_form_errors_name_the_field_in_words():
    assert plain("vehicles[0].plate: 'AB#1' is not a plate") == "Vehicle 1, plate: 'AB#1' is not a plate"
    assert plain("subjects[2].dob: '1990-13-01' is not a date") == "Subject 3, date of birth: '1990-13-01' is not a date"
    assert plain("emails[1]: 'x' is not an e-mail address") == "E-mail 2: 'x' is not an e-mail address"
    assert plain("affirm: before sharing, affirm...").startswith("Affirmations: ")
    assert plain("location.lat: must be a number") == "Latitude: must be a number"
    assert plain("the store was busy") == "the store was busy"
    assert (age_words(59), age_words(3 * 3600 + 5), age_words(5 * 86400)) == ("1 min", "3 h", "5 d")


def test_the_form_values_become_a_report_the_domain_accepts():
    fields = {"wf-sar-cat-crim": None, "wf-sar-cat-more": "PHOTO", "wf-sar-sector": "Energy", "wf-sar-narrative": NARRATIVE,
              "wf-sar-time": "2026-04-20T14:05", "wf-sar-loc-text": "", "wf-sar-lat": "42.35", "wf-sar-lon": " -71.06 ",
              "wf-sar-phones": "617-555-0134\n\n +1 617 555 0199 ", "wf-sar-emails": "", "wf-sar-orgs": "Acme Ltd",
              "wf-sar-source": "patrol", "wf-sar-officer": "olga", "wf-sar-tlp": "TLP:GREEN"}
    subjects = [{"id": {"wf-sar-subject": part, "i": i}, "value": value} for i, row in enumerate(
        [{"name": "Jon Doe", "dob": "1990-01-31", "description": "tall"}, {"name": "", "dob": "", "description": " "}])
        for part, value in row.items()]
    vehicles = [{"id": {"wf-sar-vehicle": "plate", "i": 0}, "value": "ABC 123"},
                {"id": {"wf-sar-vehicle": "state", "i": 0}, "value": "ma"}]
    data = form_data(fields, subjects, vehicles)
    assert data["category"] == "PHOTO" and data["location"] == {"lat": "42.35", "lon": "-71.06"}
    assert data["phones"] == ["617-555-0134", "+1 617 555 0199"] and data["organisations"] == ["Acme Ltd"]
    assert data["subjects"] == [{"name": "Jon Doe", "dob": "1990-01-31", "description": "tall"}], "empty rows left out"
    checked = parse_report(data)
    assert checked["time"] == "2026-04-20T14:05:00Z" and checked["vehicles"][0]["state"] == "MA"
    assert checked["location"] == {"lat": 42.35, "lon": -71.06}


def test_the_field_a_form_error_names_is_found_on_the_form():
    assert field_dom_id("vehicles[0].plate: 'AB#1' is not a plate") == '{"i":0,"wf-sar-vehicle":"plate"}'
    assert field_dom_id("subjects[1]: is empty; give a name") == '{"i":1,"wf-sar-subject":"name"}'
    assert field_dom_id("emails[2]: 'x' is not an e-mail address") == "wf-sar-emails"
    assert field_dom_id("location.lon: must be between -180 and 180") == "wf-sar-lon"
    assert field_dom_id("the store was busy") is None


def test_nobody_marks_a_report_above_what_they_may_read(redis_client, signed_in):
    signed_in(OPERATOR)
    assert markings_for(OPERATOR)[-1] == "TLP:AMBER" and markings_for(SUPERVISOR)[-1] == "TLP:RED"


def test_the_queue_line_shows_on_the_desk_to_operators_and_on_the_wall_to_screens():
    status = {"waiting": 3, "oldest_seconds": 5 * 3600 + 10, "target_seconds": 24 * 3600, "late": 0}
    line = "3 reports waiting, oldest 5 h (target 24 h)"
    assert line_for("desk", OPERATOR, status)[:2] == (line, False)
    assert line_for("wall", DISPLAY, status)[:2] == (line, False)
    assert line_for("desk", VIEWER, status)[:2] == ("Shared reports", False)
    assert line_for("desk", DISPLAY, status)[1] and line_for("tablet", OPERATOR, status)[1]
    assert line_for("wall", None, status)[1], "no session, nothing"
    late = line_for("wall", DISPLAY, {**status, "late": 2})
    assert late[0].endswith(", 2 late") and "wf-sar-qlate" in late[2]
    assert "unreachable" in line_for("wall", DISPLAY, None)[0]
    # Drawn in unbreakable phrases that read as the same line.
    drawn = phrases(late[0])
    assert len(drawn) == 3 and _words(drawn) == late[0]


def _words(node) -> str:
    if isinstance(node, (list, tuple)):
        return "".join(_words(n) for n in node)
    return node if isinstance(node, str) else _words(getattr(node, "children", "") or "")


def test_each_role_gets_its_page(redis_client, signed_in):
    full = _text(reports_layout())  # Dash's validation layout: every component the callbacks name
    for needed in ("wf-sar-form", "wf-sar-file", "wf-sar-queue", "wf-sar-detail", "wf-sar-view", "wf-sar-qline"):
        assert needed in full
    signed_in(DISPLAY)
    refused = _text(reports_layout())
    assert "not shown on display screens" in refused and "wf-sar-queue" not in refused
    records, _ = search(redis_client, AuditQuery.parse({"action": "page.read", "outcome": "refused"}))
    assert records and records[0].record == "/reports" and records[0].user == "lobby"
    signed_in(VIEWER)
    viewer = _text(reports_layout(state="review"))
    assert "wf-sar-form" not in viewer and "New report" not in viewer and "'state': 'shared'" in viewer
    signed_in(OPERATOR)
    operator = _text(reports_layout(id="SAR-20260101-ABCDEF"))
    assert "wf-sar-form" in operator and "'id': 'SAR-20260101-ABCDEF'" in operator


def test_a_viewer_reads_shared_officer_reports_only_and_gets_no_decisions(redis_client, signed_in):
    sar = _shared(redis_client, _report(redis_client, vehicles=[{"plate": "SHR 1", "state": "MA"}]))
    tip, _code = tips.submit(redis_client, {"narrative": NARRATIVE, "vehicles": [{"plate": "shr-1", "state": "MA"}],
                                            "tlp": "TLP:GREEN"}, address="192.0.2.1", per_hour=100)
    _shared(redis_client, tip)
    amber = _report(redis_client, tlp="TLP:AMBER", vehicles=[{"plate": "SHR1", "state": "MA"}])
    signed_in(VIEWER)
    shown = _text(detail_view(redis_client, VIEWER, sar["id"]))
    assert sar["id"] in shown and "SHR1 (MA)" in shown
    assert tip["id"] not in shown and amber["id"] not in shown, "mentions only from reports the viewer may read"
    assert "wf-ent" not in shown and "wf-sar-move" not in shown and "Vetting" not in shown
    assert "that you may read" in _text(detail_view(redis_client, VIEWER, tip["id"]))
    signed_in(OPERATOR)
    operator = _text(detail_view(redis_client, OPERATOR, amber["id"]))
    assert tip["id"] in operator and sar["id"] in operator and "'wf-sar-move': 'screened'" in operator
    assert "'wf-sar-move': 'shared'" not in operator


def test_sharing_offers_the_affirmations_to_supervisors(redis_client, signed_in):
    report = _report(redis_client)
    for step in ("screened", "review"):
        vetting.move(redis_client, report["id"], {"to": step, "reason": "as the screener decided"}, None)
    signed_in(SUPERVISOR)
    shown = _text(detail_view(redis_client, SUPERVISOR, report["id"]))
    assert "'wf-sar-move': 'shared'" in shown and "protected_attributes" in shown and "first_amendment" in shown


def test_entity_decisions_need_a_reason_stay_within_the_marking_and_are_audited(redis_client, signed_in):
    mine = _report(redis_client, subjects=[{"name": "Dana Q Whitcombe"}])
    close = _report(redis_client, subjects=[{"name": "Dana Q Whitcomb"}])
    secret = _report(redis_client, tlp="TLP:RED", subjects=[{"name": "Dana Q. Whitcombe-"}])
    keep, near, hidden = (entities.report_entities(redis_client, r["id"])[0] for r in (mine, close, secret))
    signed_in(OPERATOR)
    panel = _text(entity_view.entities_panel(redis_client, OPERATOR, mine["id"], can_decide=True))
    assert near in panel and hidden not in panel, "a candidate known only above the reader's marking stays hidden"
    with pytest.raises(Invalid, match="reason"):
        entity_view.decide(redis_client, OPERATOR, "confirm", keep, {"reason": ""})
    with pytest.raises(NotFound):
        entity_view.decide(redis_client, OPERATOR, "merge", keep, {"reason": "the same woman", "other-id": hidden})
    with pytest.raises(NotFound):
        entity_view.decide(redis_client, OPERATOR, "confirm", hidden, {"reason": "looks right to me"})
    done = entity_view.decide(redis_client, OPERATOR, "merge", keep, {"reason": "the same woman", "other": near})
    assert done.startswith(f"Merged {near} into {keep}") and entities.find(redis_client, near) == keep
    records, _ = search(redis_client, AuditQuery.parse({"action": "entity."}))
    assert [(r.action, r.outcome) for r in reversed(records)] == [
        ("entity.confirm", "refused"), ("entity.merge", "refused"), ("entity.confirm", "refused"), ("entity.merge", "ok")]
    assert all(r.user == "olga" and r.source == "203.0.113.9" for r in records)


def test_privacy_flags_lead_a_report_and_the_tipsters_additions_are_shown(redis_client, signed_in):
    tip, code = tips.submit(redis_client, {"narrative": "He was suspicious because he looked Middle Eastern, standing by "
                                                        "the rally at the gate."}, address="192.0.2.2", per_hour=100)
    store.add_information(redis_client, code, "He came back at 9 pm with a second man.")
    signed_in(OPERATOR)
    shown = detail_view(redis_client, OPERATOR, tip["id"])
    flags = next(c for c in shown if getattr(c, "className", "") == "wf-sar-flags")
    assert flags.role == "alert" and "protected attribute" in _words(flags) and "First Amendment" in _words(flags)
    assert shown.index(flags) == 1, "right under the title, before any move or field"
    assert "He came back at 9 pm with a second man." in _words(shown) and "The tipster's additions" in _words(shown)
