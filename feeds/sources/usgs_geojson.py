"""USGS earthquake summary feeds as GeoJSON (format ``usgs-geojson``).

Reads every API version seen in the wild (1.0.x to 1.10.x): times are epoch milliseconds, depth is
the third coordinate in km, status is ``reviewed``/``automatic`` (upper-case in 1.0.x), ``title``
is absent before 1.0.13 and ``tsunami`` may be null.

Decisions, so an operator can predict what the map shows:

- ``id`` is ``"usgs:" + feature id`` (net + code, e.g. ``us6000len8``). A revised magnitude keeps
  the id and changes the fingerprint, so the pipeline treats it as an update, never a duplicate.
  The CSV feed (``usgs-csv``) yields the same ids.
- ``kind``: ``earthquake`` for ``properties.type`` "earthquake" (or missing); ``volcano`` for
  "volcanic eruption"; ``other`` for every non-tectonic event (quarry blast, explosion, quarry,
  ice quake, sonic boom, landslide...), so a filter on earthquakes shows only earthquakes. The raw
  type is always kept in ``extra["type"]``.
- ``severity``: the one quake rule of :mod:`feeds.meaning`: from magnitude (M >= 7.0 extreme,
  >= 6.0 severe, >= 4.5 moderate, smaller minor, unknown without one), which the PAGER colour may
  raise (at most to the band of a quake one magnitude bigger) and never lower. ("pending" is not a
  colour.)
- A feature whose coordinates are missing, not finite, out of range or exactly 0,0 is skipped with
  a warning; it is never placed at 0,0.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from feeds.contract import DocumentRefused, FeedConfig, ParseResult
from feeds.meaning import alert_colour, quake_severity
from feeds.model import Event, InvalidEvent, Kind, Severity, check_lonlat, iso
from feeds.sources import register
from feeds.sources._json import integer, load_json, number  # noqa: F401 - re-exported
from feeds.text import BadDate, clock_skew_warning, parse_time, plain_text, safe_link, title_text

_NON_TECTONIC_VOLCANO = {"volcanic eruption"}

FIELDS = {
    "id": "id",
    "time": "properties.time",
    "updated": "properties.updated",
    "magnitude": "properties.mag",
    "place": "properties.place",
    "lon": "geometry.coordinates[0]",
    "lat": "geometry.coordinates[1]",
    "depth_km": "geometry.coordinates[2]",
    "link": "properties.url",
    "severity": "properties.alert|properties.mag",
}


def severity_for(alert: str | None, magnitude: float | None) -> Severity:
    """The one quake rule (feeds.meaning.quake_severity): magnitude bands, raised by the PAGER colour
    at most to the band of a quake one magnitude bigger, never lowered by it."""
    return quake_severity(magnitude, alert_colour(alert))


def kind_for(event_type: str | None) -> Kind:
    """Earthquakes are earthquakes; volcanic eruptions volcanoes; blasts and the rest ``other``."""
    text = (event_type or "earthquake").strip().lower()
    if text == "earthquake":
        return Kind.EARTHQUAKE
    if text in _NON_TECTONIC_VOLCANO:
        return Kind.VOLCANO
    return Kind.OTHER


def split_list(value: object) -> list[str]:
    """USGS ``",a,b,"`` lists as ``["a", "b"]``."""
    if not value:
        return []
    return [plain_text(part, 80) for part in str(value).split(",") if part.strip()]


def quake_title(magnitude: float | None, place: str, event_type: str | None) -> str:
    """USGS's own "M 4.8 - place" form, for API versions that carry no title."""
    label = f"M {magnitude:.1f}" if magnitude is not None else "M ?"
    if event_type and event_type.lower() != "earthquake":
        label = f"{label} {event_type}"
    return title_text(f"{label} - {place}" if place else label)


def epoch_ms(value: object) -> tuple[datetime, list[str]]:
    """USGS epoch milliseconds as aware UTC (passed to parse_time as seconds, so pre-1973 times are
    not mistaken for seconds); BadDate when missing or not a number."""
    ms = number(value)
    if ms is None:
        raise BadDate(f"epoch time {str(value)[:30]!r} is not a number")
    return parse_time(ms / 1000.0)


class UsgsGeoJson:
    """Adapter for USGS GeoJSON summary feeds."""

    name = "usgs-geojson"

    def sniff(self, head: str) -> int:
        """95 for a FeatureCollection naming earthquake.usgs.gov; 70 for USGS-shaped properties."""
        start = head.lstrip("\ufeff \t\r\n")
        if not start.startswith("{") or "FeatureCollection" not in head:
            return 0
        if "earthquake.usgs.gov" in head:
            return 95
        if '"mag"' in head and '"tsunami"' in head and '"magType"' in head:
            return 70
        return 0

    def parse(self, data: bytes, feed: FeedConfig, fetched_at: datetime) -> ParseResult:
        """Every well-formed feature becomes one event; bad features are skipped with a warning.

        Raises DocumentRefused when the document is not JSON or not a FeatureCollection.
        """
        doc, warnings = load_json(data)
        if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(
            doc.get("features"), list
        ):
            raise DocumentRefused("not a GeoJSON FeatureCollection (USGS summary feeds are)")
        result = ParseResult(warnings=warnings)
        fetched = iso(fetched_at)
        for index, feature in enumerate(doc["features"]):
            try:
                result.events.append(self._event(feature, feed, fetched_at, fetched))
            except (InvalidEvent, BadDate, ValueError, TypeError, AttributeError, KeyError) as exc:
                fid = feature.get("id") if isinstance(feature, dict) else None
                result.warnings.append(f"feature {index} ({plain_text(fid, 40) or 'no id'}) skipped: {exc}")
        return result

    def _event(self, feature: Any, feed: FeedConfig, fetched_at: datetime, fetched: str | None) -> Event:
        if not isinstance(feature, dict):
            raise ValueError("feature is not an object")
        props = feature.get("properties") or {}
        raw_id = plain_text(feature.get("id"), 64)
        if not raw_id:
            raise ValueError("feature has no id")
        geometry = feature.get("geometry") or {}
        coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if geometry.get("type") != "Point" or not isinstance(coords, list) or len(coords) < 2:
            raise ValueError("no Point coordinates")
        lon, lat = coords[0], coords[1]
        check_lonlat(lon, lat, what=f"usgs {raw_id}")
        depth = number(coords[2]) if len(coords) > 2 else None
        time, notes = epoch_ms(props.get("time"))
        updated = None
        if props.get("updated") is not None:
            try:
                updated, _ = epoch_ms(props.get("updated"))
            except BadDate as exc:
                notes.append(f"updated ignored: {exc}")
        magnitude = number(props.get("mag"))
        place = plain_text(props.get("place"), 200)
        event_type = plain_text(props.get("type"), 40) or None
        alert = plain_text(props.get("alert"), 20).lower() or None
        title = title_text(props.get("title")) or quake_title(magnitude, place, event_type)
        skew = clock_skew_warning(time, fetched_at)
        if skew:
            notes.append(skew)
        tsunami = props.get("tsunami")
        extra = {
            "status": plain_text(props.get("status"), 20).lower() or None,
            "alert": alert,
            "tsunami": bool(tsunami) if tsunami is not None else None,
            "sig": integer(props.get("sig")),
            "net": plain_text(props.get("net"), 20) or None,
            "code": plain_text(props.get("code"), 40) or None,
            "ids": split_list(props.get("ids")),
            "types": split_list(props.get("types")),
            "magType": plain_text(props.get("magType"), 20) or None,
            "felt": integer(props.get("felt")),
            "type": event_type,
        }
        return Event(
            id=f"usgs:{raw_id}",
            source=self.name,
            kind=kind_for(event_type),
            title=title,
            time=time,
            severity=severity_for(alert, magnitude),
            lat=float(lat),
            lon=float(lon),
            link=safe_link(props.get("url")),
            feed=feed.id,
            magnitude=magnitude,
            depth_km=depth,
            exercise=feed.exercise,
            place=place or None,
            updated=updated,
            extra=extra,
            provenance={"feed": feed.id, "raw_id": raw_id, "fetched_at": fetched, "fields": FIELDS},
            warnings=tuple(notes),
        )


SOURCE = register(UsgsGeoJson())
