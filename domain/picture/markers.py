"""Turning stored events into what screens draw: marker rows, deltas, threat level.

Pure functions over event dicts (as stored in Redis), so they are tested without a browser.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from feeds.model import epoch_seconds

# Colour-blind-safe severity colours (Okabe-Ito based), always paired with a word.
SEVERITY_COLOURS = {
    "extreme": "#d55e00",
    "severe": "#e69f00",
    "moderate": "#f0e442",
    "minor": "#56b4e9",
    "unknown": "#bbbbbb",
}
# The light theme (the tablet in sunlight): the same hues, darker, so each holds 3:1 against the
# tablet's backgrounds (WCAG 1.4.11; tests/dashboard/test_focus.py computes it from these values).
LIGHT_SEVERITY_COLOURS = {
    "extreme": "#b84a00",
    "severe": "#a86a00",
    "moderate": "#8a7c00",
    "minor": "#0072b2",
    "unknown": "#6e7781",
}
# Size grows with severity: the worst reads first from across the room. Severe and extreme also get
# a contrasting outline and are drawn over the rest (assets/wf-40-render.js topColumns).
SEVERITY_SIZES = {"extreme": 22, "severe": 17, "moderate": 12, "minor": 9, "unknown": 8}
SEVERITY_WEIGHT = {"extreme": 8.0, "severe": 4.0, "moderate": 2.0, "minor": 0.5, "unknown": 0.25}

# The five-step threat scale, lowest first: (name, minimum score, colour).
THREAT_LEVELS = (
    ("LOW", 0.0, "#2b7bba"),
    ("GUARDED", 2.0, "#56b4e9"),
    ("ELEVATED", 6.0, "#f0e442"),
    ("HIGH", 14.0, "#e69f00"),
    ("SEVERE", 28.0, "#d55e00"),
)
LIGHT_THREAT_COLOURS = {
    "LOW": "#1d5f94",
    "GUARDED": "#0072b2",
    "ELEVATED": "#7d7000",
    "HIGH": "#a86a00",
    "SEVERE": "#b84a00",
}
THREAT_WINDOW = timedelta(hours=6)
THREAT_AHEAD = timedelta(hours=1)  # an incident timed up to this far ahead (clock skew) still counts


# How precise a position is, by the rule that placed it, when the report does not say itself.
_BY_RULE = {None: "exact", "geometry": "area", "county": "county", "region": "region", "country-centroid": "country"}
_BY_GAZETTEER = {"exact": "exact", "city": "town", "county": "county", "admin1": "region", "country": "country"}
_SHOWN_AREAS = 6


def precision_of(item: dict[str, Any]) -> str | None:
    """How precise the position of an event or incident dict is: ``"exact"`` (the source's own
    point), ``"area"`` (a point inside the alert's own polygon), ``"town"``, ``"county"``,
    ``"region"`` or ``"country"``; None when it has no position. A "region" or "country" position is
    a point inside an area, never to be shown as an exact dot."""
    if item.get("lat") is None:
        return None
    extra = item.get("extra") or {}
    stated = item.get("precision") or extra.get("precision")
    if isinstance(stated, str) and stated:
        return stated
    placed_by = item.get("placed_by")
    if placed_by == "gazetteer":
        geocoded = extra.get("geocode") or {}
        return _BY_GAZETTEER.get(geocoded.get("precision"), "town")
    return _BY_RULE.get(placed_by, "exact")


def precision_text(item: dict[str, Any]) -> str | None:
    """What the desk reads of :func:`precision_of`: "exact point", "town", "region (Meteoalarm area
    FR035, FR036)", "county (US counties 06037)", "country (no finer place given)"; None unplaced."""
    level = precision_of(item)
    if level is None:
        return None
    extra = item.get("extra") or {}
    areas = [str(a) for a in (item.get("areas") or extra.get("areas") or [])]
    counties = [str(c) for c in extra.get("counties") or []]

    def listed(codes: list[str]) -> str:
        more = f" and {len(codes) - _SHOWN_AREAS} more" if len(codes) > _SHOWN_AREAS else ""
        return ", ".join(codes[:_SHOWN_AREAS]) + more

    if level == "region" and areas:
        return f"region (Meteoalarm area{'s' if len(areas) > 1 else ''} {listed(areas)})"
    if level == "county" and counties:
        return f"county (US count{'ies' if len(counties) > 1 else 'y'} {listed(counties)})"
    return {"exact": "exact point", "area": "alert area (its own outline)",
            "country": "country (no finer place given)"}.get(level, level)


def severity_colours(theme: str = "dark") -> dict[str, str]:
    """The severity palette of a screen's theme."""
    return dict(LIGHT_SEVERITY_COLOURS if theme == "light" else SEVERITY_COLOURS)


def threat_colour(level: str, colour: str, theme: str = "dark") -> str:
    """A threat level's colour on a screen of ``theme`` (``colour``: the dark theme's)."""
    return LIGHT_THREAT_COLOURS.get(level, colour) if theme == "light" else colour


def hover_text(event: dict[str, Any]) -> str:
    """Hover label: escaped so feed text can never become markup in the browser."""
    parts = [
        html.escape(event.get("title") or "(untitled)"),
        f"{html.escape(event.get('severity', 'unknown').upper())} · {html.escape(event.get('kind', ''))}",
        f"{html.escape((event.get('time') or '')[:16].replace('T', ' '))} UTC · {html.escape(event.get('source', ''))}",
    ]
    if event.get("magnitude") is not None:
        parts.insert(1, f"M {event['magnitude']:.1f}")
    if (event.get("corroboration") or 0) > 1:
        parts.append(f"corroborated by {int(event['corroboration'])} sources")
    level = precision_of(event)
    if level in ("region", "country", "county"):
        parts.append(f"{html.escape(level)}-level position")
    if event.get("exercise"):
        parts.append("EXERCISE")
    return "<br>".join(parts)


AREA_TYPES = ("Polygon", "MultiPolygon")


def marker_row(event: dict[str, Any]) -> dict[str, Any]:
    """What a screen needs of one event: position, style, hover label, and the plain fields the
    browser filters and lists by. ``area`` carries an alert's real polygon, when it has one."""
    severity = event.get("severity") or "unknown"
    geometry = event.get("geometry")
    row = {
        "id": event["id"],
        "lat": event.get("lat"),
        "lon": event.get("lon"),
        "time": event.get("time"),
        "kind": event.get("kind") or "other",
        "severity": severity,
        "color": SEVERITY_COLOURS.get(severity, SEVERITY_COLOURS["unknown"]),
        "size": SEVERITY_SIZES.get(severity, SEVERITY_SIZES["unknown"]),
        "text": hover_text(event),
        "title": event.get("title") or "(untitled)",
        "source": event.get("source") or "",
        "feed": event.get("feed") or "",
        "place": event.get("place") or "",
        "exercise": bool(event.get("exercise")),
        "precision": precision_of(event) or "",
    }
    if isinstance(geometry, dict) and geometry.get("type") in AREA_TYPES:
        row["area"] = geometry
    return row


def hidden_row(event_id: str) -> dict[str, Any]:
    """A row that removes a marker in place (superseded or cancelled): positions never shift."""
    return {"id": event_id, "lat": None, "lon": None, "time": None, "kind": None, "hide": True}


@dataclass(frozen=True)
class ThreatAssessment:
    level: str
    colour: str
    score: float
    drivers: list[dict[str, Any]]
    window_hours: float


def threat_level(score: float) -> tuple[str, str]:
    """The highest step of the five-step scale whose threshold ``score`` reaches, and its colour."""
    level, colour = THREAT_LEVELS[0][0], THREAT_LEVELS[0][2]
    for name, minimum, col in THREAT_LEVELS:
        if score >= minimum:
            level, colour = name, col
    return level, colour


def _when(event: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(event.get("time", "")).replace("Z", "+00:00"))
    except ValueError:
        return None


def assess_threat(events: Iterable[dict[str, Any]], now: datetime | None = None) -> ThreatAssessment:
    """Score live events of the last six hours by severity; say which incidents drove the level."""
    now = now or datetime.now(UTC)
    since = now - THREAT_WINDOW
    scored: list[tuple[float, dict[str, Any]]] = []
    for event in events:
        when = _when(event)
        if when is None:
            continue
        if when < since or when > now + THREAT_AHEAD:
            continue
        weight = SEVERITY_WEIGHT.get(event.get("severity") or "unknown", 0.25)
        scored.append((weight, event))
    score = sum(w for w, _ in scored)
    level, colour = threat_level(score)
    scored.sort(key=lambda pair: (pair[0], pair[1].get("time", "")), reverse=True)
    drivers = [
        {"id": e["id"], "title": e.get("title", ""), "severity": e.get("severity"), "weight": w}
        for w, e in scored[:5]
    ]
    return ThreatAssessment(level, colour, round(score, 2), drivers, THREAT_WINDOW.total_seconds() / 3600)


def assess_workspace(workspace: Any, events: Iterable[dict[str, Any]], now: datetime | None = None) -> ThreatAssessment:
    """The workspace's level: each live event of the window weighs its severity times how close it
    is (1 inside a venue or on the course, falling to 0 at ``near_km``). Drivers name the place."""
    now = now or datetime.now(UTC)
    since = now - THREAT_WINDOW
    scored: list[tuple[float, dict[str, Any], str, float]] = []
    for event in events:
        when = _when(event)
        if when is None:
            continue
        if when < since or when > now + THREAT_AHEAD:
            continue
        factor, where, km = workspace.proximity(event.get("lat"), event.get("lon"), area=event.get("area"))
        if factor <= 0:
            continue
        weight = SEVERITY_WEIGHT.get(event.get("severity") or "unknown", 0.25) * factor
        scored.append((weight, event, where, km))
    score = sum(w for w, *_ in scored)
    level, colour = threat_level(score)
    scored.sort(key=lambda item: (item[0], item[1].get("time", "")), reverse=True)
    drivers = [
        {"id": e["id"], "title": e.get("title", ""), "severity": e.get("severity"), "weight": round(w, 2),
         "where": ("inside " + where) if km == 0 else f"{km:.1f} km from {where}"}
        for w, e, where, km in scored[:6]
    ]
    return ThreatAssessment(level, colour, round(score, 2), drivers, THREAT_WINDOW.total_seconds() / 3600)


# -- Server-side aggregation: hex bins past ``map_max_points`` (domain/picture/bins.py keeps them live) --

SEVERITY_RANK = {"unknown": 0, "minor": 1, "moderate": 2, "severe": 3, "extreme": 4}
SEVERITY_NAMES = ("unknown", "minor", "moderate", "severe", "extreme")
_SQRT3 = math.sqrt(3.0)


def _mercator_y(lat: float) -> float:
    """Web Mercator y in degree units, so hexes look even on the map (clamped like the map is)."""
    lat = max(-85.0, min(85.0, lat))
    return math.degrees(math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)))


def hex_key(lat: float | None, lon: float | None, size_deg: float) -> str:
    """The pointy-top hexagon (``size_deg`` centre to corner, on the Mercator plane) holding a
    position, as "q:r" axial coordinates; "" for an incident with no position."""
    if lat is None or lon is None:
        return ""
    x, y = float(lon), _mercator_y(float(lat))
    q = (_SQRT3 / 3 * x - y / 3) / size_deg
    r = (2 / 3 * y) / size_deg
    # Cube rounding: the nearest hexagon centre.
    cx, cz = q, r
    cy = -cx - cz
    rx, ry, rz = round(cx), round(cy), round(cz)
    dx, dy, dz = abs(rx - cx), abs(ry - cy), abs(rz - cz)
    if dx > dy and dx > dz:
        rx = -ry - rz
    elif dy <= dz:
        rz = -rx - ry
    return f"{int(rx)}:{int(rz)}"


def importance(row: dict[str, Any], near: bool = False) -> tuple[int, int, str]:
    """Which incidents stay individual markers when the picture is binned, highest first: inside
    or near a workspace, then severity, then the most recent."""
    return (1 if near else 0, SEVERITY_RANK.get(row.get("severity") or "unknown", 0), str(row.get("time") or ""))


def hour_bucket(value: Any) -> int | None:
    """The hour an incident time falls in, as whole hours since the epoch (floor(epoch seconds /
    3600), as the browser works it out from the same ISO text); None for a missing or bad time."""
    seconds = epoch_seconds(value)
    return None if seconds is None else math.floor(seconds / 3600)


# A bin's joint counts are kept per cell: (severity rank, kind, exercise 0/1, hour bucket or None).
Cell = tuple[int, str, int, int | None]


class Bin:
    """Counts of the incidents in one hexagon: by severity and kind, jointly per cell (severity,
    kind, exercise, hour) so a screen can count what its filters keep, and their mean position.
    Adding and removing are exact inverses, so a bin kept up to date by changes equals a rebuild."""

    __slots__ = ("count", "severity", "kinds", "cells", "lat_sum", "lon_sum")

    def __init__(self) -> None:
        self.count = 0
        self.severity = [0, 0, 0, 0, 0]
        self.kinds: dict[str, int] = {}
        self.cells: dict[Cell, int] = {}
        self.lat_sum = 0.0
        self.lon_sum = 0.0

    def add(self, severity: str, kind: str, lat: float | None, lon: float | None, sign: int = 1,
            exercise: bool = False, hour: int | None = None) -> None:
        self.count += sign
        rank = SEVERITY_RANK.get(severity, 0)
        self.severity[rank] += sign
        left = self.kinds.get(kind, 0) + sign
        if left:
            self.kinds[kind] = left
        else:
            self.kinds.pop(kind, None)
        cell = (rank, kind, 1 if exercise else 0, hour)
        left = self.cells.get(cell, 0) + sign
        if left:
            self.cells[cell] = left
        else:
            self.cells.pop(cell, None)
        if lat is not None and lon is not None:
            self.lat_sum += sign * lat
            self.lon_sum += sign * lon

    def worst(self) -> str:
        for rank in range(4, -1, -1):
            if self.severity[rank] > 0:
                return SEVERITY_NAMES[rank]
        return "unknown"

    def row(self, key: str) -> dict[str, Any]:
        """What a screen draws for this bin (count 0: the screen removes it). Besides the totals,
        ``kinds`` (the kind names counted, as data) and ``cells``: [severity rank, index in kinds,
        exercise 0/1, hours after ``h0`` (null: no usable time), count], so the browser counts what
        its filters keep (assets/wf-30-bins.js binColumns)."""
        out: dict[str, Any] = {"id": "bin:" + key, "bin": key, "count": self.count}
        if self.count <= 0:
            return {**out, "count": 0}
        worst = self.worst()
        top = sorted(self.kinds.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        kinds = " · ".join(f"{html.escape(k)} {n:,}" for k, n in top)
        names = sorted(self.kinds)
        index = {k: i for i, k in enumerate(names)}
        hours = [c[3] for c in self.cells if c[3] is not None]
        h0 = min(hours) if hours else None
        cells = [[rank, index[kind], ex, None if hour is None or h0 is None else hour - h0, n]
                 for (rank, kind, ex, hour), n in self.cells.items()]
        cells.sort(key=lambda c: (c[0], c[1], c[2], -1 if c[3] is None else c[3]))
        out.update({
            "lat": round(self.lat_sum / self.count, 4) if key else None,
            "lon": round(self.lon_sum / self.count, 4) if key else None,
            "worst": worst, "sev": list(self.severity),
            "color": SEVERITY_COLOURS[worst],
            "size": round(14 + 8 * math.log10(self.count), 1),
            "text": f"{self.count:,} incidents (hex bin)<br>worst: {worst.upper()}<br>{kinds}",
            "kinds": names, "h0": h0, "cells": cells,
        })
        return out


def bin_rows(rows: list[dict[str, Any]], max_points: int, size_deg: float,
             near: set[str] | frozenset[str] = frozenset()) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Batch form of the aggregation (the live model in domain/picture/bins.py must agree with it):
    up to ``max_points`` rows, no bins; past it, the ``max_points`` most important rows stay
    individual (``near``: ids inside or near a workspace) and every other row is counted in its
    hexagon. Returns (individual rows, bin rows)."""
    if len(rows) <= max_points:
        return list(rows), []
    ranked = sorted(rows, key=lambda r: importance(r, r["id"] in near), reverse=True)
    keep, rest = ranked[:max_points], ranked[max_points:]
    bins: dict[str, Bin] = {}
    for r in rest:
        bins.setdefault(hex_key(r.get("lat"), r.get("lon"), size_deg), Bin()).add(
            r.get("severity") or "unknown", r.get("kind") or "other", r.get("lat"), r.get("lon"),
            exercise=bool(r.get("exercise")), hour=hour_bucket(r.get("time")))
    return keep, [b.row(k) for k, b in bins.items()]
