"""The labelled report pairs that :mod:`feeds.fuse` is measured on: same happening (1) or not (0).

``pairs.jsonl`` holds only references and numbers, never corpus text (the corpus may not be copied
into the project): a corpus report is ``{"file": <path in corpus>, "id": <event id>}``; a synthetic
report is ``{"synth": <variant>, "base": <corpus reference>, ...numbers}`` and is rebuilt at load
time from its base report (its place names come from the corpus at run time). Rebuild the file
with ``python -m bench.fusion.pairset`` (deterministic: fixed seed, sorted inputs).

Corpus pairs (real reports, as the adapters parse them):

* positive: the USGS Atom entry and the USGS CAP alert of ``us2010apcd`` (Tonga, 2010): the only
  cross-format report of one quake in the corpus (5 h 44 min and 1.0 magnitude apart);
* hard negatives: distinct catalogue quakes within 2 h and 150 km of each other (aftershocks and
  swarms: the EMSC Petrinja sequence, California, Hawaii, Alaska), and distinct quakes within 50 km
  of each other from different files (same area, another day).

Synthetic pairs, each built on a real corpus quake of magnitude >= 2.5 (the base):

* positives: a second network's report (origin within 30 s, epicentre within 30 km, magnitude
  +-0.3); a GDACS-style alert (same tolerances, magnitude to 0.1); a news wire report published
  5 min to 6 h later ("Magnitude 6.1 quake strikes near X"), unplaced or geocoded near X, with the
  magnitude +-0.2 or none; the USGS Atom rendering of the same event; and those variants paired with
  each other;
* negatives: an aftershock 2-30 min later within 20 km and 0.5-2.0 smaller; an aftershock 3-30 min
  later within 20 km of nearly the same magnitude (+-0.3); a quake in the same area 1-30 days later;
  a news report of an aftershock (0.6-2.0 smaller) 10 min-3 h later; a news report 13 h-5 days later.
"""

from __future__ import annotations

import json
import math
import random
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from feeds.contract import FeedConfig
from feeds.fuse import haversine_km
from feeds.model import Event, Kind, Severity
from feeds.sources import get_source

PAIRS_PATH = Path(__file__).with_name("pairs.jsonl")
SEED = 20240611

# (path in corpus, adapter, feed id as a deployment would name it)
CORPUS_FILES: tuple[tuple[str, str, str], ...] = (
    ("usgs-geojson/all_week_2013-08-16_api1.0.9.json", "usgs-geojson", "usgs-all-week"),
    ("usgs-geojson/all_day_2016-11-03_api1.5.2.json", "usgs-geojson", "usgs-all-day"),
    ("usgs-geojson/4.5_week_2018-06-12_api1.5.8.json", "usgs-geojson", "usgs-4.5-week"),
    ("usgs-geojson/significant_month_2014-03-24_api1.0.13.json", "usgs-geojson", "usgs-significant"),
    ("usgs-geojson/significant_month_2020-06-08_api1.9.1.json", "usgs-geojson", "usgs-significant"),
    ("usgs-geojson/significant_month_2023-10-11_api1.10.3.json", "usgs-geojson", "usgs-significant"),
    ("csv/usgs_all_day_2019-09-27.csv", "usgs-csv", "usgs-all-day-csv"),
    ("georss/usgs_all_hour_atom_2018-12-07.xml", "rss", "usgs-atom"),
    ("georss/usgs_4.5_week_atom_2014-05-10.xml", "rss", "usgs-atom"),
    ("georss/usgs_7day-M5_atom_2010-08-31.xml", "rss", "usgs-atom"),
    ("georss/emsc_rss_last50_2020-12-30.xml", "rss", "emsc-rss"),
    ("gdacs/gdacs_rss_2019-12-30.xml", "gdacs", "gdacs"),
    ("gdacs/gdacs_rss_24h_2019-07-17.xml", "gdacs", "gdacs"),
    ("quakeml/ingv_fdsnws-event_quakeml_2022-03-01.xml", "quakeml", "ingv"),
    ("cap/usgs_earthquake_cap11_2010-08-31.xml", "cap", "usgs-cap"),
    ("cap/usgs_earthquake_iso8859-1_2012-10-14.xml", "cap", "usgs-cap"),
)
# Distinct ids of one feed closer than this may still be one quake (the 2013 USGS feed lists many
# California quakes twice, under CI's old and new id schemes, 0-10 s and < 2 km apart): unlabelled.
AMBIGUOUS_S = 60.0
AMBIGUOUS_KM = 30.0
NEWSWORTHY = 4.0  # wires report felt quakes: news variants only on bases of at least this magnitude
KNOWN_POSITIVES = (  # the same quake in two corpus files, by USGS network id
    (
        ("georss/usgs_7day-M5_atom_2010-08-31.xml", "us2010apcd"),
        ("cap/usgs_earthquake_cap11_2010-08-31.xml", "us2010apcd"),
    ),
)


@dataclass(frozen=True)
class LabelledPair:
    a: Event
    b: Event
    same: bool
    origin: str  # "corpus" | "synthetic"
    variant: str


# ---------------------------------------------------------------------------------------------
# The corpus


@lru_cache(maxsize=4)
def corpus_reports(corpus: Path) -> dict[tuple[str, str], Event]:
    """Every dated earthquake report of the corpus files above, keyed by (file, event id)."""
    fetched = datetime.now(UTC)
    reports: dict[tuple[str, str], Event] = {}
    for path, fmt, feed_id in CORPUS_FILES:
        file = corpus / path
        if not file.is_file():
            continue
        result = get_source(fmt).parse(file.read_bytes(), FeedConfig(id=feed_id, url="https://x/"), fetched)
        for event in result.events:
            if event.provenance.get("fields", {}).get("time") == "fetched_at":
                continue  # undated: its time is when we read it
            if event.kind is Kind.EARTHQUAKE or _looks_seismic(event):
                reports[(path, event.id)] = event
    return reports


_MAG_TITLE = re.compile(r"^(M[LlWwBbSs]?|mb)\s*\d\.\d")


def _looks_seismic(event: Event) -> bool:
    return bool(_MAG_TITLE.match(event.title))


def _origin(event: Event) -> datetime:
    from feeds.fuse import facts_of

    facts = facts_of(event)
    return facts.origin or event.time


# ---------------------------------------------------------------------------------------------
# Synthetic reports


def destination(lat: float, lon: float, dist_km: float, bearing_deg: float) -> tuple[float, float]:
    """The point ``dist_km`` from (lat, lon) along ``bearing_deg`` (spherical Earth)."""
    r = dist_km / 6371.0088
    p1, l1, b = math.radians(lat), math.radians(lon), math.radians(bearing_deg)
    p2 = math.asin(math.sin(p1) * math.cos(r) + math.cos(p1) * math.sin(r) * math.cos(b))
    l2 = l1 + math.atan2(math.sin(b) * math.sin(r) * math.cos(p1), math.cos(r) - math.sin(p1) * math.sin(p2))
    lon2 = (math.degrees(l2) + 540.0) % 360.0 - 180.0
    return round(math.degrees(p2), 4), round(lon2, 4)


def place_parts(event: Event) -> tuple[str, str]:
    """(locality, region) from a USGS-style place: "6km W of Cobb, California" -> ("Cobb", "California")."""
    place = event.place or re.sub(r"^M\s*[\d.?]+\s*-\s*", "", event.title)
    parts = [p.strip() for p in place.split(",") if p.strip()] or ["the region"]
    first = parts[0]
    locality = first.split(" of ", 1)[1].strip() if " of " in first else first
    region = parts[-1] if len(parts) > 1 else locality
    return locality, region


NEWS_TEMPLATES = (
    "Magnitude {m} quake strikes near {x}",
    "{m}-magnitude earthquake hits {r}",
    "Strong earthquake shakes {x}, {r}",
    "Earthquake of magnitude {m} jolts {x}",
    "Magnitude {m} aftershock hits {x}",
)


def synthesise(base: Event, spec: dict[str, Any]) -> Event:
    """The report a synthetic reference describes, built from its base corpus report."""
    variant, n = spec["synth"], spec["n"]
    origin = _origin(base) + timedelta(seconds=spec.get("dt_s", 0.0))
    lat, lon = destination(base.lat or 0.0, base.lon or 0.0, spec.get("dist_km", 0.0), spec.get("bearing", 0.0))
    mag = round((base.magnitude or 0.0) + spec.get("dmag", 0.0), 1) if spec.get("has_mag", True) else None
    locality, region = place_parts(base)
    if variant in ("network", "aftershock", "aftershock_similar", "other_day"):
        return Event(
            id=f"quakeml:smi:synthetic/{variant}/{n}",
            source="quakeml",
            kind=Kind.EARTHQUAKE,
            title=f"M {mag} - {region.upper()}",
            time=origin,
            lat=lat,
            lon=lon,
            magnitude=mag,
            depth_km=spec.get("depth_km"),
            place=region.upper(),
            feed="second-network",
        )
    if variant == "gdacs":
        return Event(
            id=f"gdacs:EQ{9000000 + n}",
            source="gdacs",
            kind=Kind.EARTHQUAKE,
            title=f"Green earthquake alert (Magnitude {mag}M, Depth:{spec.get('depth_km', 10):.0f}km) in {region} "
            f"{origin:%d/%m/%Y %H:%M} UTC",
            time=origin,
            lat=lat,
            lon=lon,
            magnitude=mag,
            severity=Severity.MINOR,
            place=region,
            feed="gdacs",
        )
    if variant in ("news", "news_later", "news_aftershock"):
        template = NEWS_TEMPLATES[spec["template"]]
        title = template.format(m=mag if mag is not None else "", x=locality, r=region)
        published = origin + timedelta(seconds=spec["delay_s"])
        geocoded = spec.get("geocoded", False)
        return Event(
            id=f"rss:synthetic-{variant}-{n}",
            source="rss",
            kind=Kind.EARTHQUAKE,
            title=title,
            text="",
            time=published,
            lat=lat if geocoded else None,
            lon=lon if geocoded else None,
            placed_by="geocoder" if geocoded else None,
            feed=f"wire-{spec['wire']}",
        )
    if variant == "atom":
        raw = base.id.split(":", 1)[1]
        published = origin + timedelta(seconds=spec["delay_s"])
        return Event(
            id=f"rss:synthetic-atom-{n}",
            source="rss",
            kind=Kind.NEWS,
            title=base.title,
            text=f"Time {_origin(base):%Y-%m-%d %H:%M:%S} UTC Location {base.lat} {base.lon}",
            time=published,
            lat=base.lat,
            lon=base.lon,
            feed="usgs-atom",
            extra={"guid": f"urn:earthquake-usgs-gov:{raw[:2]}:{raw[2:]}"},
        )
    raise ValueError(f"unknown synthetic variant {variant!r}")


# ---------------------------------------------------------------------------------------------
# Building the reference file


def _ref(key: tuple[str, str]) -> dict[str, str]:
    return {"file": key[0], "id": key[1]}


def build_pairs(corpus: Path) -> list[dict[str, Any]]:
    """Every labelled pair as plain references (deterministic)."""
    reports = corpus_reports(corpus)
    rng = random.Random(SEED)
    rows: list[dict[str, Any]] = []

    # corpus positives: the same USGS id in two files
    by_usgs: dict[tuple[str, str], tuple[str, str]] = {}
    for key, event in reports.items():
        for ident in _usgs_ids(event):
            by_usgs[(key[0], ident)] = key
    for (fa, ida), (fb, idb) in KNOWN_POSITIVES:
        if (fa, ida) in by_usgs and (fb, idb) in by_usgs:
            rows.append(
                {
                    "a": _ref(by_usgs[(fa, ida)]),
                    "b": _ref(by_usgs[(fb, idb)]),
                    "same": 1,
                    "origin": "corpus",
                    "variant": "corpus_same_usgs_id",
                }
            )

    # corpus hard negatives
    placed = sorted(
        ((k, e) for k, e in reports.items() if e.lat is not None and e.lon is not None),
        key=lambda p: (_origin(p[1]), p[0]),
    )
    near_in_time: list[tuple[float, tuple[str, str], tuple[str, str]]] = []
    other_day: list[tuple[tuple[str, str], tuple[str, str]]] = []
    for i, (ka, ea) in enumerate(placed):
        ta = _origin(ea)
        for kb, eb in placed[i + 1 :]:
            dt = (_origin(eb) - ta).total_seconds()
            if dt > 7200:
                break
            if _same_quake(ea, eb):
                continue
            d = haversine_km(ea.lat, ea.lon, eb.lat, eb.lon)  # type: ignore[arg-type]
            if dt < AMBIGUOUS_S and d < AMBIGUOUS_KM:
                continue  # inside the inter-network error envelope: not labelled (see the docstring)
            if d <= 150:
                near_in_time.append((dt / 600 + d / 50, ka, kb))
    near_in_time.sort()
    # the hardest 300 (closest in time and space), then 300 more drawn from the rest
    chosen = near_in_time[:300] + sorted(rng.sample(near_in_time[300:], min(300, max(0, len(near_in_time) - 300))))
    for _, ka, kb in chosen:
        rows.append({"a": _ref(ka), "b": _ref(kb), "same": 0, "origin": "corpus", "variant": "corpus_nearby_in_time"})
    cells: dict[tuple[int, int], list[tuple[tuple[str, str], Event]]] = {}
    for k, e in placed:
        cells.setdefault((math.floor(e.lat), math.floor(e.lon)), []).append((k, e))  # type: ignore[arg-type]
    for group in cells.values():
        for i, (ka, ea) in enumerate(group):
            for kb, eb in group[i + 1 :]:
                if (
                    ka[0] != kb[0]
                    and not _same_quake(ea, eb)
                    and abs((_origin(eb) - _origin(ea)).total_seconds()) > 86400
                ):
                    if haversine_km(ea.lat, ea.lon, eb.lat, eb.lon) <= 50:  # type: ignore[arg-type]
                        other_day.append((ka, kb))
    other_day.sort()
    for ka, kb in sorted(rng.sample(other_day, min(300, len(other_day)))):
        rows.append(
            {"a": _ref(ka), "b": _ref(kb), "same": 0, "origin": "corpus", "variant": "corpus_same_area_other_day"}
        )

    # synthetic pairs on real bases
    bases = sorted(
        k
        for k, e in reports.items()
        if e.source in ("usgs-geojson", "usgs-csv") and e.kind is Kind.EARTHQUAKE and (e.magnitude or 0) >= 2.5
    )
    big = [k for k in bases if (reports[k].magnitude or 0) >= NEWSWORTHY]
    small = [k for k in bases if (reports[k].magnitude or 0) < NEWSWORTHY]
    bases = sorted(rng.sample(big, min(250, len(big))) + rng.sample(small, min(150, len(small))))
    n = 0

    def spec(variant: str, base: tuple[str, str], **numbers: Any) -> dict[str, Any]:
        nonlocal n
        n += 1
        return {"synth": variant, "base": _ref(base), "n": n, **numbers}

    def unit(limit: float) -> float:
        return round(rng.uniform(-limit, limit), 2)

    for base in bases:
        near = {"dist_km": round(rng.uniform(0, 30), 2), "bearing": round(rng.uniform(0, 360), 1)}
        network = spec("network", base, dt_s=unit(30), dmag=unit(0.3), depth_km=round(rng.uniform(5, 40), 1), **near)
        # GDACS republishes the USGS/EMSC solution it read: seconds, a few km, the magnitude to 0.1
        gdacs = spec(
            "gdacs",
            base,
            dt_s=unit(5),
            dmag=unit(0.1),
            depth_km=10.0,
            dist_km=round(rng.uniform(0, 10), 2),
            bearing=round(rng.uniform(0, 360), 1),
        )
        template = rng.choice((0, 1, 2, 3))
        geocoded = rng.random() < 0.3
        news = spec(
            "news",
            base,
            delay_s=round(rng.uniform(300, 6 * 3600)),
            dmag=unit(0.2),
            has_mag=template != 2,
            template=template,
            geocoded=geocoded,
            wire=rng.randint(1, 5),
            dist_km=round(rng.uniform(0, 40), 2),
            bearing=round(rng.uniform(0, 360), 1),
        )
        atom = spec("atom", base, delay_s=round(rng.uniform(60, 1200)))
        newsworthy = (reports[base].magnitude or 0) >= NEWSWORTHY
        for variant, other in (("network", network), ("gdacs", gdacs), ("news", news), ("atom", atom)):
            if variant != "news" or newsworthy:
                rows.append({"a": _ref(base), "b": other, "same": 1, "origin": "synthetic", "variant": variant})
        if newsworthy:
            rows.append({"a": gdacs, "b": news, "same": 1, "origin": "synthetic", "variant": "gdacs_news"})
        rows.append({"a": network, "b": gdacs, "same": 1, "origin": "synthetic", "variant": "network_gdacs"})

        after = spec(
            "aftershock",
            base,
            dt_s=round(rng.uniform(120, 1800), 1),
            dmag=-round(rng.uniform(0.5, 2.0), 2),
            dist_km=round(rng.uniform(0, 20), 2),
            bearing=round(rng.uniform(0, 360), 1),
        )
        similar = spec(
            "aftershock_similar",
            base,
            dt_s=round(rng.uniform(180, 1800), 1),
            dmag=unit(0.3),
            dist_km=round(rng.uniform(0, 20), 2),
            bearing=round(rng.uniform(0, 360), 1),
        )
        later = spec(
            "other_day",
            base,
            dt_s=round(rng.uniform(86400, 30 * 86400)),
            dmag=unit(0.5),
            dist_km=round(rng.uniform(0, 50), 2),
            bearing=round(rng.uniform(0, 360), 1),
        )
        shock_delay = rng.uniform(600, 3 * 3600)
        news_after = spec(
            "news_aftershock",
            base,
            dt_s=round(shock_delay),
            delay_s=round(rng.uniform(300, 3600)),
            dmag=-round(rng.uniform(0.6, 2.0), 2),
            template=4,
            geocoded=rng.random() < 0.3,
            wire=rng.randint(1, 5),
            dist_km=round(rng.uniform(0, 20), 2),
            bearing=round(rng.uniform(0, 360), 1),
        )
        news_later = spec(
            "news_later",
            base,
            delay_s=round(rng.uniform(13 * 3600, 5 * 86400)),
            dmag=unit(0.3),
            template=rng.choice((0, 1, 3)),
            geocoded=rng.random() < 0.3,
            wire=rng.randint(1, 5),
            dist_km=round(rng.uniform(0, 30), 2),
            bearing=round(rng.uniform(0, 360), 1),
        )
        for variant, other in (
            ("aftershock", after),
            ("aftershock_similar", similar),
            ("other_day", later),
            ("news_aftershock", news_after),
            ("news_later", news_later),
        ):
            if newsworthy or not variant.startswith("news"):
                rows.append({"a": _ref(base), "b": other, "same": 0, "origin": "synthetic", "variant": variant})
        if newsworthy and spec_has_magnitude(news):
            # a report with no magnitude, place or origin time cannot be told from an aftershock by
            # anyone; only reports that state a magnitude make decidable negatives
            rows.append({"a": news, "b": after, "same": 0, "origin": "synthetic", "variant": "news_vs_aftershock"})
        rows.append(
            {"a": gdacs, "b": similar, "same": 0, "origin": "synthetic", "variant": "gdacs_vs_aftershock_similar"}
        )
    return rows


def spec_has_magnitude(spec: dict[str, Any]) -> bool:
    return bool(spec.get("has_mag", True)) and "{m}" in NEWS_TEMPLATES[spec.get("template", 0)]


def _usgs_ids(event: Event) -> set[str]:
    from feeds.fuse import identity_keys

    return {k.split(":", 1)[1] for k in identity_keys(event) if k.startswith("usgs:")}


def _same_quake(a: Event, b: Event) -> bool:
    """Two corpus reports of one quake (shared USGS id): never a negative."""
    return bool(_usgs_ids(a) & _usgs_ids(b))


# ---------------------------------------------------------------------------------------------
# Loading and scoring


def load_pairs(corpus: Path, path: Path = PAIRS_PATH) -> list[LabelledPair]:
    """The labelled pairs with their reports rebuilt from the corpus. KeyError when a referenced
    corpus report is missing (the corpus changed: rebuild the file)."""
    reports = corpus_reports(corpus)

    def event(ref: dict[str, Any]) -> Event:
        if "synth" in ref:
            base = reports[(ref["base"]["file"], ref["base"]["id"])]
            return synthesise(base, ref)
        return reports[(ref["file"], ref["id"])]

    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            pairs.append(
                LabelledPair(event(row["a"]), event(row["b"]), bool(row["same"]), row["origin"], row["variant"])
            )
    return pairs


def score(pairs: Iterable[LabelledPair], decide: Callable[[Event, Event], bool]) -> dict[str, Any]:
    """Confusion counts, precision and recall of ``decide`` over ``pairs``."""
    tp = fp = fn = tn = 0
    for pair in pairs:
        said = decide(pair.a, pair.b)
        if said and pair.same:
            tp += 1
        elif said:
            fp += 1
        elif pair.same:
            fn += 1
        else:
            tn += 1
    return {
        "pairs": tp + fp + fn + tn,
        "positives": tp + fn,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
    }


def write_pairs(corpus: Path, path: Path = PAIRS_PATH) -> int:
    rows = build_pairs(corpus)
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, sort_keys=True) + "\n")
    return len(rows)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(__file__).resolve().parents[2]
    corpus = Path(args[0]) if args else root.parent / "shared" / "corpus"
    if not corpus.is_dir():
        print(f"feed corpus not found at {corpus}; pass its path", file=sys.stderr)
        return 2
    count = write_pairs(corpus)
    print(f"wrote {count} labelled pairs to {PAIRS_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
