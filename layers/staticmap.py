"""Maps drawn on the server, as SVG, for products (briefings): the offline street basemap where one is
installed (build/basemaps, read with mapbox-vector-tile), else the country and state outlines, with
the product's incidents and venues on top. No request leaves the machine.

:func:`render` takes the points and rings to draw and returns an SVG document; :func:`fit` picks the
centre and zoom that show them all. Web-mercator, 256-pixel tiles, as the screens draw them.
"""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import mapbox_vector_tile

from layers.streets import BUILT_IN, TileArchive, regions

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "basemap"
TILE = 256
ROAD_WIDTH = {"motorway": 5.0, "trunk": 4.5, "primary": 4.0, "secondary": 3.5, "tertiary": 3.0, "street": 2.2,
              "pedestrian": 1.8, "service": 1.4, "path": 0.8}
FILL = {"water": "#aad3df", "green": "#cdebb0", "buildings": "#d9d0c9"}
MAX_TILES = 64  # a map of a product never reads more than this many tiles


@dataclass
class Point:
    lat: float
    lon: float
    colour: str
    label: str = ""
    radius: float = 7.0


@dataclass
class Ring:
    lat: float
    lon: float
    km: float
    label: str = ""


@dataclass
class View:
    lat: float
    lon: float
    zoom: int
    width: int
    height: int
    notes: list[str] = field(default_factory=list)

    def world(self, lat: float, lon: float) -> tuple[float, float]:
        """Pixel position at this zoom of the whole world's map."""
        n = TILE * 2**self.zoom
        lat = max(-85.05, min(85.05, lat))
        x = (lon + 180.0) / 360.0 * n
        y = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n
        return x, y

    def pixel(self, lat: float, lon: float) -> tuple[float, float]:
        cx, cy = self.world(self.lat, self.lon)
        x, y = self.world(lat, lon)
        return x - cx + self.width / 2, y - cy + self.height / 2

    def metres_per_pixel(self) -> float:
        return 156543.03392 * math.cos(math.radians(self.lat)) / 2**self.zoom


def fit(points: list[tuple[float, float]], width: int, height: int, *, max_zoom: int = 16,
        min_zoom: int = 2, pad: float = 0.15) -> View:
    """The view that holds every (lat, lon) with a margin, at the largest whole zoom."""
    if not points:
        return View(20.0, 0.0, min_zoom, width, height)
    lats, lons = [p[0] for p in points], [p[1] for p in points]
    lat, lon = (min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2
    for zoom in range(max_zoom, min_zoom - 1, -1):
        view = View(lat, lon, zoom, width, height)
        xs, ys = zip(*(view.pixel(a, b) for a, b in points), strict=True)
        if (max(xs) - min(xs)) <= width * (1 - 2 * pad) and (max(ys) - min(ys)) <= height * (1 - 2 * pad):
            return view
    return View(lat, lon, min_zoom, width, height)


def _tiles(view: View, zoom: int) -> list[tuple[int, int]]:
    scale = 2 ** (view.zoom - zoom)
    cx, cy = view.world(view.lat, view.lon)
    x0, x1 = (cx - view.width / 2) / scale / TILE, (cx + view.width / 2) / scale / TILE
    y0, y1 = (cy - view.height / 2) / scale / TILE, (cy + view.height / 2) / scale / TILE
    n = 2**zoom
    return [(x, y) for x in range(max(0, int(x0)), min(n - 1, int(x1)) + 1)
            for y in range(max(0, int(y0)), min(n - 1, int(y1)) + 1)]


def _covering(view: View, folder: Path) -> list[Path]:
    west_lat, west_lon = _unproject(view, 0, view.height)
    east_lat, east_lon = _unproject(view, view.width, 0)
    out = []
    for region in regions(folder):
        if region.raster:
            continue
        w, s, e, n = region.bounds
        if w <= east_lon and e >= west_lon and s <= east_lat and n >= west_lat:
            out.append(region.path)
    return out


def _unproject(view: View, px: float, py: float) -> tuple[float, float]:
    cx, cy = view.world(view.lat, view.lon)
    n = TILE * 2**view.zoom
    x, y = cx + px - view.width / 2, cy + py - view.height / 2
    lon = x / n * 360.0 - 180.0
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))
    return lat, lon


def _street_layers(view: View, archive: TileArchive) -> dict[str, list[str]]:
    """SVG elements by layer from one archive's vector tiles."""
    zoom = max(int(archive.header["min_zoom"]), min(int(archive.header["max_zoom"]), view.zoom))
    scale = 2 ** (view.zoom - zoom)
    cx, cy = view.world(view.lat, view.lon)
    out: dict[str, list[str]] = {}
    for x, y in _tiles(view, zoom)[:MAX_TILES]:
        data = archive.tile(zoom, x, y)
        if not data:
            continue
        decoded = mapbox_vector_tile.decode(gzip.decompress(data) if archive.gzip else data,
                                            default_options={"y_coord_down": True})
        for layer, content in decoded.items():
            extent = content.get("extent", 4096)

            def px(c: list[float], x: int = x, y: int = y, extent: int = extent) -> str:
                return (f"{(x * TILE + c[0] / extent * TILE) * scale - cx + view.width / 2:.1f},"
                        f"{(y * TILE + c[1] / extent * TILE) * scale - cy + view.height / 2:.1f}")

            for feature in content["features"]:
                element = _feature_svg(layer, feature, px)
                if element:
                    out.setdefault(layer, []).append(element)
    return out


def _feature_svg(layer: str, feature: dict[str, Any], px: Any) -> str:
    geometry, props = feature["geometry"], feature.get("properties") or {}
    kind, coords = geometry["type"], geometry["coordinates"]
    if layer in FILL and kind in ("Polygon", "MultiPolygon"):
        polys = coords if kind == "MultiPolygon" else [coords]
        path = " ".join("M" + " L".join(px(c) for c in ring) + " Z" for poly in polys for ring in poly)
        return f'<path d="{path}" fill="{FILL[layer]}" fill-rule="evenodd"/>'
    if layer in ("roads", "rail") and kind in ("LineString", "MultiLineString"):
        lines = coords if kind == "MultiLineString" else [coords]
        path = " ".join("M" + " L".join(px(c) for c in line) for line in lines)
        if layer == "rail":
            return f'<path d="{path}" fill="none" stroke="#999" stroke-width="1.2" stroke-dasharray="4 3"/>'
        width = ROAD_WIDTH.get(str(props.get("class")), 1.5)
        return (f'<path d="{path}" fill="none" stroke="#b9b9b9" stroke-width="{width + 1.2:.1f}" '
                f'stroke-linecap="round"/><path d="{path}" fill="none" stroke="#ffffff" '
                f'stroke-width="{width:.1f}" stroke-linecap="round"/>')
    if layer in ("places", "pois") and kind == "Point" and props.get("name"):
        x, y = px(coords).split(",")
        size = 13 if layer == "places" else 10
        weight = "bold" if layer == "places" else "normal"
        marker = "" if layer == "places" else f'<circle cx="{x}" cy="{y}" r="3" fill="#b03030"/>'
        return (marker + f'<text x="{x}" y="{y}" font-size="{size}" font-weight="{weight}" fill="#333" '
                f'text-anchor="middle" dy="-5" stroke="#fff" stroke-width="3" paint-order="stroke">'
                f'{escape(str(props["name"])[:40])}</text>')
    return ""


def _outlines(view: View) -> list[str]:
    """Country and state outlines (Natural Earth, assets/basemap) when no street basemap covers the view."""
    out = []
    for name, stroke in (("countries.geojson", "#888"), ("states.geojson", "#bbb")):
        path = ASSETS / name
        if not path.exists():
            continue
        for feature in json.loads(path.read_text())["features"]:
            geometry = feature.get("geometry") or {}
            polys = geometry.get("coordinates") or []
            polys = polys if geometry.get("type") == "MultiPolygon" else [polys]
            parts = []
            for poly in polys:
                for ring in poly:
                    pts = [view.pixel(lat, lon) for lon, lat in ring]
                    if any(-view.width < x < 2 * view.width and -view.height < y < 2 * view.height for x, y in pts):
                        parts.append("M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in pts) + " Z")
            if parts:
                out.append(f'<path d="{" ".join(parts)}" fill="#f2efe9" stroke="{stroke}" stroke-width="0.8"/>')
    return out


def render(view: View, points: list[Point], rings: list[Ring] = (), folder: Path = BUILT_IN) -> str:  # type: ignore[assignment]
    """The SVG map: ground (streets or outlines), venue rings, numbered points, attribution."""
    body: list[str] = []
    archives = _covering(view, folder)
    if archives:
        layers: dict[str, list[str]] = {}
        for path in archives:
            archive = TileArchive(path)
            try:
                for layer, items in _street_layers(view, archive).items():
                    layers.setdefault(layer, []).extend(items)
            finally:
                archive.close()
        for layer in ("water", "green", "buildings", "rail", "roads", "places", "pois"):
            body += layers.get(layer, [])
        credit = "© OpenStreetMap contributors"
    else:
        body += _outlines(view)
        credit = "Natural Earth"
        view.notes.append("no street basemap covers this area: country and state outlines only")
    for ring in rings:
        x, y = view.pixel(ring.lat, ring.lon)
        r = ring.km * 1000 / view.metres_per_pixel()
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{max(r, 4):.1f}" fill="#3a6ea5" fill-opacity="0.08" '
                    f'stroke="#3a6ea5" stroke-width="1.5" stroke-dasharray="5 3"/>')
        if ring.label:
            body.append(f'<text x="{x:.1f}" y="{y - max(r, 4) - 4:.1f}" font-size="11" fill="#3a6ea5" '
                        f'text-anchor="middle">{escape(ring.label[:40])}</text>')
    for point in points:
        x, y = view.pixel(point.lat, point.lon)
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{point.radius:.1f}" fill="{escape(point.colour)}" '
                    f'stroke="#222" stroke-width="1"/>')
        if point.label:
            body.append(f'<text x="{x:.1f}" y="{y + 3.5:.1f}" font-size="9" font-weight="bold" fill="#fff" '
                        f'text-anchor="middle">{escape(point.label[:3])}</text>')
    body.append(f'<text x="{view.width - 4}" y="{view.height - 4}" font-size="9" fill="#555" '
                f'text-anchor="end">{escape(credit)}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{view.width}" height="{view.height}" '
            f'viewBox="0 0 {view.width} {view.height}" font-family="sans-serif">'
            f'<rect width="100%" height="100%" fill="{"#f2efe9" if archives else "#d4e6f1"}"/>'
            f'<clipPath id="c"><rect width="{view.width}" height="{view.height}"/></clipPath>'
            f'<g clip-path="url(#c)">{"".join(body)}</g></svg>')
