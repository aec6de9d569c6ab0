"""The replay's frames as small patches (dashboard/replay/view.py), checked without a browser: the
operations a Patch carries, applied as plotly's Patch would, give exactly the next frame's arrays;
a jump back or a frame whose new rows would not go at the end assigns whole arrays instead."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dash import Patch

from dashboard.replay.view import MAP_FIELDS, MARKER_FIELDS, banner_text, figure_patches, map_rows, trace_patch
from domain.access.tlp import TLP
from domain.replay.frames import rows_at
from domain.replay.picture import Replay, Window
from domain.store.streams import EventKeys
from feeds.model import Event, Kind, Severity


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


@pytest.mark.redis
def test_rows_worked_out_from_the_frame_shown_equal_rows_worked_out_whole(redis_client) -> None:
    now = datetime.now(UTC)
    start_ms = int(now.timestamp() * 1000) - 3_600_000
    for n in range(60):  # one report a minute, some told again (they fuse), some timed a day ago (they leave)
        at = datetime.fromtimestamp((start_ms + n * 60_000) / 1000, UTC) - (timedelta(hours=23, minutes=50)
                                                                             if n % 7 == 0 else timedelta(0))
        for suffix, shift in (("", 0), ("b", 1)) if n % 3 == 0 else (("", 0),):
            raw, _ = Event(id=f"t:{n}{suffix}", source="cap" if not suffix else "rss", kind=Kind.FIRE, time=at,
                           title=f"fire {n}", lat=40.0 + n / 10, lon=-70.0, severity=Severity.SEVERE,
                           feed="t").encoded()
            redis_client.xadd(EventKeys.EVENTS, {"id": f"t:{n}{suffix}", "op": "new", "e": raw, "sup": ""},
                              id=f"{start_ms + n * 60_000 + shift}-0")
    replay = Replay.build(redis_client, Window(now - timedelta(hours=1), now))
    step = 90_000
    for t in range(replay.window.start_ms, replay.window.end_ms, step):
        map_rows(redis_client, replay, t, TLP.AMBER)  # the frame shown, worked out whole
        stepped = map_rows(redis_client, replay, t + step, TLP.AMBER, base_ms=t)
        whole = [r for r in rows_at(redis_client, replay, datetime.fromtimestamp((t + step) / 1000, UTC), TLP.AMBER)
                 if r.get("lat") is not None]
        assert stepped == whole, t


@pytest.mark.redis
def test_the_replay_map_shows_each_agency_its_share(redis_client) -> None:
    """The replay's map rows follow the agencies' sharing as the live screens do: an item its agency
    keeps to itself is drawn for that agency's people and for nobody else's at the same marking."""
    from domain.agencies.access import Reader

    now = datetime.now(UTC)
    at_ms = int(now.timestamp() * 1000) - 600_000
    for n, (agency, sharing) in enumerate(((None, None), ("MBTA", "own"))):
        raw, _ = Event(id=f"s:{n}", source="cad", kind=Kind.SECURITY, time=now - timedelta(minutes=10),
                       title=f"item {n}", lat=42.35 + n, lon=-71.06, severity=Severity.MODERATE, feed="cad",
                       agency=agency, sharing=sharing).encoded()
        redis_client.xadd(EventKeys.EVENTS, {"id": f"s:{n}", "op": "new", "e": raw, "sup": ""}, id=f"{at_ms + n}-0")
    replay = Replay.build(redis_client, Window(now - timedelta(hours=1), now))
    t = replay.window.end_ms
    titles = {who: {r["id"] for r in map_rows(redis_client, replay, t, Reader(TLP.AMBER, who))} for who in ("MBTA", "BFD")}
    assert len(titles["MBTA"]) == 2, titles
    assert len(titles["BFD"]) == 1 and titles["BFD"] < titles["MBTA"], titles
