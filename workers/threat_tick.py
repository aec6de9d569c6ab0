"""The threat levels assessed by the back end on its own, so every change of level is logged with
its cause (domain/picture/threat.py ``record_changes``) even when no screen is open: a replay and a
briefing can then say why the level moved at 03:00 with the floor empty.

The cron process enqueues :func:`record_threat_levels` every :data:`INTERVAL` seconds; a worker
runs it. Safe with two cron processes or a double enqueue: ``record_changes`` logs a change once
(WATCH on the last levels), so a second run at the same time logs nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import redis

from domain.config.loader import Config
from domain.config.workspaces import workspaces_for
from domain.picture import threat
from domain.store.connection import client_for
from workers.jobs import _config

__all__ = ["INTERVAL", "record_threat_levels"]

INTERVAL = 30  # seconds: a change of level is logged at most this late with no screen open


def record_threat_levels(config: Config | None = None, client: redis.Redis | None = None) -> dict[str, int]:
    """Assess every level now (every marking, the whole picture and each workspace) and log what
    changed since the last logged level; returns how many changes were logged."""
    config = config or _config()
    client = client or client_for(config)
    now = datetime.now(UTC)
    found = threat.evaluate(client, workspaces_for(config), now)
    return {"logged": threat.record_changes(client, found, now)}
