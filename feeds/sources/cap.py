"""CAP 1.0/1.1/1.2 alerts (format ``cap``), and the safe XML reading every XML adapter shares.

Promises:

* XML is read only through :func:`read_xml` (defusedxml, ``forbid_dtd``): any DOCTYPE, entity or
  external reference refuses the whole document with a one-line reason.
* Accepted shapes: a single ``<alert>`` (default, prefixed or no namespace), signed alerts (the
  ``ds:Signature`` is ignored, not verified), EDXL-DE envelopes carrying CAP, and containers of
  several alerts (SMHI's ``<alerts>``). A root element in a namespace that is not CAP is refused.
* **One event per alert.** Of its ``<info>`` blocks we show the first whose language starts with
  ``en`` (CAP's default language is ``en-US``), else the first; the others' languages are kept in
  ``extra["cap"]["other_languages"]``. An alert with no ``<info>`` (a Cancel) is still an event.
* ``id = cap_event_id(sender, identifier, sent)``, so re-polls and the same alert arriving by two
  feeds (or by ``cap-index``) are one incident; ``references_ids`` are computed the same way, so an
  Update or Cancel names the id of the alert it supersedes.
* Geometry: CAP gives ``lat,lon`` (in that order). Polygons become GeoJSON (lon,lat) rings, closed
  (unclosed rings are closed with a warning), validated; rings under 4 points or with unreadable
  pairs are refused with a warning. Circles become 32-point polygons (radius 0: a point) and are
  listed in ``extra["circles"]``. ``lat``/``lon`` is a representative point of the geometry.
* Test, Draft, System and Exercise alerts, Updates and Cancels are kept as events; the pipeline
  filters on ``extra["cap"]["status"]``. ``exercise`` is set for Exercise alerts.
* An alert without a valid identifier, sender or sent time is dropped with a warning; a document
  whose every alert was dropped is refused.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any
from xml.etree.ElementTree import Element

from shapely.geometry import GeometryCollection, MultiPolygon, Point, Polygon, mapping, shape
from shapely.validation import make_valid

from feeds.contract import DocumentRefused, FeedConfig, ParseResult
from feeds.meaning import happened_at, magnitude_number, meteoalarm_kind, quake_severity, warning_kind
from feeds.model import Event, InvalidEvent, Kind, Severity, check_lonlat, iso, stable_hash
from feeds.sources import register
from feeds.sources._xml import (  # noqa: F401 - re-exported for the other XML adapters
    element_text,
    kid,
    kid_text,
    kids,
    local,
    namespace,
    read_xml,
    root_tag,
)
from feeds.text import BadDate, parse_time, plain_text, safe_link, title_text

CAP_NAMESPACES = frozenset(f"urn:oasis:names:tc:emergency:cap:{v}" for v in ("1.0", "1.1", "1.2"))


# --------------------------------------------------------------------------------------------
# CAP values
# --------------------------------------------------------------------------------------------

_RESTRICTED = re.compile(r"[\s,<&]")


def normalise_sent(sent: str) -> str:
    """A CAP ``sent`` time as ISO UTC, so that ``-00:00`` and ``Z`` spellings give the same id."""
    try:
        moment, _ = parse_time(sent)
    except BadDate:
        return sent.strip()
    return iso(moment) or sent.strip()


def cap_event_id(sender: str, identifier: str, sent: str) -> str:
    """The event id of the CAP alert named by ``sender``, ``identifier`` and ``sent``."""
    return "cap:" + stable_hash(sender.strip(), identifier.strip(), normalise_sent(sent))


def parse_references(raw: str) -> tuple[list[str], list[str]]:
    """``"sender,identifier,sent sender,identifier,sent"`` -> (event ids, warnings)."""
    ids: list[str] = []
    warnings: list[str] = []
    for triple in raw.split():
        parts = triple.split(",")
        if len(parts) != 3 or not all(parts):
            warnings.append(f"reference {plain_text(triple, 80)!r} is not sender,identifier,sent; ignored")
            continue
        ids.append(cap_event_id(*parts))
    return ids, warnings


_KIND_WORDS: tuple[tuple[re.Pattern[str], Kind], ...] = tuple(
    (re.compile(pattern, re.I), kind)
    for pattern, kind in (
        (r"tsunami", Kind.TSUNAMI),
        (r"earthquake|s[ée]isme|sismo|terremoto", Kind.EARTHQUAKE),
        (r"volcan", Kind.VOLCANO),
        (r"cyclon|cicl[oó]n|hurricane|typhoon|tropical storm|tormenta tropical", Kind.CYCLONE),
        (r"flood|inond|inunda", Kind.FLOOD),
        (r"fire|feu|incendi", Kind.FIRE),
        (r"drought|s[ée]cheresse|sequ[ií]a", Kind.DROUGHT),
        (r"epidemic|pandemic|outbreak|disease", Kind.EPIDEMIC),
    )
)
_CATEGORY_KIND = {
    "met": Kind.WEATHER,
    "fire": Kind.FIRE,
    "security": Kind.SECURITY,
    "health": Kind.MEDICAL,
    "rescue": Kind.INCIDENT,
    "safety": Kind.INCIDENT,
    "transport": Kind.TRAFFIC,
    "infra": Kind.INCIDENT,
    "cbrne": Kind.INCIDENT,
}


def cap_kind(categories: Iterable[str], event: str) -> Kind:
    """Kind from the event text first (tsunami, earthquake, flood...), then the CAP category, then a
    weather service's warning words (thunderstorm, frost, avalanche... : feeds.meaning)."""
    for pattern, kind in _KIND_WORDS:
        if pattern.search(event):
            return kind
    for category in categories:
        kind = _CATEGORY_KIND.get(category.strip().lower())
        if kind is not None:
            return kind
    return warning_kind(event) or Kind.OTHER


# --------------------------------------------------------------------------------------------
# CAP geometry
# --------------------------------------------------------------------------------------------

CIRCLE_POINTS = 32
_KM_PER_DEG_LAT = 111.32


def _latlon_pair(pair: str) -> tuple[float, float]:
    """``"lat,lon"`` -> (lon, lat), range-checked; ValueError otherwise."""
    parts = pair.split(",")
    if len(parts) != 2:
        raise ValueError(f"pair {pair[:40]!r} is not lat,lon")
    lat, lon = float(parts[0]), float(parts[1])
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
        raise ValueError(f"pair {pair[:40]!r} is out of range")
    return lon, lat


def polygon_from_cap(text: str, warnings: list[str]) -> Polygon | None:
    """A CAP ``<polygon>`` ("lat,lon lat,lon ...") as a valid shapely Polygon, or None with a warning."""
    text = text.strip()
    if not text:
        warnings.append("empty <polygon> ignored")
        return None
    try:
        ring = [_latlon_pair(p) for p in text.split()]
    except ValueError as exc:
        warnings.append(f"polygon refused: {exc}")
        return None
    if len(ring) >= 1 and ring[0] != ring[-1]:
        ring.append(ring[0])
        warnings.append("polygon ring was not closed; closed it")
    if len(ring) < 4:
        warnings.append(f"polygon refused: {len(ring)} points, a ring needs at least 4")
        return None
    if any(abs(a[0] - b[0]) > 180 for a, b in pairwise(ring)):
        warnings.append("polygon crosses the antimeridian; drawn as given")
    poly = Polygon(ring)
    if not poly.is_valid:
        repaired = make_valid(poly)
        parts = [g for g in getattr(repaired, "geoms", [repaired]) if isinstance(g, Polygon) and not g.is_empty]
        if not parts:
            warnings.append("polygon refused: self-intersecting and not repairable")
            return None
        warnings.append("polygon was self-intersecting; repaired")
        poly = max(parts, key=lambda g: g.area)
    return poly


def circle_from_cap(text: str, warnings: list[str]) -> tuple[Polygon | Point, dict[str, float]] | None:
    """A CAP ``<circle>`` ("lat,lon radius_km") as a 32-point polygon (a point when the radius is
    0), plus its description for ``extra["circles"]``; None with a warning when unreadable."""
    parts = text.split()
    try:
        if len(parts) != 2:
            raise ValueError(f"circle {text.strip()[:40]!r} is not 'lat,lon radius'")
        lon, lat = _latlon_pair(parts[0])
        radius = float(parts[1])
        if not math.isfinite(radius) or radius < 0:
            raise ValueError(f"circle radius {parts[1][:20]!r} is not a distance")
    except ValueError as exc:
        warnings.append(f"circle refused: {exc}")
        return None
    info = {"lat": lat, "lon": lon, "radius_km": radius}
    if radius == 0:
        return Point(lon, lat), info
    dlat = radius / _KM_PER_DEG_LAT
    dlon = radius / (_KM_PER_DEG_LAT * max(math.cos(math.radians(lat)), 0.01))
    ring = []
    for i in range(CIRCLE_POINTS):
        angle = 2 * math.pi * i / CIRCLE_POINTS
        ring.append(
            (
                max(-180.0, min(180.0, lon + dlon * math.cos(angle))),
                max(-90.0, min(90.0, lat + dlat * math.sin(angle))),
            )
        )
    ring.append(ring[0])
    return Polygon(ring), info


def combine_geometries(geoms: list[Any]) -> tuple[dict[str, Any] | None, float | None, float | None]:
    """Several area geometries -> (GeoJSON, lat, lon of a representative point)."""
    if not geoms:
        return None, None, None
    polys: list[Polygon] = []
    for g in geoms:
        polys.extend(g.geoms if isinstance(g, MultiPolygon) else [g])
    if len(polys) == 1:
        combined = polys[0]
    elif all(isinstance(g, Polygon) for g in polys):
        combined = MultiPolygon(polys)
    else:
        combined = GeometryCollection(polys)
    geojson = mapping(combined)
    point = shape(geojson).representative_point()
    try:
        check_lonlat(point.x, point.y, what="area")
    except InvalidEvent:
        return geojson, None, None
    return _plain(geojson), point.y, point.x


def _plain(value: Any) -> Any:
    """Tuples from shapely's mapping -> lists, so the event survives a JSON round trip unchanged."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# --------------------------------------------------------------------------------------------
# CAP alert -> Event
# --------------------------------------------------------------------------------------------

STATUSES = frozenset({"Actual", "Exercise", "System", "Test", "Draft"})


def find_alerts(root: Element) -> list[Element]:
    """The CAP ``<alert>`` elements of a document: the root, an ``<alerts>`` container's
    children, or alerts nested in an envelope (EDXL-DE). Refuses non-CAP namespaces."""
    name, ns = local(root.tag), namespace(root.tag)
    if name in ("alert", "alerts") and ns and ns not in CAP_NAMESPACES:
        raise DocumentRefused(f"<{name}> is in namespace {ns[:80]!r}, which is not a CAP namespace")
    if name == "alert":
        return [root]
    found = [
        el
        for el in root.iter()
        if isinstance(el.tag, str) and local(el.tag) == "alert" and namespace(el.tag) in CAP_NAMESPACES | {""}
    ]
    if not found:
        raise DocumentRefused(f"no CAP <alert> in this document (root element <{name}>)")
    return found


def choose_info(infos: list[Element]) -> tuple[Element | None, list[str]]:
    """The first English info (CAP's default language is en-US), else the first; and the other
    infos' languages."""
    if not infos:
        return None, []
    langs = [kid_text(i, "language") or "en-US" for i in infos]
    index = next((n for n, lang in enumerate(langs) if lang.lower().startswith("en")), 0)
    return infos[index], [plain_text(lang, 40) for n, lang in enumerate(langs) if n != index]


def geocodes_of(el: Element, split_values: bool = False) -> dict[str, list[str]]:
    """``<geocode>`` children as name -> values. Pairs are read in order, so an index's
    ``<geocode>`` holding several valueName/value pairs works too; ``split_values`` splits
    space-separated lists (NWS Atom indexes)."""
    codes: dict[str, list[str]] = {}
    for geocode in kids(el, "geocode"):
        name = ""
        for child in geocode:
            if not isinstance(child.tag, str):
                continue
            text = plain_text(child.text, 200)
            if local(child.tag) == "valueName":
                name = text
            elif local(child.tag) == "value" and name and text:
                values = text.split() if split_values else [text]
                codes.setdefault(name, []).extend(v for v in values if v not in codes.get(name, []))
    return codes


def area_geometry(
    areas: list[Element], warnings: list[str]
) -> tuple[list[Any], list[dict[str, float]], dict[str, list[str]], list[str]]:
    """CAP ``<area>`` elements -> (shapely geometries, circles, geocodes, area descriptions)."""
    geoms: list[Any] = []
    circles: list[dict[str, float]] = []
    geocodes: dict[str, list[str]] = {}
    descs: list[str] = []
    for area in areas:
        desc = plain_text(kid_text(area, "areaDesc"), 500)
        if desc and desc not in descs:
            descs.append(desc)
        for polygon in kids(area, "polygon"):
            poly = polygon_from_cap(polygon.text or "", warnings)
            if poly is not None:
                geoms.append(poly)
        for circle in kids(area, "circle"):
            got = circle_from_cap(circle.text or "", warnings)
            if got is not None:
                geoms.append(got[0])
                circles.append(got[1])
        for name, values in geocodes_of(area).items():
            geocodes.setdefault(name, []).extend(v for v in values if v not in geocodes.get(name, []))
    return geoms, circles, geocodes, descs


MAX_PARAMETERS = 60


def parameters_of(info: Element | None) -> dict[str, str]:
    """The info's ``<parameter>`` name -> value (plain text; the first of a repeated name, at most
    MAX_PARAMETERS)."""
    found: dict[str, str] = {}
    for el in kids(info, "parameter") if info is not None else []:
        name, value = plain_text(kid_text(el, "valueName"), 80), plain_text(kid_text(el, "value"), 300)
        if name and value and name not in found and len(found) < MAX_PARAMETERS:
            found[name] = value
    return found


_KM = re.compile(r"(-?\d+(?:\.\d+)?)\s*(km|kilomet|m\b|metres|meters)?", re.I)


def _depth_km(text: str) -> float | None:
    """``"38.7 km (24.0 miles)"`` -> 38.7; metres are converted; None when unreadable."""
    match = _KM.search(text or "")
    if not match:
        return None
    value = float(match.group(1))
    unit = (match.group(2) or "km").lower()
    return value / 1000.0 if unit.startswith("m") else value


def _event_time(text: str) -> datetime | None:
    """An EventTime parameter: ISO 8601, extended ("2010-08-30T23:25:40+00:00") or basic
    ("20121014T224056.420Z", as USGS writes it); None when unreadable or without a zone."""
    try:
        return parse_time(text)[0]
    except BadDate:
        pass
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else None


def alert_meaning(
    params: dict[str, str], kind: Kind, severity: Severity, sent: datetime, times: dict[str, str], warnings: list[str]
) -> tuple[Kind, Severity, datetime, str, float | None, float | None]:
    """What the alert says happened and when: (kind, severity, time, time field, magnitude, depth km).

    The time is when it happens: an EventTime parameter, else ``onset``, else ``sent`` (which stays
    in ``extra["cap"]["sent"]``). Magnitude and Depth parameters are read; a Meteoalarm
    ``awareness_type`` names the kind; an earthquake's severity follows the one quake rule, which
    the alert's own severity may raise but never lower."""
    time, field = sent, "alert/sent"
    if params.get("EventTime"):
        event_time = _event_time(params["EventTime"])
        if event_time is not None:
            time, field = event_time, "info/parameter EventTime"
        else:
            warnings.append(f"EventTime parameter {params['EventTime'][:40]!r} unreadable; using onset or sent")
    if field == "alert/sent":
        time, from_onset = happened_at(sent, times.get("onset"))
        field = "info/onset" if from_onset else field
    kind = meteoalarm_kind(params.get("awareness_type")) or kind
    magnitude = magnitude_number(params.get("Magnitude") or params.get("magnitude"))
    depth = _depth_km(params.get("Depth") or params.get("depth") or "")
    if kind is Kind.EARTHQUAKE:
        severity = quake_severity(magnitude, severity)
    return kind, severity, time, field, magnitude, depth


def alert_to_event(
    alert: Element, feed: FeedConfig, fetched_at: datetime, source: str = "cap"
) -> tuple[Event | None, list[str]]:
    """One CAP ``<alert>`` -> (event or None, warnings). None when the alert cannot be named."""
    warnings: list[str] = []
    identifier, sender, sent = (kid_text(alert, n) for n in ("identifier", "sender", "sent"))
    label = plain_text(identifier, 80) or "(no identifier)"
    for name, value in (("identifier", identifier), ("sender", sender)):
        if not value or _RESTRICTED.search(value):
            return None, [
                f"alert {label}: <{name}> {plain_text(value, 80)!r} is missing or not a valid CAP value; alert dropped"
            ]
    try:
        time, notes = parse_time(sent)
    except BadDate as exc:
        return None, [f"alert {label}: <sent> unreadable ({exc}); alert dropped"]
    warnings.extend(notes)
    status, msg_type, scope = (kid_text(alert, n) for n in ("status", "msgType", "scope"))
    references, references_ids = _check_header(alert, status, msg_type, scope, warnings)
    info, other_langs = choose_info(kids(alert, "info"))
    geoms, circles, geocodes, descs = area_geometry(kids(info, "area") if info is not None else [], warnings)
    geometry, lat, lon = combine_geometries(geoms)
    get = (lambda n: kid_text(info, n)) if info is not None else (lambda n: "")
    categories = [plain_text(c.text, 40) for c in kids(info, "category")] if info is not None else []
    event_name, headline = get("event"), get("headline")
    description, instruction = get("description"), get("instruction")
    times = _info_times(get, warnings)
    web, params = get("web"), parameters_of(info)
    kind, severity, when, time_field, magnitude, depth = alert_meaning(
        params, cap_kind(categories, f"{event_name} {headline}"), Severity.parse(get("severity")), time, times, warnings
    )
    extra_cap = {
        "identifier": plain_text(identifier, 300),
        "sender": plain_text(sender, 300),
        "sent": iso(time),
        "status": plain_text(status, 40),
        "msgType": plain_text(msg_type, 40),
        "scope": plain_text(scope, 40),
        **{name: plain_text(get(name), 40) for name in ("urgency", "severity", "certainty")},
        "effective": times.get("effective"),
        "onset": times.get("onset"),
        "expires": times.get("expires"),
        "event": plain_text(event_name, 300),
        "category": categories,
        "areaDesc": "; ".join(descs),
        "references": plain_text(references, 4000),
        "references_ids": references_ids,
        "geocodes": geocodes,
        "language": plain_text(get("language") or ("en-US" if info is not None else ""), 40),
        "other_languages": other_langs,
        "web": safe_link(web),
        "parameters": params,
    }
    text = plain_text("\n\n".join(t for t in (description, instruction) if t))
    title = (
        title_text(headline or event_name) or f"{plain_text(msg_type, 40) or 'Alert'} from {plain_text(sender, 100)}"
    )
    event = Event(
        id=cap_event_id(sender, identifier, sent),
        source=source,
        kind=kind,
        title=title,
        text=text,
        time=when,
        severity=severity,
        magnitude=magnitude,
        depth_km=depth,
        lat=lat,
        lon=lon,
        geometry=geometry,
        link=safe_link(web),
        feed=feed.id,
        exercise=feed.exercise or status == "Exercise",
        place="; ".join(descs) or None,
        extra={"cap": extra_cap, "circles": circles},
        provenance=_provenance(feed, identifier, fetched_at, placed=lat is not None, time_field=time_field),
        warnings=tuple(warnings),
    )
    return event, warnings


def _check_header(alert: Element, status: str, msg_type: str, scope: str, warnings: list[str]) -> tuple[str, list[str]]:
    """Warn about a missing scope, an unknown status and unreadable references; the references text and ids."""
    if not scope:
        warnings.append("required <scope> is missing")
    if status not in STATUSES:
        warnings.append(f"unknown <status> {plain_text(status, 40)!r}")
    references = kid_text(alert, "references")
    ref_el = kid(alert, "references")
    references_ids: list[str] = []
    if ref_el is not None and not references:
        warnings.append("empty <references> ignored (invalid CAP)")
    elif references:
        references_ids, ref_warnings = parse_references(references)
        warnings.extend(ref_warnings)
    if msg_type in ("Update", "Cancel") and not references_ids:
        warnings.append(f"{msg_type} names no alert it supersedes")
    return references, references_ids


def _info_times(get: Callable[[str], str], warnings: list[str]) -> dict[str, str]:
    """The info's effective, onset and expires times (ISO), each left out when absent or unreadable."""
    times = {}
    for name in ("effective", "onset", "expires"):
        raw = get(name)
        if raw:
            try:
                times[name] = iso(parse_time(raw)[0])
            except BadDate as exc:
                warnings.append(f"<{name}> unreadable: {exc}")
    return times


def _provenance(
    feed: FeedConfig, identifier: str, fetched_at: datetime, placed: bool, time_field: str = "alert/sent"
) -> dict[str, Any]:
    """Where the event came from and which CAP element each of its fields was read from."""
    fields = {
        "id": "alert/sender+identifier+sent",
        "time": time_field,
        "title": "info/headline|info/event",
        "text": "info/description+instruction",
        "severity": "info/severity",
        "place": "info/area/areaDesc",
    }
    if placed:
        fields["lat"] = fields["lon"] = "info/area/polygon|circle"
    return {
        "feed": feed.id,
        "raw_id": plain_text(identifier, 300),
        "fetched_at": iso(fetched_at),
        "fields": fields,
    }


class CapSource:
    """The ``cap`` format: CAP alert documents."""

    name = "cap"

    def sniff(self, head: str) -> int:
        tag = root_tag(head) or ""
        name = tag.rsplit(":", 1)[-1]
        has_ns = "urn:oasis:names:tc:emergency:cap:" in head
        if name in ("alert", "alerts"):
            return 90 if has_ns or "<identifier>" in head else 50
        if name == "EDXLDistribution":
            return 85 if has_ns else 40
        if tag is None and "<!DOCTYPE alert" in head:
            return 50  # a hostile prolog that hides the root; parse() refuses it with the reason
        return 0

    def parse(self, data: bytes, feed: FeedConfig, fetched_at: datetime) -> ParseResult:
        root, warnings = read_xml(data)
        result = ParseResult(warnings=warnings)
        alerts = find_alerts(root)
        for alert in alerts:
            event, alert_warnings = alert_to_event(alert, feed, fetched_at)
            label = plain_text(kid_text(alert, "identifier"), 80)
            result.warnings.extend(f"alert {label}: {w}" if not w.startswith("alert ") else w for w in alert_warnings)
            if event is not None:
                result.events.append(event)
        if not result.events:
            raise DocumentRefused(f"no usable CAP alert: {result.warnings[-1] if result.warnings else 'empty'}")
        return result


def iter_descendants(el: Element, name: str) -> Iterator[Element]:
    """Every descendant (not ``el`` itself) whose local name is ``name``."""
    for child in el.iter():
        if child is not el and isinstance(child.tag, str) and local(child.tag) == name:
            yield child


register(CapSource())
