"""Learning places from the feeds: a report's stated distance from a named place, observed."""

from __future__ import annotations

import logging
import re
from typing import NamedTuple

from feeds.geocode.matcher import _destination, geocode
from feeds.geocode.reverse import distance_km
from feeds.geocode.tables import _BEARINGS, _key

log = logging.getLogger("feeds.geocode")


_LEARN_TEXT = re.compile(
    r"(\d+(?:\.\d+)?)\s*km\s+(NNE|ENE|ESE|SSE|SSW|WSW|WNW|NNW|NE|SE|SW|NW|N|E|S|W)\s+of\s+"
    r"([^\W\d_][^,;|()]{1,60}?),\s*([^\W\d_][^,;|()]{1,40}?)\s*$"
)


NAMESAKE_KM = 25.0  # a known place this far from where the feed's report puts it is a namesake


class LearnedObservation(NamedTuple):
    key: str  # "<country>|<admin1>|<folded name>"
    name: str
    country: str
    admin1: str | None
    lat: float
    lon: float
    km: float  # the stated offset: the farther, the less precise (a 16-point bearing is +-11 degrees)


def learn_from(text: str, lat: float, lon: float) -> LearnedObservation | None:
    """Where a report's "N km DIR of NAME, STATE" puts NAME, when the gazetteer cannot place NAME in
    that state (or country) and the report carries its own position ``lat``/``lon``; else None."""
    if not isinstance(text, str):
        return None
    m = _LEARN_TEXT.search(text[:300])
    if m is None or float(m.group(1)) > 300:
        return None
    name, qualifier = m.group(3).strip(), m.group(4).strip()
    km = float(m.group(1))
    back = (_BEARINGS[m.group(2).upper()] + 180.0) % 360.0
    ref_lat, ref_lon = _destination(lat, lon, km, back)
    # Unknown NAME: the gazetteer finds only the qualifier ("CA" -> California). A known one gives
    # an offset point ("exact"): nothing to learn, unless that point is far from the report, beyond
    # what a 16-point bearing explains: the feed means a namesake in the same state or country
    # ("San Antonio, Puerto Rico": the one in Aguadilla, not the bigger one).
    area = geocode(m.group(0), learned=False)
    if area is not None and area.precision == "exact":
        if distance_km(area.lat, area.lon, lat, lon) <= max(NAMESAKE_KM, 0.3 * km):
            return None
        area = None  # a namesake: the qualifier alone says where
    area = area or geocode(qualifier, learned=False)
    if area is None or area.precision not in ("admin1", "country") or area.country is None:
        return None
    if _key(area.matched) != _key(qualifier) and _key(area.name) != _key(qualifier):
        return None  # what was found is not the qualifier (a county of the name, say)
    admin1 = area.admin1 if area.precision == "admin1" else None
    key = f"{area.country}|{admin1 or ''}|{_key(name)}"
    return LearnedObservation(key, name, area.country, admin1, ref_lat, ref_lon, km)


