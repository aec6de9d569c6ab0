"""The documents the parse benchmarks read.

Real documents come from the feed corpus (``../shared/corpus`` from the project root, or
``$WATCHFLOOR_CORPUS``), read in place and never copied into the project. Each file's format is
found the way the worker finds it (:func:`feeds.sources.detect`), and files are grouped by format
and corpus folder (news RSS/Atom and GeoRSS are both ``rss`` but behave differently). ``hostile/``
is left out: refusing a billion-laughs document is a security property, not a throughput.

Without the corpus, documents of realistic size are synthesised in memory from the structure of
the real ones: a 200-item RSS 2.0 news feed with GeoRSS points, a 2,000-feature USGS GeoJSON
summary and a 10,000-row FIRMS MODIS CSV.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
SKIPPED_FOLDERS = {"hostile"}
NOT_DOCUMENTS = {"README.md", "SOURCES.tsv"}


@dataclass(frozen=True)
class Document:
    name: str  # path inside the corpus, or "synthetic:..."
    folder: str
    data: bytes


@dataclass
class Group:
    """Documents of one format from one corpus folder, measured together as one round."""

    format: str
    folder: str
    documents: list[Document] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.format}[{self.folder}]"

    @property
    def size(self) -> int:
        return sum(len(d.data) for d in self.documents)


def corpus_dir() -> tuple[Path | None, Path]:
    """The corpus folder when it exists, and the path that was looked at."""
    env = os.environ.get("WATCHFLOOR_CORPUS")
    path = Path(env) if env else ROOT.parent / "shared" / "corpus"
    return (path if path.is_dir() else None), path


def corpus_documents(corpus: Path) -> list[Document]:
    docs = []
    for path in sorted(corpus.rglob("*")):
        rel = path.relative_to(corpus)
        if not path.is_file() or rel.parts[0] in SKIPPED_FOLDERS or path.name in NOT_DOCUMENTS:
            continue
        if any(part.startswith(".") for part in rel.parts):
            continue
        folder = rel.parts[0] if len(rel.parts) > 1 else "."
        docs.append(Document(name=str(rel), folder=folder, data=path.read_bytes()))
    return docs


# --- synthesised documents, shaped like the corpus files -------------------------------------

_PLACES = [
    ("Lake Isabella, CA", 35.6, -118.2),
    ("Anchorage, Alaska", 61.2, -149.9),
    ("Hilo, Hawaii", 19.7, -155.1),
    ("Ridgecrest, CA", 35.7, -117.6),
    ("Tokyo, Japan", 35.7, 139.7),
    ("Santiago, Chile", -33.4, -70.6),
    ("Jakarta, Indonesia", -6.2, 106.8),
    ("Reykjavik, Iceland", 64.1, -21.9),
    ("Athens, Greece", 38.0, 23.7),
    ("Lima, Peru", -12.0, -77.0),
    ("Wellington, New Zealand", -41.3, 174.8),
    ("Manila, Philippines", 14.6, 121.0),
]
_HEADLINES = [
    "Bushfire threatens homes near {place}",
    "Flooding closes roads around {place}",
    "Magnitude {mag} earthquake felt in {place}",
    "Council meeting on budget in {place}",
    "Cyclone warning issued for coast near {place}",
    "Volcanic eruption: ash advisory for {place}",
    "Police investigate incident in {place}",
    "Heatwave: health alert for {place}",
]


def synth_rss(items: int = 200, seed: int = 1) -> bytes:
    """An RSS 2.0 news feed like the corpus's news/GeoRSS feeds: HTML descriptions, RFC 822 dates,
    guids, content:encoded for some items, GeoRSS points for about half."""
    rng = random.Random(seed)
    base = datetime(2026, 4, 25, 12, 0, tzinfo=UTC)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:georss="http://www.georss.org/georss" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/">\n'
        "<channel>\n<title>Regional News</title>\n<link>https://news.example.org/</link>\n"
        "<description>Synthesised benchmark feed</description>\n<language>en</language>\n"
        f"<lastBuildDate>{format_datetime(base)}</lastBuildDate>\n"
    ]
    for n in range(items):
        place, lat, lon = rng.choice(_PLACES)
        title = rng.choice(_HEADLINES).format(place=place, mag=f"{rng.uniform(3, 7):.1f}")
        when = base - timedelta(minutes=7 * n + rng.randint(0, 6))
        url = f"https://news.example.org/{when:%Y/%m/%d}/story-{100000 + n}"
        para = " ".join(
            rng.choice(
                [
                    "Officials",
                    "said",
                    "residents",
                    "should",
                    "monitor",
                    "conditions",
                    "and",
                    "follow",
                    "advice",
                    "from",
                    "emergency",
                    "services",
                    "tonight.",
                ]
            )
            for _ in range(40)
        )
        desc = f'<p>{para}</p><p><a href="{url}">Read more</a></p>'
        out.append(
            f"<item>\n<title>{escape(title)}</title>\n<link>{url}</link>\n"
            f'<guid isPermaLink="true">{url}</guid>\n<pubDate>{format_datetime(when)}</pubDate>\n'
            f"<dc:creator>Desk {n % 9}</dc:creator>\n<description>{escape(desc)}</description>\n"
        )
        if n % 3 == 0:
            out.append(f"<content:encoded><![CDATA[<img src='{url}.jpg' alt='photo'/>{desc}]]></content:encoded>\n")
        if n % 2 == 0:
            out.append(f"<georss:point>{lat + rng.uniform(-1, 1):.4f} {lon + rng.uniform(-1, 1):.4f}</georss:point>\n")
        out.append("</item>\n")
    out.append("</channel>\n</rss>\n")
    return "".join(out).encode("utf-8")


def synth_usgs_geojson(features: int = 2000, seed: int = 2) -> bytes:
    """A USGS summary FeatureCollection (API 1.10 shape) with ``features`` earthquakes."""
    rng = random.Random(seed)
    generated = 1745582400000
    feats = []
    for n in range(features):
        place, lat, lon = rng.choice(_PLACES)
        mag = round(rng.uniform(-0.5, 7.5), 2)
        net = rng.choice(["ak", "ci", "hv", "nc", "us", "uw", "nn"])
        code = f"{60000000 + n}"
        when = generated - rng.randint(0, 7 * 86400 * 1000)
        alert = rng.choice([None] * 20 + ["green", "yellow"])
        feats.append(
            {
                "type": "Feature",
                "properties": {
                    "mag": mag,
                    "place": f"{rng.randint(1, 90)} km NE of {place}",
                    "time": when,
                    "updated": when + rng.randint(0, 3600000),
                    "tz": None,
                    "url": f"https://earthquake.usgs.gov/earthquakes/eventpage/{net}{code}",
                    "detail": f"https://earthquake.usgs.gov/earthquakes/feed/v1.0/detail/{net}{code}.geojson",
                    "felt": rng.choice([None, None, rng.randint(1, 500)]),
                    "cdi": None,
                    "mmi": None,
                    "alert": alert,
                    "status": rng.choice(["automatic", "reviewed"]),
                    "tsunami": 0,
                    "sig": int(mag * 60) if mag > 0 else 0,
                    "net": net,
                    "code": code,
                    "ids": f",{net}{code},",
                    "sources": f",{net},",
                    "types": ",origin,phase-data,",
                    "nst": rng.randint(4, 80),
                    "dmin": round(rng.uniform(0, 2), 4),
                    "rms": round(rng.uniform(0, 1), 2),
                    "gap": rng.randint(20, 300),
                    "magType": rng.choice(["ml", "md", "mb", "mww"]),
                    "type": rng.choice(["earthquake"] * 30 + ["quarry blast", "explosion"]),
                    "title": f"M {mag:.1f} - {place}",
                },
                "geometry": {
                    "type": "Point",
                    "coordinates": [
                        round(lon + rng.uniform(-2, 2), 4),
                        round(lat + rng.uniform(-2, 2), 4),
                        round(rng.uniform(0, 600), 2),
                    ],
                },
                "id": f"{net}{code}",
            }
        )
    doc = {
        "type": "FeatureCollection",
        "metadata": {
            "generated": generated,
            "title": "USGS All Earthquakes, Past Week",
            "status": 200,
            "url": "https://earthquake.usgs.gov/earthquakes/feed/v1.0/summary/all_week.geojson",
            "api": "1.10.3",
            "count": features,
        },
        "features": feats,
        "bbox": [-180.0, -90.0, -5.0, 180.0, 90.0, 600.0],
    }
    return json.dumps(doc).encode("utf-8")


def synth_firms_csv(rows: int = 10000, seed: int = 3) -> bytes:
    """A FIRMS MODIS C6.1 24 h CSV with ``rows`` hotspots (the corpus files' columns)."""
    rng = random.Random(seed)
    lines = [
        "latitude,longitude,brightness,scan,track,acq_date,acq_time,satellite,confidence,version,"
        "bright_t31,frp,daynight"
    ]
    for _ in range(rows):
        _, lat, lon = rng.choice(_PLACES)
        hhmm = rng.choice(["228", "0410", "0555", "1542", "1720", "1905", "2046"])
        lines.append(
            f"{lat + rng.uniform(-3, 3):.5f},{lon + rng.uniform(-3, 3):.5f},{rng.uniform(300, 400):.2f},"
            f"{rng.uniform(1, 3):.2f},{rng.uniform(1, 1.6):.2f},2025-03-25,{hhmm},{rng.choice('TA')},"
            f"{rng.randint(0, 100)},6.1NRT,{rng.uniform(280, 300):.2f},{rng.uniform(1, 900):.2f},{rng.choice('DN')}"
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


def synthetic_documents() -> list[tuple[str, Document]]:
    """(format, document) pairs used when the corpus is absent."""
    return [
        ("rss", Document("synthetic:rss-200-items", "synthetic", synth_rss())),
        ("usgs-geojson", Document("synthetic:usgs-2000-features", "synthetic", synth_usgs_geojson())),
        ("firms-csv", Document("synthetic:firms-10000-rows", "synthetic", synth_firms_csv())),
    ]
