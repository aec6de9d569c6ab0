"""GDACS RSS (format ``gdacs``): the Global Disaster Alert and Coordination System's alerts.

Promises:

* One event per ``<item>``; ``id = "gdacs:" + eventtype + eventid``, so a new episode of the same
  disaster updates one incident (episode, alert score... in ``extra["gdacs"]``).
* ``severity`` from ``gdacs:alertlevel`` (Red extreme, Orange severe, Green minor), and for an
  earthquake the one quake rule of :mod:`feeds.meaning` (the level raises, never lowers, the magnitude's band); ``kind`` from
  ``gdacs:eventtype`` (EQ, TC, FL, VO, DR, WF, TS); ``magnitude`` (and depth, when the text gives
  it) from ``gdacs:severity`` for earthquakes.
* Position from ``geo:Point`` (or ``georss:point``), validated. An item with only a
  ``gdacs:bbox`` (``lonmin lonmax latmin latmax``) or no event type/id is dropped with a warning.
* ``time`` is ``gdacs:fromdate`` (else ``pubDate``), ``updated`` is ``pubDate``; read strictly.
* Parsed with defusedxml; a double-encoded BOM before the XML declaration is removed with a warning.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from feeds.contract import FeedConfig, ParseResult
from feeds.meaning import quake_severity
from feeds.model import Event, InvalidEvent, Kind, Severity, check_lonlat, iso
from feeds.sources import register
from feeds.sources._xml import kid, kid_text, local, read_xml, root_tag
from feeds.text import BadDate, parse_time, plain_text, safe_link, title_text

GDACS_NS = "gdacs.org"
KINDS = {
    "EQ": Kind.EARTHQUAKE,
    "TC": Kind.CYCLONE,
    "FL": Kind.FLOOD,
    "VO": Kind.VOLCANO,
    "DR": Kind.DROUGHT,
    "WF": Kind.FIRE,
    "TS": Kind.TSUNAMI,
}
SEVERITIES = {"red": Severity.EXTREME, "orange": Severity.SEVERE, "green": Severity.MINOR}
_DEPTH = re.compile(r"depth\s*:?\s*([0-9.]+)\s*km", re.I)


def _number(text: str | None) -> float | None:
    try:
        return float(str(text).strip())
    except (TypeError, ValueError):
        return None


def _time(raw: str, what: str, warnings: list[str]) -> datetime | None:
    if not raw:
        return None
    try:
        moment, notes = parse_time(raw)
    except BadDate as exc:
        warnings.append(f"{what} refused: {exc}")
        return None
    warnings.extend(notes)
    return moment


def _position(item: Any, warnings: list[str]) -> tuple[float, float] | None:
    point = kid(item, "Point")
    lat = lon = None
    if point is not None:
        lat, lon = _number(kid_text(point, "lat")), _number(kid_text(point, "long"))
    elif kid_text(item, "point"):
        parts = kid_text(item, "point").split()
        if len(parts) == 2:
            lat, lon = _number(parts[0]), _number(parts[1])
    if lat is None or lon is None:
        return None
    try:
        check_lonlat(lon, lat, what="item")
    except InvalidEvent as exc:
        warnings.append(str(exc))
        return None
    return lat, lon


def _quake_size(etype: str, sev: Any, sev_value: float | None, sev_text: str) -> tuple[float | None, float | None]:
    """Magnitude and depth (km) of an earthquake whose gdacs:severity is in magnitude units, else None, None."""
    magnitude = depth = None
    if etype == "EQ" and sev is not None and (sev.get("unit") or "").upper() == "M" and sev_value:
        magnitude = sev_value
        found = _DEPTH.search(sev_text)
        depth = float(found.group(1)) if found else None
    return magnitude, depth


def _severity(etype: str, magnitude: float | None, alertlevel: str) -> Severity:
    """The alert level; for an earthquake, the one quake rule (feeds.meaning), which the alert level
    may raise but never lower below the magnitude's band."""
    level = SEVERITIES.get(alertlevel.strip().lower())
    if etype == "EQ":
        return quake_severity(magnitude, level)
    return level or Severity.UNKNOWN


def _fields(sized: bool) -> dict[str, str]:
    """Which GDACS element each event field was read from."""
    fields = {
        "id": "gdacs:eventtype+eventid",
        "time": "gdacs:fromdate|pubDate",
        "lat": "geo:Point/geo:lat",
        "lon": "geo:Point/geo:long",
        "severity": "gdacs:alertlevel",
        "kind": "gdacs:eventtype",
    }
    if sized:
        fields["magnitude"] = "gdacs:severity/@value"
    return fields


class GdacsSource:
    """The ``gdacs`` format."""

    name = "gdacs"

    def sniff(self, head: str) -> int:
        tag = (root_tag(head) or "").lower()
        return 95 if tag == "rss" and GDACS_NS in head else 0

    def parse(self, data: bytes, feed: FeedConfig, fetched_at: datetime) -> ParseResult:
        root, warnings = read_xml(data)
        result = ParseResult(warnings=warnings)
        items = [el for el in root.iter() if isinstance(el.tag, str) and local(el.tag) == "item"]
        for n, item in enumerate(items, 1):
            event, item_warnings = self._event(item, feed, fetched_at)
            result.warnings.extend(f"item {n}: {w}" for w in item_warnings)
            if event is not None:
                result.events.append(event)
        return result

    def _event(self, item: Any, feed: FeedConfig, fetched_at: datetime) -> tuple[Event | None, list[str]]:
        warnings: list[str] = []
        etype, eid = kid_text(item, "eventtype").upper(), kid_text(item, "eventid")
        position = _position(item, warnings)
        if not etype or not eid:
            return None, warnings + ["no gdacs:eventtype/eventid; dropped"]
        if position is None:
            reason = "only a bounding box" if kid_text(item, "bbox") else "no position"
            return None, warnings + [f"{etype}{eid} has {reason}, no point; dropped"]
        lat, lon = position
        pub = _time(kid_text(item, "pubDate"), "pubDate", warnings)
        start = _time(kid_text(item, "fromdate"), "fromdate", warnings)
        end = _time(kid_text(item, "todate"), "todate", warnings)
        time = start or pub
        if time is None:
            warnings.append("no readable date; using fetch time")
            time = fetched_at
        sev = kid(item, "severity")
        sev_value = _number(sev.get("value")) if sev is not None else None
        sev_text = plain_text(sev.text if sev is not None else "", 300)
        magnitude, depth = _quake_size(etype, sev, sev_value, sev_text)
        alertlevel = kid_text(item, "alertlevel")
        extra = {
            "gdacs": {
                "eventtype": etype,
                "eventid": plain_text(eid, 40),
                "episodeid": plain_text(kid_text(item, "episodeid"), 40),
                "eventname": plain_text(kid_text(item, "eventname"), 200),
                "alertlevel": plain_text(alertlevel, 20),
                "alertscore": _number(kid_text(item, "alertscore")),
                "episodealertlevel": plain_text(kid_text(item, "episodealertlevel"), 20),
                "severity_text": sev_text,
                "severity_value": sev_value,
                "severity_unit": plain_text(sev.get("unit") if sev is not None else "", 20),
                "country": plain_text(kid_text(item, "country"), 300),
                "iso3": plain_text(kid_text(item, "iso3"), 100),
                "bbox": [v for v in (_number(x) for x in kid_text(item, "bbox").split()) if v is not None],
                "fromdate": iso(start),
                "todate": iso(end),
                "iscurrent": kid_text(item, "iscurrent") == "true",
                "cap": safe_link(kid_text(item, "cap")),
            }
        }
        event = Event(
            id=f"gdacs:{etype}{eid}",
            source=self.name,
            kind=KINDS.get(etype, Kind.OTHER),
            title=title_text(kid_text(item, "title")) or f"GDACS {etype} {plain_text(eid, 40)}",
            text=plain_text(kid_text(item, "description")),
            time=time,
            updated=pub,
            severity=_severity(etype, magnitude, alertlevel),
            lat=lat,
            lon=lon,
            geometry={"type": "Point", "coordinates": [lon, lat]},
            link=safe_link(kid_text(item, "link")),
            feed=feed.id,
            magnitude=magnitude,
            depth_km=depth,
            exercise=feed.exercise,
            place=plain_text(kid_text(item, "country"), 300) or None,
            extra=extra,
            provenance={
                "feed": feed.id,
                "raw_id": f"{etype}{plain_text(eid, 40)}",
                "fetched_at": iso(fetched_at),
                "fields": _fields(sized=magnitude is not None),
            },
            warnings=tuple(warnings),
        )
        return event, warnings


register(GdacsSource())
