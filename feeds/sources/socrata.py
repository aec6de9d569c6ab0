"""Socrata SODA JSON (format ``socrata``): a JSON array of row objects, e.g.
``data.seattle.gov/resource/xxxx-xxxx.json``. Values are mostly strings ("100"), timestamps are
"floating" (``2016-09-21T15:45:00.000``, no zone).

Decision: a row becomes an event only when it carries a recognisable time *and* location; a
Watchfloor event must be placed in time and space, and Socrata datasets (bike counts, budgets...)
often are neither. Rows without a location are skipped and counted in one warning
("N rows carry no location"), so a dataset with none yields zero events and says why; the same
for rows without a readable time.

- Location: a GeoJSON Point value (``location``, ``point``, ``geocoded_column``...), a legacy
  Socrata location object ``{"latitude": "47.6", "longitude": "-122.3"}``, or flat
  ``latitude``/``longitude`` (also ``lat``/``lon``/``lng``) columns. 0,0 and out-of-range
  positions count as no location.
- Time: the first readable value among common column names (date, datetime, timestamp, time,
  created_date, ...), then any column whose name contains "date" or "time". Floating timestamps
  are read as UTC and the event records that assumption.
- ``id`` = ``"socrata:" + stable_hash(dataset URL without query, row ":id")``, or of the row's
  content when there is no ``:id``, so re-polls never duplicate.
- ``kind`` = the feed's configured kind, else incident; ``title`` from a title-like column, else
  the feed's name; ``extra`` holds the row's other scalar columns as plain text.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import orjson

from feeds.contract import DocumentRefused, FeedConfig, ParseResult
from feeds.model import Event, InvalidEvent, Kind, Severity, check_lonlat, iso, stable_hash
from feeds.sources import register
from feeds.sources._json import load_json, number
from feeds.text import BadDate, clock_skew_warning, parse_time, plain_text, title_text

POINT_COLUMNS = ("location", "point", "geocoded_column", "geolocation", "the_geom", "location_1", "geom", "shape")
LAT_LON_COLUMNS = (("latitude", "longitude"), ("lat", "lon"), ("lat", "lng"), ("lat", "long"))
TIME_COLUMNS = (
    "date", "datetime", "date_time", "timestamp", "time", "created_date", "incident_date", "event_date",
    "reported_date", "occurred_date", "report_date", "event_clearance_date", "start_date",
)
TITLE_COLUMNS = (
    "title", "name", "event_type", "incident_type", "type", "offense", "event_clearance_description",
    "category", "description",
)
MAX_EXTRA = 30
_FLOATING = re.compile(r'"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}"')


def row_position(row: dict[str, Any]) -> tuple[float, float] | None:
    """(lon, lat) from the row's location columns; None when there is no valid one."""
    candidates: list[tuple[object, object]] = []
    for column in POINT_COLUMNS:
        value = row.get(column)
        if isinstance(value, dict):
            coords = value.get("coordinates")
            if value.get("type") == "Point" and isinstance(coords, list) and len(coords) >= 2:
                candidates.append((coords[0], coords[1]))
            elif "latitude" in value and "longitude" in value:
                candidates.append((value.get("longitude"), value.get("latitude")))
    for lat_key, lon_key in LAT_LON_COLUMNS:
        if lat_key in row and lon_key in row:
            candidates.append((row[lon_key], row[lat_key]))
    for raw_lon, raw_lat in candidates:
        lon, lat = number(raw_lon), number(raw_lat)
        if lon is None or lat is None:
            continue
        try:
            check_lonlat(lon, lat)
        except InvalidEvent:
            continue
        return lon, lat
    return None


def row_time(row: dict[str, Any]) -> tuple[datetime, list[str], str] | None:
    """(time, assumptions, column) from the first readable time column; None when none reads."""
    names = [c for c in TIME_COLUMNS if c in row]
    names += [c for c in row if c not in names and ("date" in c.lower() or "time" in c.lower())]
    for column in names:
        value = row.get(column)
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            continue
        try:
            moment, notes = parse_time(value)
        except BadDate:
            continue
        return moment, notes, column
    return None


class Socrata:
    """Adapter for Socrata SODA JSON row arrays."""

    name = "socrata"

    def sniff(self, head: str) -> int:
        """A JSON array of objects: 80 with Socrata system fields (``:id``, ``:@computed_region``),
        60 with floating timestamps, 25 otherwise (a generic array: others should outbid it)."""
        start = head.lstrip("\ufeff \t\r\n")
        if not start.startswith("[") or not start[1:].lstrip().startswith(("{", "]")):
            return 0
        if '":id"' in head or ":@computed_region" in head or '":created_at"' in head:
            return 80
        if _FLOATING.search(head):
            return 60
        return 25

    def parse(self, data: bytes, feed: FeedConfig, fetched_at: datetime) -> ParseResult:
        """Events for rows with a time and a location; DocumentRefused unless a JSON array."""
        doc, warnings = load_json(data)
        if isinstance(doc, dict) and doc.get("error"):
            raise DocumentRefused(f"Socrata error: {plain_text(doc.get('message') or doc.get('code'), 160)}")
        if not isinstance(doc, list):
            raise DocumentRefused("not a Socrata JSON array of rows")
        result = ParseResult(warnings=warnings)
        fetched = iso(fetched_at)
        dataset = feed.url.split("?", 1)[0]
        kind = Kind.parse(feed.kind) if feed.kind else Kind.INCIDENT
        no_location = no_time = not_objects = 0
        for row in doc:
            if not isinstance(row, dict):
                not_objects += 1
                continue
            position = row_position(row)
            if position is None:
                no_location += 1
                continue
            timing = row_time(row)
            if timing is None:
                no_time += 1
                continue
            result.events.append(self._event(row, position, timing, kind, dataset, feed, fetched_at, fetched))
        if no_location:
            result.warnings.append(f"rows carry no location: {no_location} of {len(doc)} rows skipped")
        if no_time:
            result.warnings.append(f"rows carry no readable time: {no_time} of {len(doc)} rows skipped")
        if not_objects:
            result.warnings.append(f"{not_objects} array items are not row objects; skipped")
        return result

    def _event(
        self, row: dict[str, Any], position: tuple[float, float], timing: tuple[datetime, list[str], str],
        kind: Kind, dataset: str, feed: FeedConfig, fetched_at: datetime, fetched: str | None,
    ) -> Event:
        lon, lat = position
        time, notes, time_column = timing
        notes = list(notes)
        skew = clock_skew_warning(time, fetched_at)
        if skew:
            notes.append(skew)
        row_id = row.get(":id")
        key = str(row_id) if row_id else orjson.dumps(row, option=orjson.OPT_SORT_KEYS).decode()
        title = next((title_text(row[c]) for c in TITLE_COLUMNS if isinstance(row.get(c), str) and row[c].strip()), "")
        extra: dict[str, Any] = {}
        for column, value in row.items():
            if len(extra) >= MAX_EXTRA:
                break
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                extra[plain_text(column, 60)] = plain_text(value, 200)
        return Event(
            id="socrata:" + stable_hash(dataset, key),
            source=self.name,
            kind=kind,
            title=title or title_text(feed.label),
            time=time,
            severity=Severity.UNKNOWN,
            lat=lat,
            lon=lon,
            feed=feed.id,
            exercise=feed.exercise,
            extra=extra,
            provenance={
                "feed": feed.id,
                "raw_id": plain_text(row_id, 60) or None,
                "fetched_at": fetched,
                "fields": {"time": time_column, "position": "location|point|latitude+longitude"},
            },
            warnings=tuple(notes),
        )


SOURCE = register(Socrata())
