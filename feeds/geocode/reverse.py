"""Reverse geocoding: distances, the nearest city and a label such as "12 km SW of Ridgecrest, California"."""

from __future__ import annotations

import logging
import math
from typing import Any

from feeds.geocode.index import _cell_key, _Index, gazetteer
from feeds.geocode.model import _Cand
from layers import boundaries
from layers.basemap import BasemapMissing

log = logging.getLogger("feeds.geocode")


# --- reverse geocoding ----------------------------------------------------------------------------

EARTH_RADIUS_KM = 6371.0088
# Beyond this the nearest town orients nobody ("2,400 km SW of Hilo"): describe() gives None.
DESCRIBE_MAX_KM = 1000.0
# Past this on land, "340 km NNW of <town>" misleads more than it helps: the label names the area
# that holds the point instead (its US state, else its country).
LABEL_NEAR_KM = 150.0
# A town across a border names the point only when it is this near ("5 km SW of El Paso, Texas").
ACROSS_BORDER_KM = 25.0
COMPASS_16 = "N NNE NE ENE E ESE SE SSE S SSW SW WSW W WNW NW NNW".split()


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial great-circle bearing from point 1 to point 2, 0..360 degrees clockwise from north."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return (math.degrees(math.atan2(y, x)) + 360.0) % 360.0


def compass_point(bearing: float) -> str:
    """16-point compass name of a bearing in degrees ("N", "NNE", ... "NNW")."""
    return COMPASS_16[int((bearing % 360.0) / 22.5 + 0.5) % 16]


def _nearest_city(index: _Index, lat: float, lon: float, max_km: float) -> tuple[_Cand, float] | None:
    """The city nearest lat/lon by great-circle distance: boxes of 1-degree cells around the point,
    growing one ring at a time until no cell outside the box can hold anything nearer (after three
    rings, one vectorised pass over all cities)."""
    import numpy as np

    table = index.city_table()
    if not table.cities:
        return None
    p, lam = math.radians(lat), math.radians(lon)
    q = np.array((math.cos(p) * math.cos(lam), math.cos(p) * math.sin(lam), math.sin(p)))
    key = _cell_key(lat, lon)
    i0, j0 = divmod(key, 360)
    best_dot, best_at = -2.0, -1
    r = 0
    while True:
        for i in range(max(0, i0 - r), min(179, i0 + r) + 1):
            if i in (i0 - r, i0 + r) or r == 0:
                spans = [(j0 - r, j0 + r)]  # the whole row of the box
            else:
                spans = [(j0 - r, j0 - r), (j0 + r, j0 + r)]  # its two new edge cells
            for lo, hi in spans:
                if hi < 0 or lo > 359:  # wholly across the antimeridian
                    lo, hi = (lo + 360, hi + 360) if hi < 0 else (lo - 360, hi - 360)
                if hi - lo >= 359:
                    pieces = [(0, 359)]
                elif lo < 0:
                    pieces = [(lo + 360, 359), (0, hi)]
                elif hi > 359:
                    pieces = [(lo, 359), (0, hi - 360)]
                else:
                    pieces = [(lo, hi)]
                for a, b in pieces:
                    dot, at = table.best_in(q, i, a, b)
                    if dot > best_dot:
                        best_dot, best_at = dot, at
        best_km = math.acos(max(-1.0, min(1.0, best_dot))) * EARTH_RADIUS_KM if best_at >= 0 else math.inf
        # Anything outside the box is at least r degrees away in latitude, or in longitude: then at
        # least as far as the meridian r degrees off (asin(cos lat sin r)) or the pole.
        by_lat = math.radians(r) * EARTH_RADIUS_KM
        reach = math.cos(p) * math.sin(math.radians(min(r, 90)))
        by_lon = min(math.asin(min(1.0, reach)), math.radians(90.0 - abs(lat))) * EARTH_RADIUS_KM
        floor_km = min(by_lat, by_lon) if r < 180 else math.inf
        if best_km <= floor_km or floor_km > max_km:
            break
        if r == 3:  # far from any town (at sea, polar): one pass over every city is cheaper
            dots = table.xyz @ q
            best_at = int(np.argmax(dots))
            best_km = math.acos(max(-1.0, min(1.0, float(dots[best_at])))) * EARTH_RADIUS_KM
            break
        r += 1
    if best_at < 0 or best_km > max_km:
        return None
    city = table.cities[best_at]
    return city, distance_km(lat, lon, city.lat, city.lon)  # haversine: exact at short range, unlike acos


def _valid(lat: Any, lon: Any) -> tuple[float, float] | None:
    try:
        lat, lon = float(lat), float(lon)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    return lat, lon


def describe(lat: float, lon: float, *, max_km: float = DESCRIBE_MAX_KM) -> dict[str, Any] | None:
    """Where lat/lon is, in words: the nearest populated place of the gazetteer (cities of 15,000+
    people) and the area that holds the point, or None when no such place lies within ``max_km``
    (mid-ocean) or the position is impossible.

    The result: ``label`` USGS style ("12 km SW of Ridgecrest, California": distance rounded to
    the km, 16-point bearing FROM the place TO the point; the state for US places, the country
    elsewhere; just "Ridgecrest, California" under 1 km); ``name``, ``lat``, ``lon``,
    ``population``, ``place_country`` (ISO2), ``place_admin1`` of that place; ``distance_km``,
    ``bearing``; and for the point itself, from the basemap polygons (``layers.boundaries.reverse``)
    when built: ``country``, ``state``, ``county`` (US) and ``at_sea`` (True when no country holds
    it; None when the basemap is missing, and ``country`` then falls back to the place's)."""
    point = _valid(lat, lon)
    if point is None:
        return None
    lat, lon = point
    index = gazetteer()
    found = _nearest_city(index, lat, lon, max_km)
    if found is None:
        return None
    try:
        area = boundaries.reverse(lon, lat)
    except BasemapMissing:
        return _description(index, lat, lon, *found, area=None, basemap=False)
    return _description(index, lat, lon, *found, area=area, basemap=True)


def describe_many(positions: list[tuple[Any, Any]], *, max_km: float = DESCRIBE_MAX_KM) -> list[dict[str, Any] | None]:
    """:func:`describe` for many (lat, lon) positions, each answer the same as one call gives, in
    bulk: the nearest towns of points sharing a 1-degree cell in one matrix product, the areas in
    one tree query per basemap layer (what a 100,000-row fire file needs)."""
    out: list[dict[str, Any] | None] = [None] * len(positions)
    valid = [(i, p) for i, p in ((i, _valid(lat, lon)) for i, (lat, lon) in enumerate(positions)) if p is not None]
    if not valid:
        return out
    index = gazetteer()
    nearest = _nearest_cities(index, [p for _, p in valid], max_km)
    found = [(i, p, near) for (i, p), near in zip(valid, nearest, strict=True) if near is not None]
    try:
        areas: list[dict[str, Any] | None] = boundaries.reverse_many([(lon, lat) for _, (lat, lon), _ in found])
        basemap = True
    except BasemapMissing:
        areas, basemap = [None] * len(found), False
    for (i, (lat, lon), (city, km)), area in zip(found, areas, strict=True):
        out[i] = _description(index, lat, lon, city, km, area=area, basemap=basemap)
    return out


def _nearest_cities(index: _Index, points: list[tuple[float, float]], max_km: float) -> list[tuple[_Cand, float] | None]:
    """:func:`_nearest_city` for many (lat, lon) points, the same answers: the points of each 1-degree
    cell against the cities of the 3x3 cells around it in one product, then 7x7 for the points whose
    nearest town may lie beyond, then every city for the few left (at sea, polar)."""
    import numpy as np

    table = index.city_table()
    out: list[tuple[_Cand, float] | None] = [None] * len(points)
    if not table.cities or not points:
        return out
    lat = np.array([p[0] for p in points], dtype=np.float64)
    lon = np.array([p[1] for p in points], dtype=np.float64)
    p, lam = np.radians(lat), np.radians(lon)
    q = np.column_stack((np.cos(p) * np.cos(lam), np.cos(p) * np.sin(lam), np.sin(p)))
    cell = np.clip(np.floor(lat) + 90, 0, 179).astype(np.int64) * 360 + np.clip(np.floor(lon) + 180, 0, 359).astype(np.int64)

    def take(m: int, at: int, km: float) -> None:
        if km <= max_km:
            city = table.cities[at]
            out[m] = city, distance_km(points[m][0], points[m][1], city.lat, city.lon)

    left = np.arange(len(points))
    for r in (1, 3):
        # Past a box of r rings, anything is at least r degrees of latitude away, or as far as the
        # meridian r degrees off (or the pole): the floor the one-point search uses.
        floor_km = np.minimum(math.radians(r) * EARTH_RADIUS_KM, np.minimum(
            np.arcsin(np.minimum(1.0, np.cos(p[left]) * math.sin(math.radians(r)))),
            np.radians(90.0 - np.abs(lat[left]))) * EARTH_RADIUS_KM)
        order = np.argsort(cell[left], kind="stable")  # each cell's points one slice, not a scan per cell
        cells, starts, sizes = np.unique(cell[left][order], return_index=True, return_counts=True)
        again: list[int] = []
        for key, start, size in zip(cells.tolist(), starts.tolist(), sizes.tolist(), strict=True):
            local = order[start : start + size]
            members = left[local]
            candidates = _box(table, *divmod(key, 360), r)
            if len(candidates):
                dots = q[members] @ table.xyz[candidates].T
                best = np.argmax(dots, axis=1)
                best_km = np.arccos(np.clip(dots[np.arange(len(members)), best], -1.0, 1.0)) * EARTH_RADIUS_KM
            else:
                best, best_km = np.zeros(len(members), dtype=np.int64), np.full(len(members), math.inf)
            for k, m in enumerate(members.tolist()):
                if best_km[k] <= floor_km[local[k]]:
                    take(m, int(candidates[best[k]]), float(best_km[k]))
                elif floor_km[local[k]] <= max_km:
                    again.append(m)
        left = np.array(again, dtype=np.int64)
        if not len(left):
            return out
    for start in range(0, len(left), 256):  # every city, a few points at a time
        chunk = left[start : start + 256]
        dots = q[chunk] @ table.xyz.T
        best = np.argmax(dots, axis=1)
        for k, m in enumerate(chunk.tolist()):
            take(m, int(best[k]), math.acos(max(-1.0, min(1.0, float(dots[k, best[k]])))) * EARTH_RADIUS_KM)
    return out


def _box(table: Any, i0: int, j0: int, r: int) -> Any:
    """Positions (ascending) of the cities in the cells up to ``r`` rings around cell (i0, j0),
    across the antimeridian."""
    import numpy as np

    rows = np.arange(max(0, i0 - r), min(179, i0 + r) + 1)
    keys = np.sort((rows[:, None] * 360 + np.arange(j0 - r, j0 + r + 1)[None, :] % 360).ravel())
    starts, sizes = table.starts[keys], table.starts[keys + 1] - table.starts[keys]
    total = int(sizes.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    # one arange over the concatenated spans: each span's offset added back where it begins
    return np.arange(total) + np.repeat(starts - np.concatenate(([0], np.cumsum(sizes)[:-1])), sizes)


def _description(index: _Index, lat: float, lon: float, city: _Cand, km: float, *,
                 area: dict[str, Any] | None, basemap: bool) -> dict[str, Any]:
    """:func:`describe`'s answer for a point whose nearest town is ``city`` at ``km``, held by
    ``area`` (from the basemap; ``basemap`` False when it is not built)."""
    state_name = boundaries.STATES.get(city.admin1 or "", (None, None))[1] if city.cc == "US" else None
    country_name = index.country_names.get(city.cc or "", city.cc or "")
    region = state_name or country_name
    towards = compass_point(bearing_deg(city.lat, city.lon, lat, lon))
    named = f"{city.name}, {region}" if region else city.name
    label = named if round(km) < 1 else f"{round(km)} km {towards} of {named}"
    out: dict[str, Any] = {
        "label": label,
        "name": city.name,
        "lat": city.lat,
        "lon": city.lon,
        "population": city.population,
        "place_country": city.cc,
        "place_admin1": city.admin1,
        "distance_km": round(km, 1),
        "bearing": towards,
        "country": country_name or None,
        "state": state_name,
        "county": None,
        "at_sea": None,
    }
    if not basemap:
        return out
    out["at_sea"] = area is None
    if area:
        out["country"] = area.get("country") or out["country"]
        out["state"] = area.get("state")
        out["county"] = area.get("county")
        out["label"] = _area_label(out, area, index) or out["label"]
    return out


def _area_label(out: dict[str, Any], area: dict[str, Any], index: _Index) -> str | None:
    """The label that says less but does not mislead: the point's state and country when the nearest
    town is more than LABEL_NEAR_KM away, or in another country and more than ACROSS_BORDER_KM away;
    None to keep the town's label."""
    point_cc = index.iso_numeric.get(str(area.get("country_id") or ""))
    other_country = point_cc is not None and point_cc != out["place_country"]
    limit = ACROSS_BORDER_KM if other_country else LABEL_NEAR_KM
    if out["distance_km"] <= limit:
        return None
    out["label_precision"] = "region"
    state = area.get("state")
    country = index.country_names.get(point_cc or "") or area.get("country") or out["country"]
    return f"{state}, {country}" if state and country and state != country else (country or state)


