"""US counties by FIPS code, and which country / state / county a point lies in.

NWS alerts often carry no polygon, only county codes: SAME (``006037``) or UGC (``CAC037``). This
module turns those codes into a geometry (the union of the counties) so the alert can be drawn.
Counties and countries come from the offline basemap built at install time
(``assets/basemap/counties.geojson`` and ``countries.geojson``), read lazily once per process.
Set ``WATCHFLOOR_BASEMAP_DIR`` to read them from elsewhere.

Code forms (NWS Directive 10-1702, CAP 1.2 NWS profile):

- SAME / FIPS6: ``PSSCCC``, P a county subdivision (0 = whole county), SS state FIPS, CCC county
  FIPS; CCC ``000`` means the whole state.
- UGC: ``SSCNNN``, SS the state's postal abbreviation, C ``C`` for a county or ``Z`` for a forecast
  zone (zones are not counties), NNN the county FIPS.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import shapely
from shapely.geometry import Point, shape
from shapely.strtree import STRtree

from layers.basemap import BasemapMissing

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "assets" / "basemap"

# Postal abbreviation -> (FIPS, name), the 50 states, DC and the inhabited territories.
STATES: dict[str, tuple[str, str]] = {
    "AL": ("01", "Alabama"),
    "AK": ("02", "Alaska"),
    "AZ": ("04", "Arizona"),
    "AR": ("05", "Arkansas"),
    "CA": ("06", "California"),
    "CO": ("08", "Colorado"),
    "CT": ("09", "Connecticut"),
    "DE": ("10", "Delaware"),
    "DC": ("11", "District of Columbia"),
    "FL": ("12", "Florida"),
    "GA": ("13", "Georgia"),
    "HI": ("15", "Hawaii"),
    "ID": ("16", "Idaho"),
    "IL": ("17", "Illinois"),
    "IN": ("18", "Indiana"),
    "IA": ("19", "Iowa"),
    "KS": ("20", "Kansas"),
    "KY": ("21", "Kentucky"),
    "LA": ("22", "Louisiana"),
    "ME": ("23", "Maine"),
    "MD": ("24", "Maryland"),
    "MA": ("25", "Massachusetts"),
    "MI": ("26", "Michigan"),
    "MN": ("27", "Minnesota"),
    "MS": ("28", "Mississippi"),
    "MO": ("29", "Missouri"),
    "MT": ("30", "Montana"),
    "NE": ("31", "Nebraska"),
    "NV": ("32", "Nevada"),
    "NH": ("33", "New Hampshire"),
    "NJ": ("34", "New Jersey"),
    "NM": ("35", "New Mexico"),
    "NY": ("36", "New York"),
    "NC": ("37", "North Carolina"),
    "ND": ("38", "North Dakota"),
    "OH": ("39", "Ohio"),
    "OK": ("40", "Oklahoma"),
    "OR": ("41", "Oregon"),
    "PA": ("42", "Pennsylvania"),
    "RI": ("44", "Rhode Island"),
    "SC": ("45", "South Carolina"),
    "SD": ("46", "South Dakota"),
    "TN": ("47", "Tennessee"),
    "TX": ("48", "Texas"),
    "UT": ("49", "Utah"),
    "VT": ("50", "Vermont"),
    "VA": ("51", "Virginia"),
    "WA": ("53", "Washington"),
    "WV": ("54", "West Virginia"),
    "WI": ("55", "Wisconsin"),
    "WY": ("56", "Wyoming"),
    "AS": ("60", "American Samoa"),
    "GU": ("66", "Guam"),
    "MP": ("69", "Northern Mariana Islands"),
    "PR": ("72", "Puerto Rico"),
    "VI": ("78", "U.S. Virgin Islands"),
}
STATE_BY_FIPS: dict[str, tuple[str, str]] = {fips: (abbr, name) for abbr, (fips, name) in STATES.items()}

_SAME = re.compile(r"^\d{6}$")
_UGC = re.compile(r"^([A-Z]{2})([CZ])(\d{3})$")


def same_to_fips(same: str) -> str:
    """SAME / FIPS6 code -> 5-digit county FIPS (``"006037"`` -> ``"06037"``; ``"006000"`` ->
    ``"06000"``, the whole state). Raises ValueError for anything that is not six digits."""
    code = str(same).strip()
    if not _SAME.match(code):
        raise ValueError(f"not a SAME code: {same!r}")
    return code[1:]


def ugc_county_to_fips(ugc: str) -> str | None:
    """UGC county code -> 5-digit FIPS (``"CAC037"`` -> ``"06037"``). None for forecast zones
    (``"CAZ041"``), marine zones, unknown states and malformed codes."""
    match = _UGC.match(str(ugc).strip().upper())
    if not match or match.group(2) != "C":
        return None
    state = STATES.get(match.group(1))
    return state[0] + match.group(3) if state else None


def basemap_dir() -> Path:
    """Where the built basemap lives: ``$WATCHFLOOR_BASEMAP_DIR`` or ``assets/basemap``."""
    env = os.environ.get("WATCHFLOOR_BASEMAP_DIR")
    return Path(env) if env else DEFAULT_DIR


@dataclass(frozen=True)
class _Areas:
    """Geometries of one GeoJSON file, indexed: ``keys[i]`` names ``geoms[i]``."""

    keys: list[str]
    props: list[dict[str, Any]]
    geoms: list[Any]
    tree: STRtree


_loaded: dict[str, _Areas] = {}
_lock = threading.Lock()


def _load(name: str) -> _Areas:
    with _lock:
        areas = _loaded.get(name)
        if areas is not None:
            return areas
        path = basemap_dir() / f"{name}.geojson"
        try:
            collection = orjson.loads(path.read_bytes())
            features = collection["features"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BasemapMissing(f"{path}: {exc}") from None
        key = "id" if name == "countries" else "fips"
        keys, props, geoms = [], [], []
        for feature in features:
            geom = shape(feature["geometry"])
            shapely.prepare(geom)
            keys.append(str(feature["properties"].get(key) or ""))
            props.append(feature["properties"])
            geoms.append(geom)
        areas = _Areas(keys, props, geoms, STRtree(geoms))
        _loaded[name] = areas
        return areas


def _counties_by_fips() -> dict[str, Any]:
    areas = _load("counties")
    return dict(zip(areas.keys, areas.geoms, strict=True))


_by_fips: dict[str, Any] | None = None


def county_geometry(fips_codes: list[str]) -> Any | None:
    """The union of the named counties (5-digit FIPS; ``SS000`` is every county of state SS),
    or None when none is known. Unknown codes are skipped. Raises BasemapMissing when the
    basemap has not been built."""
    global _by_fips
    if _by_fips is None:
        _by_fips = _counties_by_fips()
    found = []
    for code in fips_codes:
        code = str(code).strip()
        if code.endswith("000") and len(code) == 5:
            found.extend(g for k, g in _by_fips.items() if k.startswith(code[:2]))
        elif code in _by_fips:
            found.append(_by_fips[code])
    if not found:
        return None
    return found[0] if len(found) == 1 else shapely.make_valid(shapely.union_all(found))


def county_info(fips: str) -> dict[str, str] | None:
    """``{"fips", "name", "state", "state_name", "state_abbr", "lon", "lat"}`` for one county, or
    None. ``lon``/``lat`` is a point well inside the county."""
    areas = _load("counties")
    try:
        props = areas.props[areas.keys.index(fips)]
    except ValueError:
        return None
    abbr, state_name = STATE_BY_FIPS.get(props["state"], ("", ""))
    lon, lat = props["label"]
    return {
        "fips": fips,
        "name": props["name"],
        "state": props["state"],
        "state_abbr": abbr,
        "state_name": state_name,
        "lon": lon,
        "lat": lat,
    }


def counties() -> list[dict[str, Any]]:
    """Properties of every county (``fips``, ``name``, ``state``, ``label``); shared, read-only."""
    return _load("counties").props


def countries() -> list[dict[str, Any]]:
    """Properties of every country (``id`` ISO 3166 numeric, ``name``, ``label``); shared."""
    return _load("countries").props


_properties: dict[str, list[dict[str, Any]]] = {}


def feature_properties(name: str) -> list[dict[str, Any]]:
    """Only the properties of ``countries``, ``states`` or ``counties`` (with ``label`` [lon, lat]
    inside each area), without building geometries: what a gazetteer needs, in milliseconds.
    Shared and read-only. Raises BasemapMissing when the basemap has not been built."""
    if name not in ("countries", "states", "counties"):
        raise ValueError(f"no basemap layer {name!r}")
    cached = _properties.get(name)
    if cached is None:
        path = basemap_dir() / f"{name}.geojson"
        try:
            cached = [f["properties"] for f in orjson.loads(path.read_bytes())["features"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BasemapMissing(f"{path}: {exc}") from None
        _properties[name] = cached
    return cached


def _containing(areas: _Areas, point: Point, slack: float) -> int | None:
    hits = areas.tree.query(point, predicate="intersects")
    if len(hits):
        return int(hits[0])
    if slack > 0:
        near = areas.tree.query(point, predicate="dwithin", distance=slack)
        if len(near):
            return int(min(near, key=lambda i: areas.geoms[i].distance(point)))
    return None


def reverse(lon: float, lat: float) -> dict[str, Any] | None:
    """Which country (and, inside the US, state and county) holds lon/lat, as
    ``{"country", "country_id", "state", "state_fips", "county", "county_fips"}`` (the US keys only
    when found). Points within about 5 km of a simplified coast count as on land. None at sea or
    for an impossible position."""
    try:
        lon, lat = float(lon), float(lat)
    except (TypeError, ValueError):
        return None
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        return None
    point = Point(lon, lat)
    result: dict[str, Any] = {}
    county_areas = _load("counties")
    i = _containing(county_areas, point, 0.0)
    if i is not None:
        props = county_areas.props[i]
        _, state_name = STATE_BY_FIPS.get(props["state"], ("", ""))
        result.update(
            country="United States of America",
            country_id="840",
            state=state_name or None,
            state_fips=props["state"],
            county=props["name"],
            county_fips=props["fips"],
        )
    country_areas = _load("countries")
    j = _containing(country_areas, point, 0.05)
    if j is not None:
        props = country_areas.props[j]
        result["country"] = props["name"]
        result["country_id"] = props["id"]
    return result or None


def _containing_many(areas: _Areas, pts: Any, slack: float) -> list[int | None]:
    """:func:`_containing` for many points in one tree query: the same area for each (the first hit
    in the tree's own order, which one bulk query keeps per point; the nearest within ``slack``)."""
    found: list[int | None] = [None] * len(pts)
    which, hits = areas.tree.query(pts)  # boxes only; then each area's prepared shape tests its points
    inside = shapely.intersects(np.asarray(areas.geoms, dtype=object)[hits], pts[which])
    which, hits = which[inside], hits[inside]
    firsts, at = np.unique(which, return_index=True)
    for point_index, k in zip(firsts.tolist(), at.tolist(), strict=True):
        found[point_index] = int(hits[k])
    missing = [i for i, f in enumerate(found) if f is None]
    if slack > 0 and missing:
        which, near = areas.tree.query(pts[missing], predicate="dwithin", distance=slack)
        grouped: dict[int, list[int]] = {}
        for m, tree_index in zip(which.tolist(), near.tolist(), strict=True):
            grouped.setdefault(m, []).append(tree_index)
        for m, candidates in grouped.items():
            point = pts[missing[m]]
            found[missing[m]] = int(min(candidates, key=lambda i: areas.geoms[i].distance(point)))
    return found


def reverse_many(positions: list[tuple[float, float]]) -> list[dict[str, Any] | None]:
    """:func:`reverse` for many (lon, lat) positions at once, each answer the same as one call
    would give; one tree query per layer instead of one per point (a 100,000-row fire file)."""
    out: list[dict[str, Any] | None] = [None] * len(positions)
    valid = [i for i, (lon, lat) in enumerate(positions) if -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0]
    if not valid:
        return out
    pts = shapely.points(np.array([positions[i] for i in valid], dtype=np.float64))
    county_areas = _load("counties")
    country_areas = _load("countries")
    in_county = _containing_many(county_areas, pts, 0.0)
    in_country = _containing_many(country_areas, pts, 0.05)
    for k, i in enumerate(valid):
        result: dict[str, Any] = {}
        c = in_county[k]
        if c is not None:
            props = county_areas.props[c]
            _, state_name = STATE_BY_FIPS.get(props["state"], ("", ""))
            result.update(country="United States of America", country_id="840", state=state_name or None,
                          state_fips=props["state"], county=props["name"], county_fips=props["fips"])
        j = in_country[k]
        if j is not None:
            result["country"] = country_areas.props[j]["name"]
            result["country_id"] = country_areas.props[j]["id"]
        out[i] = result or None
    return out
