"""Static tables the geocoder reads (abbreviations, countries, states) and text normalisation."""

from __future__ import annotations

import logging
import re
import unicodedata

log = logging.getLogger("feeds.geocode")


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


