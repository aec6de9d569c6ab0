"""The health report behind ``GET /api/health``, ``watchfloor health`` and the feed-health panel."""

from __future__ import annotations

import time
from datetime import UTC
from typing import Any

import redis

from domain.agencies.pushes import pushed_feed_status
from domain.config.loader import Config
from domain.picture.processes import process_status
from domain.store.connection import store_problem
from domain.store.streams import EventKeys, EventStore, load_health
from feeds.model import iso

STORAGE_WARN_SHARE = 0.8  # warn when Redis holds this share of its limit (noeviction: full stops ingest)
STORAGE_WARN_DAYS = 30.0  # ... or when, at the recent rate, it fills within this many days
_DAY_MS = 86_400_000


def _when(epoch: float) -> str | None:
    from datetime import datetime

    return iso(datetime.fromtimestamp(epoch, tz=UTC)) if epoch else None


def feed_status(config: Config, client: redis.Redis, now: float | None = None) -> dict[str, dict[str, Any]]:
    """Per configured feed, then per source a partner agency pushed (``pushed``: True): status word,
    one-line reason, times, counts and whether it is stale."""
    now = time.time() if now is None else now
    out: dict[str, dict[str, Any]] = {}
    for feed in config.feeds:
        health = load_health(client, feed.id)
        status = health.status
        if not feed.enabled:
            status = "disabled"
        elif status == "never":
            status = "pending"
        stale = feed.enabled and health.is_stale(feed.interval, feed.stale_after, now)
        out[feed.id] = {
            "name": feed.label,
            "status": status,
            "reason": health.reason or ("not polled yet" if status == "pending" else ""),
            "stale": stale,
            "exercise": feed.exercise,
            "interval": feed.interval,
            "last_attempt": _when(health.last_attempt),
            "last_success": _when(health.last_success),
            "last_error": _when(health.last_error_at),
            "http_status": health.http_status or None,
            "items": health.items,
            "new": health.new,
            "updated": health.updated,
            "already_seen": health.seen,
            "not_live": health.not_live,
            "unplaced": health.unplaced,
            "failures": health.failures,
            "next_attempt": _when(health.next_attempt),
            "warnings": health.warnings,
        }
    out.update(pushed_feed_status(client, now))  # partners' pushed sources, marked "pushed"
    return out


def _mb(n: float) -> float:
    return round(n / 1_048_576, 1)


def storage_status(client: redis.Redis) -> dict[str, Any]:
    """How full the data store is and how soon it fills: Redis memory against ``maxmemory`` (or the
    host's memory when none is set), and the report stream's growth. Reports are kept (README,
    "Retention"), and with ``noeviction`` a full Redis refuses new reports, so the floor is warned
    in advance: ``warning`` is a one-line reason, or None."""
    try:
        mem = client.info("memory")
    except redis.ResponseError:  # a managed Redis may refuse INFO: say nothing rather than fail the panel
        return {"used_mb": None, "limit_mb": None, "limit_of": None, "share": None, "reports_per_day": None,
                "days_left": None, "warning": None}
    used = float(mem.get("used_memory", 0))
    limit = float(mem.get("maxmemory") or 0)
    source = "maxmemory"
    if not limit:
        limit, source = float(mem.get("total_system_memory") or 0), "host memory"
    out: dict[str, Any] = {"used_mb": _mb(used), "limit_mb": _mb(limit) if limit else None, "limit_of": source,
                           "share": round(used / limit, 4) if limit else None, "reports_per_day": None,
                           "days_left": None, "warning": None}
    try:
        stream = client.xinfo_stream(EventKeys.EVENTS)
    except redis.ResponseError:  # no report stored yet
        stream = None
    if stream and stream.get("length") and stream.get("first-entry") and stream.get("last-entry"):
        first = int(str(_text(stream["first-entry"][0])).split("-")[0])
        last = int(str(_text(stream["last-entry"][0])).split("-")[0])
        span_ms = last - first
        if span_ms >= 3_600_000:  # an hour at least, or the rate means nothing
            per_day = stream["length"] * _DAY_MS / span_ms
            out["reports_per_day"] = round(per_day)
            if limit and used < limit:
                # What one more report costs: the stream entry and its rows in the current-report and
                # fingerprint hashes (MEMORY USAGE samples a few entries: cheap on any size).
                try:
                    held = sum(int(client.memory_usage(k) or 0) for k in (EventKeys.EVENTS, EventKeys.CURRENT, EventKeys.FINGERPRINTS))
                except redis.ResponseError:  # MEMORY refused: 1 KB a report, the README's planning figure
                    held = 1024 * stream["length"]
                per_report = max(held / stream["length"], 200.0)
                out["bytes_per_report"] = round(per_report)
                out["days_left"] = round((limit - used) / (per_day * per_report), 1)
    share, days = out["share"], out["days_left"]
    if share is not None and share >= STORAGE_WARN_SHARE:
        out["warning"] = (f"Data store {share:.0%} full ({out['used_mb']:,} of {out['limit_mb']:,} MB {source}); "
                          "new reports will be refused when it is full")
    elif days is not None and days < STORAGE_WARN_DAYS:
        out["warning"] = (f"Data store full in about {days:.0f} days at {out['reports_per_day']:,} reports a day "
                          f"({out['used_mb']:,} of {out['limit_mb']:,} MB {source})")
    return out


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def health_report(config: Config, client: redis.Redis | None) -> dict[str, Any]:
    """``redis`` reachable or not, ``events`` stored, ``feeds`` keyed by feed id, ``storage`` (how
    full the data store is: :func:`storage_status`), ``processes`` (are the fuser, the workers and the
    scheduler running: :func:`domain.picture.processes.process_status`)."""
    report: dict[str, Any] = {"redis": False, "events": 0, "feeds": {}, "time": _when(time.time())}
    if client is None:
        report["reason"] = store_problem(config) or "no Redis configured or running"
        report["feeds"] = {f.id: {"status": "unknown", "reason": "Redis unreachable"} for f in config.feeds}
        return report
    try:
        client.ping()
        report["events"] = EventStore(client).count()
        report["feeds"] = feed_status(config, client)
        report["storage"] = storage_status(client)
        report["processes"] = process_status(client)
        report["redis"] = True
    except (redis.RedisError, OSError) as exc:
        report["reason"] = store_problem(config) or f"Redis unreachable: {type(exc).__name__}"
        report["feeds"] = {f.id: {"status": "unknown", "reason": "Redis unreachable"} for f in config.feeds}
    return report
