"""The RQ 3 cron scheduler and the RQ worker, as Watchfloor runs them.

The cron process only enqueues ``poll_feed`` for each enabled feed on its own interval, and the
daily 28 CFR Part 23 purge (``purge_intel``), the threat levels every half minute (``record_threat_levels``) and the reports' retention purge (``purge_reports``); workers execute. Running two cron processes is safe: the poll lock in :func:`workers.jobs.acquire_poll`
lets one poll per feed per interval through.
"""

from __future__ import annotations

import logging
import time

import redis
from rq.cron import CronScheduler

from domain.config.loader import Config, ConfigError
from domain.operations.keys import OutboundKeys
from domain.store.connection import job_queue, job_worker, json_cron
from feeds.geocode import gazetteer, small_places
from layers import boundaries, regions
from layers.basemap import BasemapMissing
from workers.jobs import (
    THREAT_INTERVAL,
    _config,
    daily_brief,
    poll_feed,
    purge_intel,
    purge_reports,
    record_threat_levels,
)

log = logging.getLogger(__name__)

QUEUE = "watchfloor-feeds"
INTEL_PURGE_CRON = "17 3 * * *"  # daily, 03:17 UTC
REPORT_PURGE_CRON = "27 3 * * *"  # daily, 03:27 UTC


def job_timeout(config: Config) -> int:
    """A poll fetches an index and up to MAX_FOLLOW documents, each under the fetch deadline."""
    return int(config.fetch_timeout * 4 + 60)


def build_cron(config: Config, client: redis.Redis) -> CronScheduler:
    cron = CronScheduler(connection=client, logging_level=config.log_level)
    for feed in config.feeds:
        if not feed.enabled:
            continue
        json_cron(
            cron,
            poll_feed,
            queue_name=QUEUE,
            args=(feed.id,),
            interval=feed.interval,
            job_timeout=job_timeout(config),
            result_ttl=600,
            failure_ttl=86_400,
            name=f"poll:{feed.id}",
        )
    # 28 CFR Part 23: records past review are announced, then purged after the notice period.
    json_cron(cron, purge_intel, queue_name=QUEUE, cron=INTEL_PURGE_CRON, job_timeout=600, result_ttl=86_400,
                  failure_ttl=7 * 86_400, name="intel:purge")
    # Suspicious-activity reports past their retention (or, shared, past review) are purged with a record.
    json_cron(cron, purge_reports, queue_name=QUEUE, cron=REPORT_PURGE_CRON, job_timeout=600, result_ttl=86_400,
              failure_ttl=7 * 86_400, name="reports:purge")
    # Threat levels assessed with no screen open, so each change of level is logged with its cause.
    json_cron(cron, record_threat_levels, queue_name=QUEUE, interval=THREAT_INTERVAL, job_timeout=60, result_ttl=60,
              failure_ttl=86_400, name="threat:levels")
    brief_at = daily_brief_cron(str(config.daily_brief_at))
    if brief_at:
        json_cron(cron, daily_brief, queue_name=QUEUE, cron=brief_at, job_timeout=600, result_ttl=86_400,
                  failure_ttl=7 * 86_400, name="brief:daily")
    return cron


def daily_brief_cron(value: str) -> str:
    """The cron expression of ``daily_brief_at`` (HH:MM UTC; empty: none), or a ConfigError naming it."""
    if not value.strip():
        return ""
    hours, _, minutes = value.strip().partition(":")
    if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60 and len(minutes) == 2):
        raise ConfigError(f"daily_brief_at: {value[:20]!r} is not a UTC time HH:MM (e.g. 06:00), or empty for none")
    return f"{int(minutes)} {int(hours)} * * *"


def run_cron(config: Config, client: redis.Redis) -> None:
    build_cron(config, client).start()


OUTBOUND_QUEUE = OutboundKeys.OUTBOUND_QUEUE


def preload_gazetteer() -> float:
    """Build the geocoder's gazetteer in the worker process itself, once: RQ runs every job in a
    fresh fork of it, which then inherits the tables instead of building them again. Measured on
    the development machine: 2.4 s and about 200 MB in every poll job that placed a report,
    1 ms after this; the basemap polygons and the configuration another 0.5 s. Returns the
    seconds it took."""

    started = time.perf_counter()
    gazetteer()
    small_places()
    try:  # the basemap polygons behind reverse geocoding and NWS county areas (0.4 s more a job)
        boundaries.reverse(0.0, 0.0)
        boundaries.county_geometry(["06037"])
    except BasemapMissing:
        pass  # geocoding works without them; the first job says so
    try:  # the Meteoalarm warning areas behind European alerts that name only areas (0.15 s a job)
        regions.region("FR035")
    except BasemapMissing:
        pass  # such alerts stay unplaced, each with its reason
    _config()
    took = time.perf_counter() - started
    log.info("gazetteer preloaded for the job forks", extra={"seconds": round(took, 2)})
    return took


def run_worker(config: Config, client: redis.Redis, *, burst: bool = False) -> bool:
    """Feed polls first, then outbound alert copies. The RQ scheduler runs inside the workers
    (one holds its lock at a time) so failed deliveries are retried after their back-off."""
    queues = [job_queue(QUEUE, client), job_queue(OUTBOUND_QUEUE, client)]
    preload_gazetteer()
    worker = job_worker(queues, client)
    return bool(worker.work(burst=burst, logging_level=config.log_level, with_scheduler=True))
