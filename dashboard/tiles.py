"""Street tiles and map styles served by the app itself: nothing a map shows comes from off the machine.

    GET /tiles/style/{theme}.json          a MapLibre style (dark: wall and desk; light: the tablet)
    GET /tiles/{region}/{z}/{x}/{y}.pbf    one vector tile of an installed street basemap (.png, .jpg,
                                           .webp for a raster package, as TAK and offline GIS carry them)
    GET /tiles/regions.json                the installed street basemaps (name, bounds, zooms)

The style names absolute tile URLs built from the request's own origin (MapLibre makes no request
for root-relative vector tile URLs). It draws, bottom to top: the sea, the world's land and borders
(the atlases installed by ``make install``), then each street basemap's water, green, buildings,
railways, roads by class, responder places, and street and place labels. It names no glyphs, so
labels are drawn with the browser's own fonts. Behind the access guard like every other path.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response

from domain.access.audit import request_context
from domain.config.loader import Config
from layers.basemap import BASEMAP_THEMES
from layers.streets import BUILT_IN, ImportRefused, Region, TileArchive, nearest, regions, responder_places

log = logging.getLogger(__name__)

ATTRIBUTION = "© OpenStreetMap contributors"


def basemap_folders(config: Config) -> list[Path]:
    """Where street basemaps are looked for, imported ones first: ``<data_dir>/basemaps`` then the
    built-in ones."""
    return [Path(config.data_dir) / "basemaps", BUILT_IN]


_listed: dict[tuple[Path, ...], tuple[float, tuple[float, ...], list[Region]]] = {}
LIST_SECONDS = 5.0  # an import or removal shows on screens within this (every process rereads the folders)


def installed(config: Config) -> list[Region]:
    """Every street basemap, an imported one hiding a built-in one of the same name (reread when a
    folder changes, at most every LIST_SECONDS)."""
    folders = tuple(basemap_folders(config))
    now = time.monotonic()
    held = _listed.get(folders)
    if held and now - held[0] < LIST_SECONDS:
        return held[2]
    stamps = tuple(f.stat().st_mtime if f.is_dir() else 0.0 for f in folders)
    if held and held[1] == stamps:
        _listed[folders] = (now, stamps, held[2])
        return held[2]
    seen: dict[str, Region] = {}
    for folder in folders:
        for region in regions(folder):
            seen.setdefault(region.name, region)
    _listed[folders] = (now, stamps, list(seen.values()))
    return list(seen.values())


@functools.lru_cache(maxsize=32)
def _responder_places(path: Path, mtime: float) -> tuple[dict[str, Any], ...]:
    """A region's responder places, read once per version of its archive (not at every drawer)."""
    return tuple(responder_places(path))


HOSPITALS = ("hospital",)
RESPONDERS = ("police", "fire_station", "ambulance_station")
CARE = ("clinic",)


def nearby_responders(config: Config, lat: Any, lon: Any) -> dict[str, list[dict[str, Any]]] | None:
    """For the drawer: the nearest hospitals (emergency departments first), police, fire and
    ambulance stations, and clinics, from the street basemaps that cover the point (within 50 km of
    their edge); None when no street basemap is near (the drawer says so)."""
    if not isinstance(lat, float | int) or not isinstance(lon, float | int):
        return None
    near = [r for r in installed(config)
            if r.bounds[0] - 0.7 <= lon <= r.bounds[2] + 0.7 and r.bounds[1] - 0.45 <= lat <= r.bounds[3] + 0.45]
    if not near:
        return None
    places = [p for region in near for p in _responder_places(region.path, region.path.stat().st_mtime)]
    return {"hospitals": nearest(places, lat, lon, HOSPITALS), "responders": nearest(places, lat, lon, RESPONDERS),
            "clinics": nearest(places, lat, lon, CARE, limit=2)}


STREET_COLOURS = {
    "dark": {"water": "#16314a", "green": "#1d3326", "building": "#2a3542", "rail": "#5b6673",
             "major": "#8a7a52", "road": "#4d5967", "minor": "#38434f", "path": "#3a4654",
             "label": "#e8edf2", "halo": "#0b1520", "place": "#ffffff"},
    "light": {"water": "#a9cbe3", "green": "#cfe6c4", "building": "#d9d3c7", "rail": "#7d7d7d",
              "major": "#f2c46d", "road": "#ffffff", "minor": "#ffffff", "path": "#b9b3a7",
              "label": "#1a1a1a", "halo": "#ffffff", "place": "#000000"},
}
POI_COLOURS = {"hospital": "#d7301f", "police": "#2b6cb0", "fire_station": "#e6550d",
               "ambulance_station": "#d7301f", "shelter": "#2ca25f", "school": "#7a5195", "clinic": "#d7301f"}


def _street_layers(name: str, theme: str, scale: float = 1.0) -> list[dict[str, Any]]:
    c = STREET_COLOURS[theme]
    src = f"streets-{name}"

    def layer(kind: str, source_layer: str, suffix: str, **props: Any) -> dict[str, Any]:
        return {"id": f"{src}-{suffix}", "type": kind, "source": src, "source-layer": source_layer, **props}

    width = ["interpolate", ["exponential", 1.6], ["zoom"], 12, 0.6, 16, 6]  # zoom must be the top level
    wide = ["interpolate", ["exponential", 1.6], ["zoom"], 12, 1.2, 16, 10]
    major = ["match", ["get", "class"], ["motorway", "trunk", "primary"], True, False]
    return [
        layer("fill", "water", "water", paint={"fill-color": c["water"]}, filter=["==", ["geometry-type"], "Polygon"]),
        layer("line", "water", "waterways", paint={"line-color": c["water"], "line-width": 2}),
        layer("fill", "green", "green", paint={"fill-color": c["green"]}),
        layer("fill", "buildings", "buildings", minzoom=14, paint={"fill-color": c["building"], "fill-opacity": 0.9}),
        layer("line", "rail", "rail", paint={"line-color": c["rail"], "line-width": 1.4, "line-dasharray": [3, 2]}),
        layer("line", "roads", "paths", filter=["==", ["get", "class"], "path"],
              paint={"line-color": c["path"], "line-width": 1, "line-dasharray": [2, 1]}),
        layer("line", "roads", "streets", filter=["all", ["!", major], ["!=", ["get", "class"], "path"]],
              paint={"line-color": c["road"], "line-width": width}, layout={"line-cap": "round", "line-join": "round"}),
        layer("line", "roads", "major", filter=major,
              paint={"line-color": c["major"], "line-width": wide},
              layout={"line-cap": "round", "line-join": "round"}),
        # Responder places are rings with a letter, never filled discs: a filled disc is an incident.
        layer("circle", "pois", "pois", paint={
            "circle-color": c["halo"], "circle-radius": 8, "circle-stroke-width": 2.5,
            "circle-stroke-color": ["match", ["get", "class"], *[v for kv in POI_COLOURS.items() for v in kv], "#888888"]}),
        layer("symbol", "pois", "poi-letters", layout={
            "text-field": ["match", ["get", "class"], ["hospital", "clinic", "ambulance_station"], "H", "police", "P",
                           "fire_station", "F", "S"],
            "text-size": 11, "text-font": ["Noto Sans Bold"], "text-allow-overlap": True, "text-ignore-placement": True},
            paint={"text-color": ["match", ["get", "class"], *[v for kv in POI_COLOURS.items() for v in kv], "#888888"]}),
        layer("symbol", "roads", "road-names", minzoom=14, filter=["!=", ["get", "name"], ""],
              layout={"symbol-placement": "line", "text-field": ["get", "name"], "text-size": round(13 * scale),
                      "text-font": ["Noto Sans Regular"]},
              paint={"text-color": c["label"], "text-halo-color": c["halo"], "text-halo-width": 1.6}),
        layer("symbol", "pois", "poi-names", minzoom=14,
              layout={"text-field": ["get", "name"], "text-size": round(13 * scale), "text-offset": [0, 1.2], "text-anchor": "top",
                      "text-font": ["Noto Sans Bold"]},
              paint={"text-color": c["label"], "text-halo-color": c["halo"], "text-halo-width": 1.6}),
        layer("symbol", "places", "place-names",
              layout={"text-field": ["get", "name"], "text-font": ["Noto Sans Bold"],
                      "text-size": ["match", ["get", "class"], ["city", "town"], round(20 * scale), round(15 * scale)]},
              paint={"text-color": c["place"], "text-halo-color": c["halo"], "text-halo-width": 2}),
    ]


def style(origin: str, theme: str, basemaps: list[Region], scale: float = 1.0) -> dict[str, Any]:
    """The MapLibre style of a screen: world base, then every street basemap, tile URLs on ``origin``;
    ``scale`` enlarges the labels (the wall, read from across the room)."""
    if theme not in BASEMAP_THEMES:
        raise ValueError(f"unknown theme {theme!r}")
    world = BASEMAP_THEMES[theme]
    origin = origin.rstrip("/")
    sources: dict[str, Any] = {
        "countries": {"type": "geojson", "data": f"{origin}/assets/basemap/countries.geojson"},
        "states": {"type": "geojson", "data": f"{origin}/assets/basemap/states.geojson"},
    }
    layers: list[dict[str, Any]] = [
        {"id": "sea", "type": "background", "paint": {"background-color": world.sea}},
        {"id": "land", "type": "fill", "source": "countries", "paint": {"fill-color": world.land}},
    ]
    for region in sorted(basemaps, key=lambda r: not r.raster):  # raster packages under vector streets
        sources[f"streets-{region.name}"] = {
            "type": "raster" if region.raster else "vector",
            "tiles": [f"{origin}/tiles/{region.name}/{{z}}/{{x}}/{{y}}.{region.tile_format}"],
            "minzoom": region.minzoom, "maxzoom": region.maxzoom, "bounds": list(region.bounds),
            "attribution": ATTRIBUTION, **({"tileSize": 256} if region.raster else {}),
        }
        if region.raster:
            layers.append({"id": f"streets-{region.name}-raster", "type": "raster", "source": f"streets-{region.name}"})
        else:
            layers += _street_layers(region.name, theme, scale)
    layers += [
        {"id": "state-lines", "type": "line", "source": "states",
         "paint": {"line-color": world.state_line, "line-width": world.state_width}},
        {"id": "country-lines", "type": "line", "source": "countries",
         "paint": {"line-color": world.country_line, "line-width": world.country_width}},
    ]
    return {"version": 8, "name": f"watchfloor-{theme}", "sources": sources, "layers": layers}


def embedded_style(config: Config, theme: str, scale: float = 1.0) -> dict[str, Any] | None:
    """The screen's style itself, for its figure (None when the request's origin is unknown: the
    figure then names ``/tiles/style/<theme>.json``). In the figure, a map made again while the data
    store is away (every request then answers 503) has its style at once; fetched by URL, a style
    that failed never loaded, and plotly drew nothing more on that map."""
    ctx = request_context.get()
    if ctx is None or not ctx.origin or theme not in BASEMAP_THEMES:
        return None
    return style(ctx.origin, theme, installed(config), min(3.0, max(1.0, scale)))


class _Archives:
    """Open archives by path, reopened when the file changes (an import swapped it)."""

    def __init__(self) -> None:
        self._open: dict[Path, tuple[float, TileArchive]] = {}
        self._lock = threading.Lock()

    def get(self, path: Path) -> TileArchive:
        mtime = path.stat().st_mtime
        with self._lock:
            held = self._open.get(path)
            if held and held[0] == mtime:
                return held[1]
            archive = TileArchive(path)
            if held:
                held[1].close()
            self._open[path] = (mtime, archive)
            return archive


def register_tiles(server: FastAPI, config: Config) -> None:
    archives = _Archives()

    @server.get("/tiles/style/{theme}.json")
    def tile_style(theme: str, request: Request, scale: float = 1.0) -> Response:
        if theme not in BASEMAP_THEMES:
            return Response(orjson.dumps({"error": f"unknown theme {theme[:20]!r}"}), 404, media_type="application/json")
        origin = str(request.base_url)
        body = style(origin, theme, installed(config), min(3.0, max(1.0, scale)))
        return Response(orjson.dumps(body), media_type="application/json", headers={"Cache-Control": "no-cache"})

    @server.get("/tiles/regions.json")
    def tile_regions() -> Response:
        body = [{k: v for k, v in r.as_dict().items() if k != "path"} for r in installed(config)]
        return Response(orjson.dumps(body), media_type="application/json")

    @server.get("/tiles/{region}/{z}/{x}/{y}.{ext}")
    def tile(region: str, z: int, x: int, y: int, ext: str) -> Response:
        found = next((r for r in installed(config) if r.name == region), None)
        if found is None or ext != found.tile_format or not (0 <= z <= 24 and 0 <= x < 2**z and 0 <= y < 2**z):
            return Response(b"", 404)
        try:
            archive = archives.get(found.path)
            data = archive.tile(z, x, y)
        except (ImportRefused, OSError) as exc:
            log.error("street basemap %s unreadable: %s", region, exc)
            return Response(b"", 503)
        if data is None:
            return Response(b"", 204)
        headers = {"Cache-Control": "private, max-age=3600"}
        if archive.gzip:
            headers["Content-Encoding"] = "gzip"
        return Response(data, media_type=archive.media_type or "application/octet-stream", headers=headers)
