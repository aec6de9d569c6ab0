"""USGS earthquake summary feeds as CSV (format ``usgs-csv``), e.g. ``all_day.csv``.

Columns: ``time,latitude,longitude,depth,mag,magType,nst,gap,dmin,rms,net,id,updated,place,type,...
status,locationSource,magSource``; times are ISO 8601 with ``Z``; empty fields mean "unknown".

The ``id`` column is the same net+code id the GeoJSON feed uses, so ``id`` is ``"usgs:" + id`` and a
quake reported by both feeds is one incident. Kind and severity follow :mod:`usgs_geojson`
(magnitude thresholds only: the CSV carries no PAGER alert colour, tsunami flag, sig or felt, so
those ``extra`` keys are None). A row with a bad position or time is skipped with a warning.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

from feeds.contract import DocumentRefused, FeedConfig, ParseResult
from feeds.model import Event, InvalidEvent, check_lonlat, iso
from feeds.sources import register
from feeds.sources._json import decode_text  # noqa: F401 - re-exported
from feeds.sources.usgs_geojson import kind_for, number, quake_title, severity_for
from feeds.text import BadDate, clock_skew_warning, parse_time, plain_text

REQUIRED = ("time", "latitude", "longitude", "mag", "id")
HEADER_START = "time,latitude,longitude,depth,mag"

FIELDS = {
    "id": "id",
    "time": "time",
    "updated": "updated",
    "magnitude": "mag",
    "place": "place",
    "lon": "longitude",
    "lat": "latitude",
    "depth_km": "depth",
}


class UsgsCsv:
    """Adapter for USGS CSV summary feeds."""

    name = "usgs-csv"

    def sniff(self, head: str) -> int:
        """95 when the first line is the USGS CSV header."""
        first = head.lstrip("\ufeff \r\n").split("\n", 1)[0].strip().lower()
        if first.startswith(HEADER_START) and ",net,id," in first:
            return 95
        return 0

    def parse(self, data: bytes, feed: FeedConfig, fetched_at: datetime) -> ParseResult:
        """One event per row; DocumentRefused when the header lacks the USGS columns."""
        text, warnings = decode_text(data)
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = reader.fieldnames or []
        missing = [name for name in REQUIRED if name not in header]
        if missing:
            raise DocumentRefused(f"not a USGS CSV feed: missing column(s) {', '.join(missing)}")
        result = ParseResult(warnings=warnings)
        fetched = iso(fetched_at)
        for line, row in enumerate(reader, start=2):
            try:
                result.events.append(self._event(row, feed, fetched_at, fetched))
            except (InvalidEvent, BadDate, ValueError, TypeError) as exc:
                result.warnings.append(f"row {line} ({plain_text(row.get('id'), 40) or 'no id'}) skipped: {exc}")
        return result

    def _event(self, row: dict[str, str], feed: FeedConfig, fetched_at: datetime, fetched: str | None) -> Event:
        raw_id = plain_text(row.get("id"), 64)
        if not raw_id:
            raise ValueError("row has no id")
        lat, lon = number(row.get("latitude")), number(row.get("longitude"))
        if lat is None or lon is None:
            raise ValueError("latitude/longitude missing or not numbers")
        check_lonlat(lon, lat, what=f"usgs {raw_id}")
        time, notes = parse_time(row.get("time"))
        updated = None
        if row.get("updated"):
            try:
                updated, _ = parse_time(row["updated"])
            except BadDate as exc:
                notes.append(f"updated ignored: {exc}")
        skew = clock_skew_warning(time, fetched_at)
        if skew:
            notes.append(skew)
        magnitude = number(row.get("mag"))
        place = plain_text(row.get("place"), 200)
        event_type = plain_text(row.get("type"), 40) or None
        net = plain_text(row.get("net"), 20) or None
        code = raw_id[len(net):] if net and raw_id.startswith(net) else None
        extra = {
            "status": plain_text(row.get("status"), 20).lower() or None,
            "alert": None,
            "tsunami": None,
            "sig": None,
            "net": net,
            "code": code,
            "ids": [raw_id],
            "types": [],
            "magType": plain_text(row.get("magType"), 20) or None,
            "felt": None,
            "type": event_type,
        }
        return Event(
            id=f"usgs:{raw_id}",
            source=self.name,
            kind=kind_for(event_type),
            title=quake_title(magnitude, place, event_type),
            time=time,
            severity=severity_for(None, magnitude),
            lat=lat,
            lon=lon,
            link=f"https://earthquake.usgs.gov/earthquakes/eventpage/{raw_id}" if raw_id.isalnum() else None,
            feed=feed.id,
            magnitude=magnitude,
            depth_km=number(row.get("depth")),
            exercise=feed.exercise,
            place=place or None,
            updated=updated,
            extra=extra,
            provenance={"feed": feed.id, "raw_id": raw_id, "fetched_at": fetched, "fields": FIELDS},
            warnings=tuple(notes),
        )


SOURCE = register(UsgsCsv())
