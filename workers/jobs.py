"""RQ jobs. Delivery is at-least-once (a killed worker's job runs again), so every job is
idempotent: ingest compares fingerprints, and the poll lock allows one poll per feed per interval."""

from __future__ import annotations

import logging
import time
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import redis
from rq import get_current_job

from domain.access.tlp import parse as parse_tlp
from domain.agencies.sources import rule_for
from domain.agencies.store import AgencyStore
from domain.config.loader import Config, load_config
from domain.config.workspaces import workspaces_for
from domain.operations.criminal_intel import scheduled_purge
from domain.operations.rules import evaluate_rules
from domain.picture import threat
from domain.picture.health import feed_status
from domain.products import briefing
from domain.reports.vetting import purge as purge_report_records
from domain.store.connection import client_for
from domain.store.streams import EventKeys, EventStore, FeedHealth, FeedKeys, load_health, save_health
from feeds.contract import FeedConfig, FeedError
from feeds.fetch import FetchError, FetchLimits, fetch
from feeds.geocode.placement import use_street_folders
from feeds.model import Event
from workers import places
from workers.ingest import Prepared, parse_document, prepare

log = logging.getLogger(__name__)

MAX_FOLLOW = 50  # documents one index may make us fetch in one poll
MAX_BACKOFF = 1800.0
FOLLOW_BUDGET = 2.0  # linked documents of one poll share this many fetch deadlines  # seconds: a failing feed is still retried at least every 30 minutes


@lru_cache(maxsize=1)
def _config() -> Config:
    # Read once per worker process: the configuration does not change while a worker runs.
    config = load_config()
    use_street_folders([Path(config.data_dir) / "basemaps"])  # imported street basemaps refine places
    return config


def purge_intel(config: Config | None = None, client: redis.Redis | None = None) -> dict[str, object]:
    """Daily (from the cron process): the 28 CFR Part 23 purge, preview first (see
    domain.operations.criminal_intel.scheduled_purge)."""

    config = config or _config()
    client = client or client_for(config)
    return scheduled_purge(client, notice_days=int(config.intel_purge_notice_days))


def purge_reports(config: Config | None = None, client: redis.Redis | None = None) -> dict[str, object]:
    """Daily (from the cron process): suspicious-activity reports and tips past their keeping
    (domain.reports.vetting.purge: not shared within ``sar_retention_days``, or shared and past review)."""

    config = config or _config()
    client = client or client_for(config)
    rows = purge_report_records(client, float(config.sar_retention_days), dry_run=False)
    return {"purged": [r["id"] for r in rows]}


def daily_brief(config: Config | None = None, client: redis.Redis | None = None) -> dict[str, object]:
    """Daily (from the cron process, at ``daily_brief_at``): the whole picture's last 24 hours as a
    PDF in ``<data_dir>/briefs/``, at ``daily_brief_tlp``, logged in the dissemination log."""

    config = config or _config()
    client = client or client_for(config)
    now = datetime.now(UTC)
    brief = briefing.gather(client, ceiling=parse_tlp(str(config.daily_brief_tlp)), by="scheduler",
                            workspaces=workspaces_for(config), workspace=None, since=now - timedelta(hours=24),
                            until=now, feeds=feed_status(config, client))
    folder = config.data_path / "briefs"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"brief-{now:%Y-%m-%dT%H%MZ}.pdf"
    path.write_bytes(briefing.produce(client, brief, "pdf", recipient="the floor (daily brief)",
                                      channel=f"file {path}", source="cron"))
    return {"path": str(path), "marking": brief.marking.value, "incidents": len(brief.incidents)}


THREAT_INTERVAL = 30  # seconds: with no screen open, a change of threat level is logged at most this late


def record_threat_levels(config: Config | None = None, client: redis.Redis | None = None) -> dict[str, int]:
    """Every THREAT_INTERVAL (from the cron process): assess every threat level now (every marking,
    the whole picture and each workspace) and log what changed with its cause, so a replay and a
    briefing can say why the level moved even when no screen was open (screens log changes too, from
    threat_summary). Safe run twice at once: record_changes logs a change once (WATCH)."""
    config = config or _config()
    client = client or client_for(config)
    now = datetime.now(UTC)
    spaces = workspaces_for(config)
    logged = 0
    # The host center's levels, then each agency's (its members count their agency's own items).
    for agency in [None, *(a.code for a in AgencyStore(client).list())]:
        found = threat.evaluate(client, spaces, now, agency)
        logged += threat.record_changes(client, found, now)
    return {"logged": logged}


def backoff_seconds(interval: int, failures: int) -> float:
    """Exponential back-off after consecutive failures, capped at MAX_BACKOFF (never below interval)."""
    if failures <= 0:
        return 0.0
    return min(max(float(interval), MAX_BACKOFF), interval * 2.0 ** (failures - 1))


def acquire_poll(client: redis.Redis, feed: FeedConfig, token: str) -> bool:
    """One poll per feed per interval, whoever enqueued it; a retry of the same job may proceed."""
    key = FeedKeys.poll_lock(feed.id)
    ttl = max(1, feed.interval - 1)
    if client.set(key, token, nx=True, ex=ttl):
        return True
    holder = client.get(key)
    return holder is not None and holder.decode() == token


def poll_feed(feed_id: str, config: Config | None = None, client: redis.Redis | None = None) -> dict[str, object]:
    """Fetch, parse, place and append one feed; record its health. Never raises for a bad feed."""
    config = config or _config()
    client = client or client_for(config)
    feed = config.feed(feed_id)
    job = get_current_job()
    token = job.id if job is not None else f"direct:{time.time()}"
    if not acquire_poll(client, feed, token):
        return {"feed": feed_id, "skipped": "already polled this interval"}

    health = load_health(client, feed_id)
    now = time.time()
    if health.next_attempt and now < health.next_attempt:
        return {"feed": feed_id, "skipped": f"backing off until {health.next_attempt:.0f}"}
    health.last_attempt = now
    try:
        outcome = _poll(client, config, feed, health)
    except FeedError as exc:
        _record_failure(health, feed, exc, now)
        save_health(client, health)
        log.warning("feed %s failed: %s", feed_id, exc, extra={"feed": feed_id, "word": health.status})
        return {"feed": feed_id, "status": health.status, "reason": health.reason}
    save_health(client, health)
    return outcome


def _record_failure(health: FeedHealth, feed: FeedConfig, exc: FeedError, now: float) -> None:
    health.status = getattr(exc, "word", None) or "refused"
    health.reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
    health.http_status = int(getattr(exc, "status", 0) or 0)
    health.last_error_at = now
    health.failures += 1
    # A server that says when to come back (Retry-After on 429/503) is not asked sooner.
    wait = max(backoff_seconds(feed.interval, health.failures), float(getattr(exc, "retry_after", None) or 0))
    health.next_attempt = now + wait


def fetch_options(config: Config, limits: FetchLimits) -> dict[str, Any]:
    """How every feed request goes out: our User-Agent, and the environment's proxy (HTTPS_PROXY,
    HTTP_PROXY, NO_PROXY) except for exercise feeds Watchfloor serves itself on loopback."""
    proxies = None if limits.allow_local else urllib.request.getproxies_environment()
    return {"user_agent": str(config.user_agent), "proxies": proxies}


def _poll(client: redis.Redis, config: Config, feed: FeedConfig, health: FeedHealth) -> dict[str, object]:
    url, allow_local = config.resolve_url(feed)
    limits = FetchLimits(
        deadline=float(config.fetch_timeout), max_bytes=int(config.fetch_max_bytes), allow_local=allow_local
    )
    result = fetch(url, limits=limits, etag=health.etag or None, last_modified=health.last_modified or None,
                   **fetch_options(config, limits))
    fetched_at = datetime.now(UTC)
    health.http_status = result.status
    if result.not_modified:
        _record_success(health, new=0, updated=0, seen=health.items, items=health.items)
        return {"feed": feed.id, "status": "ok", "not_modified": True}

    if feed.agency and not feed.sharing:  # the rule is resolved once per poll and carried by every report
        feed = replace(feed, sharing=str(rule_for(client, feed.agency, feed.id)))
    parsed = parse_document(result.body, feed, fetched_at)
    places.refresh(client)
    store = EventStore(client)
    prepared = prepare(parsed, feed, fetched_at, unchanged=store.unchanged_rows)
    counts = store.append(prepared.events, feed_id=feed.id, rows=prepared.rows)
    counts.seen += len(prepared.unchanged)
    _learn_places(client, feed, [e for e in prepared.events if e.id in counts.changed])
    _evaluate_rules(client, config, _positioned(prepared))
    warnings = list(prepared.warnings)
    follow_counts = _follow(client, store, config, feed, prepared.follow, prepared.follow_format, limits, warnings)
    health.etag = result.etag or ""
    health.last_modified = result.last_modified or ""
    _record_success(
        health,
        new=counts.new + follow_counts[0],
        updated=counts.updated + follow_counts[1],
        seen=counts.seen + follow_counts[2],
        items=prepared.items + follow_counts[3],
    )
    health.not_live = prepared.not_live
    health.unplaced = prepared.unplaced
    health.warnings = warnings[-10:]
    if health.new or health.updated:  # a counter for /metrics: reports this feed added or revised, ever
        client.hincrby(EventKeys.METRICS_INGESTED, feed.id, health.new + health.updated)
    return {"feed": feed.id, "status": "ok", "new": health.new, "updated": health.updated, "seen": health.seen}


def _learn_places(client: redis.Redis, feed: FeedConfig, events: list) -> None:
    """What the new and revised reports tell of places the gazetteer lacks (workers/places.py),
    unless the feed is configured ``teaches_places = false``; a re-poll's unchanged reports cost
    nothing here."""
    if not feed.teaches_places:
        return
    try:
        places.observe(client, events)
    except Exception as exc:  # learning is a by-product: the reports are already stored
        log.warning("learning places failed: %s", type(exc).__name__)


def _positioned(prepared: Prepared) -> list[Event]:
    """What alert rules look at: the reports placed now, and those skipped as stored unchanged that
    carry their own position (as before the skip: rules raise once per incident and workspace)."""
    return prepared.events + [e for e in prepared.unchanged if e.placed]


def _evaluate_rules(client: redis.Redis, config: Config, events: list) -> None:
    """Alert rules on what was just ingested; repeated events are harmless (once per incident)."""
    if not events:
        return

    try:
        evaluate_rules(client, events, workspaces_for(config), config=config)
    except Exception:  # a rule must never fail a poll
        log.exception("alert rules failed")


def _record_success(health: FeedHealth, *, new: int, updated: int, seen: int, items: int) -> None:
    health.status = "ok"
    health.reason = ""
    health.last_success = time.time()
    health.failures = 0
    health.next_attempt = 0.0
    health.new, health.updated, health.seen, health.items = new, updated, seen, items


def _follow(
    client: redis.Redis,
    store: EventStore,
    config: Config,
    feed: FeedConfig,
    urls: list[str],
    fmt: str | None,
    limits: FetchLimits,
    warnings: list[str],
) -> tuple[int, int, int, int]:
    """Read the documents an index points to, each once; one bad document costs only itself."""
    new = updated = seen = items = 0
    key = FeedKeys.followed(feed.id)
    pending = [u for u in dict.fromkeys(urls) if not client.hexists(key, u)][:MAX_FOLLOW]
    follow_feed = FeedConfig(**{**_as_dict(feed), "format": fmt or "auto"})
    # The whole poll must end well inside the RQ job timeout; what is left waits for the next poll.
    budget_end = time.monotonic() + limits.deadline * FOLLOW_BUDGET
    for done, url in enumerate(pending):
        remaining = budget_end - time.monotonic()
        if remaining < 1.0:
            warnings.append(f"{len(pending) - done} linked document(s) left for the next poll (time budget)")
            break
        try:
            doc = fetch(url, limits=replace(limits, deadline=min(limits.deadline, remaining)),
                        **fetch_options(config, limits))
            fetched_at = datetime.now(UTC)
            prepared = prepare(parse_document(doc.body, follow_feed, fetched_at), feed, fetched_at,
                               unchanged=store.unchanged_rows)
        except FeedError as exc:
            warnings.append(f"{url[:120]}: {exc}")
            continue
        counts = store.append(prepared.events, feed_id=feed.id, rows=prepared.rows)
        _learn_places(client, feed, [e for e in prepared.events if e.id in counts.changed])
        new, updated, seen = new + counts.new, updated + counts.updated, seen + counts.seen + len(prepared.unchanged)
        items += prepared.items
        warnings.extend(prepared.warnings)
        client.hset(key, url, f"{time.time():.0f}")
    return new, updated, seen, items


def _as_dict(feed: FeedConfig) -> dict[str, object]:
    return {name: getattr(feed, name) for name in feed.__dataclass_fields__}


__all__ = ["poll_feed", "backoff_seconds", "acquire_poll", "FetchError"]
