"""What a replay screen draws for one frame, as small updates: the map's and the timeline's marker
arrays patched in place (removed, changed, appended) from the frame the browser shows to the one it
asked for, never the whole figure again; the side panels (threat, alerts, annotations) as HTML.

The browser's traces hold the rows of the frame it shows, in the order the incidents first appeared
in the replay (domain/replay/picture.py ``born``). Moving forward, what left is deleted (highest index
first), what changed is assigned at its index and what is new is appended; that order holds because
a new incident appeared after every kept one. A jump backwards, or a frame whose new rows would not
go at the end, assigns whole arrays instead (still a Patch: the layout and the basemap stay).
Plain lists only (FACTS.md: a Patch extend on a typed array breaks the figure)."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import redis
from dash import Patch, html

from dashboard.panels.status import threat_panel
from domain.agencies.access import Reader, reader_for
from domain.picture import incidents
from domain.picture.markers import SEVERITY_COLOURS
from domain.replay.frames import rows_at
from domain.replay.picture import SHOWN_BEFORE, Replay, Window

MAP_FIELDS = (("lat", "lat"), ("lon", "lon"), ("customdata", "id"), ("hovertext", "text"))
MARKER_FIELDS = (("color", "color"), ("size", "size"))
TIMELINE_FIELDS = (("x", "time"), ("y", "kind"), ("customdata", "id"), ("hovertext", "text"))
REPLAYS_KEPT = 2  # windows held per web process (each a window's changes)
_replays: OrderedDict[tuple[int, int], Replay] = OrderedDict()
_lock = threading.Lock()


def replay_for(client: redis.Redis, window: Window, archive: Path, fusion_window_hours: float) -> Replay:
    """The replay of ``window``, built once per process and kept for the next frames (the last
    REPLAYS_KEPT windows asked for). Deterministic, so every process builds the same one."""
    key = (window.start_ms, window.end_ms)
    with _lock:
        found = _replays.get(key)
        if found is None:
            found = Replay.build(client, window, archive=archive, fusion_window_hours=fusion_window_hours)
            _replays[key] = found
            while len(_replays) > REPLAYS_KEPT:
                _replays.popitem(last=False)
        _replays.move_to_end(key)
        return found


_rows: OrderedDict[tuple[int, int, Reader], list[dict[str, Any]]] = OrderedDict()
ROWS_KEPT = 16  # recent frames' rows: the next frame's patch starts from the one the browser shows


def map_rows(client: redis.Redis, replay: Replay, when_ms: int | None, reader: Any,
             base_ms: int | None = None) -> list[dict[str, Any]]:
    """The placed marker rows of the frame at ``when_ms`` for this reader (None: no frame, nothing
    drawn). The last few frames' rows are kept; given ``base_ms`` (the frame the browser shows) whose
    rows are kept, only the incidents changed in between are worked out again (a frame at 60x costs
    its changes, not the whole picture)."""
    if when_ms is None:
        return []
    ceiling = reader_for(reader, client)  # TLP and the agency's sharing, as frame() and the live screens
    key = (id(replay), int(when_ms), ceiling)
    with _lock:
        kept = _rows.get(key)
        base = _rows.get((id(replay), int(base_ms), ceiling)) if base_ms is not None else None
    if kept is not None:
        return kept
    when = datetime.fromtimestamp(when_ms / 1000, UTC)
    if base is not None and base_ms is not None and base_ms <= when_ms:
        rows = _rows_from(client, replay, base, int(base_ms), int(when_ms), ceiling)
    else:
        rows = [r for r in rows_at(client, replay, when, ceiling) if _placed(r)]
    with _lock:
        _rows[key] = rows
        while len(_rows) > ROWS_KEPT:
            _rows.popitem(last=False)
    return rows


@functools.lru_cache(maxsize=65_536)
def _epoch(stamp: Any) -> float | None:
    """Epoch seconds of a row's ISO time (None: none or unreadable, as domain.replay.picture reads it)."""
    try:
        when = datetime.fromisoformat(str(stamp or "").replace("Z", "+00:00"))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _placed(row: dict[str, Any]) -> bool:
    return row.get("lat") is not None and row.get("lon") is not None and not row.get("hide")


def _rows_from(client: redis.Redis, replay: Replay, base: list[dict[str, Any]], base_ms: int, when_ms: int,
               ceiling: Any) -> list[dict[str, Any]]:
    """The rows at ``when_ms`` from those at ``base_ms``: the incidents changed in between worked out
    again by the live screens' own function (domain.picture.incidents.rows_for), those timed before
    the frame's SHOWN_BEFORE dropped."""
    by_id = {r["id"]: r for r in base}
    touched: dict[str, bytes | None] = {}
    for change in replay.changes_between(base_ms, when_ms):
        touched[change.id] = change.raw
    fresh = [orjson.loads(raw) for raw in touched.values() if raw is not None]
    for incident_id in touched:
        by_id.pop(incident_id, None)
    for row in incidents.rows_for(client, fresh, ceiling):
        if _placed(row):
            by_id[row["id"]] = row
    since = (datetime.fromtimestamp(when_ms / 1000, UTC) - SHOWN_BEFORE).timestamp()
    rows = [r for r in by_id.values() if (_epoch(r.get("time")) or since) >= since]
    rows.sort(key=lambda r: replay.born.get(r["id"], 0))
    return rows


def _value(row: dict[str, Any], name: str) -> Any:
    return row.get(name)


def trace_patch(patch: Patch, trace: int, fields: tuple[tuple[str, str], ...], marker: tuple[tuple[str, str], ...],
                before: list[dict[str, Any]], after: list[dict[str, Any]], born: dict[str, int]) -> str:
    """Fill ``patch`` with what turns trace ``trace`` from ``before`` rows into ``after`` rows;
    "delta" when done by deletes, assignments and appends, "full" when whole arrays were assigned."""
    data = patch["data"][trace]
    columns = [(data[name], key) for name, key in fields] + [(data["marker"][name], key) for name, key in marker]
    old_ids = [r["id"] for r in before]
    new_ids = {r["id"] for r in after}
    kept = [r for r in before if r["id"] in new_ids]
    held = {r["id"] for r in kept}
    added = [r for r in after if r["id"] not in held]
    newest_kept = max((born.get(r["id"], 0) for r in kept), default=-1)
    if before and (any(born.get(r["id"], 0) < newest_kept for r in added)
                   or len(before) - len(kept) + len(added) > max(len(after), 1)):
        before = []  # a jump back, or most of the picture changed: whole arrays are smaller
    if not before:
        for column, key in columns:
            column_value = [_value(r, key) for r in after]
            _assign(patch, trace, fields, marker, column, key, column_value)
        return "full"
    for index in sorted((i for i, iid in enumerate(old_ids) if iid not in new_ids), reverse=True):
        for column, _key in columns:
            del column[index]
    now = {r["id"]: r for r in after}
    for index, row in enumerate(kept):
        fresh = now[row["id"]]
        for column, key in columns:
            if row.get(key) != fresh.get(key):
                column[index] = _value(fresh, key)
    if added:
        for column, key in columns:
            column.extend([_value(r, key) for r in added])
    return "delta"


def _assign(patch: Patch, trace: int, fields: Any, marker: Any, column: Any, key: str, value: list[Any]) -> None:
    for name, k in fields:
        if k == key:
            patch["data"][trace][name] = value
            return
    for name, k in marker:
        if k == key:
            patch["data"][trace]["marker"][name] = value
            return


EMPTY_SPAN = timedelta(hours=1)  # the timeline's range while a frame holds nothing


def figure_patches(before: list[dict[str, Any]], after: list[dict[str, Any]], born: dict[str, int],
                   when_ms: int) -> tuple[Patch, Patch, str]:
    """The map's and the timeline's patches from one frame's rows to the next's, and "delta" or "full"."""
    map_patch, timeline_patch = Patch(), Patch()
    how = trace_patch(map_patch, 0, MAP_FIELDS, MARKER_FIELDS, before, after, born)
    trace_patch(timeline_patch, 0, TIMELINE_FIELDS, (("color", "color"),), before, after, born)
    moment = datetime.fromtimestamp(when_ms / 1000, UTC)
    stamp = moment.strftime("%Y-%m-%d %H:%M:%S")
    if after:
        timeline_patch["layout"]["xaxis"]["autorange"] = True
    else:  # nothing yet: the hour up to the moment, not plotly's autorange around one line (a millisecond wide)
        timeline_patch["layout"]["xaxis"]["autorange"] = False
        timeline_patch["layout"]["xaxis"]["range"] = [f"{moment - EMPTY_SPAN:%Y-%m-%d %H:%M:%S}",
                                                      f"{moment + EMPTY_SPAN / 6:%Y-%m-%d %H:%M:%S}"]
    timeline_patch["layout"]["shapes"] = [{"type": "line", "xref": "x", "yref": "paper", "x0": stamp, "x1": stamp,
                                          "y0": 0, "y1": 1, "line": {"color": "#cc79a7", "width": 3}}]
    return map_patch, timeline_patch, how


def full_figures(map_figure: Any, timeline_figure: Any, rows: list[dict[str, Any]],
                 when_ms: int | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Whole figures (as dicts) holding ``rows``: what sending everything every frame costs, the
    comparison bench/replay.py measures (``/replay?frames=full``)."""
    map_dict = map_figure.to_dict() if hasattr(map_figure, "to_dict") else map_figure
    timeline_dict = timeline_figure.to_dict() if hasattr(timeline_figure, "to_dict") else timeline_figure
    for name, key in MAP_FIELDS:
        map_dict["data"][0][name] = [r.get(key) for r in rows]
    for name, key in MARKER_FIELDS:
        map_dict["data"][0].setdefault("marker", {})[name] = [r.get(key) for r in rows]
    for name, key in TIMELINE_FIELDS:
        timeline_dict["data"][0][name] = [r.get(key) for r in rows]
    timeline_dict["data"][0].setdefault("marker", {})["color"] = [r.get("color") for r in rows]
    if when_ms is not None:
        moment = datetime.fromtimestamp(when_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
        timeline_dict["layout"]["shapes"] = [{"type": "line", "xref": "x", "yref": "paper", "x0": moment, "x1": moment,
                                              "y0": 0, "y1": 1, "line": {"color": "#cc79a7", "width": 3}}]
    return map_dict, timeline_dict


def stamp(when_ms: int) -> str:
    return datetime.fromtimestamp(when_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def banner_text(when_ms: int, playing: bool, speed: int) -> str:
    """What the REPLAY banner says: never the word LIVE, always the time shown."""
    return f"REPLAY — {stamp(when_ms)}" + (f"  ▶ {speed}×" if playing else "  ❚❚ paused")


def side_panels(frame: dict[str, Any], titles: dict[str, str]) -> list[Any]:
    """Threat levels, alerts and annotations of a frame (domain/replay/frames.py), as they were."""
    threat = frame["threat"]
    out: list[Any] = [html.H2("Threat level (as it was)")]
    out += threat_panel(threat["global"], title=threat["global"]["name"])
    for key, space in threat["workspaces"].items():
        out += threat_panel(space, title=space["name"], key=key)
    last = threat.get("last_change")
    if last:
        out.append(html.P(f"Last change {last['at']}: {last['text']}", className="wf-muted wf-replay-cause"))
    out.append(html.H2(f"Alerts ({len(frame['alerts'])})"))
    out.append(html.Ul([html.Li([html.Span(a["status"].upper(), className=f"wf-replay-alert-{a['status']}"),
                                 f" {a.get('headline')} ",
                                 html.Span(f"({a.get('severity')}, {a['acks']} ack)", className="wf-muted")],
                                style={"borderColor": SEVERITY_COLOURS.get(a.get("severity") or "unknown")})
                         for a in frame["alerts"]] or [html.Li("none", className="wf-muted")],
                       className="wf-replay-alerts"))
    out.append(html.H2(f"Annotations ({len(frame['annotations'])})"))
    out.append(html.Ul([html.Li([html.Span((n.get("status") or "").upper(), className="wf-sev"),
                                 f" {titles.get(iid, iid)} ",
                                 html.Span(f"v{n.get('version')} by {n.get('updated_by')}", className="wf-muted")])
                        for iid, n in frame["annotations"].items()] or [html.Li("none", className="wf-muted")],
                       className="wf-replay-notes"))
    return out
