"""CSV of reports with named columns (format ``csv``): what a partner pushes as ``text/csv`` to
``POST /api/ingest``, or a feed names explicitly. Never chosen by sniffing (the USGS and FIRMS CSV
adapters read their own files).

The mapping is declared by the header: columns named as the fields of feeds/sources/_records.py
(``time``, ``title``, ``lat``/``latitude``, ``lon``/``longitude``, ``kind``, ``severity``, ``text``,
``link``, ``place``, ``magnitude``, ``sharing``, ``id``...). A file whose columns have other names is
read with a mapping ``{field: column}`` (:func:`parse_mapped`; push intake takes it from its ``map``
query parameter, ``map=time:reported_at,lat:y,lon:x``). A row with no position is placed from its
``place``/title words. A row that cannot be a report is skipped with a warning ``row N (id)
skipped: reason`` (what push intake refuses the whole document for).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

from feeds.contract import DocumentRefused, FeedConfig, ParseResult
from feeds.model import InvalidEvent, check_lonlat
from feeds.sources import register
from feeds.sources._json import decode_text, number
from feeds.sources._records import NAMES, record_event
from feeds.text import BadDate, plain_text

LAT, LON = ("lat", "latitude"), ("lon", "lng", "longitude")
FIELDS = set(NAMES) | {"lat", "lon"}
MAX_ROWS = 100_000


class MappingError(DocumentRefused):
    """A column mapping that names no field or no column."""


def parse_mapping(text: str | None) -> dict[str, str]:
    """``field:column,field:column`` -> {field: column}; MappingError naming the bad pair."""
    out: dict[str, str] = {}
    for pair in (p.strip() for p in (text or "").split(",") if p.strip()):
        field, sep, column = pair.partition(":")
        field, column = field.strip().lower(), column.strip()
        if not sep or not column or field not in FIELDS:
            raise MappingError(f"map: {plain_text(pair, 40)!r} is not field:column with a field among "
                               f"{', '.join(sorted(FIELDS))}")
        out[field] = column
    return out


def has_report_columns(data: bytes, mapping: dict[str, str] | None = None) -> bool:
    """Whether the header (under ``mapping``) names a time and a title: a file this adapter reads."""
    header = data[:4096].decode("utf-8", "replace").lstrip("\ufeff").split("\n", 1)[0]
    columns = {c.strip().strip('"').lower() for c in header.split(",")}
    renamed = {field for field, column in (mapping or {}).items() if column.lower() in columns}
    have = {f for f in FIELDS if any(n in columns for n in NAMES.get(f, (f,)))} | renamed
    return {"time", "title"} <= have


def parse_mapped(data: bytes, feed: FeedConfig, fetched_at: datetime, mapping: dict[str, str] | None = None) -> ParseResult:
    """One event per row (see the module docstring); DocumentRefused for a file that is not CSV."""
    try:
        return _parse(data, feed, fetched_at, mapping)
    except csv.Error as exc:  # a field over the csv module's limit, a broken quote: the file, not a row
        raise DocumentRefused(f"not readable as CSV: {plain_text(exc, 120)}") from None


def _parse(data: bytes, feed: FeedConfig, fetched_at: datetime, mapping: dict[str, str] | None) -> ParseResult:
    text, warnings = decode_text(data)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise DocumentRefused("CSV has no header row")
    rename = {column: field for field, column in (mapping or {}).items()}
    missing = [column for column in rename if column not in header]
    if missing:
        raise MappingError(f"map: column {plain_text(missing[0], 40)!r} is not in the header")
    result = ParseResult(warnings=warnings)
    for line, raw in enumerate(reader, start=2):
        if line - 1 > MAX_ROWS:
            raise DocumentRefused(f"more than {MAX_ROWS} rows")
        row = {rename.get(k.strip(), k.strip().lower()): v for k, v in raw.items() if isinstance(k, str)}
        try:
            if None in raw:
                raise ValueError("more values than columns")
            lat = next((row[n] for n in LAT if row.get(n) not in (None, "")), None)
            lon = next((row[n] for n in LON if row.get(n) not in (None, "")), None)
            lonlat = None
            if lat is not None or lon is not None:
                flat, flon = number(lat), number(lon)
                if flat is None or flon is None:
                    raise ValueError("lat/lon: not both numbers")
                check_lonlat(flon, flat, what="lat/lon")
                lonlat = (flon, flat)
            result.events.append(record_event(row, feed, fetched_at, prefix="csv", lonlat=lonlat))
        except (InvalidEvent, BadDate, ValueError, TypeError) as exc:
            result.warnings.append(f"row {line} ({plain_text(row.get('id'), 40) or 'no id'}) skipped: {exc}")
    return result


class RecordsCsv:
    """Reports as CSV rows with named columns (see the module docstring)."""

    name = "csv"

    def sniff(self, head: str) -> int:
        return 0  # read only when named

    def parse(self, data: bytes, feed: FeedConfig, fetched_at: datetime) -> ParseResult:
        return parse_mapped(data, feed, fetched_at)


register(RecordsCsv())
