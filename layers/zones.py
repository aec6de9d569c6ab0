"""Major-event workspaces: venues with radii and an optional course line, as geometry.

Pure: geometry in, distances and GeoJSON out. Distances are great-circle kilometres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

EARTH_KM = 6371.0088


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(a)))


def _segment_km(lat: float, lon: float, a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance from a point to a short segment, on a local equirectangular plane (fine below ~100 km)."""
    k = math.cos(math.radians(lat))
    ax, ay = (a[1] - lon) * k, a[0] - lat
    bx, by = (b[1] - lon) * k, b[0] - lat
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / length2))
    px, py = ax + t * dx, ay + t * dy
    return math.hypot(px, py) * (math.pi / 180) * EARTH_KM


@dataclass(frozen=True)
class Venue:
    name: str
    lat: float
    lon: float
    radius_km: float


@dataclass(frozen=True)
class Workspace:
    """A major event: where it is (venues, course), when, and how far "near" reaches."""

    id: str
    name: str
    venues: tuple[Venue, ...] = ()
    route: tuple[tuple[float, float], ...] = ()
    route_km: float = 0.3
    near_km: float = 5.0
    center: tuple[float, float] | None = None
    zoom: float = 10.0
    exercise: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def focus(self) -> tuple[float, float]:
        if self.center:
            return self.center
        points = [(v.lat, v.lon) for v in self.venues] + list(self.route)
        if not points:
            return (0.0, 0.0)
        return (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))

    def distance(self, lat: float, lon: float) -> tuple[float, str]:
        """Kilometres from the perimeter (0 inside) and the name of the nearest part."""
        best = (math.inf, "")
        for venue in self.venues:
            d = max(0.0, haversine_km(lat, lon, venue.lat, venue.lon) - venue.radius_km)
            if d < best[0]:
                best = (d, venue.name)
        for a, b in zip(self.route, self.route[1:], strict=False):
            d = max(0.0, _segment_km(lat, lon, a, b) - self.route_km)
            if d < best[0]:
                best = (d, "the course")
        return best

    def area_distance(self, area: dict[str, Any]) -> tuple[float, str] | None:
        """Kilometres from an area (a GeoJSON Polygon or MultiPolygon: an alert's outline, a warning
        region) to the perimeter, 0 when they touch, and the nearest part's name; None when the area
        is unreadable. Measured on a local plane centred on the workspace (fine below a few hundred km)."""
        import shapely
        from shapely.geometry import LineString, Point, shape

        lat0, lon0 = self.focus()
        kx, ky = math.cos(math.radians(lat0)) * math.pi / 180 * EARTH_KM, math.pi / 180 * EARTH_KM
        try:
            plane = shapely.transform(shape(area), lambda xy: (xy - (lon0, lat0)) * (kx, ky))
        except (ValueError, TypeError, AttributeError, KeyError, shapely.errors.ShapelyError):
            return None
        if plane.is_empty:
            return None
        best = (math.inf, "")
        for venue in self.venues:
            where = Point((venue.lon - lon0) * kx, (venue.lat - lat0) * ky).buffer(venue.radius_km)
            d = plane.distance(where)
            if d < best[0]:
                best = (d, venue.name)
        if len(self.route) > 1:
            course = LineString([((lon - lon0) * kx, (lat - lat0) * ky) for lat, lon in self.route]).buffer(self.route_km)
            d = plane.distance(course)
            if d < best[0]:
                best = (d, "the course")
        return best

    def proximity(self, lat: float | None, lon: float | None, area: dict[str, Any] | None = None) -> tuple[float, str, float]:
        """Weight factor for an incident at lat/lon: 1 inside, falling to 0 at ``near_km``. An incident
        that is an area (``area``: its outline) is as near as the nearest part of that area, never
        judged by a point made up inside it."""
        measured = self.area_distance(area) if area else None
        if measured is not None:
            d, where = measured
        elif lat is None or lon is None:
            return 0.0, "", math.inf
        else:
            d, where = self.distance(lat, lon)
        if d == 0:
            return 1.0, where, 0.0
        if d >= self.near_km:
            return 0.0, where, d
        return round(0.6 * (1 - d / self.near_km), 3), where, d

    def geojson(self) -> dict[str, Any]:
        """Venue circles (as polygons) and the course line, for drawing."""
        features: list[dict[str, Any]] = []
        for venue in self.venues:
            features.append({"type": "Feature", "properties": {"name": venue.name},
                             "geometry": {"type": "Polygon", "coordinates": [circle(venue.lat, venue.lon, venue.radius_km)]}})
        if len(self.route) > 1:
            features.append({"type": "Feature", "properties": {"name": "course"},
                             "geometry": {"type": "LineString", "coordinates": [[lon, lat] for lat, lon in self.route]}})
        return {"type": "FeatureCollection", "features": features}


def circle(lat: float, lon: float, radius_km: float, points: int = 48) -> list[list[float]]:
    """A closed ring of lon/lat points approximating a circle on the sphere."""
    ring = []
    d = radius_km / EARTH_KM
    p1, l1 = math.radians(lat), math.radians(lon)
    for i in range(points + 1):
        bearing = 2 * math.pi * i / points
        p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(bearing))
        l2 = l1 + math.atan2(math.sin(bearing) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
        ring.append([round(math.degrees(l2), 6), round(math.degrees(p2), 6)])
    return ring
