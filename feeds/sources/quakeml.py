"""QuakeML 1.2 (format ``quakeml``), as FDSN event web services (INGV, EMSC, USGS...) serve it.

Promises: one event per ``<event>``, from its preferred origin and magnitude (else the first);
``id = "quakeml:" + publicID``; kind earthquake (or the QuakeML event type when it names another
known kind); ``depth_km`` from the origin depth in metres; ``place`` from the description text.
An event with no readable time or position is dropped with a warning. Parsed with defusedxml.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from feeds.contract import DocumentRefused, FeedConfig, ParseResult
from feeds.meaning import quake_severity
from feeds.model import Event, InvalidEvent, Kind, Severity, check_lonlat, iso
from feeds.sources import register
from feeds.sources._xml import kid, kid_text, kids, local, read_xml, root_tag
from feeds.text import BadDate, parse_time, plain_text, title_text

QUAKEML_NS = "quakeml.org/xmlns"


def _value(el: Any, name: str) -> str:
    """QuakeML quantities are ``<name><value>...</value></name>``."""
    return kid_text(kid(el, name), "value") if el is not None and kid(el, name) is not None else ""


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _preferred(event: Any, name: str) -> Any:
    wanted = kid_text(event, f"preferred{name[0].upper()}{name[1:]}ID")
    candidates = kids(event, name)
    return next((c for c in candidates if c.get("publicID") == wanted), candidates[0] if candidates else None)


class QuakeMLSource:
    """The ``quakeml`` format."""

    name = "quakeml"

    def sniff(self, head: str) -> int:
        tag = (root_tag(head) or "").rsplit(":", 1)[-1]
        return 95 if tag == "quakeml" or (QUAKEML_NS in head and "eventParameters" in head) else 0

    def parse(self, data: bytes, feed: FeedConfig, fetched_at: datetime) -> ParseResult:
        root, warnings = read_xml(data)
        if local(root.tag) != "quakeml":
            raise DocumentRefused(f"root element <{local(root.tag)}> is not <quakeml>")
        result = ParseResult(warnings=warnings)
        events = [el for el in root.iter() if isinstance(el.tag, str) and local(el.tag) == "event"]
        for n, el in enumerate(events, 1):
            event, event_warnings = self._event(el, feed, fetched_at)
            result.warnings.extend(f"event {n}: {w}" for w in event_warnings)
            if event is not None:
                result.events.append(event)
        return result

    def _event(self, el: Any, feed: FeedConfig, fetched_at: datetime) -> tuple[Event | None, list[str]]:
        warnings: list[str] = []
        public_id = el.get("publicID") or ""
        if not public_id:
            return None, ["event has no publicID; dropped"]
        origin, magnitude = _preferred(el, "origin"), _preferred(el, "magnitude")
        if origin is None:
            return None, [f"{plain_text(public_id, 100)} has no origin; dropped"]
        try:
            time, notes = parse_time(_value(origin, "time"))
        except BadDate as exc:
            return None, [f"origin time refused ({exc}); dropped"]
        warnings.extend(notes)
        lat, lon = _float(_value(origin, "latitude")), _float(_value(origin, "longitude"))
        try:
            if lat is None or lon is None:
                raise InvalidEvent("origin has no latitude/longitude")
            check_lonlat(lon, lat, what="origin")
        except InvalidEvent as exc:
            return None, warnings + [f"{exc}; dropped"]
        depth_m = _float(_value(origin, "depth"))
        mag = _float(_value(magnitude, "mag")) if magnitude is not None else None
        mag_type = kid_text(magnitude, "type") if magnitude is not None else ""
        place = plain_text(kid_text(kid(el, "description"), "text"), 300) or None
        etype = kid_text(el, "type") or "earthquake"
        kind = Kind.EARTHQUAKE if etype in ("earthquake", "") else Kind.parse(etype)
        if kind is Kind.OTHER:
            kind = Kind.EARTHQUAKE if "earthquake" in etype else Kind.OTHER
        title = title_text(f"M {mag:g} {mag_type} - {place}" if mag is not None else place or "Earthquake")
        fields = {
            "id": "event/@publicID",
            "time": "origin/time/value",
            "lat": "origin/latitude/value",
            "lon": "origin/longitude/value",
            "depth_km": "origin/depth/value (m)",
            "magnitude": "magnitude/mag/value",
            "severity": "magnitude/mag/value (feeds.meaning quake rule)",
            "place": "event/description/text",
        }
        event = Event(
            id="quakeml:" + public_id.strip(),
            source=self.name,
            kind=kind,
            title=title,
            time=time,
            lat=lat,
            lon=lon,
            geometry={"type": "Point", "coordinates": [lon, lat]},
            feed=feed.id,
            magnitude=mag,
            severity=quake_severity(mag) if kind is Kind.EARTHQUAKE else Severity.UNKNOWN,
            depth_km=depth_m / 1000.0 if depth_m is not None else None,
            exercise=feed.exercise,
            place=place,
            extra={
                "quakeml": {
                    "publicID": plain_text(public_id, 300),
                    "type": plain_text(etype, 60),
                    "magnitude_type": plain_text(mag_type, 20),
                    "evaluation_mode": plain_text(kid_text(origin, "evaluationMode"), 20),
                    "agency": plain_text(kid_text(kid(el, "creationInfo"), "agencyID"), 60),
                }
            },
            provenance={
                "feed": feed.id,
                "raw_id": plain_text(public_id, 300),
                "fetched_at": iso(fetched_at),
                "fields": fields,
            },
            warnings=tuple(warnings),
        )
        return event, warnings


register(QuakeMLSource())
