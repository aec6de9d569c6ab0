"""The replay's frames as small patches (dashboard/replay/view.py), checked without a browser: the
operations a Patch carries, applied as plotly's Patch would, give exactly the next frame's arrays;
a jump back or a frame whose new rows would not go at the end assigns whole arrays instead."""

from __future__ import annotations

import copy
from typing import Any

from dash import Patch

from dashboard.replay.view import MAP_FIELDS, MARKER_FIELDS, banner_text, figure_patches, trace_patch


def row(n: int, lat: float | None = None, colour: str = "#d55e00") -> dict[str, Any]:
    return {"id": f"inc:{n}", "lat": lat if lat is not None else 40.0 + n, "lon": -70.0, "text": f"incident {n}",
            "color": colour, "size": 12, "time": "2026-04-20T10:00:00Z", "kind": "fire"}


def arrays(rows: list[dict[str, Any]]) -> dict[str, Any]:
    trace: dict[str, Any] = {name: [r[key] for r in rows] for name, key in MAP_FIELDS}
    trace["marker"] = {name: [r[key] for r in rows] for name, key in MARKER_FIELDS}
    return {"data": [trace]}


def apply(figure: dict[str, Any], patch: Patch) -> dict[str, Any]:
    """The Patch's operations on a plain dict, as Dash's renderer applies them."""
    out = copy.deepcopy(figure)
    for op in patch.to_plotly_json()["operations"]:
        *path, last = op["location"]
        target = out
        for part in path:
            target = target[part]
        if op["operation"] == "Assign":
            target[last] = op["params"]["value"]
        elif op["operation"] == "Delete":
            del target[last]
        elif op["operation"] == "Extend":
            target[last].extend(op["params"]["value"])
        else:
            raise AssertionError(op)
    return out


def born(*rows_lists: list[dict[str, Any]]) -> dict[str, int]:
    order: dict[str, int] = {}
    for rows in rows_lists:
        for r in rows:
            order.setdefault(r["id"], int(r["id"].split(":")[1]))
    return order


def test_forward_frames_are_deletes_assignments_and_appends() -> None:
    before = [row(1), row(2), row(3), row(4)]
    after = [row(1), row(3, lat=50.0), row(4, colour="#56b4e9"), row(5), row(6)]
    patch = Patch()
    how = trace_patch(patch, 0, MAP_FIELDS, MARKER_FIELDS, before, after, born(before, after))
    assert how == "delta"
    operations = {op["operation"] for op in patch.to_plotly_json()["operations"]}
    assert operations == {"Delete", "Assign", "Extend"}
    assert apply(arrays(before), patch) == arrays(after)


def test_a_frame_of_a_big_picture_sends_only_what_moved() -> None:
    before = [row(n) for n in range(500)]
    after = [*before[:100], row(100, colour="#56b4e9"), *before[101:], row(500), row(501)]
    patch = Patch()
    assert trace_patch(patch, 0, MAP_FIELDS, MARKER_FIELDS, before, after, born(before, after)) == "delta"
    assert apply(arrays(before), patch) == arrays(after)
    assert len(str(patch.to_plotly_json())) * 20 < len(str(arrays(after)))


def test_a_jump_back_assigns_whole_arrays() -> None:
    before = [row(5), row(6)]
    after = [row(1), row(2), row(5)]
    patch = Patch()
    assert trace_patch(patch, 0, MAP_FIELDS, MARKER_FIELDS, before, after, born(before, after)) == "full"
    assert apply(arrays(before), patch) == arrays(after)


def test_nothing_changed_sends_almost_nothing() -> None:
    rows = [row(n) for n in range(200)]
    map_patch, timeline_patch, how = figure_patches(rows, rows, born(rows), 1_776_679_200_000)
    assert how == "delta" and map_patch.to_plotly_json()["operations"] == []
    assert {op["location"][1] for op in timeline_patch.to_plotly_json()["operations"]} <= {"xaxis", "shapes"}


def test_the_banner_says_replay_and_the_time_never_live() -> None:
    text = banner_text(1_776_679_200_000, True, 60)
    assert text.startswith("REPLAY — 2026-04-20 10:00:00 UTC") and "60×" in text and "LIVE" not in text
    assert "paused" in banner_text(1_776_679_200_000, False, 60)
