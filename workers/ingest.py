"""The ingest pipeline shared by the RQ poll job and ``watchfloor ingest``/``parse``:
parse -> mark provenance -> keep only live events -> place -> append idempotently."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from feeds.contract import DocumentRefused, FeedConfig, ParseResult
from feeds.geocode import describe_event, place_event
from feeds.model import Event, iso, tlp_highest
from feeds.sources import detect, get_source

log = logging.getLogger(__name__)

# CAP statuses that must never be shown as live; Exercise is live only inside an exercise feed.
NOT_LIVE_STATUSES = {"test", "draft", "system"}


@dataclass
class Prepared:
    """Events ready to append, and what was held back and why."""

    events: list[Event] = field(default_factory=list)
    not_live: int = 0
    unplaced: int = 0
    warnings: list[str] = field(default_factory=list)
    follow: list[str] = field(default_factory=list)
    follow_format: str | None = None


def parse_document(data: bytes, feed: FeedConfig, fetched_at: datetime | None = None) -> ParseResult:
    """Parse with the feed's configured format, or detect it from the content."""
    fetched_at = fetched_at or datetime.now(UTC)
    source = detect(data) if feed.format in ("", "auto") else get_source(feed.format)
    try:
        return source.parse(data, feed, fetched_at)
    except DocumentRefused:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        # An adapter bug or an unforeseen shape must cost one document, never the worker.
        raise DocumentRefused(f"{source.name}: unreadable document ({type(exc).__name__}: {str(exc)[:120]})") from exc


def is_live(event: Event, feed: FeedConfig) -> bool:
    cap = event.extra.get("cap") if isinstance(event.extra, dict) else None
    status = str(cap.get("status", "")).lower() if isinstance(cap, dict) else ""
    if status in NOT_LIVE_STATUSES:
        return False
    if status == "exercise" and not feed.exercise:
        return False
    return True


def prepare(result: ParseResult, feed: FeedConfig, fetched_at: datetime, *, place: bool = True) -> Prepared:
    """Stamp feed and provenance, drop what must not be shown live, place what has no position."""

    out = Prepared(warnings=list(result.warnings), follow=list(result.follow), follow_format=result.follow_format)
    for event in result.events:
        if not is_live(event, feed):
            out.not_live += 1
            continue
        provenance = dict(event.provenance)
        provenance.setdefault("feed", feed.id)
        provenance.setdefault("fetched_at", iso(fetched_at))
        event = event.replace(feed=feed.id, exercise=event.exercise or feed.exercise, provenance=provenance,
                              tlp=tlp_highest(event.tlp, feed.tlp) if (event.tlp or feed.tlp) else None)
        if place and not event.placed:
            try:
                event = place_event(event, country_hint=feed.country)
            except Exception as exc:  # placement is best effort; the report itself must not be lost
                out.warnings.append(f"{event.id}: placement failed ({type(exc).__name__})")
        if place and event.placed and not event.place:
            try:
                event = describe_event(event)  # "12 km SW of Ridgecrest, California" for coordinate-only reports
            except Exception as exc:  # a label is a convenience; never lose the report for it
                out.warnings.append(f"{event.id}: reverse geocoding failed ({type(exc).__name__})")
        if not event.placed:
            out.unplaced += 1
        out.events.append(event)
    return out
