"""Any GeoJSON FeatureCollection (format ``geojson``): what a partner agency pushes to
``POST /api/ingest`` or a feed names explicitly (``format = "geojson"``). Never chosen by sniffing:
the USGS, NWS and NSW RFS adapters read their own GeoJSON, and a document none of them claims is
read here only when asked.

Each feature's ``properties`` are read as one record (feeds/sources/_records.py: time and title
required, kind, severity, text, link, place, magnitude, sharing); the feature's ``id`` (else
``properties.id``) gives the event id ``<feed id>:<id>`` (the same id in the ``csv`` format is the same report), else a
stable hash. Geometry: a Point is the
position; a Polygon or MultiPolygon is kept as the area (placed at a point inside it); none (null) is
placed from the record's words. A feature that cannot be a report is skipped with a warning
``feature N (id) skipped: reason`` (what push intake refuses the whole document for).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from feeds.contract import DocumentRefused, FeedConfig, ParseResult
from feeds.model import InvalidEvent, check_lonlat
from feeds.sources import register
from feeds.sources._json import load_json
from feeds.sources._records import record_event
from feeds.text import BadDate, plain_text

MAX_RING_POINTS = 20_000  # an area drawn with more points is refused, not stored


def _geometry(feature: dict[str, Any]) -> tuple[tuple[float, float] | None, dict[str, Any] | None]:
    geometry = feature.get("geometry")
    if geometry is None:
        return None, None
    if not isinstance(geometry, dict):
        raise ValueError("geometry is not an object")
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    if kind == "Point":
        if not isinstance(coords, list) or len(coords) < 2:
            raise ValueError("Point has no coordinates")
        lon, lat = coords[0], coords[1]
        check_lonlat(lon, lat, what="Point")
        return (float(lon), float(lat)), None
    if kind in ("Polygon", "MultiPolygon"):
        polygons = [coords] if kind == "Polygon" else coords
        if not isinstance(polygons, list) or not polygons:
            raise ValueError(f"{kind} has no rings")
        count = 0
        for polygon in polygons:
            if not isinstance(polygon, list) or not polygon:
                raise ValueError(f"{kind} ring is empty")
            for ring in polygon:
                if not isinstance(ring, list) or len(ring) < 4:
                    raise ValueError(f"{kind} ring needs at least 4 positions")
                for point in ring:
                    if not isinstance(point, list) or len(point) < 2:
                        raise ValueError(f"{kind} position is not [lon, lat]")
                    check_lonlat(point[0], point[1], what=kind)
                    count += 1
        if count > MAX_RING_POINTS:
            raise ValueError(f"{kind} has {count} positions (at most {MAX_RING_POINTS})")
        return None, {"type": kind, "coordinates": coords}
    raise ValueError(f"geometry type {plain_text(kind, 30)!r} is not Point, Polygon or MultiPolygon")


class GeoJsonSource:
    """A FeatureCollection of reports (see the module docstring)."""

    name = "geojson"

    def sniff(self, head: str) -> int:
        return 0  # read only when named: the specific GeoJSON adapters know their feeds better

    def parse(self, data: bytes, feed: FeedConfig, fetched_at: datetime) -> ParseResult:
        doc, warnings = load_json(data)
        if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(
                doc.get("features"), list):
            raise DocumentRefused("not a GeoJSON FeatureCollection ({\"type\": \"FeatureCollection\", \"features\": [...]})")
        result = ParseResult(warnings=warnings)
        for index, feature in enumerate(doc["features"]):
            fid = None
            try:
                if not isinstance(feature, dict) or feature.get("type") != "Feature":
                    raise ValueError("not a Feature object")
                props = feature.get("properties") or {}
                if not isinstance(props, dict):
                    raise ValueError("properties is not an object")
                fid = feature.get("id") if feature.get("id") not in (None, "") else props.get("id")
                lonlat, geometry = _geometry(feature)
                record = {**props, "id": fid} if fid is not None else props
                result.events.append(record_event(record, feed, fetched_at, prefix="geojson", lonlat=lonlat,
                                                  geometry=geometry))
            except (InvalidEvent, BadDate, ValueError, TypeError, AttributeError, KeyError) as exc:
                result.warnings.append(f"feature {index} ({plain_text(fid, 40) or 'no id'}) skipped: {exc}")
        return result


register(GeoJsonSource())
