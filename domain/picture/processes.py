"""Are the processes behind the picture running? The fuser, the RQ workers and the cron scheduler,
read from what each already writes to Redis, so a stopped or hung one is named on every screen and
in health instead of a LIVE header over a frozen picture.

- **fuser**: ``wf:heartbeat:fuser`` (name -> epoch seconds), written every 2 s from its loop, active
  or standby; a hung loop stops writing. Silent for ``FUSER_SILENT`` seconds: stopped.
- **workers**: RQ's worker registry (``rq:workers``: a worker's key expires ``worker_ttl`` after it
  dies) and the feed queue: polls waiting longer than ``QUEUE_WAIT`` mean no worker takes them.
- **scheduler**: RQ 3's cron scheduler registry (``rq:cron_schedulers``: name -> last heartbeat);
  silent for ``SCHEDULER_SILENT`` seconds: stopped, and no feed is polled.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import orjson
import redis
from rq import cron_scheduler_registry
from rq.worker_registration import get_keys as worker_keys

from domain.picture.keys import ProcessKeys

FUSER_SILENT = 15.0  # seconds; the fuser beats every 2 s
SCHEDULER_SILENT = 180.0  # seconds; RQ's cron scheduler beats at least once a minute
QUEUE_WAIT = 120.0  # seconds a feed poll may wait on the queue before the floor is told
FEED_QUEUE = "watchfloor-feeds"


def beat(client: redis.Redis, role: str, name: str) -> None:
    """Record that process ``name`` of ``role`` is alive (the fuser beats while it leads)."""
    client.hset(ProcessKeys.heartbeat(role), name, f"{time.time():.3f}")


def _hhmmss(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%H:%M:%S UTC")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def fuser_status(client: redis.Redis, now: float) -> dict[str, Any]:
    beats = {_text(k): float(v) for k, v in client.hgetall(ProcessKeys.heartbeat("fuser")).items()}
    if not beats:
        return {"status": "none", "reason": "no fuser has run: reports are not turned into incidents"}
    name, last = max(beats.items(), key=lambda item: item[1])
    out = {"name": name, "last": _hhmmss(last), "status": "ok", "reason": ""}
    if now - last > FUSER_SILENT:
        out.update(status="stopped", reason=f"fuser {name} silent since {_hhmmss(last)}: the picture is not updating")
    return out


def workers_status(client: redis.Redis, now: float) -> dict[str, Any]:
    keys = sorted(worker_keys(connection=client))
    with client.pipeline(transaction=False) as pipe:  # a dead worker's key expires; the set keeps it a while
        for key in keys:
            pipe.exists(key)
        alive = pipe.execute()
    names = [_text(key).rsplit(":", 1)[-1] for key, live in zip(keys, alive, strict=True) if live]
    out: dict[str, Any] = {"count": len(names), "names": names, "status": "ok", "reason": ""}
    waiting = _oldest_wait(client, now)
    if waiting is not None and waiting > QUEUE_WAIT:
        out["waiting_seconds"] = round(waiting)
        out.update(status="stopped", reason=f"feed polls waiting {waiting / 60:.0f} min: no worker is taking them")
    elif not names:
        out.update(status="stopped", reason="no worker running: feeds are not polled")
    return out


def _oldest_wait(client: redis.Redis, now: float) -> float | None:
    """Seconds the oldest queued feed poll has waited, or None when the queue is empty."""
    first = client.lindex(f"rq:queue:{FEED_QUEUE}", 0)
    if first is None:
        return None
    enqueued = client.hget(f"rq:job:{_text(first)}", "enqueued_at")
    if not enqueued:
        return None
    text = _text(enqueued).replace("Z", "+00:00")
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return now - stamp.timestamp()


def scheduler_status(client: redis.Redis, now: float) -> dict[str, Any]:
    rows = client.zrevrange(cron_scheduler_registry.get_registry_key(), 0, 0, withscores=True)
    if not rows:
        return {"status": "none", "reason": "no scheduler has run: feeds are not polled"}
    name, last = _text(rows[0][0]), float(rows[0][1])
    out = {"name": name, "last": _hhmmss(last), "status": "ok", "reason": ""}
    if now - last > SCHEDULER_SILENT:
        out.update(status="stopped", reason=f"scheduler {name} silent since {_hhmmss(last)}: feeds are not polled")
    return out


def process_status(client: redis.Redis, now: float | None = None) -> dict[str, Any]:
    """``fuser``, ``workers`` and ``scheduler``: each a status word (ok, stopped, none) and a one-line
    reason naming what stopped; ``problems``: the reasons of those that are not ok, worst first."""
    now = time.time() if now is None else now
    status = {"fuser": fuser_status(client, now), "workers": workers_status(client, now),
              "scheduler": scheduler_status(client, now)}
    status["problems"] = [status[part]["reason"] for part in ("fuser", "workers", "scheduler")
                          if status[part]["status"] != "ok"]
    return status


CACHE_SECONDS = 3  # every screen polls every few seconds; one process computes, the others read


def cached_process_status(client: redis.Redis) -> dict[str, Any]:
    """:func:`process_status`, shared by every app process for ``CACHE_SECONDS``."""
    raw = client.get(ProcessKeys.PROCESS_CACHE)
    if raw is not None:
        return orjson.loads(raw)
    status = process_status(client)
    client.set(ProcessKeys.PROCESS_CACHE, orjson.dumps(status), ex=CACHE_SECONDS)
    return status
