"""Push: a Server-Sent Events stream that wakes open screens the moment something changes.

It carries no data. Each message only says "something changed"; the screen then runs its usual
cursor-based poll, so what it shows still comes through the one tested path (nothing lost, nothing
twice) and a screen without the stream (a proxy that buffers, an old browser) still polls every
``refresh_ms``. The stream blocks on the incident-change and alert streams with XREAD, closes
itself after ``MAX_SECONDS`` (the browser reconnects, and the session is checked again), and sends a
comment every ``KEEPALIVE`` seconds so idle proxies keep it open.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator

import redis
import redis.asyncio as aioredis
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from domain.config.loader import Config
from domain.operations.keys import AlertKeys
from domain.picture.keys import IncidentKeys
from domain.store.connection import redis_url

log = logging.getLogger(__name__)

MAX_SECONDS = 55.0
KEEPALIVE = 15.0
WATCHED = (IncidentKeys.INCIDENT_CHANGES, AlertKeys.ALERTS)


_STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")


def _resume_point(last_event_id: str | None) -> list[str] | None:
    """The stream ids a reconnecting browser last saw (its Last-Event-ID), when well formed."""
    parts = (last_event_id or "").split(",")
    if len(parts) == len(WATCHED) and all(_STREAM_ID.match(p) for p in parts):
        return parts
    return None


async def wake_events(url: str, *, max_seconds: float = MAX_SECONDS, last_event_id: str | None = None) -> AsyncIterator[bytes]:
    client = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=KEEPALIVE + 5)
    try:
        newest: dict[str, bytes | str] = {}
        resume = _resume_point(last_event_id)
        for index, key in enumerate(WATCHED):
            if resume is not None:
                newest[key] = resume[index]  # a change made while reconnecting wakes the screen at once
            else:
                last = await client.xrevrange(key, count=1)
                newest[key] = last[0][0] if last else b"0-0"
        yield b"retry: 1000\n\n"
        end = time.monotonic() + max_seconds
        while time.monotonic() < end:
            block_ms = int(min(KEEPALIVE, max(0.1, end - time.monotonic())) * 1000)
            found = await client.xread(newest, block=block_ms, count=100)
            if not found:
                yield b": keep-alive\n\n"
                continue
            for key, entries in found:
                newest[key if isinstance(key, str) else key.decode()] = entries[-1][0]
            seen = ",".join(v.decode() if isinstance(v, bytes) else v for v in (newest[k] for k in WATCHED))
            yield f"id: {seen}\ndata: change\n\n".encode()
    except (TimeoutError, redis.RedisError, OSError) as exc:
        log.info("push stream ended: %s", type(exc).__name__)
        yield b"event: degraded\ndata: store\n\n"
    finally:
        await client.aclose()


def register_push(server: FastAPI, config: Config) -> None:
    """``GET /api/push``: needs a session like every /api route (the access guard checks it)."""

    @server.get("/api/push", include_in_schema=False)
    async def push(request: Request) -> StreamingResponse:
        url = redis_url(config)
        if url is None:
            return StreamingResponse(iter([b"event: degraded\ndata: store\n\n"]), media_type="text/event-stream")
        return StreamingResponse(
            wake_events(url, last_event_id=request.headers.get("last-event-id")),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
