"""What a geocoded place is (:class:`Place`) and a candidate from the gazetteer."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import NamedTuple

log = logging.getLogger("feeds.geocode")



PRECISIONS = ("exact", "city", "county", "admin1", "country")


@dataclass(frozen=True, slots=True)
class Place:
    """A place found in a text. ``precision`` is how specific the point is: ``exact`` (a stated
    offset from a place was applied), ``city``, ``county``, ``admin1`` (a state or province) or
    ``country``. ``confidence`` is 0..1. ``matched`` is the text that named it. ``country`` is the
    ISO 3166 alpha-2 code; ``admin1`` the GeoNames admin-1 code (a US state's postal code)."""

    name: str
    lat: float
    lon: float
    precision: str
    confidence: float
    matched: str
    country: str | None
    admin1: str | None


class _Cand(NamedTuple):
    name: str
    lat: float
    lon: float
    precision: str  # city | county | admin1 | country
    cc: str | None
    admin1: str | None
    population: int
    base: float  # prior score: bigger and broader places win ties


