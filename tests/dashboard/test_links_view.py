"""What the link-analysis page draws and exports, without a browser: the view rebuilt from the page's
small state on a real Redis, with the reader's rights; elements, positions, layouts and exports."""

from __future__ import annotations

import io
import math
from types import SimpleNamespace

import networkx as nx
import pytest

from dashboard.links.elements import FORCE_MAX, LOOK, elements, layout
from dashboard.links.page import export_text
from dashboard.links.radial import positions
from dashboard.links.view import NODE_TYPES, Query, build_view, marking, truncation_line
from domain.access.accounts import Role
from domain.reports import entities, store, tips, vetting

SUPERVISOR = SimpleNamespace(name="sam", role=Role.SUPERVISOR)
VIEWER = SimpleNamespace(name="vic", role=Role.VIEWER)


def sar(**fields):
    base = {"category": "Photography", "narrative": "Man photographed the stadium gates and guard posts for an hour.",
            "time": "2026-04-20T14:05:00Z", "location": {"lat": 42.3467, "lon": -71.0972}, "tlp": "TLP:GREEN"}
    return {**base, **fields}


def add(client, data):
    return store.save_new(client, store.build(data, kind="sar", by="olga", channel="test"))


def node(client, text):
    return "E:" + entities.find(client, text)


def ids(view):
    return {n["id"] for n in view["nodes"]}


def test_the_state_from_the_browser_is_checked():
    query = Query.parse({"start": "<script>", "expanded": ["R:SAR-1", 5, "E:" + "a" * 500, "R:SAR-1"],
                         "path": ["R:SAR-1"]}, depth=9, types=["person", "nope"], since="2026-13", until="2026-04-30")
    assert query.start is None and query.expanded == ["R:SAR-1"] and query.path is None
    assert query.depth == 2 and query.types == {"person"}
    assert query.since == "" and query.until == "2026-04-30T23:59:59Z"
    assert Query.parse(None, types=list(NODE_TYPES)).types is None  # every type ticked: no filter
    assert set(LOOK) == set(NODE_TYPES)


@pytest.mark.redis
def test_expansions_merge_within_the_limit_and_say_what_was_left_out(redis_client):
    for i in range(5):
        add(redis_client, sar(phones=["617-555-0100"], emails=[f"u{i}@example.org"]))
    for i in range(10):
        add(redis_client, sar(emails=["u0@example.org"], phones=[f"617-555-02{i:02d}"]))
    phone, email = node(redis_client, "phone:+16175550100"), node(redis_client, "email:u0@example.org")
    view = build_view(redis_client, SUPERVISOR, Query(start=phone, depth=1))
    assert len(view["nodes"]) == 6 and not view["truncated"] and truncation_line(view) == ""
    first = next(n["id"] for n in view["nodes"] if n["type"] == "report" and email[2:] in
                 entities.report_entities(redis_client, n["id"][2:]))
    grown = build_view(redis_client, SUPERVISOR, Query(start=phone, depth=1, expanded=[first]))
    assert email in ids(grown) and len(grown["nodes"]) == 7
    both = build_view(redis_client, SUPERVISOR, Query(start=phone, depth=1, expanded=[first, email]))
    assert len(both["nodes"]) == 17 and not both["truncated"]
    for smaller, bigger in ((view, grown), (grown, both)):
        before, after = positions(smaller), positions(bigger)
        assert all(after[n] == before[n] for n in before), "an expansion moved nodes already drawn"
    assert {(e["source"], e["target"]) for e in grown["edges"]} >= {tuple(sorted((first, email)))}
    cut = build_view(redis_client, SUPERVISOR, Query(start=phone, depth=1, expanded=[first, email]), limit=12)
    assert len(cut["nodes"]) == 12 and cut["truncated"] and cut["left_out"] == 5
    assert truncation_line(cut) == "Showing 12 of 17+ nodes: narrow by type or date"
    # An expansion of a node no longer drawn (a filter changed) adds nothing.
    assert ids(build_view(redis_client, SUPERVISOR, Query(start=phone, depth=1, expanded=["E:gone"]))) == ids(view)


@pytest.mark.redis
def test_a_viewer_never_gets_the_tip_its_entities_or_a_path_through_them(redis_client):
    shared = add(redis_client, sar(vehicles=[{"plate": "ABC 123", "state": "MA"}]))
    tip, _code = tips.submit(redis_client, {"narrative": "Grey van ABC 123 circled the arena five times slowly.",
                                            "vehicles": [{"plate": "ABC123", "state": "MA"}],
                                            "emails": ["only-in-tip@example.org"]}, address="192.0.2.1", per_hour=5)
    for report, extra in ((shared, {}), (tip, {"category": "SURVL"})):
        for to in ("screened", "review", "shared"):
            vetting.move(redis_client, report["id"], {"to": to, "reason": "vetting step", "affirm": True, **extra},
                         SUPERVISOR)
    vehicle, hidden = node(redis_client, "vehicle:MA:ABC123"), node(redis_client, "email:only-in-tip@example.org")
    everything = build_view(redis_client, SUPERVISOR, Query(start=vehicle, path=(vehicle, hidden)))
    assert {f"R:{tip['id']}", hidden} <= ids(everything) and everything["path"][-1] == hidden
    assert marking(redis_client, everything).value == "TLP:AMBER"  # the tip came in unmarked
    seen = build_view(redis_client, VIEWER, Query(start=vehicle, path=(vehicle, hidden), expanded=[f"R:{tip['id']}"]))
    assert ids(seen) == {vehicle, f"R:{shared['id']}"} and seen["path"] == []
    assert marking(redis_client, seen).value == "TLP:GREEN"
    assert build_view(redis_client, VIEWER, Query(start=hidden))["nodes"] == []
    assert build_view(redis_client, SimpleNamespace(name="wall", role=Role.DISPLAY), Query(start=vehicle))["nodes"] == []


@pytest.mark.redis
def test_the_path_is_drawn_and_marked(redis_client):
    a = add(redis_client, sar(phones=["617-555-0100"], vehicles=[{"plate": "XYZ 9", "state": "MA"}]))
    b = add(redis_client, sar(phones=["+16175550100"], emails=["drop@example.org"]))
    plate, email = node(redis_client, "vehicle:MA:XYZ9"), node(redis_client, "email:drop@example.org")
    view = build_view(redis_client, SUPERVISOR, Query(start=plate, depth=1, path=(plate, email)))
    assert view["path"] == [plate, f"R:{a['id']}", node(redis_client, "phone:+16175550100"), f"R:{b['id']}", email]
    drawn = elements(view)
    assert sum("path" in e["classes"].split() for e in drawn if "source" not in e["data"]) == 5
    assert sum(e["classes"] == "path" for e in drawn if "source" in e["data"]) == 4
    assert all("position" in e for e in drawn if "source" not in e["data"])


def test_positions_are_spread_stable_and_start_in_the_middle():
    hub = {"nodes": [{"id": "hub"}] + [{"id": f"r{i}"} for i in range(499)] + [{"id": "x"}, {"id": "y"}],
           "edges": [{"source": "hub", "target": f"r{i}"} for i in range(499)] + [{"source": "x", "target": "y"}],
           "start": "hub"}
    placed = positions(hub)
    assert placed == positions(hub) and placed["hub"] == (0.0, 0.0)
    assert len(set(placed.values())) == len(placed) == 502
    ring = [math.hypot(*placed[f"r{i}"]) for i in range(499)]
    assert max(ring) < 700  # staggered over sub-rings: a disc that still shows its nodes when fitted
    assert min(placed["x"][0], placed["y"][0]) > max(x for x, _ in (placed[f"r{i}"] for i in range(499)))


def test_the_force_layout_is_kept_to_small_views():
    small = {"nodes": [{"id": f"n{i}"} for i in range(20)], "edges": []}
    big = {"nodes": [{"id": f"n{i}"} for i in range(FORCE_MAX + 1)], "edges": []}
    assert layout(small, "auto", 1)[0]["name"] == "cose"
    shape, note = layout(big, "force", 2)
    assert shape["name"] == "preset" and "force layout is for up to" in note and shape["wfRun"] == 2
    assert layout(big, "auto", 3) == ({"name": "preset", "animate": False, "fit": True, "padding": 40, "wfRun": 3}, "")


def test_graphml_export_parses_and_carries_the_marking():
    view = {"start": "E:EVE-1", "truncated": False, "path": None,
            "nodes": [{"id": "E:EVE-1", "type": "vehicle", "label": "ABC123 (MA)", "reports": ["SAR-1"], "depth": 0,
                       "degree": 1, "confirmed": False},
                      {"id": "R:SAR-1", "type": "report", "label": "=cmd|' /C calc'!A0", "time": "2026-04-20T14:05:00Z",
                       "lat": None, "lon": None, "tlp": "TLP:AMBER", "depth": None, "degree": 1}],
            "edges": [{"source": "E:EVE-1", "target": "R:SAR-1"}]}
    parsed = nx.read_graphml(io.BytesIO(export_text(view, "graphml", "TLP:AMBER").encode()))
    assert set(parsed.nodes) == {"E:EVE-1", "R:SAR-1"} and parsed.graph["tlp"] == "TLP:AMBER"
    assert "lat" not in parsed.nodes["R:SAR-1"] and parsed.nodes["E:EVE-1"]["reports"] == "SAR-1"
    assert export_text(view, "nodes", "TLP:AMBER").splitlines()[2].split(",")[2].startswith("'=")  # no formula
    assert export_text(view, "edges", "TLP:AMBER").count("\n") == 2
