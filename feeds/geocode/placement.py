"""Placing an event: its geometry, its county codes, or the place its text names."""

from __future__ import annotations

import logging
from typing import Any

import orjson

from feeds.geocode.index import country_code
from feeds.geocode.matcher import geocode
from feeds.geocode.reverse import describe
from feeds.model import Event, InvalidEvent, check_lonlat
from layers.basemap import BasemapMissing
from layers.boundaries import county_geometry, same_to_fips, ugc_county_to_fips

log = logging.getLogger("feeds.geocode")


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


def _point_in(geom: Any) -> tuple[float, float] | None:
    import shapely

    if geom is None or geom.is_empty:
        return None
    point = shapely.make_valid(geom).representative_point()
    lon, lat = round(point.x, 6), round(point.y, 6)
    check_lonlat(lon, lat, what="placement")
    return lon, lat


def place_event(event: Event, *, country_hint: str | None = None) -> Event:
    """``event`` with a position, when one can be found; otherwise ``event`` unchanged.

    In order: an event with lat/lon is returned as it is; one with a geometry gets a point inside
    it (``placed_by="geometry"``); one with CAP/NWS county codes (SAME, FIPS6 or UGC county codes in
    ``extra["cap"]["geocodes"]``) gets the union of those counties as its geometry and a point inside
    (``placed_by="county"``); otherwise ``place``, then ``title``, then ``text`` are geocoded
    (``placed_by="gazetteer"``, ``extra["geocode"]`` = name, precision, confidence, matched).
    Never raises and never places at 0,0. Ingest runs :func:`describe_event` after it, to give an
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
            extra = {**event.extra, "counties": fips}
            return event.replace(lon=point[0], lat=point[1], geometry=geometry, placed_by="county", extra=extra)
    hint = _hint_for(event, country_hint)
    for text in (event.place, event.title, event.text[:1000] if event.text else None):
        if not text:
            continue
        place = geocode(text, country_hint=hint)
        if place is None:
            continue
        try:
            check_lonlat(place.lon, place.lat, what="gazetteer")
        except InvalidEvent:
            continue
        extra = {
            **event.extra,
            "geocode": {
                "name": place.name,
                "precision": place.precision,
                "confidence": place.confidence,
                "matched": place.matched,
            },
        }
        return event.replace(lon=place.lon, lat=place.lat, placed_by="gazetteer", extra=extra)
    return event
