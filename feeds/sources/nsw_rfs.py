"""NSW Rural Fire Service "major incidents" GeoJSON (format ``nsw-rfs-geojson``).

Each feature is one incident: a Point, or a GeometryCollection holding the incident Point and a
nested GeometryCollection of fire-ground polygons. ``properties.description`` is HTML of
``KEY: value`` lines separated by ``<br />`` (ALERT LEVEL, LOCATION, COUNCIL AREA, STATUS, TYPE,
FIRE, SIZE, RESPONSIBLE AGENCY, UPDATED).

Decisions:

- ``id`` = ``"nswrfs:" + stable_hash(guid)``; without a guid, a hash of title and position.
- ``time``: ``UPDATED`` ("4 Mar 2020 10:45") is NSW local time; it is read as Australia/Sydney
  (AEST/AEDT, via zoneinfo) and converted to UTC, and the event's warnings say so. Ambiguous or
  non-existent local times at daylight-saving changes are noted too. When UPDATED is missing,
  ``pubDate`` ("29/02/2020 11:23:00 PM", day/month/year) is used; it is UTC (in every capture it
  equals UPDATED minus the Sydney offset), and that assumption is recorded as well.
- ``severity`` from the alert level (``category`` or ALERT LEVEL): Emergency Warning -> extreme,
  Watch and Act -> severe, Advice and Planned Burn -> minor, Not Applicable (no warning issued)
  -> unknown.
- ``kind`` fire, except incidents whose TYPE is plainly not a fire: MVA/Transport -> traffic,
  Flood/Storm/Tree Down -> weather, Assist Other Agency / Medical / Other / Fire Alarm ->
  incident. (The feed carries every RFS call-out; a car crash must not be drawn as a fire.)
- Position: the incident Point; geometry: the polygons as one valid MultiPolygon. Bad polygons
  are dropped with a warning; a feature with no valid position is skipped with a warning.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping

from feeds.contract import DocumentRefused, FeedConfig, ParseResult
from feeds.model import Event, InvalidEvent, Kind, Severity, check_lonlat, iso, stable_hash
from feeds.sources import register
from feeds.sources._json import load_json, number
from feeds.text import BadDate, clock_skew_warning, parse_time, plain_text, safe_link, title_text

SYDNEY = ZoneInfo("Australia/Sydney")
ALERT_SEVERITY = {
    "emergency warning": Severity.EXTREME,
    "emergency": Severity.EXTREME,
    "watch and act": Severity.SEVERE,
    "advice": Severity.MINOR,
    "planned burn": Severity.MINOR,
    "not applicable": Severity.UNKNOWN,
}
TYPE_KIND = (
    (re.compile(r"mva|transport|vehicle accident|rescue", re.I), Kind.TRAFFIC),
    (re.compile(r"flood|storm|tree down", re.I), Kind.WEATHER),
    (re.compile(r"fire alarm|assist|medical|^other$|hazmat|hazardous", re.I), Kind.INCIDENT),
)
_BR = re.compile(r"<\s*br\s*/?\s*>", re.I)
_KEY = re.compile(r"^\s*([A-Z][A-Z ]{1,30}):\s*(.*)$", re.S)
_SIZE = re.compile(r"^([\d.,]+)\s*ha\b", re.I)
_PUBDATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AP]M)?$", re.I)
_NSW_BOX = (140.9, -37.6, 153.7, -28.1)  # lon/lat bounds of NSW and the ACT, used only by sniff
_FIRST_PAIR = re.compile(r'"coordinates"\s*:\s*\[\s*\[*\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)')

FIELDS = {
    "id": "properties.guid",
    "title": "properties.title",
    "time": "properties.description UPDATED (Australia/Sydney)|properties.pubDate (UTC)",
    "severity": "properties.category",
    "kind": "properties.description TYPE",
    "place": "properties.description LOCATION",
    "lat": "geometry Point",
    "lon": "geometry Point",
    "geometry": "geometry Polygons",
}


def description_fields(description: object) -> dict[str, str]:
    """``{"ALERT LEVEL": "Advice", ...}`` from the HTML description, values as plain text."""
    fields: dict[str, str] = {}
    for part in _BR.split(str(description or "")):
        match = _KEY.match(plain_text(part, 500))
        if match:
            fields[match.group(1).strip().upper()] = match.group(2).strip()
    return fields


def sydney_to_utc(text: str) -> tuple[datetime, list[str]]:
    """"4 Mar 2020 10:45" (Australia/Sydney) as UTC, with the assumptions made; BadDate if unreadable."""
    try:
        local = datetime.strptime(text.strip(), "%d %b %Y %H:%M")
    except ValueError as exc:
        raise BadDate(f"unreadable UPDATED time {text[:40]!r}") from exc
    notes = ["UPDATED is NSW local time; read as Australia/Sydney and converted to UTC"]
    early, late = local.replace(tzinfo=SYDNEY, fold=0), local.replace(tzinfo=SYDNEY, fold=1)
    if early.utcoffset() != late.utcoffset():
        notes.append(f"local time {text} is ambiguous or skipped at a daylight-saving change; took the earlier")
    return early.astimezone(UTC), notes


def pubdate_utc(text: str) -> tuple[datetime, list[str]]:
    """RFS ``pubDate`` ("29/02/2020 11:23:00 PM", day/month/year, UTC) as aware UTC."""
    match = _PUBDATE.match(text.strip())
    if not match:
        raise BadDate(f"unreadable pubDate {text[:40]!r}")
    day, month, year, hour, minute, second, ampm = match.groups()
    h = int(hour)
    if ampm:
        if not 1 <= h <= 12:
            raise BadDate(f"impossible hour in pubDate {text[:40]!r}")
        h = h % 12 + (12 if ampm.upper() == "PM" else 0)
    moment, _ = parse_time(f"{year}-{int(month):02d}-{int(day):02d}T{h:02d}:{minute}:{second or '00'}Z")
    return moment, ["pubDate read as day/month/year in UTC"]


def kind_for_type(incident_type: str) -> Kind:
    """Fire unless the RFS TYPE is plainly something else (see the module docstring)."""
    for pattern, kind in TYPE_KIND:
        if pattern.search(incident_type):
            return kind
    return Kind.FIRE


def _walk(geometry: Any, points: list[tuple[float, float]], polygons: list[Any], notes: list[str]) -> None:
    if not isinstance(geometry, dict):
        return
    gtype = geometry.get("type")
    if gtype == "GeometryCollection":
        for child in geometry.get("geometries") or []:
            _walk(child, points, polygons, notes)
    elif gtype == "Point":
        coords = geometry.get("coordinates")
        try:
            lon, lat = coords[0], coords[1]
            check_lonlat(lon, lat, what="incident point")
            points.append((float(lon), float(lat)))
        except (InvalidEvent, TypeError, IndexError, KeyError) as exc:
            notes.append(f"point dropped: {exc}")
    elif gtype in ("Polygon", "MultiPolygon"):
        rings = [geometry.get("coordinates")] if gtype == "Polygon" else geometry.get("coordinates") or []
        for ring_set in rings:
            try:
                polygon = Polygon(ring_set[0], ring_set[1:])
                if polygon.is_empty:
                    raise ValueError("empty polygon")
                for lon, lat in shapely.get_coordinates(polygon):
                    check_lonlat(float(lon), float(lat), what="polygon")
                if not polygon.is_valid:
                    polygon = shapely.make_valid(polygon)
                polygons.append(polygon)
            except (InvalidEvent, ValueError, TypeError, IndexError, shapely.errors.ShapelyError) as exc:
                notes.append(f"polygon dropped: {exc}")


def incident_geometry(geometry: Any) -> tuple[float, float, dict[str, Any] | None, list[str]]:
    """(lon, lat, polygons as GeoJSON or None, notes); InvalidEvent when nothing can be placed."""
    points: list[tuple[float, float]] = []
    polygons: list[Any] = []
    notes: list[str] = []
    _walk(geometry, points, polygons, notes)
    shape_json = None
    if polygons:
        parts: list[Polygon] = []
        for geom in polygons:
            parts.extend(g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon) and not g.is_empty)
        if parts:
            # Union (not a bare MultiPolygon): RFS fire-ground polygons overlap, which is invalid.
            merged = shapely.union_all(parts)
            if not isinstance(merged, (Polygon, MultiPolygon)):
                merged = MultiPolygon([g for g in getattr(merged, "geoms", []) if isinstance(g, Polygon)])
            shape_json = orjson.loads(orjson.dumps(mapping(merged)))
            if not points:
                rep = merged.representative_point()
                points.append((float(rep.x), float(rep.y)))
    if not points:
        raise InvalidEvent("no valid position (" + ("; ".join(notes) or "no geometry") + ")")
    lon, lat = points[0]
    return lon, lat, shape_json, notes


class NswRfsGeoJson:
    """Adapter for the NSW RFS majorIncidents GeoJSON feed."""

    name = "nsw-rfs-geojson"

    def sniff(self, head: str) -> int:
        """95 naming rfs.nsw.gov.au; 90 for the RFS description keys; 50 for GeoJSON with nested
        geometry collections whose first position lies in NSW (pretty-printed archives whose first
        4 KiB are all polygon)."""
        if not head.lstrip("\ufeff \t\r\n").startswith("{") or '"features"' not in head:
            return 0
        if "rfs.nsw.gov.au" in head:
            return 95
        if "ALERT LEVEL:" in head and "COUNCIL AREA:" in head:
            return 90
        match = _FIRST_PAIR.search(head)
        if '"geometries"' in head and match:
            lon, lat = float(match.group(1)), float(match.group(2))
            west, south, east, north = _NSW_BOX
            if west <= lon <= east and south <= lat <= north:
                return 50
        return 0

    def parse(self, data: bytes, feed: FeedConfig, fetched_at: datetime) -> ParseResult:
        """One event per incident; DocumentRefused when the document is not a FeatureCollection."""
        doc, warnings = load_json(data)
        if not isinstance(doc, dict) or not isinstance(doc.get("features"), list):
            raise DocumentRefused("not a GeoJSON FeatureCollection (NSW RFS major incidents are)")
        result = ParseResult(warnings=warnings)
        fetched = iso(fetched_at)
        for index, feature in enumerate(doc["features"]):
            try:
                result.events.append(self._event(feature, feed, fetched_at, fetched))
            except (InvalidEvent, BadDate, ValueError, TypeError, AttributeError) as exc:
                result.warnings.append(f"incident {index} skipped: {exc}")
        return result

    def _event(self, feature: Any, feed: FeedConfig, fetched_at: datetime, fetched: str | None) -> Event:
        if not isinstance(feature, dict) or not isinstance(feature.get("properties"), dict):
            raise ValueError("feature has no properties")
        p = feature["properties"]
        title = title_text(p.get("title"))
        lon, lat, shape_json, notes = incident_geometry(feature.get("geometry"))
        info = description_fields(p.get("description"))
        if info.get("UPDATED"):
            time, time_notes = sydney_to_utc(info["UPDATED"])
        elif p.get("pubDate"):
            time, time_notes = pubdate_utc(str(p["pubDate"]))
        else:
            raise BadDate("no UPDATED or pubDate")
        notes.extend(time_notes)
        skew = clock_skew_warning(time, fetched_at)
        if skew:
            notes.append(skew)
        if info.get("UPDATED") and p.get("pubDate"):
            try:
                published, _ = pubdate_utc(str(p["pubDate"]))
                if abs(published - time) > timedelta(hours=1):
                    notes.append(f"pubDate {plain_text(p['pubDate'], 40)} disagrees with UPDATED by over an hour")
            except BadDate:
                notes.append("pubDate unreadable")
        guid = plain_text(p.get("guid"), 300)
        event_id = "nswrfs:" + (stable_hash(guid) if guid else stable_hash(title, round(lon, 5), round(lat, 5)))
        level = plain_text(p.get("category"), 40) or info.get("ALERT LEVEL", "")
        incident_type = info.get("TYPE", "")
        size = _SIZE.match(info.get("SIZE", ""))
        fire = info.get("FIRE", "").strip().lower()
        extra = {
            "alert_level": level or None,
            "status": info.get("STATUS") or None,
            "type": incident_type or None,
            "fire": True if fire == "yes" else False if fire == "no" else None,
            "size_ha": number(size.group(1).replace(",", "")) if size else None,
            "council_area": info.get("COUNCIL AREA") or None,
            "responsible_agency": info.get("RESPONSIBLE AGENCY") or None,
            "guid": guid or None,
        }
        return Event(
            id=event_id,
            source=self.name,
            kind=kind_for_type(incident_type),
            title=title or info.get("LOCATION", "") or "NSW RFS incident",
            text=plain_text(" / ".join(f"{k}: {v}" for k, v in info.items())),
            time=time,
            severity=ALERT_SEVERITY.get(level.lower(), Severity.UNKNOWN),
            lat=lat,
            lon=lon,
            geometry=shape_json,
            link=safe_link(p.get("link")) or safe_link(guid),
            feed=feed.id,
            exercise=feed.exercise,
            place=info.get("LOCATION") or None,
            extra=extra,
            provenance={"feed": feed.id, "raw_id": guid or None, "fetched_at": fetched, "fields": FIELDS},
            warnings=tuple(notes),
        )


SOURCE = register(NswRfsGeoJson())
