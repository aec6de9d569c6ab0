"""The ingest pipeline shared by the RQ poll job and ``watchfloor ingest``/``parse``:
parse -> mark provenance -> keep only live events -> skip rows stored unchanged -> place (in bulk)
-> append idempotently.

A re-poll of an unchanged document costs its parse and one look-up per row: rows this feed stored
unchanged (same fingerprint as parsed, within a day: ``EventStore.unchanged_rows``) are neither
placed nor appended again. Coordinate-only rows (fires, quakes) are named in bulk
(``describe_events``: one matrix product per 1-degree cell, one tree query per basemap layer)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from feeds.contract import DocumentRefused, FeedConfig, ParseResult
from feeds.geocode import describe_events, place_event
from feeds.model import Event, iso, tlp_highest
from feeds.sources import detect, get_source

log = logging.getLogger(__name__)

# CAP statuses that must never be shown as live; Exercise is live only inside an exercise feed.
NOT_LIVE_STATUSES = {"test", "draft", "system"}


@dataclass
class Prepared:
    """Events ready to append, and what was held back and why.

    ``rows`` holds, per event, its fingerprint as parsed (before placing), for the append to remember;
    ``unchanged`` the reports skipped because this feed stored them unchanged (not placed again: a
    coordinate-only one still has its position, one placed from its words has none here)."""

    events: list[Event] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)
    unchanged: list[Event] = field(default_factory=list)
    not_live: int = 0
    unplaced: int = 0
    warnings: list[str] = field(default_factory=list)
    follow: list[str] = field(default_factory=list)
    follow_format: str | None = None

    @property
    def items(self) -> int:
        """Live reports in the document, placed or skipped as unchanged."""
        return len(self.events) + len(self.unchanged)


# (feed id, [(event id, row fingerprint)]) -> for each, None unless stored unchanged, else whether it was
# stored placed (EventStore.unchanged_rows)
UnchangedRows = Callable[[str, list[tuple[str, str]]], list[bool | None]]


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


def stamp(event: Event, feed: FeedConfig, fetched_at: datetime | str) -> Event:
    """The report as this feed delivered it: feed, exercise flag, provenance, TLP marking, and for a feed
    an agency owns its ``agency`` and ``sharing`` (resolved by the poll: domain.agencies.sources.rule_for)
    (``fetched_at`` may come as its ISO text already, as :func:`prepare` passes it for every row)."""
    provenance = dict(event.provenance)
    provenance.setdefault("feed", feed.id)
    provenance.setdefault("fetched_at", fetched_at if isinstance(fetched_at, str) else iso(fetched_at))
    owned = {"agency": feed.agency, "sharing": feed.sharing or "all"} if feed.agency else {}
    return event.replace(feed=feed.id, exercise=event.exercise or feed.exercise, provenance=provenance,
                         tlp=tlp_highest(event.tlp, feed.tlp) if (event.tlp or feed.tlp) else None, **owned)


def prepare(result: ParseResult, feed: FeedConfig, fetched_at: datetime, *, place: bool = True,
            unchanged: UnchangedRows | None = None) -> Prepared:
    """Stamp feed and provenance, drop what must not be shown live, skip the rows ``unchanged``
    says are stored as they are (when given), place what has no position and name what has only one."""

    out = Prepared(warnings=list(result.warnings), follow=list(result.follow), follow_format=result.follow_format)
    live: list[Event] = []
    fetched = iso(fetched_at) or ""
    for event in result.events:
        if not is_live(event, feed):
            out.not_live += 1
            continue
        live.append(stamp(event, feed, fetched))
    rows = [e.fingerprint() for e in live] if unchanged is not None else []
    if unchanged is not None and live:
        stored = unchanged(feed.id, [(e.id, fp) for e, fp in zip(live, rows, strict=True)])
        out.unchanged = [e for e, s in zip(live, stored, strict=True) if s is not None]
        out.unplaced = sum(1 for s in stored if s is False)
        rows = [fp for fp, s in zip(rows, stored, strict=True) if s is None]
        live = [e for e, s in zip(live, stored, strict=True) if s is None]
    if place:
        live = _place_all(live, feed, out.warnings)
    out.events, out.rows = live, rows
    out.unplaced += sum(1 for e in live if not e.placed)
    return out


def _place_all(events: list[Event], feed: FeedConfig, warnings: list[str]) -> list[Event]:
    """Place what has no position (one by one: its words), then name every coordinate-only report
    ("12 km SW of Ridgecrest, California") in one bulk pass."""
    placed: list[Event] = []
    for event in events:
        if not event.placed:
            try:
                event = place_event(event, country_hint=feed.country)
            except Exception as exc:  # placement is best effort; the report itself must not be lost
                warnings.append(f"{event.id}: placement failed ({type(exc).__name__})")
        placed.append(event)
    try:
        return describe_events(placed)
    except Exception as exc:  # a label is a convenience; never lose the reports for it
        warnings.append(f"reverse geocoding failed ({type(exc).__name__})")
        return placed
