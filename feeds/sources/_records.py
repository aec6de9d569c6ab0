"""One flat record (a GeoJSON feature's properties, a CSV row) to one event: what the generic
``geojson`` and ``csv`` adapters share. Every value is untrusted text from a partner.

Fields read (the first present name wins)::

    id         id                      (the event id is ``<feed id>:<id>``; without one a stable hash of
                                       title, time and position)
    time       time, datetime, date, timestamp, updated     required; ISO 8601, RFC 822 or epoch
    title      title, name, headline, event                 required
    kind       kind, category, type    (earthquake, fire, flood, security, incident...; else the feed's)
    severity   severity                (extreme, severe, moderate, minor)
    text       text, description, summary
    link       link, url               (http(s) only)
    place      place, location, address                     (words the geocoder places when no position)
    magnitude  magnitude, mag
    sharing    sharing                 (the owner's rule for this item: all, own, agencies:A,B)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from feeds.contract import FeedConfig
from feeds.model import Event, Kind, Severity, iso, stable_hash
from feeds.sources._json import number
from feeds.text import clock_skew_warning, parse_time, plain_text, safe_link, title_text

NAMES: dict[str, tuple[str, ...]] = {
    "id": ("id",),
    "time": ("time", "datetime", "date", "timestamp", "updated"),
    "title": ("title", "name", "headline", "event"),
    "kind": ("kind", "category", "type"),
    "severity": ("severity",),
    "text": ("text", "description", "summary"),
    "link": ("link", "url"),
    "place": ("place", "location", "address"),
    "magnitude": ("magnitude", "mag"),
    "sharing": ("sharing",),
}
MAX_EXTRA = 30


def first(record: dict[str, Any], field: str) -> Any:
    for name in NAMES[field]:
        value = record.get(name)
        if value not in (None, ""):
            return value
    return None


def record_event(record: dict[str, Any], feed: FeedConfig, fetched_at: datetime, *, prefix: str,
                 lonlat: tuple[float, float] | None = None, geometry: dict[str, Any] | None = None) -> Event:
    """The event one record tells; ValueError (one line, naming the field) when it cannot be one."""
    when_raw = first(record, "time")
    if when_raw is None:
        raise ValueError("no time (time, datetime, date or timestamp)")
    when, notes = parse_time(when_raw)
    title = title_text(first(record, "title"))
    if not title:
        raise ValueError("no title (title, name or headline)")
    raw_id = plain_text(first(record, "id"), 96)
    lon, lat = lonlat if lonlat else (None, None)
    # Ids belong to the feed that gives them (two feeds' "17" are two reports); the same id from the feed
    # in either format is the same report.
    event_id = f"{feed.id}:{raw_id}" if raw_id else f"{feed.id}:" + stable_hash(title, iso(when), lon, lat)
    kind_raw = first(record, "kind")
    kind = Kind.parse(kind_raw) if kind_raw is not None else Kind.parse(feed.kind or "incident")
    if kind is Kind.OTHER and kind_raw is not None:
        kind = Kind.parse(feed.kind or "incident")  # an unknown word is still a report, never unfusable noise
    magnitude = number(first(record, "magnitude"))
    known = {name for names in NAMES.values() for name in names}
    extra: dict[str, Any] = {k: plain_text(v, 200) for k, v in list(record.items())[:200]
                             if k not in known and isinstance(v, (str, int, float)) and not isinstance(v, bool)}
    extra = dict(list(extra.items())[:MAX_EXTRA])
    sharing = first(record, "sharing")
    if sharing is not None:
        extra["sharing"] = plain_text(sharing, 200)
    skew = clock_skew_warning(when, fetched_at)
    return Event(
        id=event_id, source=prefix, kind=kind, title=title, time=when,
        text=plain_text(first(record, "text")), severity=Severity.parse(first(record, "severity")),
        lat=lat, lon=lon, geometry=geometry, link=safe_link(first(record, "link")),
        magnitude=magnitude if magnitude is not None and -2 < magnitude < 11 else None,
        place=plain_text(first(record, "place"), 200) or None, placed_by=None,
        extra=extra, provenance={"raw_id": raw_id or None},
        warnings=tuple(notes + ([skew] if skew else [])),
    )
