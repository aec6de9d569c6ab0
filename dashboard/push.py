"""Push: a Server-Sent Events stream that wakes open screens the moment something changes.

It carries no data. Each message only says "something changed"; the screen then runs its usual
cursor-based poll, so what it shows still comes through the one tested path (nothing lost, nothing
twice) and a screen without the stream (a proxy that buffers, an old browser) still polls every
``refresh_ms``. The stream closes itself after ``MAX_SECONDS`` (the browser reconnects, and the
session is checked again; its first message sets the browser's Last-Event-ID, so whatever changed
while it reconnected, to this process or another, wakes it at once), and sends a comment every ``KEEPALIVE`` seconds so idle proxies keep it
open.

One reader per web process (:class:`WakeHub`): a background task blocks on the incident-change and
alert streams with XREAD on one connection and wakes every open stream of the process, so 500
screens cost one Redis connection, not 500. The hub keeps only the newest ids Redis told it (what
any other process would read too), never a screen's state. ``push_reader = "PER-STREAM"`` keeps the
former reader (one connection and XREAD per open stream), to compare the two (bench/screens_real.py).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import weakref
from collections.abc import AsyncIterator

import redis
import redis.asyncio as aioredis
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from domain.config.loader import Config
from domain.operations.keys import AlertKeys
from domain.picture.keys import IncidentKeys
from domain.store.connection import connect_async, redis_url

log = logging.getLogger(__name__)

MAX_SECONDS = 55.0
KEEPALIVE = 15.0
READY_WAIT = 5.0  # how long a new stream waits for the hub's first answer before saying DEGRADED
RETRY_AFTER = 1.0  # the hub's pause before reconnecting to a store that failed
WATCHED = (IncidentKeys.INCIDENT_CHANGES, AlertKeys.ALERTS)
DEGRADED = b"event: degraded\ndata: store\n\n"

_STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")


def _resume_point(last_event_id: str | None) -> list[str] | None:
    """The stream ids a reconnecting browser last saw (its Last-Event-ID), when well formed."""
    parts = (last_event_id or "").split(",")
    if len(parts) == len(WATCHED) and all(_STREAM_ID.match(p) for p in parts):
        return parts
    return None


def _id_key(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def _ahead(heads: tuple[str, ...], seen: tuple[str, ...]) -> bool:
    """Whether any watched stream's newest id is past what a screen has seen."""
    return any(_id_key(h) > _id_key(s) for h, s in zip(heads, seen, strict=True))


_ANNOUNCED: dict[str, tuple[str, ...]] = {}


def announced(url: str) -> tuple[str, ...] | None:
    """The newest ids this process's reader has announced to its screens (None: no reader running).
    Read from callback threads: an answer computed after these were announced holds every change a
    screen has been woken for, so it may be shared (dashboard/tick_cache.py)."""
    return _ANNOUNCED.get(url)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class WakeHub:
    """One XREAD reader per process (per event loop) that wakes every subscriber on a change.

    ``heads`` is the newest id of each watched stream the reader has seen (None while the store does
    not answer); ``failures`` counts the reader's lost connections, so a subscriber can tell that the
    store went away under it (and say DEGRADED) even when it came back meanwhile."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.heads: tuple[str, ...] | None = None
        self.failures = 0
        self.subscribers = 0
        self._changed = asyncio.Event()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def changed(self) -> asyncio.Event:
        """Set at the next change (or failure); a fresh event is made for the one after."""
        return self._changed

    def _wake(self) -> None:
        if self.heads is None:
            _ANNOUNCED.pop(self.url, None)
        else:
            _ANNOUNCED[self.url] = self.heads
        old, self._changed = self._changed, asyncio.Event()
        old.set()

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="watchfloor-push-hub")

    async def ready(self, timeout: float = READY_WAIT) -> bool:
        self.start()
        if self.heads is None:
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                return False
        return self.heads is not None

    async def _run(self) -> None:
        while self.subscribers > 0:  # checked with no await before leaving: a newcomer never finds it gone
            client = connect_async(self.url, timeout=2, socket_timeout=KEEPALIVE + 5)  # Sentinel URLs too
            try:
                heads = []
                for key in WATCHED:
                    last = await client.xrevrange(key, count=1)
                    heads.append(_text(last[0][0]) if last else "0-0")
                self.heads = tuple(heads)
                _ANNOUNCED[self.url] = self.heads
                self._ready.set()
                await self._follow(client)
            except (TimeoutError, redis.RedisError, OSError) as exc:
                log.info("push reader lost the store: %s", type(exc).__name__)
                self.heads = None
                self._ready.clear()
                self.failures += 1
                self._wake()
                await asyncio.sleep(RETRY_AFTER)
            finally:
                await client.aclose()
        self.heads = None
        _ANNOUNCED.pop(self.url, None)
        self._ready.clear()

    async def _follow(self, client: aioredis.Redis) -> None:
        """Block on the watched streams until nobody listens any more (checked every KEEPALIVE)."""
        while self.subscribers > 0:
            assert self.heads is not None
            found = await client.xread(dict(zip(WATCHED, self.heads, strict=True)), block=int(KEEPALIVE * 1000),
                                       count=100)
            if not found:
                continue
            newest = dict(zip(WATCHED, self.heads, strict=True))
            for key, entries in found:
                newest[_text(key)] = _text(entries[-1][0])
            self.heads = tuple(newest[k] for k in WATCHED)
            self._wake()


_HUBS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, WakeHub]] = weakref.WeakKeyDictionary()


def hub_for(url: str) -> WakeHub:
    """This process's (this event loop's) reader of the store at ``url``."""
    hubs = _HUBS.setdefault(asyncio.get_running_loop(), {})
    if url not in hubs:
        hubs[url] = WakeHub(url)
    return hubs[url]


async def wake_events(url: str, *, max_seconds: float = MAX_SECONDS, last_event_id: str | None = None) -> AsyncIterator[bytes]:
    """One screen's stream, woken by the process's :class:`WakeHub`."""
    hub = hub_for(url)
    hub.subscribers += 1
    try:
        if not await hub.ready():
            yield DEGRADED
            return
        assert hub.heads is not None
        failures = hub.failures
        resume = _resume_point(last_event_id)
        # a change made while reconnecting wakes the screen at once
        seen = tuple(resume) if resume is not None else hub.heads
        # The id with no data sets the browser's Last-Event-ID without waking it: a change made
        # while it reconnects (a web process killed, the MAX_SECONDS close) then wakes it at once.
        yield f"retry: 1000\nid: {','.join(seen)}\n\n".encode()
        end = time.monotonic() + max_seconds
        while time.monotonic() < end:
            if hub.failures != failures or hub.heads is None:
                yield DEGRADED
                return
            if _ahead(hub.heads, seen):
                seen = hub.heads
                yield f"id: {','.join(seen)}\ndata: change\n\n".encode()
                continue
            changed = hub.changed
            try:
                await asyncio.wait_for(changed.wait(), min(KEEPALIVE, max(0.1, end - time.monotonic())))
            except TimeoutError:
                yield b": keep-alive\n\n"
    finally:
        hub.subscribers -= 1


async def wake_events_per_stream(url: str, *, max_seconds: float = MAX_SECONDS,
                                 last_event_id: str | None = None) -> AsyncIterator[bytes]:
    """The former reader: one connection and XREAD per open stream (``push_reader = "PER-STREAM"``)."""
    client = connect_async(url, timeout=2, socket_timeout=KEEPALIVE + 5)
    try:
        newest: dict[str, bytes | str] = {}
        resume = _resume_point(last_event_id)
        for index, key in enumerate(WATCHED):
            if resume is not None:
                newest[key] = resume[index]
            else:
                last = await client.xrevrange(key, count=1)
                newest[key] = last[0][0] if last else b"0-0"
        yield f"retry: 1000\nid: {','.join(_text(newest[k]) for k in WATCHED)}\n\n".encode()
        end = time.monotonic() + max_seconds
        while time.monotonic() < end:
            block_ms = int(min(KEEPALIVE, max(0.1, end - time.monotonic())) * 1000)
            found = await client.xread(newest, block=block_ms, count=100)
            if not found:
                yield b": keep-alive\n\n"
                continue
            for key, entries in found:
                newest[_text(key)] = entries[-1][0]
            yield f"id: {','.join(_text(newest[k]) for k in WATCHED)}\ndata: change\n\n".encode()
    except (TimeoutError, redis.RedisError, OSError) as exc:
        log.info("push stream ended: %s", type(exc).__name__)
        yield DEGRADED
    finally:
        await client.aclose()


def register_push(server: FastAPI, config: Config) -> None:
    """``GET /api/push``: needs a session like every /api route (the access guard checks it)."""
    per_stream = str(getattr(config, "push_reader", "SHARED")).upper() == "PER-STREAM"

    @server.get("/api/push", include_in_schema=False)
    async def push(request: Request) -> StreamingResponse:
        url = redis_url(config)
        if url is None:
            return StreamingResponse(iter([DEGRADED]), media_type="text/event-stream")
        events = wake_events_per_stream if per_stream else wake_events
        return StreamingResponse(
            events(url, last_event_id=request.headers.get("last-event-id")),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
