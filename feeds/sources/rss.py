"""Plain RSS 0.9x/1.0/2.0 and Atom news (format ``rss``), with GeoRSS simple/GML and W3C geo.

Promises:

* feedparser only ever sees the document's bytes, as a stream (given a bare ``bytes`` object it
  would open a local file whose name those bytes spell).
* A document that declares XML entities (``<!ENTITY``) is refused before feedparser sees it. A
  bare DOCTYPE (RSS 0.91's) is ignored, with a warning.
* A document feedparser cannot read as a feed (an HTML page, an empty document) is refused with
  the reason; a valid feed with no entries is accepted (no events). Encoding and well-formedness
  problems (``bozo``) are reported as warnings.
* ``id`` is ``"rss:" + stable_hash(guid)`` when the entry has a guid/id, else
  ``"rss:" + stable_hash(feed.id, link, title, published)``.
* Titles and texts are plain text; links are absolute http(s) or None.
* ``time`` is the raw published/updated string read strictly (impossible dates are never rolled
  over); unreadable or missing: ``fetched_at``, with a warning.
* ``lat``/``lon`` come only from the document's geo data (GeoRSS point/polygon/GML, W3C
  geo:lat/geo:long), validated; swapped pairs (|lat| > 90 >= |lon|) are swapped back with a
  warning; anything else out of range, NaN or 0,0 is dropped with a warning. Unplaced entries keep
  ``lat``/``lon`` None (the pipeline geocodes them later).
* ``kind`` is ``feed.kind``, else refined from hazard words in the title, else ``news``.
* Agency feeds that travel as RSS/Atom (USGS and EMSC quakes, IGN, fire and emergency services'
  labelled descriptions, satellite hotspots) are recognised from the document and read by their
  profile (:mod:`feeds.sources._profiles`): kind, magnitude, depth, severity and the time the event
  happened; ``source`` becomes ``rss:<profile>``. A configured ``kind`` turns profiles off.
"""

from __future__ import annotations

import io
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import feedparser

from feeds.contract import DocumentRefused, FeedConfig, ParseResult
from feeds.model import Event, InvalidEvent, Kind, Severity, check_lonlat, iso, stable_hash
from feeds.sources import register
from feeds.sources._profiles import recognise
from feeds.sources._xml import root_tag
from feeds.text import BadDate, clock_skew_warning, parse_time, plain_text, safe_link, title_text

_ENTITY_DECL = re.compile(rb"<!ENTITY", re.I)
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.I)
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")
_AMBIGUOUS_ZONE = re.compile(r"\b(EST|EDT|CST|CDT|IST|BST|AST|ADT|WST)\b")
# Australian readings of the abbreviations that collide with North American ones.
_AU_ZONES = {"EST": "+1000", "EDT": "+1100", "CST": "+0930", "CDT": "+1030", "WST": "+0800"}
_HAZARD_WORDS: tuple[tuple[re.Pattern[str], Kind], ...] = tuple(
    (re.compile(pattern, re.I), kind)
    for pattern, kind in (
        (r"\btsunami", Kind.TSUNAMI),
        (r"\bearthquakes?\b|\bquake\b|\bseismic\b|\bterremoto\b|\bsismo\b", Kind.EARTHQUAKE),
        (r"\b(bush|wild|grass|forest|scrub)[ -]?fires?\b|\bhotspots?\b", Kind.FIRE),
        (r"\bfloods?\b|\bflooding\b", Kind.FLOOD),
        (r"\b(cyclone|hurricane|typhoon)s?\b", Kind.CYCLONE),
        (r"\bvolcan(o|ic)\b|\beruption\b", Kind.VOLCANO),
    )
)


def refuse_entities(data: bytes) -> list[str]:
    """Refuse a document whose prolog declares entities; warn about a bare DOCTYPE."""
    first = _FIRST_ELEMENT.search(data, 0, 1 << 20)
    prolog = data[: first.start()] if first else data[: 1 << 20]
    prolog = prolog.replace(b"\x00", b"")
    if _ENTITY_DECL.search(prolog) or (first is None and _ENTITY_DECL.search(data.replace(b"\x00", b""))):
        raise DocumentRefused("document declares XML entities (<!ENTITY>); refused (entity expansion / XXE)")
    if _DOCTYPE.search(prolog):
        return ["document has a DOCTYPE; ignored (external DTDs are never fetched)"]
    return []


def tagged(entry: Any) -> tuple[Kind | None, Severity | None]:
    """What an item's categories say outright: a category in the ``kind`` domain that names one of our
    kinds (``<category domain="kind">security</category>``), one in the ``severity`` domain with a CAP
    severity word (``<category domain="severity">moderate</category>``). Exercise news carries both;
    a plain category says nothing (a tech blog's "Security" is not a security incident)."""
    kind = severity = None
    for tag in entry.get("tags") or []:
        term, scheme = str(tag.get("term") or "").strip().lower(), str(tag.get("scheme") or "").strip().lower()
        if scheme == "severity" and Severity.parse(term) is not Severity.UNKNOWN:
            severity = severity or Severity.parse(term)
        elif scheme == "kind" and term in Kind._value2member_map_ and term not in ("news", "other"):
            kind = kind or Kind(term)
    return kind, severity


def hazard_kind(feed: FeedConfig, title: str) -> Kind:
    if feed.kind:
        return Kind.parse(feed.kind)
    for pattern, kind in _HAZARD_WORDS:
        if pattern.search(title):
            return kind
    return Kind.NEWS


def _number(value: Any) -> float | None:
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number


def checked_point(lon: float | None, lat: float | None, warnings: list[str]) -> tuple[float, float] | None:
    """(lon, lat) when it is a real position; swapped back when clearly swapped; else None."""
    if lon is None or lat is None:
        warnings.append("coordinates unreadable; entry left unplaced")
        return None
    if math.isfinite(lat) and math.isfinite(lon) and abs(lat) > 90 and abs(lon) <= 90:
        warnings.append(f"lat {lat} and lon {lon} look swapped; swapped back")
        lat, lon = lon, lat
    try:
        check_lonlat(lon, lat, what="entry")
    except InvalidEvent as exc:
        warnings.append(f"{exc}; entry left unplaced")
        return None
    return lon, lat


def entry_geometry(entry: Any, warnings: list[str]) -> tuple[dict[str, Any] | None, float | None, float | None]:
    """GeoJSON geometry and lat/lon from an entry's GeoRSS/GML (``where``) or W3C geo fields."""
    where = entry.get("where")
    if where and where.get("type") == "Point":
        coords = where.get("coordinates") or ()
        if len(coords) == 2:
            point = checked_point(_number(coords[0]), _number(coords[1]), warnings)
            if point:
                return {"type": "Point", "coordinates": list(point)}, point[1], point[0]
            return None, None, None
    if where and where.get("type") in ("Polygon", "LineString"):
        from shapely.geometry import shape

        try:
            rings = where.get("coordinates") or []
            points = [p for ring in rings for p in ring] if where["type"] == "Polygon" else list(rings)
            for lon, lat in points:
                check_lonlat(float(lon), float(lat), what="vertex")
            geom = shape({"type": where["type"], "coordinates": rings})
            if geom.is_empty or (where["type"] == "Polygon" and not geom.is_valid):
                raise InvalidEvent("geometry is empty or invalid")
        except (InvalidEvent, TypeError, ValueError) as exc:
            warnings.append(f"GeoRSS {where['type'].lower()} refused: {exc}")
            return None, None, None
        rep = geom.representative_point()
        geojson = {
            "type": where["type"],
            "coordinates": [[list(p) for p in ring] for ring in rings]
            if where["type"] == "Polygon"
            else [list(p) for p in rings],
        }
        return geojson, rep.y, rep.x
    lat_raw = entry.get("geo_lat")
    lon_raw = entry.get("geo_long", entry.get("geo_lon"))
    if lat_raw is not None or lon_raw is not None:
        point = checked_point(_number(lon_raw), _number(lat_raw), warnings)
        if point:
            return {"type": "Point", "coordinates": list(point)}, point[1], point[0]
    if where is not None and not where:
        warnings.append("empty GeoRSS element; entry left unplaced")
    return None, None, None


def entry_time(entry: Any, fetched_at: datetime, warnings: list[str], *, australian: bool = False) -> tuple[datetime, str]:
    """The entry's time from the raw published/updated string, strictly; else ``fetched_at``.

    "EST" means UTC-5 in North America and UTC+10 in Australia: an Australian feed (configured
    ``country = "AU"``, or whose links are on a .au host) gets the Australian reading; either way
    the assumption is recorded in the warnings."""
    for key in ("published", "updated", "created"):
        raw = entry.get(key)
        if not raw:
            continue
        zone = _AMBIGUOUS_ZONE.search(str(raw))
        text = str(raw)
        if zone and australian and zone.group(1) in _AU_ZONES:
            text = text[: zone.start()] + _AU_ZONES[zone.group(1)] + text[zone.end():]
        try:
            moment, notes = parse_time(text)
        except BadDate as exc:
            warnings.append(f"{key} date refused ({exc}); using fetch time")
            return fetched_at, "fetched_at"
        warnings.extend(notes)
        if zone and australian and zone.group(1) in _AU_ZONES:
            warnings.append(f"zone {zone.group(1)} read as Australian (UTC{_AU_ZONES[zone.group(1)]}): the feed is Australian")
        elif zone:
            warnings.append(f"zone abbreviation in {plain_text(raw, 40)!r} is ambiguous; read as the US zone")
        skew = clock_skew_warning(moment, fetched_at)
        if skew:
            warnings.append(skew)
        return moment, key
    found = text_time(" ".join(str(entry.get(k) or "") for k in ("title", "summary")), fetched_at, warnings)
    if found is not None:
        return found, "title|summary"
    warnings.append("entry has no date; using fetch time")
    return fetched_at, "fetched_at"


_TEXT_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?\b")


def text_time(text: str, fetched_at: datetime, warnings: list[str]) -> datetime | None:
    """A date written in the item's own words ("18/03/2019 19:34:55"), for feeds with no date
    element. Day first unless that is impossible (the order used outside the US); the zone is
    taken as UTC. Both assumptions are recorded; an impossible or future date is not used."""
    match = _TEXT_DATE.search(text)
    if not match:
        return None
    a, b, year, hour, minute, second = (int(g) if g else 0 for g in match.groups())
    day, month, order = (a, b, "day first") if a > 12 or b <= 12 else (b, a, "month first")
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        warnings.append(f"date {match.group(0)!r} in the text is impossible; using fetch time")
        return None
    if moment > fetched_at + timedelta(days=1):
        warnings.append(f"date {match.group(0)!r} in the text is in the future; using fetch time")
        return None
    note = "ambiguous, read day first" if a <= 12 and b <= 12 else order
    warnings.append(f"time read from the item's text ({match.group(0)}, {note}); zone assumed UTC")
    return moment


def is_australian(feed: FeedConfig, parsed: Any) -> bool:
    """Configured as Australian, or published from a .au host (channel or first item link)."""
    if (feed.country or "").upper() == "AU":
        return True
    links = [parsed.get("feed", {}).get("link") or ""] + [e.get("link") or "" for e in (parsed.get("entries") or [])[:3]]
    for link in links:
        try:
            host = urlsplit(link).hostname or ""
        except ValueError:
            continue
        if host.endswith(".au"):
            return True
    return False


class RssSource:
    """The ``rss`` format."""

    name = "rss"

    def sniff(self, head: str) -> int:
        tag = root_tag(head)
        if tag is None:
            return 1 if "<!ENTITY" in head or "<!DOCTYPE" in head else 0
        name = tag.rsplit(":", 1)[-1].lower()
        if name in ("rss", "feed"):
            return 60
        if name == "rdf":
            return 50
        return 1  # any other XML: claimed weakly, so parse() can say why it is refused

    def parse(self, data: bytes, feed: FeedConfig, fetched_at: datetime) -> ParseResult:
        warnings = refuse_entities(data)
        # a stream, never bytes: feedparser opens bytes that name a local file (b"/etc/passwd")
        parsed = feedparser.parse(io.BytesIO(data), sanitize_html=True, resolve_relative_uris=False)
        version = parsed.get("version") or ""
        entries = parsed.get("entries") or []
        if parsed.get("bozo"):
            exc = parsed.get("bozo_exception")
            reason = plain_text(f"{type(exc).__name__}: {exc}", 200)
            if not version and not entries:
                raise DocumentRefused(f"not an RSS/Atom feed ({reason})")
            warnings.append(f"feed is ill-formed or mis-encoded: {reason}")
        if not version and not entries:
            raise DocumentRefused("not an RSS/Atom feed: no channel, feed or entries found")
        result = ParseResult(warnings=warnings)
        australian = is_australian(feed, parsed)
        profile = None if feed.kind else recognise(parsed)
        for n, entry in enumerate(entries, 1):
            event = self._event(entry, feed, fetched_at, australian, profile)
            if event is None:
                result.warnings.append(f"entry {n} is empty (no title, text, link or id); skipped")
                continue
            result.events.append(event)
            result.warnings.extend(f"entry {n}: {w}" for w in event.warnings)
        return result

    def _event(
        self, entry: Any, feed: FeedConfig, fetched_at: datetime, australian: bool = False, profile: Any = None
    ) -> Event | None:
        warnings: list[str] = []
        raw_title = entry.get("title") or ""
        summary = entry.get("summary") or ""
        if not summary and entry.get("content"):
            summary = entry["content"][0].get("value", "")
        text = plain_text(summary)
        title = title_text(raw_title) or title_text(text)
        link = safe_link(entry.get("link"))
        if entry.get("link") and link is None:
            warnings.append("link is not an absolute http(s) URL; dropped")
        guid = (entry.get("id") or "").strip()
        if not (title or text or link or guid):
            return None
        time, time_field = entry_time(entry, fetched_at, warnings, australian=australian)
        raw_date = entry.get("published") or entry.get("updated") or ""
        event_id = "rss:" + (stable_hash(guid) if guid else stable_hash(feed.id, link, title, raw_date))
        geometry, lat, lon = entry_geometry(entry, warnings)
        fields = {
            "id": "guid|id" if guid else "hash(feed,link,title,published)",
            "time": time_field,
            "title": "title",
            "text": "summary|content",
            "link": "link",
        }
        if lat is not None:
            fields["lat"] = fields["lon"] = "georss|gml|geo:lat/long"
        tag_kind, tag_severity = tagged(entry)
        if tag_kind:
            fields["kind"] = "category"
        if tag_severity:
            fields["severity"] = "category"
        event = Event(
            id=event_id,
            source=self.name,
            kind=tag_kind if tag_kind and not feed.kind else hazard_kind(feed, title),
            severity=tag_severity or Severity.UNKNOWN,
            title=title or "(untitled)",
            text=text,
            time=time,
            lat=lat,
            lon=lon,
            geometry=geometry,
            link=link,
            feed=feed.id,
            exercise=feed.exercise,
            extra={"guid": plain_text(guid, 500)} if guid else {},
            provenance={
                "feed": feed.id,
                "raw_id": plain_text(guid, 500) or None,
                "fetched_at": iso(fetched_at),
                "fields": fields,
            },
            warnings=tuple(warnings),
        )
        return with_profile(event, profile, entry, summary, warnings)


def with_profile(event: Event, profile: tuple[str, Any] | None, entry: Any, summary: str, warnings: list[str]) -> Event:
    """The news reader's event with what the feed's profile (feeds.sources._profiles) reads of the entry."""
    if profile is None:
        return event
    name, reader = profile
    reading = reader(entry, event.title, plain_text(summary), warnings)
    fields = dict(event.provenance.get("fields") or {}, **reading.fields)
    changes: dict[str, Any] = {"source": f"rss:{name}"}
    for attr in ("kind", "severity", "magnitude", "depth_km", "place"):
        value = getattr(reading, attr)
        if value is not None:
            changes[attr] = value
    if reading.time is not None:
        changes["time"], changes["updated"], fields["time"] = reading.time, event.time, reading.time_field or "profile"
    return event.replace(
        **changes,
        extra={**event.extra, **reading.extra, "profile": name},
        provenance={**event.provenance, "fields": fields},
        warnings=tuple(warnings),
    )


register(RssSource())
