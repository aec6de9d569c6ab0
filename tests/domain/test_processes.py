"""A stopped or hung fuser, worker or scheduler is named in health, on the desk's feed panel, on the
wall's ticker and in every screen's header, never LIVE over a frozen picture (issue 12, item 8)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from rq import Worker
from rq.cron import CronScheduler

from dashboard.panels.status import feeds_panel, ticker_panel
from domain.config.loader import load_config
from domain.picture.health import health_report
from domain.picture.processes import (
    FEED_QUEUE,
    FUSER_SILENT,
    QUEUE_WAIT,
    SCHEDULER_SILENT,
    cached_process_status,
    process_status,
)
from domain.store.connection import job_queue
from workers.fusion import Fuser

pytestmark = pytest.mark.redis


def running_everything(client) -> tuple[Fuser, Worker, CronScheduler]:
    fuser = Fuser(client, name="fuser-a")
    assert fuser.acquire()
    fuser.rebuild()
    fuser.step(block_ms=10)  # one pass of its loop: it beats
    worker = Worker([job_queue(FEED_QUEUE, client)], connection=client, name="worker-a")
    worker.register_birth()
    scheduler = CronScheduler(connection=client, name="cron-a")
    scheduler.register_birth()
    scheduler.heartbeat()
    return fuser, worker, scheduler


def test_nothing_is_reported_while_every_process_beats(redis_client) -> None:
    running_everything(redis_client)
    status = process_status(redis_client)
    assert status["problems"] == []
    assert status["fuser"]["name"] == "fuser-a" and status["workers"]["names"] == ["worker-a"]
    assert status["scheduler"]["name"] == "cron-a"


def test_a_hung_fuser_is_named_with_the_time_it_went_silent(redis_client) -> None:
    fuser, _, _ = running_everything(redis_client)
    later = time.time() + FUSER_SILENT + 1  # its loop stopped beating: hung or killed
    status = process_status(redis_client, now=later)
    assert status["fuser"]["status"] == "stopped"
    (problem,) = status["problems"][:1]
    assert problem.startswith("fuser fuser-a silent since ") and "picture is not updating" in problem
    fuser.step(block_ms=10)  # and once it beats again, the floor is told nothing
    assert process_status(redis_client)["problems"] == []


def test_no_worker_or_polls_left_waiting_are_named(redis_client) -> None:
    running_everything(redis_client)
    Worker.find_by_key("rq:worker:worker-a", connection=redis_client).register_death()
    assert process_status(redis_client)["problems"] == ["no worker running: feeds are not polled"]
    job = job_queue(FEED_QUEUE, redis_client).enqueue("workers.jobs.poll_feed", "f")
    stamp = (datetime.now(UTC) - timedelta(seconds=QUEUE_WAIT + 60)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    redis_client.hset(job.key, "enqueued_at", stamp)  # queued three minutes ago, never taken
    (problem,) = process_status(redis_client)["problems"]
    assert problem == "feed polls waiting 3 min: no worker is taking them"


def test_a_stopped_scheduler_is_named(redis_client) -> None:
    running_everything(redis_client)
    status = process_status(redis_client, now=time.time() + SCHEDULER_SILENT + 1)
    assert any(p.startswith("scheduler cron-a silent since") and "feeds are not polled" in p
               for p in status["problems"])


def test_an_empty_store_says_nothing_has_run(redis_client) -> None:
    problems = process_status(redis_client)["problems"]
    assert problems == ["no fuser has run: reports are not turned into incidents",
                        "no worker running: feeds are not polled", "no scheduler has run: feeds are not polled"]


def test_health_the_desk_and_the_wall_name_what_stopped(redis_client) -> None:
    running_everything(redis_client)
    redis_client.hset("wf:heartbeat:fuser", "fuser-a", f"{time.time() - FUSER_SILENT - 5:.3f}")  # went silent
    report = health_report(load_config(env={}), redis_client)
    assert report["processes"]["fuser"]["status"] == "stopped"
    problems = cached_process_status(redis_client)["problems"]
    assert problems and problems[0].startswith("fuser fuser-a silent since")
    feeds = {"f": {"name": "F", "status": "ok"}}
    desk = feeds_panel(feeds, datetime.now(UTC), None, problems)
    assert problems[0] in desk[0].children and "wf-process-stopped" in desk[0].className  # first, above the table
    wall = ticker_panel(feeds, datetime.now(UTC), None, problems)
    assert wall[0].className == "wf-tick-bad" and problems[0] in wall[0].children
