"""Build the offline basemap: npm TopoJSON (world-atlas, us-atlas) -> small GeoJSON under assets/.

Run as ``python -m layers.basemap_build NODE_MODULES OUT_DIR`` (``make install`` does it). Writes:

- ``countries.geojson``: Natural Earth 1:50m countries, antimeridian split, simplified for display.
  Properties ``id`` (ISO 3166 numeric, may be empty), ``name``, ``label`` ([lon, lat] inside the
  largest part).
- ``states.geojson``: US states and territories (us-atlas 1:10m), properties ``fips``, ``name``,
  ``label``; simplified for display.
- ``counties.geojson``: US counties at full us-atlas detail, properties ``fips`` (5 digits),
  ``name``, ``state`` (2-digit FIPS), ``label``.
- ``manifest.json``: sources, versions, licences, feature counts and byte sizes.

Every geometry is EPSG:4326 lon/lat, valid, and no polygon part crosses the antimeridian (parts are
cut at +-180 deg; only Antarctica, a polar cap, spans all longitudes). Counties keep 5 decimals
(about 1 m); the two display files keep 4 (11 m, far below their simplification tolerance), which
holds what the map draws (countries + states) to about 1.3 MB. Missing inputs end the program with one line and status 2.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import shapely
from shapely.geometry import MultiPolygon, Polygon, box, mapping
from shapely.ops import polylabel

log = logging.getLogger(__name__)

CRS = "EPSG:4326"
PRECISION = 5  # counties: full detail
DISPLAY_PRECISION = 4  # countries and states: drawn only
# Display tolerance (degrees, Visvalingam-Whyatt "square root of the triangle area removed"):
# 0.05 deg keeps Natural Earth 1:50m recognisable down to state zoom and countries.geojson near 1 MB.
COUNTRY_TOLERANCE = 0.05
STATE_TOLERANCE = 0.0  # us-atlas 10m is already simplified (14k vertices for 56 states)

SOURCES = {
    "countries": ("world-atlas", "countries-50m.json", "countries"),
    "states": ("us-atlas", "states-10m.json", "states"),
    "counties": ("us-atlas", "counties-10m.json", "counties"),
}

LICENCES = {
    "world-atlas": {
        "package_licence": "ISC",
        "data": "Natural Earth (naturalearthdata.com), 1:50m Admin 0 countries",
        "data_licence": "public domain",
    },
    "us-atlas": {
        "package_licence": "ISC",
        "data": "US Census Bureau cartographic boundary files, 1:10m (2017)",
        "data_licence": "public domain (US Government work)",
    },
}


class BasemapBuildError(RuntimeError):
    """The basemap cannot be built; the message is one line a person can act on."""


# --- antimeridian -------------------------------------------------------------------------------


def _unwrap(coords: np.ndarray) -> np.ndarray:
    """Longitudes made continuous: a jump of more than 180 deg between vertices becomes a step
    across the antimeridian (values may leave [-180, 180])."""
    out = coords.copy()
    steps = np.diff(out[:, 0])
    shift = -360.0 * np.round(steps / 360.0)
    out[1:, 0] += np.cumsum(shift)
    return out


def _jumps(coords: np.ndarray) -> bool:
    return len(coords) > 1 and bool(np.any(np.abs(np.diff(coords[:, 0])) > 180.0))


def split_polygon(poly: Polygon) -> list[Polygon]:
    """``poly`` as polygons that each stay within [-180, 180] deg longitude.

    A ring that jumps across the antimeridian is unwrapped, the polygon cut by the +-180 meridians
    and the pieces moved back; a ring that circles a pole (Antarctica) is closed through the pole.
    """
    rings = [np.asarray(poly.exterior.coords)] + [np.asarray(r.coords) for r in poly.interiors]
    if not any(_jumps(r) for r in rings):
        return [poly]
    ext = _unwrap(rings[0])
    polar = abs(ext[-1, 0] - ext[0, 0]) > 180.0
    if polar:
        pole = -90.0 if ext[:, 1].mean() < 0 else 90.0
        ext = np.vstack([ext, [[ext[-1, 0], pole], [ext[0, 0], pole], ext[0]]])
    lo, hi = ext[:, 0].min(), ext[:, 0].max()
    holes = []
    for ring in rings[1:]:
        hole = _unwrap(ring)
        mid = hole[:, 0].mean()
        hole[:, 0] += 360.0 * np.round(((lo + hi) / 2 - mid) / 360.0)
        holes.append(hole)
    shape = shapely.make_valid(Polygon(ext, holes))
    pieces: list[Polygon] = []
    for k in range(int(np.floor((lo + 180) / 360)), int(np.floor((hi + 180) / 360)) + 1):
        window = box(-180.0 + 360 * k, -90.0, 180.0 + 360 * k, 90.0)
        piece = shapely.affinity.translate(shape.intersection(window), xoff=-360.0 * k)
        pieces.extend(_polygons(piece))
    if polar:
        pieces = _polygons(shapely.union_all(pieces))
    return pieces


def _polygons(geom: Any) -> list[Polygon]:
    """The polygon parts of any geometry (lines and points from a cut are dropped)."""
    if geom is None or geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    if hasattr(geom, "geoms"):
        return [p for g in geom.geoms for p in _polygons(g)]
    return []


def fix_geometry(geom: Any) -> Polygon | MultiPolygon | None:
    """Antimeridian split, then made valid; None when nothing polygonal is left."""
    if geom is None or geom.is_empty:
        return None
    parts = [piece for part in _polygons(geom) for piece in split_polygon(part)]
    parts = [p for part in parts for p in _polygons(shapely.make_valid(part))]
    if not parts:
        return None
    fixed = shapely.make_valid(MultiPolygon(parts) if len(parts) > 1 else parts[0])
    polys = _polygons(fixed)
    if not polys:
        return None
    return polys[0] if len(polys) == 1 else MultiPolygon(polys)


# --- pipeline -------------------------------------------------------------------------------------


def read_layer(node_modules: Path, key: str) -> gpd.GeoDataFrame:
    """One TopoJSON layer as a GeoDataFrame in EPSG:4326 (the files carry no CRS)."""
    package, filename, layer = SOURCES[key]
    path = node_modules / package / filename
    if not path.is_file():
        raise BasemapBuildError(
            f"missing {path}: run `npm install world-atlas@2.0.2 us-atlas@3.0.1` (make install does it)"
        )
    frame = gpd.read_file(path, layer=layer, engine="pyogrio")
    if frame.crs is None:
        frame = frame.set_crs(CRS)
    elif frame.crs != CRS:
        frame = frame.to_crs(CRS)
    return frame


def clean(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Antimeridian-split, valid, polygonal geometries only; rows without geometry dropped."""
    frame = frame.copy()
    frame["geometry"] = [fix_geometry(g) for g in frame.geometry]
    frame = frame[frame.geometry.notna()]
    return frame.set_geometry("geometry", crs=CRS)


def simplify(frame: gpd.GeoDataFrame, tolerance: float, decimals: int) -> gpd.GeoDataFrame:
    """Coverage simplification (shared borders stay shared), snapped to a grid of ``decimals``
    decimal places so rounding on output cannot make a geometry invalid."""
    frame = frame.copy()
    geoms = np.asarray(frame.geometry.values, dtype=object)
    if tolerance > 0:
        geoms = shapely.coverage_simplify(geoms, tolerance)
    grid = 10.0**-decimals
    frame["geometry"] = [fix_geometry(shapely.set_precision(shapely.make_valid(g), grid)) for g in geoms]
    return frame[frame.geometry.notna()].set_geometry("geometry", crs=CRS)


def label_point(geom: Polygon | MultiPolygon) -> list[float]:
    """A point well inside the largest part (where a name or a marker for the area goes)."""
    largest = max(_polygons(geom), key=lambda p: p.area)
    try:
        point = polylabel(largest, tolerance=0.01)
    except Exception:  # polylabel fails on degenerate slivers; any interior point will do
        point = largest.representative_point()
    if not largest.contains(point):
        point = largest.representative_point()
    return [round(point.x, PRECISION), round(point.y, PRECISION)]


def _rounded(geom: Any, decimals: int) -> dict[str, Any]:
    """GeoJSON mapping with coordinates rounded to ``decimals`` places (shortest float repr)."""
    return mapping(shapely.transform(geom, lambda xy: np.round(xy, decimals)))


def feature_collection(features: Iterable[tuple[Any, dict[str, Any]]], decimals: int) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": props, "geometry": _rounded(g, decimals)} for g, props in features
        ],
    }


def write_json(path: Path, data: Any) -> int:
    raw = orjson.dumps(data)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(raw)
    tmp.replace(path)
    return len(raw)


def _package_version(node_modules: Path, package: str) -> str:
    try:
        return json.loads((node_modules / package / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return "unknown"


def build(node_modules: Path, out_dir: Path) -> dict[str, Any]:
    """Build every output file into ``out_dir``; return the manifest (also written there)."""
    started = time.perf_counter()
    countries_raw = read_layer(node_modules, "countries")
    states_raw = read_layer(node_modules, "states")
    counties_raw = read_layer(node_modules, "counties")
    out_dir.mkdir(parents=True, exist_ok=True)

    countries = simplify(clean(countries_raw), COUNTRY_TOLERANCE, DISPLAY_PRECISION)
    states = simplify(clean(states_raw), STATE_TOLERANCE, DISPLAY_PRECISION)
    counties = simplify(clean(counties_raw), 0.0, PRECISION)
    # us-atlas 10m has a few features too small to keep a polygon (Falls Church, VA: 51610).
    dropped = [
        f"{key} {raw.at[row, 'id']} {raw.at[row, 'name']}"
        for key, raw, kept in (
            ("countries", countries_raw, countries),
            ("states", states_raw, states),
            ("counties", counties_raw, counties),
        )
        for row in raw.index.difference(kept.index)
    ]

    def text(value: Any) -> str:
        return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)

    outputs = {
        "countries.geojson": feature_collection(
            (
                (g, {"id": text(i), "name": text(n), "label": label_point(g)})
                for g, i, n in zip(countries.geometry, countries["id"], countries["name"], strict=True)
            ),
            DISPLAY_PRECISION,
        ),
        "states.geojson": feature_collection(
            (
                (g, {"fips": text(i).zfill(2), "name": text(n), "label": label_point(g)})
                for g, i, n in zip(states.geometry, states["id"], states["name"], strict=True)
            ),
            DISPLAY_PRECISION,
        ),
        "counties.geojson": feature_collection(
            (
                (
                    g,
                    {"fips": text(i).zfill(5), "name": text(n), "state": text(i).zfill(5)[:2], "label": label_point(g)},
                )
                for g, i, n in zip(counties.geometry, counties["id"], counties["name"], strict=True)
            ),
            PRECISION,
        ),
    }
    files = {}
    for name, collection in outputs.items():
        size = write_json(out_dir / name, collection)
        files[name] = {"features": len(collection["features"]), "bytes": size}
    manifest = {
        "built_by": "layers.basemap_build",
        "crs": CRS,
        "coordinate_decimals": {"countries": DISPLAY_PRECISION, "states": DISPLAY_PRECISION, "counties": PRECISION},
        "files": files,
        "sources": {
            key: {
                "package": package,
                "version": _package_version(node_modules, package),
                "file": filename,
                "layer": layer,
                **LICENCES[package],
            }
            for key, (package, filename, layer) in SOURCES.items()
        },
        "dropped": dropped,
        "simplification_tolerance_deg": {"countries": COUNTRY_TOLERANCE, "states": STATE_TOLERANCE, "counties": 0},
        "build_seconds": round(time.perf_counter() - started, 2),
    }
    write_json(out_dir / "manifest.json", manifest)
    return manifest


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m layers.basemap_build NODE_MODULES OUT_DIR", file=sys.stderr)
        return 2
    try:
        manifest = build(Path(args[0]), Path(args[1]))
    except BasemapBuildError as exc:
        print(f"basemap build failed: {exc}", file=sys.stderr)
        return 2
    summary = ", ".join(f"{k} {v['features']} features {v['bytes'] / 1e6:.2f} MB" for k, v in manifest["files"].items())
    print(f"basemap built in {manifest['build_seconds']} s: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
