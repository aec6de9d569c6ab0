"""Placing an event: its geometry, its county codes, or the place its text names."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import orjson

from feeds.geocode.index import country_code, gazetteer
from feeds.geocode.matcher import geocode
from feeds.geocode.reverse import describe, describe_many, distance_km
from feeds.geocode.tables import _key
from feeds.model import Event, InvalidEvent, Kind, check_lonlat
from layers.basemap import BasemapMissing
from layers.boundaries import county_geometry, same_to_fips, ugc_county_to_fips
from layers.regions import emma_code, region, regions_named, union
from layers.streets import BUILT_IN, street_names

log = logging.getLogger("feeds.geocode")

# A news item's words name a place only in a place context (#18): blogs and podcasts mention people
# ("David Sparks"), works and outlets ("the Hollywood Reporter", "Fargo"), brands and institutions
# whose names are also towns. A bare town in news must follow a place word ("in", "near", "downtown",
# "southwestern"...), be followed by a place noun ("Chicago hotel", "Boston Police"), be qualified
# ("Orlando, Florida") or be a dateline ("DUBLIN -"). A country or state counts bare, unless it is
# part of a longer capitalised name ("Turkey Bowl", "Oregon Public Access Television").
_PLACE_BEFORE = re.compile(
    r"(?:\b(?:in|at|near|from|to|into|outside|inside|across|around|off|toward|towards|via|throughout|"
    r"(?:north|south|east|west|outskirts|heart|cent(?:re|er)|suburbs?|mayor|city|town|residents|people|streets|"
    r"province|states?|county|region|parts?)\s+of|"
    r"downtown|central|northern|southern|eastern|western|north|south|east|west|northeastern|northwestern|"
    r"southeastern|southwestern|en|à|au|aux|im|bei|nach|aus|w|we|v|vo|dans|près|nahe)\s+(?:the\s+)?)$",
    re.I,
)
_PLACE_AFTER = re.compile(
    r"^(?:'s\s+|’s\s+)?\s*(?:city|county|area|region|province|state|district|suburbs?|residents?|police|fire|"
    r"airport|coast|station|hospital|border|streets?|neighbou?rhoods?|metro|data cent(?:er|re)s?|hotels?|office|"
    r"campus|harbou?r|port|bridge|downtown|capitol|parliament|government|embassy|authorities|officials|mayor|"
    r"governor|court|(?:[-–—]|\(AP\)|\(Reuters\)|\(AFP\)))(?=\W|$)",
    re.I,
)
_CAPITALISED = re.compile(r"^\s*[A-Z][\w’'.-]*")
_CAPITALISED_BEFORE = re.compile(r"[A-Z][\w’'.-]*\s+$")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\"“(]\s*)$")
NEWS_KINDS = frozenset({Kind.NEWS})
STREET_KM = 15.0  # a street of a street basemap refines a town it lies this near
_streets: dict[str, Any] = {"folders": [BUILT_IN], "stamps": None, "names": None, "pattern": None}


def use_street_folders(folders: list[Path]) -> None:
    """Where street basemaps are, besides the built-in one (the workers add ``<data_dir>/basemaps``)."""
    _streets.update(folders=[BUILT_IN, *folders], stamps=None)


def _street_index() -> tuple[dict[str, tuple[str, float, float]], re.Pattern[str] | None]:
    """The street names, read again when a basemap is imported or removed (a folder's mtime moves)."""
    stamps = tuple(f.stat().st_mtime if f.is_dir() else 0.0 for f in _streets["folders"])
    if _streets["stamps"] != stamps:
        _streets["stamps"] = stamps
        names = street_names(_streets["folders"])
        words = sorted((re.escape(n) for n in names), key=len, reverse=True)
        _streets.update(names=names, pattern=re.compile(r"\b(" + "|".join(words) + r")\b", re.I) if words else None)
    return _streets["names"], _streets["pattern"]


def street_in(text: str, lat: float, lon: float) -> tuple[str, float, float] | None:
    """A street of the installed street basemaps that ``text`` names, within STREET_KM of lat/lon
    (the town the text names): (name, lat, lon); None when the text names none."""
    names, pattern = _street_index()
    if pattern is None:
        return None
    for match in pattern.finditer(text):
        name, slat, slon = names[match.group(1).casefold()]
        if distance_km(lat, lon, slat, slon) <= STREET_KM:
            return name, slat, slon
    return None
MAJOR_CITY = 1_000_000  # a city this big named bare is the place ("Beijing and Washington ratchet up...")
_WORD = re.compile(r"[^\W\d_][\w'’-]*")


# --- placement --------------------------------------------------------------------------------


def _hint_for(event: Event, country_hint: str | None) -> str | None:
    if country_hint:
        return country_hint
    for value in (event.provenance.get("country"), event.extra.get("country")):
        if isinstance(value, str) and country_code(value):
            return value
    source = (event.source or "").lower()
    if source.startswith("nws") or isinstance(event.extra.get("nws"), dict):
        return "US"
    if source.startswith("nsw"):
        return "AU-NSW"  # the NSW Rural Fire Service: its places are in New South Wales
    return None


def _county_codes(event: Event) -> list[str]:
    cap = event.extra.get("cap")
    geocodes = cap.get("geocodes") if isinstance(cap, dict) else None
    if not isinstance(geocodes, dict):
        return []

    fips: list[str] = []
    for name, values in geocodes.items():
        kind = str(name).strip().upper()
        if isinstance(values, str):
            values = values.split()
        if not isinstance(values, (list, tuple)):
            continue
        for value in values:
            code: str | None = None
            if kind in ("SAME", "FIPS6"):
                try:
                    code = same_to_fips(str(value))
                except ValueError:
                    code = None
            elif kind == "UGC":
                code = ugc_county_to_fips(str(value))
            if code and code not in fips:
                fips.append(code)
    return fips


# How precise a gazetteer match is, in the words screens use ("region-level", never an exact dot).
GAZETTEER_PRECISION = {"exact": "exact", "city": "town", "county": "county", "admin1": "region", "country": "country"}
NUTS_COUNTRY = {"EL": "GR", "UK": "GB"}  # NUTS prefixes that are not the ISO code Meteoalarm uses


def _geocode_values(event: Event, *names: str) -> list[str]:
    """The values of the CAP geocodes called any of ``names`` (case does not count), in order, once each."""
    cap = event.extra.get("cap")
    geocodes = cap.get("geocodes") if isinstance(cap, dict) else None
    out: list[str] = []
    if isinstance(geocodes, dict):
        for name, values in geocodes.items():
            if str(name).strip().upper() not in names:
                continue
            values = values.split() if isinstance(values, str) else values
            if isinstance(values, (list, tuple)):
                out.extend(v for v in (str(x).strip().upper() for x in values) if v and v not in out)
    return out


def _region_codes(event: Event) -> tuple[list[str], list[str]]:
    """(EMMA_ID codes, NUTS3 codes) the event's CAP geocodes name."""
    emma = [c for c in (emma_code(v) for v in _geocode_values(event, "EMMA_ID", "EMMA")) if c]
    return emma, _geocode_values(event, "NUTS3", "NUTS")


def _regions_of(event: Event, emma: list[str], nuts: list[str]) -> tuple[list[Any], str]:
    """The Meteoalarm areas the event names and the rule that found them: its EMMA_ID codes, and
    for NUTS3 codes (which have no outline here) its area names matched against the EMMA areas of
    the NUTS3 codes' countries. Raises RegionsMissing when the areas are not built."""
    found = {r.code: r for r in (region(c) for c in emma) if r is not None}
    rules = ["EMMA_ID"] if found else []
    countries = {NUTS_COUNTRY.get(code[:2], code[:2]) for code in nuts if len(code) >= 3}
    if nuts and len(found) < len(nuts):
        cap = event.extra.get("cap") or {}
        names = [n.strip() for n in str(cap.get("areaDesc") or event.place or "").split(";") if n.strip()]
        by_name = {r.code: r for cc in sorted(countries) for n in names for r in regions_named(cc, n)}
        if set(by_name) - set(found):
            found.update(by_name)
            rules.append("NUTS3 area names")
    return list(found.values()), " and ".join(rules)


def _place_in_regions(event: Event) -> Event | None:
    """``event`` placed on the union of the Meteoalarm areas it names (``placed_by="region"``), or
    None when it names none that is known. When the areas are not built, ``event`` is returned
    unplaced with a one-line reason in its warnings: a wrong dot (the middle of the country) is
    worse than none."""
    import shapely

    emma, nuts = _region_codes(event)
    if not emma and not nuts:
        return None
    try:
        regions, rule = _regions_of(event, emma, nuts)
    except BasemapMissing as exc:
        reason = f"not placed: the alert names warning areas ({', '.join((emma or nuts)[:4])}) but {exc}"
        log.warning("region placement unavailable", extra={"event_id": event.id, "reason": str(exc)})
        return event.replace(warnings=(*event.warnings, reason))
    geom = union(regions)
    point = _point_in(geom)
    if point is None:
        return None
    codes = [r.code for r in regions]
    extra = {**event.extra, "precision": "region", "areas": codes, "areas_rule": rule,
             "area_names": [r.name for r in regions]}
    geometry = orjson.loads(shapely.to_geojson(geom))
    return event.replace(lon=point[0], lat=point[1], geometry=geometry, placed_by="region", extra=extra)


def _point_in(geom: Any) -> tuple[float, float] | None:
    import shapely

    if geom is None or geom.is_empty:
        return None
    point = shapely.make_valid(geom).representative_point()
    lon, lat = round(point.x, 6), round(point.y, 6)
    check_lonlat(lon, lat, what="placement")
    return lon, lat


def _in_a_name(before: str, after: str) -> bool:
    """Whether the words around a mention make it part of a longer capitalised name: followed by a
    capitalised word that is not a place noun ("Hollywood Reporter"), or preceded by one that does
    not start the sentence ("David Sparks")."""
    if _CAPITALISED.match(after) and not _PLACE_AFTER.match(after):
        return True
    words = before.split()
    if not words or not _CAPITALISED_BEFORE.search(before):
        return False
    return not _SENTENCE_START.search(before[: len(before.rstrip()) - len(words[-1])])


_SENTENCE_END = re.compile(r"(?<=[a-z0-9)\"”’'][.!?])\s+(?=[A-Z\"“])")


def _lede(text: str) -> str:
    """A news item's first sentence (at most 300 characters): where a report says where it happened
    ("A fire has broken out in a tower block in Ajman..."); later sentences of a blog post or a link
    roundup name whatever they mention."""
    head = text[:300]
    parts = _SENTENCE_END.split(head, maxsplit=1)
    return parts[0]


def _title_case(text: str) -> bool:
    """Headline style ("Dublin Violence Brings Shame on Ireland"): capitals say nothing about names."""
    words = [w for w in _WORD.findall(text) if len(w) > 3]
    return len(words) >= 5 and sum(w[0].isupper() for w in words) >= 0.7 * len(words)


def _major_city(place: Any) -> bool:
    cands = gazetteer().names.get(_key(place.name), [])
    return any(c.precision == "city" and c.cc == place.country and c.population >= MAJOR_CITY for c in cands)


def in_place_context(text: str, place: Any) -> bool:
    """Whether ``place.matched`` is named as a place somewhere in ``text`` (see _PLACE_BEFORE)."""
    matched = str(place.matched or "").rstrip(".;:!?")
    if not matched:
        return False
    if "," in matched.rstrip(",") or place.precision == "exact":
        return True
    country_or_state = place.precision in ("country", "admin1")
    headline = _title_case(text)
    start = text.find(matched)
    while start >= 0:
        before, after = text[:start], text[start + len(matched):]
        named = not headline and _in_a_name(before, after)
        if not before.strip() and re.match(r"^\s*(?:[-–—]|\(\w+\))", after):
            return True  # a dateline: "DUBLIN - ...", "KYIV (Reuters) ..."
        if not named and (country_or_state or _PLACE_BEFORE.search(before) or _PLACE_AFTER.match(after)):
            return True
        if not named and matched.casefold() == place.name.casefold() and _major_city(place):
            return True
        start = text.find(matched, start + 1)
    return False


def place_event(event: Event, *, country_hint: str | None = None) -> Event:
    """``event`` with a position, when one can be found; otherwise ``event`` unchanged.

    In order: an event with lat/lon is returned as it is; one with a geometry gets a point inside
    it (``placed_by="geometry"``); one with CAP/NWS county codes (SAME, FIPS6 or UGC county codes in
    ``extra["cap"]["geocodes"]``) gets the union of those counties as its geometry and a point inside
    (``placed_by="county"``); one with Meteoalarm area codes (EMMA_ID, or NUTS3 with area names)
    gets the union of those areas and a point inside (``placed_by="region"``, ``extra["areas"]``);
    otherwise ``place``, then ``title``, then ``text`` are geocoded
    (``placed_by="gazetteer"``, ``extra["geocode"]`` = name, precision, confidence, matched).
    ``extra["precision"]`` says how precise a position found here is: ``"county"``, ``"region"``,
    ``"country"``, ``"town"`` or ``"exact"``. Never raises and never places at 0,0. Ingest runs :func:`describe_event` after it, to give an
    event with a position but no place text one.
    """
    try:
        return _place(event, country_hint)
    except Exception:  # a placement bug must not lose the event
        log.exception("placement failed", extra={"event_id": event.id})
        return event


def describe_event(event: Event) -> Event:
    """``event`` with ``place`` set to :func:`describe`'s label ("12 km SW of Ridgecrest,
    California") when it has a position but no place text, and ``extra["reverse_geocode"]`` = the
    whole description; ``placed_by`` is left as it was. Events placed from their own words
    (``placed_by="gazetteer"``), events that name a place, and positions more than
    :data:`DESCRIBE_MAX_KM` from any town are returned unchanged. Never raises."""
    if event.lat is None or event.lon is None or event.place or event.placed_by == "gazetteer":
        return event
    try:
        found = describe(event.lat, event.lon)
    except Exception:  # naming the place is a nicety; the event must not be lost over it
        log.exception("reverse geocoding failed", extra={"event_id": event.id})
        return event
    if found is None:
        return event
    return event.replace(place=found["label"], extra={**event.extra, "reverse_geocode": found})


def describe_events(events: list[Event]) -> list[Event]:
    """:func:`describe_event` for many events, each answer the same, in bulk (the nearest towns and
    areas of a whole document at once: see :func:`describe_many`). Never raises."""
    wanted = [i for i, e in enumerate(events)
              if e.lat is not None and e.lon is not None and not e.place and e.placed_by != "gazetteer"]
    if not wanted:
        return list(events)
    try:
        found = describe_many([(events[i].lat, events[i].lon) for i in wanted])
    except Exception:  # naming places is a nicety; the events must not be lost over it
        log.exception("reverse geocoding failed", extra={"events": len(wanted)})
        return list(events)
    out = list(events)
    for i, description in zip(wanted, found, strict=True):
        if description is not None:
            event = events[i]
            out[i] = event.replace(place=description["label"], extra={**event.extra, "reverse_geocode": description})
    return out


def _place(event: Event, country_hint: str | None) -> Event:
    import shapely
    from shapely.geometry import shape

    if event.lat is not None and event.lon is not None:
        return event
    if event.geometry:
        try:
            point = _point_in(shape(event.geometry))
        except (InvalidEvent, ValueError, TypeError, AttributeError, KeyError, shapely.errors.ShapelyError):
            point = None
        if point is not None:
            return event.replace(lon=point[0], lat=point[1], placed_by="geometry")
    fips = _county_codes(event)
    if fips:
        try:
            geom = county_geometry(fips)
            point = _point_in(geom)
        except (BasemapMissing, InvalidEvent) as exc:
            log.warning("county placement unavailable", extra={"event_id": event.id, "reason": str(exc)})
            geom, point = None, None
        if point is not None:
            geometry = orjson.loads(shapely.to_geojson(geom))
            extra = {**event.extra, "counties": fips, "precision": "county"}
            return event.replace(lon=point[0], lat=point[1], geometry=geometry, placed_by="county", extra=extra)
    placed = _place_in_regions(event)
    if placed is not None:
        return placed
    hint = _hint_for(event, country_hint)
    body = (_lede(event.text) if event.kind in NEWS_KINDS else event.text[:1000]) if event.text else None
    for text, words in ((event.place, False), (event.title, True), (body, True)):
        if not text:
            continue
        place = geocode(text, country_hint=hint)
        if place is None or (words and event.kind in NEWS_KINDS and not in_place_context(text, place)):
            continue
        try:
            check_lonlat(place.lon, place.lat, what="gazetteer")
        except InvalidEvent:
            continue
        geocoded = {"name": place.name, "precision": place.precision, "confidence": place.confidence,
                    "matched": place.matched}
        precision = GAZETTEER_PRECISION.get(place.precision, place.precision)
        lat, lon = place.lat, place.lon
        street = street_in(text, lat, lon) if place.precision in ("city", "county") else None
        if street is not None:  # "Kaivokatu, Helsinki": the street the extract knows, not the town's centre
            geocoded.update(name=f"{street[0]}, {place.name}", precision="street", matched=street[0], town=place.name)
            lat, lon, precision = street[1], street[2], "street"
        extra = {**event.extra, "geocode": geocoded, "precision": event.extra.get("precision") or precision}
        return event.replace(lon=lon, lat=lat, placed_by="gazetteer", extra=extra)
    return event
