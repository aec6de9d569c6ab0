"""The health report behind ``GET /api/health``, ``watchfloor health`` and the feed-health panel."""

from __future__ import annotations

import time
from datetime import UTC
from typing import Any

import redis

from feeds.model import iso
from watchfloor.config import Config
from workers.streams import EventStore, load_health


def _when(epoch: float) -> str | None:
    from datetime import datetime

    return iso(datetime.fromtimestamp(epoch, tz=UTC)) if epoch else None


def feed_status(config: Config, client: redis.Redis, now: float | None = None) -> dict[str, dict[str, Any]]:
    """Per configured feed: status word, one-line reason, times, counts and whether it is stale."""
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
    return out


def health_report(config: Config, client: redis.Redis | None) -> dict[str, Any]:
    """``redis`` reachable or not, ``events`` stored, ``feeds`` keyed by feed id."""
    report: dict[str, Any] = {"redis": False, "events": 0, "feeds": {}, "time": _when(time.time())}
    if client is None:
        report["reason"] = "no Redis configured or running"
        report["feeds"] = {f.id: {"status": "unknown", "reason": "Redis unreachable"} for f in config.feeds}
        return report
    try:
        client.ping()
        report["events"] = EventStore(client).count()
        report["feeds"] = feed_status(config, client)
        report["redis"] = True
    except (redis.RedisError, OSError) as exc:
        report["reason"] = f"Redis unreachable: {type(exc).__name__}"
        report["feeds"] = {f.id: {"status": "unknown", "reason": "Redis unreachable"} for f in config.feeds}
    return report
