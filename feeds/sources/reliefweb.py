"""ReliefWeb API disasters (format ``reliefweb``): ``api.reliefweb.int/v1/disasters`` JSON.

A response is ``{"data": [{"id": "25466", "fields": {...}}, ...], ...}``; a single-disaster
response has the same shape with one entry.

Decisions:

- ``id`` = ``"reliefweb:" + id``; ``title`` = name; ``time`` = ``date.event`` (when it happened; ``date.created``
  when the event date is absent); ``updated`` = ``date.changed``.
- Position: ``primary_country.location`` (a country centroid; the event says so in
  ``placed_by="country-centroid"``), else the first country with a location.
- ``kind`` from the primary type name (Flood/Flash Flood -> flood, Tropical Cyclone -> cyclone,
  Epidemic -> epidemic, Wild Fire -> fire, ...); ``severity`` unknown: ReliefWeb grades none.
  ``extra``: glide, status (alert/ongoing/past), types, type codes, countries (ISO3), event date.
- Entries without a date or a location (the default list preset returns only id, name, status
  and glide) are skipped and counted in one warning that says how to ask for the missing fields.
  They are not followed one by one: ReliefWeb's API quota would not survive it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from feeds.contract import DocumentRefused, FeedConfig, ParseResult
from feeds.model import Event, InvalidEvent, Kind, Severity, check_lonlat, iso
from feeds.sources import register
from feeds.sources._json import load_json, number
from feeds.text import BadDate, clock_skew_warning, parse_time, plain_text, safe_link, title_text

# ReliefWeb disaster type names (lower case) -> kind; unknown names are "other".
TYPE_KIND = {
    "flood": Kind.FLOOD,
    "flash flood": Kind.FLOOD,
    "storm surge": Kind.FLOOD,
    "tropical cyclone": Kind.CYCLONE,
    "earthquake": Kind.EARTHQUAKE,
    "tsunami": Kind.TSUNAMI,
    "volcano": Kind.VOLCANO,
    "drought": Kind.DROUGHT,
    "epidemic": Kind.EPIDEMIC,
    "insect infestation": Kind.OTHER,
    "wild fire": Kind.FIRE,
    "fire": Kind.FIRE,
    "cold wave": Kind.WEATHER,
    "heat wave": Kind.WEATHER,
    "severe local storm": Kind.WEATHER,
    "extratropical cyclone": Kind.WEATHER,
    "snow avalanche": Kind.WEATHER,
    "land slide": Kind.OTHER,
    "mud slide": Kind.OTHER,
    "technological disaster": Kind.INCIDENT,
    "complex emergency": Kind.SECURITY,
}
MISSING_FIELDS_HINT = (
    "request fields date, primary_country, primary_type and url_alias "
    "(e.g. fields[include][]=date.created&fields[include][]=primary_country&fields[include][]=primary_type)"
)

FIELDS = {
    "id": "data[].id",
    "title": "fields.name",
    "time": "fields.date.event|fields.date.created",
    "updated": "fields.date.changed",
    "lat": "fields.primary_country.location.lat",
    "lon": "fields.primary_country.location.lon",
    "kind": "fields.primary_type.name",
    "link": "fields.url_alias|fields.url",
}


def kind_for_type(name: str) -> Kind:
    """Kind for a ReliefWeb disaster type name; ``other`` when unknown."""
    return TYPE_KIND.get(name.strip().lower(), Kind.OTHER)


def _location(fields: dict[str, Any]) -> tuple[float, float, str] | None:
    candidates = [fields.get("primary_country")] + list(fields.get("country") or [])
    for country in candidates:
        if not isinstance(country, dict) or not isinstance(country.get("location"), dict):
            continue
        lat, lon = number(country["location"].get("lat")), number(country["location"].get("lon"))
        if lat is None or lon is None:
            continue
        try:
            check_lonlat(lon, lat)
        except InvalidEvent:
            continue
        return lon, lat, plain_text(country.get("name"), 120)
    return None


class ReliefWeb:
    """Adapter for ReliefWeb API v1 disaster responses."""

    name = "reliefweb"

    def sniff(self, head: str) -> int:
        """95 for a JSON object naming api.reliefweb.int; 70 for a ``data`` list carrying glide numbers."""
        if not head.lstrip("\ufeff \t\r\n").startswith("{"):
            return 0
        if "reliefweb.int" in head:
            return 95
        if '"data"' in head and '"glide"' in head:
            return 70
        return 0

    def parse(self, data: bytes, feed: FeedConfig, fetched_at: datetime) -> ParseResult:
        """One event per disaster with a date and a location; DocumentRefused for non-ReliefWeb JSON."""
        doc, warnings = load_json(data)
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
            if isinstance(doc, dict) and doc.get("error"):
                raise DocumentRefused(f"ReliefWeb API error: {plain_text(doc.get('error'), 160)}")
            raise DocumentRefused("not a ReliefWeb API response (expected an object with a data list)")
        result = ParseResult(warnings=warnings)
        fetched = iso(fetched_at)
        incomplete = 0
        for index, item in enumerate(doc["data"]):
            try:
                event = self._event(item, feed, fetched_at, fetched)
            except (InvalidEvent, BadDate, ValueError, TypeError, AttributeError) as exc:
                result.warnings.append(f"entry {index} skipped: {exc}")
                continue
            if event is None:
                incomplete += 1
            else:
                result.events.append(event)
        if incomplete:
            result.warnings.append(
                f"{incomplete} of {len(doc['data'])} entries carry no date or location; skipped ({MISSING_FIELDS_HINT})"
            )
        return result

    def _event(self, item: Any, feed: FeedConfig, fetched_at: datetime, fetched: str | None) -> Event | None:
        if not isinstance(item, dict) or not isinstance(item.get("fields"), dict):
            raise ValueError("entry has no fields")
        f = item["fields"]
        raw_id = plain_text(item.get("id") or f.get("id"), 20)
        if not raw_id:
            raise ValueError("entry has no id")
        dates = f.get("date") if isinstance(f.get("date"), dict) else {}
        location = _location(f)
        when = dates.get("event") or dates.get("created")
        if location is None or not when:
            return None
        lon, lat, country = location
        time, notes = parse_time(when)
        skew = clock_skew_warning(time, fetched_at)
        if skew:
            notes.append(skew)
        updated = None
        if dates.get("changed"):
            try:
                updated, _ = parse_time(dates["changed"])
            except BadDate as exc:
                notes.append(f"date.changed ignored: {exc}")
        types = [t for t in f.get("type") or [] if isinstance(t, dict)]
        primary = f.get("primary_type") if isinstance(f.get("primary_type"), dict) else (types[0] if types else {})
        type_name = plain_text(primary.get("name"), 60)
        profile = f.get("profile") if isinstance(f.get("profile"), dict) else {}
        text = plain_text(f.get("description") or profile.get("overview"))
        return Event(
            id=f"reliefweb:{raw_id}",
            source=self.name,
            kind=kind_for_type(type_name),
            title=title_text(f.get("name")) or f"ReliefWeb disaster {raw_id}",
            text=text,
            time=time,
            severity=Severity.UNKNOWN,
            lat=lat,
            lon=lon,
            link=safe_link(f.get("url_alias")) or safe_link(f.get("url")),
            feed=feed.id,
            exercise=feed.exercise,
            place=country or None,
            placed_by="country-centroid",
            updated=updated,
            extra={
                "glide": plain_text(f.get("glide"), 40) or None,
                "status": plain_text(f.get("status"), 20) or None,
                "type": type_name or None,
                "types": [plain_text(t.get("name"), 60) for t in types],
                "type_codes": [plain_text(t.get("code"), 10) for t in types],
                "countries": [
                    plain_text(c.get("iso3"), 3).upper() for c in f.get("country") or [] if isinstance(c, dict)
                ],
                "event_date": plain_text(dates.get("event"), 40) or None,
            },
            provenance={"feed": feed.id, "raw_id": raw_id, "fetched_at": fetched, "fields": FIELDS},
            warnings=tuple(notes),
        )


SOURCE = register(ReliefWeb())
