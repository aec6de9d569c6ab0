"""NWS API alerts as GeoJSON (format ``nws-geojson``), e.g. ``api.weather.gov/alerts/active``.

Each feature's properties are the CAP fields of one alert. The event is built to be the *same*
incident the CAP adapter makes from the CAP XML of that alert:

- ``id`` = :func:`feeds.sources.cap.cap_event_id` (sender, identifier, sent) with identifier =
  ``properties.id``, sender = ``properties.sender``, sent = ``properties.sent``: the CAP adapter's
  own function (``"cap:" + stable_hash(sender, identifier, sent)``, sent normalised to ISO UTC so
  ``-07:00`` and ``Z`` spellings agree), so the two can never drift apart.
- ``extra["cap"]`` has the CAP adapter's shape and normalisation: identifier, sender, sent
  (ISO UTC), status, msgType, scope, urgency, severity, certainty, effective/onset/expires (ISO
  UTC), event, category (list), areaDesc, references (the raw CAP ``"sender,identifier,sent ..."``
  string rebuilt from the API's reference objects), references_ids (their event ids, so an
  Update/Cancel supersedes them), geocodes (``{"SAME": [...], "UGC": [...]}``), language
  (``en-US``, CAP's default: the API gives none), other_languages and web. The NWS API has no
  ``scope`` or ``web``: "" and None. NWS-only values (``ends``, ``eventCode``, VTEC,
  NWSheadline, the API's alert URL) go to ``extra["nws"]``.
- ``time`` = onset, else sent (``updated`` and ``extra["cap"]["sent"]`` keep sent); ``severity`` = CAP severity; ``kind`` from the event name (see
  :func:`kind_for_event`), falling back on the CAP category; ``exercise`` = feed.exercise or
  status "Exercise". As in the CAP adapter, Test/Draft/System alerts are kept as events and the
  pipeline keeps them off the live picture by ``extra["cap"]["status"]``.
- Geometry present: it is validated (coordinates in range, made valid) and kept as GeoJSON, and
  lat/lon is a representative point inside it. Geometry null (most NWS alerts): lat/lon and
  geometry stay None; the placement step uses ``extra["cap"]["geocodes"]`` and ``areaDesc``.

Non-alert NWS documents (gridpoint forecasts, raw gridpoint data, /points metadata, station
observations, the /alerts/active/count summary) are refused with a reason that names the document
type: a feed pointed at one of them is misconfigured, and a refusal marks it failing instead of
showing an empty, healthy-looking feed. An alert collection with no features is zero events.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import orjson
import shapely
from shapely.geometry import mapping, shape

from feeds.contract import DocumentRefused, FeedConfig, ParseResult
from feeds.meaning import happened_at
from feeds.model import Event, InvalidEvent, Kind, Severity, check_lonlat, iso
from feeds.sources import register
from feeds.sources._json import load_json
from feeds.sources.cap import cap_event_id
from feeds.text import BadDate, clock_skew_warning, parse_time, plain_text, safe_link, title_text

# First match wins: order matters ("Flash Flood" before "Flood", "Fire Weather" before "Weather").
KIND_RULES: tuple[tuple[re.Pattern[str], Kind], ...] = tuple(
    (re.compile(pattern, re.I), kind)
    for pattern, kind in (
        (r"tsunami", Kind.TSUNAMI),
        (r"flood|hydrologic|high water", Kind.FLOOD),
        (r"fire|red flag", Kind.FIRE),
        (r"hurricane|tropical|typhoon|cyclone", Kind.CYCLONE),
        (r"volcan|ashfall", Kind.VOLCANO),
        (r"earthquake", Kind.EARTHQUAKE),
        (r"drought", Kind.DROUGHT),
        (r"civil danger|civil emergency|law enforcement|shelter in place|evacuation|child abduction|"
         r"blue alert|terror", Kind.SECURITY),
        (r"hazardous materials|nuclear|radiological|911 telephone outage|power outage", Kind.INCIDENT),
        (r"tornado|thunderstorm|winter|blizzard|ice|snow|sleet|heat|cold|chill|freeze|frost|wind|storm|"
         r"fog|surf|gale|rip current|seas|marine|small craft|avalanche|dust|smoke|air quality|weather|"
         r"rain|lake effect|low water|beach hazards|hazardous seas", Kind.WEATHER),
    )
)
CATEGORY_KIND = {
    "met": Kind.WEATHER,
    "fire": Kind.FIRE,
    "health": Kind.MEDICAL,
    "security": Kind.SECURITY,
    "safety": Kind.INCIDENT,
    "rescue": Kind.INCIDENT,
    "transport": Kind.TRAFFIC,
    "infra": Kind.INCIDENT,
    "cbrne": Kind.INCIDENT,
    "env": Kind.OTHER,
    "geo": Kind.OTHER,
}

FIELDS = {
    "id": "cap:stable_hash(properties.sender, properties.id, properties.sent)",
    "title": "properties.headline|properties.event",
    "text": "properties.description+properties.instruction",
    "time": "properties.onset|properties.sent",
    "severity": "properties.severity",
    "kind": "properties.event|properties.category",
    "geometry": "geometry",
}


def kind_for_event(event: str, category: str = "") -> Kind:
    """Kind from the NWS/CAP event name ("Flash Flood Warning" -> flood), else from the category."""
    for pattern, kind in KIND_RULES:
        if pattern.search(event):
            return kind
    return CATEGORY_KIND.get(category.strip().lower(), Kind.OTHER)


def _text(value: object, limit: int = 300) -> str | None:
    return plain_text(value, limit) or None


def _str_list(value: object, limit: int = 40) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return [text for text in (plain_text(v, limit) for v in value) if text]


def refusal_reason(doc: Any) -> str | None:
    """Why this NWS document is not an alert collection; None when it is one."""
    if not isinstance(doc, dict):
        return "not a GeoJSON object (NWS alerts are a FeatureCollection)"
    if {"total", "land", "marine"} <= doc.keys():
        return "NWS alert count summaries are not alerts; point the feed at /alerts/active"
    props = doc.get("properties") if isinstance(doc.get("properties"), dict) else {}
    kind = str(props.get("@type", ""))
    if "periods" in props:
        return "NWS forecast documents are not alerts (gridpoint forecast)"
    if kind == "wx:Gridpoint" or "validTimes" in props:
        return "NWS gridpoint forecast data is not alerts"
    if kind == "wx:Point" or "forecastGridData" in props:
        return "NWS /points metadata is not alerts"
    if kind == "wx:ObservationStation" or "timestamp" in props:
        return "NWS station observations are not alerts"
    if doc.get("type") != "FeatureCollection" or not isinstance(doc.get("features"), list):
        return "not an NWS alert collection (expected a GeoJSON FeatureCollection of alerts)"
    for feature in doc["features"]:
        fprops = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(fprops, dict):
            continue
        ftype = str(fprops.get("@type", ""))
        if ftype == "wx:ObservationStation" or "timestamp" in fprops:
            return "NWS station observations are not alerts"
        if ftype and ftype != "wx:Alert":
            return f"NWS {plain_text(ftype, 40)} documents are not alerts"
    return None


def clean_geometry(geometry: Any, what: str) -> tuple[dict[str, Any] | None, float | None, float | None]:
    """A valid GeoJSON geometry and a representative lon/lat inside it, or (None, None, None).

    Raises InvalidEvent for coordinates out of range, not finite, or an empty shape.
    """
    if not geometry:
        return None, None, None
    try:
        geom = shape(geometry)
    except (ValueError, TypeError, AttributeError, KeyError, shapely.errors.ShapelyError) as exc:
        raise InvalidEvent(f"{what}: unreadable geometry ({exc})") from None
    if geom.is_empty:
        raise InvalidEvent(f"{what}: empty geometry")
    coords = shapely.get_coordinates(geom)
    for lon, lat in coords:
        check_lonlat(float(lon), float(lat), what=what)
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    point = geom.representative_point()
    out = orjson.loads(orjson.dumps(mapping(geom)))  # tuples -> lists, plain JSON
    return out, float(point.x), float(point.y)


class NwsGeoJson:
    """Adapter for api.weather.gov alert collections."""

    name = "nws-geojson"

    def sniff(self, head: str) -> int:
        """95 for api.weather.gov alerts, 80 for any other api.weather.gov document (refused later,
        with a reason), 70 for the alert count summary, 60 for CAP-shaped GeoJSON."""
        if not head.lstrip("\ufeff \t\r\n").startswith("{"):
            return 0
        if "api.weather.gov" in head:
            return 95 if ("wx:Alert" in head or "api.weather.gov/alerts" in head) else 80
        if '"total"' in head and '"land"' in head and '"marine"' in head:
            return 70
        if "FeatureCollection" in head and '"areaDesc"' in head and '"messageType"' in head:
            return 60
        return 0

    def parse(self, data: bytes, feed: FeedConfig, fetched_at: datetime) -> ParseResult:
        """One event per live alert. DocumentRefused for non-JSON and non-alert NWS documents."""
        doc, warnings = load_json(data)
        reason = refusal_reason(doc)
        if reason:
            raise DocumentRefused(reason)
        result = ParseResult(warnings=warnings)
        fetched = iso(fetched_at)
        for index, feature in enumerate(doc["features"]):
            try:
                result.events.append(self._event(feature, feed, fetched_at, fetched))
            except (InvalidEvent, BadDate, ValueError, TypeError, AttributeError) as exc:
                result.warnings.append(f"alert {index} skipped: {exc}")
        return result

    def _event(self, feature: Any, feed: FeedConfig, fetched_at: datetime, fetched: str | None) -> Event:
        if not isinstance(feature, dict) or not isinstance(feature.get("properties"), dict):
            raise ValueError("feature has no properties")
        p = feature["properties"]
        identifier, sender, sent = p.get("id"), p.get("sender"), p.get("sent")
        if not (isinstance(identifier, str) and isinstance(sender, str) and isinstance(sent, str)):
            raise ValueError("alert lacks id, sender or sent")
        event_id = cap_event_id(sender, identifier, sent)
        time, notes = parse_time(sent)
        skew = clock_skew_warning(time, fetched_at)
        if skew:
            notes.append(skew)
        times = _times(p, notes)
        references, reference_ids = _references(p)
        geocode = p.get("geocode") if isinstance(p.get("geocode"), dict) else {}
        status = plain_text(p.get("status"), 40)
        event_name = plain_text(p.get("event"), 300)
        category = _str_list(p.get("category"), 40)
        category_text = category[0] if category else ""
        cap = {
            "identifier": plain_text(identifier, 300),
            "sender": plain_text(sender, 300),
            "sent": iso(time),
            "status": status,
            "msgType": plain_text(p.get("messageType") or p.get("msgType"), 40),
            "scope": plain_text(p.get("scope"), 40),
            "urgency": plain_text(p.get("urgency"), 40),
            "severity": plain_text(p.get("severity"), 40),
            "certainty": plain_text(p.get("certainty"), 40),
            "effective": times["effective"],
            "onset": times["onset"],
            "expires": times["expires"],
            "event": event_name,
            "category": category,
            "areaDesc": plain_text(p.get("areaDesc"), 4000),
            "references": plain_text(" ".join(references), 4000),
            "references_ids": reference_ids,
            "geocodes": {
                plain_text(name, 40): _str_list(values, 200) for name, values in geocode.items() if _str_list(values)
            },
            "language": plain_text(p.get("language"), 40) or "en-US",
            "other_languages": [],
            "web": safe_link(p.get("web")),
        }
        nws = _nws_extra(p, feature)
        geometry, lon, lat = clean_geometry(feature.get("geometry"), f"alert {plain_text(identifier, 80)}")
        description = plain_text(p.get("description"))
        instruction = plain_text(p.get("instruction"))
        text = plain_text(f"{description}\n{instruction}".strip()) if instruction else description
        return Event(
            id=event_id,
            source=self.name,
            kind=kind_for_event(event_name, category_text),
            title=title_text(p.get("headline")) or title_text(event_name) or "NWS alert",
            text=text,
            time=happened_at(time, times["onset"])[0],
            updated=time,
            severity=Severity.parse(p.get("severity")),
            lat=lat,
            lon=lon,
            geometry=geometry,
            link=cap["web"] or nws["url"],
            feed=feed.id,
            exercise=feed.exercise or (status or "").lower() == "exercise",
            place=cap["areaDesc"] or None,
            extra={"cap": cap, "circles": [], "nws": nws},
            provenance={"feed": feed.id, "raw_id": cap["identifier"], "fetched_at": fetched, "fields": FIELDS},
            warnings=tuple(notes),
        )


def _times(p: dict[str, Any], notes: list[str]) -> dict[str, str | None]:
    """The alert's effective, onset and expires times (ISO or None); a note for each unreadable one."""
    times: dict[str, str | None] = {}
    for name in ("effective", "onset", "expires"):
        raw = p.get(name)
        times[name] = None
        if raw:
            try:
                times[name] = iso(parse_time(raw)[0])
            except BadDate as exc:
                notes.append(f"{name} unreadable: {exc}")
    return times


def _references(p: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The CAP references ("sender,identifier,sent") of the alerts this one supersedes, and their event ids."""
    references: list[str] = []
    reference_ids: list[str] = []
    for ref in p.get("references") or []:
        if not isinstance(ref, dict):
            continue
        r_sender, r_id, r_sent = ref.get("sender"), ref.get("identifier"), ref.get("sent")
        if isinstance(r_sender, str) and isinstance(r_id, str) and isinstance(r_sent, str):
            references.append(f"{r_sender},{r_id},{r_sent}")
            reference_ids.append(cap_event_id(r_sender, r_id, r_sent))
    return references, reference_ids


def _nws_extra(p: dict[str, Any], feature: dict[str, Any]) -> dict[str, Any]:
    """The NWS-only fields: the alert's API url, its end, event codes, VTEC and NWS headline."""
    params = p.get("parameters") if isinstance(p.get("parameters"), dict) else {}
    return {
        "url": safe_link(p.get("@id") or feature.get("id")),
        "ends": _text(p.get("ends"), 40),
        "eventCode": {
            plain_text(k, 60): _str_list(v) for k, v in (p.get("eventCode") or {}).items()
        } if isinstance(p.get("eventCode"), dict) else {},
        "VTEC": _str_list(params.get("VTEC"), 100),
        "NWSheadline": _str_list(params.get("NWSheadline"), 300),
        "senderName": _text(p.get("senderName"), 200),
    }


SOURCE = register(NwsGeoJson())
