"""The worker that sends outbound copies of alerts (``watchfloor outbound work``): webhook and e-mail
jobs that :func:`domain.operations.outbound.enqueue` queued, with RQ's scheduler for the retries."""

from __future__ import annotations

import redis

from domain.config.loader import Config
from domain.operations.outbound import QUEUE
from domain.store.connection import job_queue, job_worker


def work(config: Config, client: redis.Redis, *, burst: bool = False) -> bool:
    """An RQ worker for the outbound queue, with RQ's scheduler so retries run."""
    worker = job_worker([job_queue(QUEUE, client)], client)
    return bool(worker.work(burst=burst, logging_level=config.log_level, with_scheduler=True))
