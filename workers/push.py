"""Push intake: a partner agency's document through the same pipeline as a polled one.

``POST /api/ingest`` (dashboard/ingest.py) resolves the token, checks the size and the rate, then
calls :func:`ingest_push` in the web process: parse (the adapters the workers use: GeoJSON, CAP 1.2,
CSV with named columns) -> refuse the whole document when any item cannot be a report -> attribute
every report to the agency (owner, sharing rule, provenance: pushed by, token id, source) -> stamp,
skip rows stored unchanged, place (workers.ingest.prepare, as a poll) -> append all in one
MULTI/EXEC (nothing partial) -> alert rules -> the source's health, like a feed's.

Pushed event ids are the adapter's id under the agency's name (``push:<CODE>:usgs:us7000abcd``; the
generic GeoJSON and CSV adapters name them by the feed, ``push:<CODE>:<source>:<the partner's id>``), so a
partner's copy of a public report never overwrites the public one: the fuser makes them one incident
with both sources in its provenance, each with its owner.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis

from domain.agencies import pushes
from domain.agencies.sharing import Rule, SharingError
from domain.agencies.sources import rule_for
from domain.agencies.store import AgencyStore
from domain.config.loader import Config
from domain.config.workspaces import workspaces_for
from domain.errors import Invalid
from domain.operations.rules import evaluate_rules
from domain.store.streams import EventKeys, EventStore, FeedHealth, load_health, save_health
from feeds.contract import DocumentRefused, FeedConfig, ParseResult, Source
from feeds.model import TLP_LABELS, Event
from feeds.sources import detect, get_source
from feeds.sources.records_csv import has_report_columns, parse_mapped, parse_mapping
from feeds.text import plain_text
from workers import places
from workers.ingest import is_live, parse_document, prepare

log = logging.getLogger(__name__)

# Content-Type (without parameters) -> the family of document it announces.
MEDIA_TYPES = {"application/geo+json": "json", "application/json": "json", "application/cap+xml": "xml",
               "application/xml": "xml", "text/xml": "xml", "text/csv": "csv"}
CSV_ADAPTERS = {"usgs-csv", "firms-csv", "gdelt"}
MAX_REASONS = 10


class PushRefused(Exception):
    """The push is refused as a whole; ``str()`` is one line naming the problem; nothing was stored."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(plain_text(reason, 300))  # may quote the partner's bytes: text only, one line
        self.status = status


@dataclass(frozen=True)
class Push:
    """One push as the route hands it over: who (agency code, token id), what and how to read it."""

    code: str
    token_id: str
    body: bytes
    content_type: str
    source: str = "default"
    mapping: str | None = None  # CSV: field:column,field:column
    tlp: str | None = None  # a TLP 2.0 label every report of this push carries
    interval: int | None = None  # seconds between the source's pushes, for its staleness


@dataclass
class PushOutcome:
    feed: str
    format: str
    accepted: int = 0  # new or revised reports stored
    new: int = 0
    updated: int = 0
    unchanged: int = 0  # reports stored before exactly as pushed: nothing changed
    refused: list[str] = field(default_factory=list)  # items taken but never shown live, with the reason
    unplaced: int = 0
    warnings: list[str] = field(default_factory=list)

    def answer(self) -> dict[str, Any]:
        return {"feed": self.feed, "format": self.format, "accepted": self.accepted, "new": self.new,
                "updated": self.updated, "unchanged": self.unchanged, "refused": len(self.refused),
                "refusals": self.refused[:MAX_REASONS], "unplaced": self.unplaced, "warnings": self.warnings[:MAX_REASONS]}


def media_family(content_type: str) -> str:
    """``json``, ``xml`` or ``csv`` for a Content-Type this intake reads; PushRefused (415) otherwise."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media not in MEDIA_TYPES:
        shown = plain_text(media, 60) or "none"
        raise PushRefused(415, f"Content-Type {shown!r} is not read here; send application/geo+json, "
                               "application/cap+xml or text/csv")
    return MEDIA_TYPES[media]


def read_document(push: Push, feed: FeedConfig, fetched_at: datetime) -> tuple[str, ParseResult]:
    """(format, parsed) with the adapter the Content-Type and the content agree on; PushRefused (400)."""
    family = media_family(push.content_type)
    if push.mapping and family != "csv":
        raise PushRefused(400, "map: a column mapping applies to text/csv pushes only")
    looks = _looks_like(push.body)
    try:
        if family == "json":
            if looks != "json":
                raise PushRefused(400, "the body is not JSON, but Content-Type says it is")
            source = _detected(push.body) or get_source("geojson")
        elif family == "xml":
            if looks == "json":  # UTF-16, a doubled BOM...: the adapters decode those as when polled
                raise PushRefused(400, "the body is JSON, but Content-Type says XML")
            source = detect(push.body)
        else:
            mapping = parse_mapping(push.mapping)
            if mapping or has_report_columns(push.body, mapping):
                return "csv", parse_mapped(push.body, feed, fetched_at, mapping)
            source = _detected(push.body)
            if source is None or source.name not in CSV_ADAPTERS:
                raise PushRefused(400, "CSV header names no time and title columns; name them (time, title, lat, "
                                       "lon...) or map yours with ?map=time:COLUMN,title:COLUMN")
        return source.name, parse_document(push.body, FeedConfig(**{**_as_dict(feed), "format": source.name}),
                                           fetched_at)
    except DocumentRefused as exc:
        raise PushRefused(400, str(exc)) from None


def _looks_like(body: bytes) -> str | None:
    """``json`` or ``xml`` by the first character after BOMs (a doubled one too) and white space."""
    head = body[:64].decode("utf-8", "replace").lstrip("\ufeff\u00ef\u00bb\u00bf \t\r\n")
    return "json" if head[:1] in ("{", "[") else "xml" if head[:1] == "<" else None


def _detected(body: bytes) -> Source | None:
    try:
        return detect(body)
    except DocumentRefused:
        return None


def _as_dict(feed: FeedConfig) -> dict[str, Any]:
    return {name: getattr(feed, name) for name in feed.__dataclass_fields__}


def attribute(client: redis.Redis, events: list[Event], push: Push, source: str) -> list[Event]:
    """Every report owned by the agency, under its own id, with its sharing rule and who pushed it;
    PushRefused naming the first item whose own sharing rule is not a rule."""
    rules: dict[str | None, Rule] = {}
    out = []
    for event in events:
        extra = dict(event.extra)
        item_rule = extra.pop("sharing", None)
        if item_rule not in rules:
            try:
                rules[item_rule] = rule_for(client, push.code, source, item_rule)
            except SharingError as exc:
                name = plain_text(event.provenance.get("raw_id") or event.id, 60)
                raise PushRefused(400, f"item {name}: {exc}; nothing stored") from None
        cap = extra.get("cap")
        if isinstance(cap, dict) and cap.get("references_ids"):
            extra["cap"] = {**cap, "references_ids": [f"push:{push.code}:{r}" for r in cap["references_ids"]]}
        provenance = {**event.provenance, "pushed_by": push.code, "push_token": push.token_id, "push_source": source}
        own = f"push:{push.code}:"  # the generic adapters already name ids by the feed, push:<CODE>:<source>:
        out.append(event.replace(id=event.id if event.id.startswith(own) else own + event.id, agency=push.code, sharing=str(rules[item_rule]),
                                 extra=extra, provenance=provenance))
    return out


def push_feed(push: Push, source: str) -> FeedConfig:
    if push.tlp is not None and push.tlp not in TLP_LABELS:
        raise PushRefused(400, f"tlp: {plain_text(push.tlp, 30)!r} is not one of {', '.join(TLP_LABELS)}")
    return FeedConfig(id=pushes.feed_id(push.code, source), url="push:", name=f"{push.code} · {source} (pushed)",
                      interval=push.interval or 60, tlp=push.tlp, teaches_places=False)


def ingest_push(client: redis.Redis, config: Config, push: Push) -> PushOutcome:
    """Store a partner's document, all of it or nothing; PushRefused (one line) when it cannot be."""
    if AgencyStore(client).get(push.code) is None:
        raise PushRefused(401, "the token's agency no longer exists")
    try:
        source = pushes.check_source(push.source)
    except Invalid as exc:
        raise PushRefused(400, str(exc)) from None
    feed = push_feed(push, source)
    fetched_at = datetime.now(UTC)
    fmt, parsed = read_document(push, feed, fetched_at)
    bad = [w for w in parsed.warnings if " skipped: " in w]
    total = len(parsed.events) + len(bad)
    if bad:
        raise PushRefused(400, f"{len(bad)} of {total} items cannot be reports, nothing stored; first: {bad[0]}")
    if not parsed.events:
        raise PushRefused(400, f"the {fmt} document holds no reports")
    events = attribute(client, parsed.events, push, source)
    refused = [f"{plain_text(e.provenance.get('raw_id') or e.id, 80)}: CAP status "
               f"{plain_text(e.extra.get('cap', {}).get('status'), 20)} is never shown live"
               for e in events if not is_live(e, feed)]
    warnings = list(parsed.warnings) + (["links to other documents were not followed: push the documents "
                                         "themselves"] if parsed.follow else [])
    places.refresh(client)
    store = EventStore(client)
    prepared = prepare(ParseResult(events=events, warnings=warnings), feed, fetched_at, unchanged=store.unchanged_rows)
    counts = store.append(prepared.events, feed_id=feed.id, rows=prepared.rows, atomic=True)
    outcome = PushOutcome(feed=feed.id, format=fmt, accepted=counts.new + counts.updated, new=counts.new,
                          updated=counts.updated, unchanged=counts.seen + len(prepared.unchanged), refused=refused,
                          unplaced=prepared.unplaced, warnings=prepared.warnings)
    _rules(client, config, prepared.events + [e for e in prepared.unchanged if e.placed])
    note_success(client, feed.id, outcome, items=prepared.items)
    return outcome


def _rules(client: redis.Redis, config: Config, events: list[Event]) -> None:
    if not events:
        return
    try:
        evaluate_rules(client, events, workspaces_for(config), config=config)
    except Exception:  # a rule must never fail a push: the reports are stored
        log.exception("alert rules failed on a push")


def note_success(client: redis.Redis, feed_id: str, outcome: PushOutcome, *, items: int) -> None:
    health = load_health(client, feed_id)
    now = time.time()
    health.status, health.reason = "ok", ""
    health.last_attempt = health.last_success = now
    health.failures, health.http_status = 0, 200
    health.items, health.new, health.updated, health.seen = items, outcome.new, outcome.updated, outcome.unchanged
    health.not_live, health.unplaced = len(outcome.refused), outcome.unplaced
    health.warnings = outcome.warnings[-10:]
    save_health(client, health)
    if outcome.accepted:  # /metrics: reports each feed added or revised, pushed ones as polled ones
        client.hincrby(EventKeys.METRICS_INGESTED, feed_id, outcome.accepted)


def note_refusal(client: redis.Redis, feed_id: str, status: int, reason: str) -> None:
    """A refused push marks its source failing with the reason, as a failed poll marks a feed."""
    health: FeedHealth = load_health(client, feed_id)
    now = time.time()
    health.status, health.reason = ("throttled" if status == 429 else "refused"), reason[:300]
    health.last_attempt = health.last_error_at = now
    health.http_status = status
    health.failures += 1
    save_health(client, health)
