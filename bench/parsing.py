"""Parse+normalise throughput per format (events/s on one core) against a raw baseline.

One round parses every document of a group once with the registered adapter (the worker's path:
bytes in, :class:`~feeds.model.Event` objects out). The baseline does the least any parser of that
format must do with the same bytes: ``feedparser.parse(io.BytesIO(data))`` for RSS/Atom,
``json.loads`` for JSON, ``csv.reader`` over the decoded text for CSV, and
``xml.etree.ElementTree.fromstring`` for other XML. Both rates are expressed in our events per
second (baseline rate = our events per round / baseline seconds per round), so the ratio is
simply baseline time / our time.
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import feedparser

from bench.documents import Document, Group, corpus_documents, synthetic_documents
from bench.timing import Candidate, compare
from feeds.contract import FeedConfig, FeedError
from feeds.model import Event
from feeds.sources import detect, get_source

FEED = FeedConfig(id="bench", url="https://bench.example.org/feed")


@dataclass(frozen=True)
class Target:
    """``kind`` "ratio": ours/baseline >= value; "rate": our events/s >= value."""

    kind: str
    value: float

    def describe(self) -> str:
        if self.kind == "ratio":
            return f">= {self.value:.2f} x baseline"
        return f">= {self.value:,.0f} ev/s"

    def met(self, rate: float, ratio: float) -> bool:
        return (ratio if self.kind == "ratio" else rate) >= self.value


TARGETS = {
    "rss": Target("ratio", 0.50),
    "usgs-geojson": Target("rate", 20_000),
    "firms-csv": Target("rate", 20_000),
}


@dataclass
class ParseRow:
    group: Group
    events: int
    baseline: str
    ours: float = 0.0  # seconds per round
    raw: float = 0.0
    spread: float = 0.0
    baseline_spread: float = 0.0
    calls: int = 0

    @property
    def rate(self) -> float:
        return self.events / self.ours if self.ours else 0.0

    @property
    def baseline_rate(self) -> float:
        return self.events / self.raw if self.raw else 0.0

    @property
    def ratio(self) -> float:
        return self.raw / self.ours if self.ours else 0.0

    @property
    def target(self) -> Target | None:
        return TARGETS.get(self.group.format)

    def to_json(self) -> dict[str, object]:
        target = self.target
        return {
            "group": self.group.key,
            "format": self.group.format,
            "folder": self.group.folder,
            "documents": [d.name for d in self.group.documents],
            "bytes": self.group.size,
            "events_per_round": self.events,
            "seconds_per_round": self.ours,
            "events_per_s": self.rate,
            "baseline": self.baseline,
            "baseline_seconds_per_round": self.raw,
            "baseline_events_per_s": self.baseline_rate,
            "ratio": self.ratio,
            "spread": self.spread,
            "baseline_spread": self.baseline_spread,
            "target": None
            if target is None
            else {"kind": target.kind, "value": target.value, "met": target.met(self.rate, self.ratio)},
        }


# --- baselines --------------------------------------------------------------------------------


def feedparser_baseline(docs: list[bytes]) -> None:
    for data in docs:
        feedparser.parse(io.BytesIO(data))


def json_baseline(docs: list[bytes]) -> None:
    for data in docs:
        json.loads(data)


def csv_baseline(docs: list[bytes]) -> None:
    for data in docs:
        text = data.decode("utf-8-sig", "replace")
        delimiter = "\t" if "\t" in text[:4096].split("\n", 1)[0] else ","
        for _row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            pass


def xml_baseline(docs: list[bytes]) -> None:
    for data in docs:
        ET.fromstring(data)


def baseline_for(fmt: str, sample: bytes) -> tuple[str, Callable[[list[bytes]], None]]:
    if fmt == "rss":
        return "feedparser.parse", feedparser_baseline
    head = sample.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head in (b"{", b"["):
        return "json.loads", json_baseline
    if head == b"<":
        return "ET.fromstring", xml_baseline
    return "csv.reader", csv_baseline


# --- groups -----------------------------------------------------------------------------------


@dataclass
class Selection:
    groups: list[Group]
    events: dict[str, list[Event]]  # group key -> events of one round (for the ingest benchmark)
    skipped: list[tuple[str, str]]  # (document, reason)
    synthetic: bool


def _usable(source_name: str, doc: Document, fetched_at: datetime) -> tuple[list[Event] | None, str]:
    try:
        result = get_source(source_name).parse(doc.data, FEED, fetched_at)
    except (FeedError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        return None, f"{type(exc).__name__}: {str(exc)[:80]}"
    if not result.events:
        return None, "no events"
    return result.events, ""


def select_documents(corpus: object, *, max_docs: int | None, fetched_at: datetime) -> Selection:
    """Group documents by (format, folder); keep those the adapter turns into at least one event."""
    pairs: list[tuple[str, Document]] = []
    skipped: list[tuple[str, str]] = []
    synthetic = corpus is None
    if synthetic:
        pairs = synthetic_documents()
    else:
        for doc in corpus_documents(corpus):  # type: ignore[arg-type]
            try:
                pairs.append((detect(doc.data).name, doc))
            except FeedError as exc:
                skipped.append((doc.name, f"not detected: {str(exc)[:80]}"))
    groups: dict[tuple[str, str], Group] = {}
    events: dict[str, list[Event]] = {}
    for fmt, doc in pairs:
        group = groups.setdefault((fmt, doc.folder), Group(fmt, doc.folder))
        if max_docs is not None and len(group.documents) >= max_docs:
            continue
        parsed, reason = _usable(fmt, doc, fetched_at)
        if parsed is None:
            skipped.append((doc.name, reason))
            continue
        group.documents.append(doc)
        events.setdefault(group.key, []).extend(parsed)
    kept = [g for g in groups.values() if g.documents]
    kept.sort(key=lambda g: (g.format not in TARGETS, g.format, g.folder))
    return Selection(groups=kept, events=events, skipped=skipped, synthetic=synthetic)


def measure_group(
    group: Group, events: int, *, min_time: float, runs: int, fetched_at: datetime | None = None
) -> ParseRow:
    source = get_source(group.format)
    datas = [d.data for d in group.documents]
    fetched = fetched_at or datetime.now(UTC)
    name, baseline = baseline_for(group.format, datas[0])

    def ours() -> None:
        for data in datas:
            source.parse(data, FEED, fetched)

    def raw() -> None:
        baseline(datas)

    ours()  # warm-up: imports, compiled patterns, caches
    raw()
    timings = compare([Candidate("ours", ours), Candidate("raw", raw)], min_time=min_time, runs=runs)
    return ParseRow(
        group=group,
        events=events,
        baseline=name,
        ours=timings["ours"].per_call,
        raw=timings["raw"].per_call,
        spread=timings["ours"].spread,
        baseline_spread=timings["raw"].spread,
        calls=timings["ours"].calls,
    )
