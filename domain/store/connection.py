"""How every process finds Redis: ``REDIS_URL`` when set, else the embedded server that a
running ``watchfloor up`` published under the data directory. ``redis://``, ``rediss://`` and
``unix://`` URLs name one server; ``redis+sentinel://`` names a Sentinel-watched primary
(:mod:`domain.store.sentinel`). Any of them may ask that acknowledged writes be on replicas first
(``wait_replicas``: :mod:`domain.store.durability`)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import redis
from rq import Queue, Worker, cron_job_registry
from rq.cron import CronJob, CronScheduler
from rq.defaults import DEFAULT_CRON_JOB_HISTORY_LIMIT, DEFAULT_CRON_JOB_HISTORY_TTL
from rq.job import Job
from rq.serializers import JSONSerializer

from domain.config.loader import Config, ConfigError
from domain.store import durability, sentinel


def url_file(data_dir: Path) -> Path:
    return data_dir / "redis.url"


def running_url(data_dir: Path) -> str | None:
    """The URL of an embedded Redis already serving ``data_dir``, if one answers."""
    path = url_file(data_dir)
    try:
        url = path.read_text(encoding="utf-8").strip()
    except OSError:  # absent, or not ours to read
        return None
    try:
        connect(url, timeout=0.5, retries=0).ping()
    except (redis.RedisError, OSError, ValueError):
        return None
    return url


STATUS_FILE = "store-status.json"  # written by `watchfloor up` when its embedded store stopped, and why


def runtime_dir() -> Path:
    """This account's run-time directory for Watchfloor ($XDG_RUNTIME_DIR/watchfloor, or
    ~/.local/state/watchfloor/stacks), 0700: usually another filesystem than the data."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) / "watchfloor" if runtime else Path.home() / ".local" / "state" / "watchfloor" / "stacks"
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    return base


def status_paths(data_path: Path) -> list[Path]:
    """Where the store's status may be written: the run-time directory first (the data's disk may be
    the full one), then the data directory."""
    digest = hashlib.sha256(str(data_path.resolve()).encode()).hexdigest()[:16]
    return [runtime_dir() / f"{digest}-{STATUS_FILE}", data_path / "redis" / STATUS_FILE]


def store_problem(config: Config) -> str | None:
    """Why the embedded store is down, as ``watchfloor up`` last saw it (a full disk...), or None."""
    for path in status_paths(config.data_path):
        try:
            status = orjson.loads(path.read_bytes())
        except (OSError, ValueError):
            continue
        reason = status.get("reason") if isinstance(status, dict) else None
        if reason:
            return str(reason)[:300]
    return None


class RedisUnavailable(ConfigError):
    """No Redis to talk to; the message says what to run."""


def redis_url(config: Config) -> str | None:
    """The configured URL, or the embedded store's (single, or the Sentinel set of ``up --ha``) if one
    is running; None if neither."""
    if config.redis_url:
        return str(config.redis_url)
    return running_url(config.data_path / "redis") or running_url(config.data_path / "redis-ha")  # `up --ha`


def connect(url: str, *, timeout: float = 5.0, retries: int | None = None) -> redis.Redis:
    """A client that retries a dropped connection on its next command (Redis restarts), or, under
    Sentinel, follows the primary through a failover. ``retries=0``: one try (a quick probe).

    Under Sentinel a client with a timeout of a second or less (the screens') retries once: a poll
    must answer DEGRADED at once during a failover, not hold the screen through it; the others
    (workers, fuser, CLI) ride a short failover out (:data:`sentinel.RETRIES`)."""
    url, replicas, wait_ms = sentinel.durability_of(url)
    extra: dict[str, Any] = {"health_check_interval": 15}
    if retries is None and sentinel.is_sentinel(url) and timeout <= 1.0:
        retries = 1
    if retries is not None:
        extra["retry"] = sentinel.retry_policy(retries)
    if sentinel.is_sentinel(url):
        client = sentinel.connect(url, timeout=timeout, **extra)
    else:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout,
                                      retry_on_timeout=True, **extra)
    return durability.attach(client, replicas, wait_ms)


def connect_async(url: str, *, timeout: float = 5.0, **options: Any) -> Any:
    """An asyncio client (``redis.asyncio``) for ``url``, Sentinel URLs included (the push stream's)."""
    import redis.asyncio as aioredis  # only the web process's push stream needs asyncio

    url, replicas, wait_ms = sentinel.durability_of(url)
    if sentinel.is_sentinel(url):
        client = sentinel.connect_async(url, timeout=timeout, **options)
    else:
        client = aioredis.Redis.from_url(url, socket_connect_timeout=timeout, **options)
    return durability.attach(client, replicas, wait_ms)


def client_for(config: Config) -> redis.Redis:
    url = redis_url(config)
    if url is None:
        raise RedisUnavailable(
            f"no Redis: REDIS_URL is unset and no embedded server is running for {config.data_path}; "
            "start one with `watchfloor up` (or `make run`) or set REDIS_URL"
        )
    return connect(url)


# Jobs carry plain data: RQ's default serializer is pickle, and a worker that unpickles a job
# someone planted in the queue runs their code. JSON jobs can only name a function and its
# arguments; a planted pickle fails to decode and runs nothing.
JOB_SERIALIZER = JSONSerializer


def job_queue(name: str, client: redis.Redis) -> Queue:
    """An RQ queue whose jobs are stored as JSON."""
    return Queue(name, connection=client, serializer=JOB_SERIALIZER)


def job_worker(queues: list[Queue], client: redis.Redis, worker_class: type[Worker] = Worker) -> Worker:
    """An RQ worker that reads jobs as JSON only."""
    return worker_class(queues, connection=client, serializer=JOB_SERIALIZER)


class JsonCronJob(CronJob):
    """RQ's cron job, enqueued as JSON (RQ 3.0's ``CronJob.enqueue`` always uses the pickle default)."""

    def enqueue(self, connection: redis.Redis) -> Job:
        if not self.func:
            raise ValueError("CronJob has no function to enqueue")
        queue = job_queue(self.queue_name, connection)
        with connection.pipeline() as pipeline:
            job = queue.enqueue(self.func, args=self.args, kwargs=self.kwargs, **self.job_options, pipeline=pipeline)
            assert job.enqueued_at is not None
            pipeline.zadd(self.job_history_key, {job.id: job.enqueued_at.timestamp()})
            pipeline.zremrangebyrank(self.job_history_key, 0, -(DEFAULT_CRON_JOB_HISTORY_LIMIT + 1))
            pipeline.expire(self.job_history_key, DEFAULT_CRON_JOB_HISTORY_TTL)
            cron_job_registry.add(self.name, pipeline, enqueue_timestamp=job.enqueued_at.timestamp())
            pipeline.execute()
        return job


def json_cron(scheduler: CronScheduler, func: Callable[..., Any], **options: Any) -> CronJob:
    """``scheduler.register`` for a job enqueued as JSON."""
    job = scheduler.register(func, **options)
    job.__class__ = JsonCronJob
    return job
