"""Push: a Server-Sent Events stream that brings open screens what changed the moment it changes.

When only the picture changed, the message carries the change itself (``event: delta``): the rows
after the screen's cursor that its reader may receive, worked out once per process for every stream
of the same reader and cursor, the same answer a poll would get (dashboard/panels/live.py
``picture_delta``). The screen applies it when it follows on from what the screen holds and no poll
is on its way (assets/wf-50-push.js); otherwise, and for an operator alert, the message only says
"something changed" and the screen runs its cursor-based poll. So 500 screens cost one delta and 500
writes on open streams per change, not 500 HTTP requests, and nothing is lost or shown twice: rows
are applied by event id, and a screen without the stream (a proxy that buffers, an old browser) still
polls every ``refresh_ms``.

The stream checks its session again before a delta when the last check is older than
``RECHECK_SECONDS`` (as a WebSocket does), with the reader's marking and agency read again: a
session signed out, disabled or expired ends the stream (``event: signed-out``) and gets no more
data. The stream closes itself after ``MAX_SECONDS`` (the browser reconnects, and the session is
checked again; its first message sets the browser's Last-Event-ID, so whatever changed while it
reconnected, to this process or another, wakes it at once), and sends a comment every
``KEEPALIVE`` seconds so idle proxies keep it open.

One reader per web process (:class:`WakeHub`): a background task blocks on the incident-change and
alert streams with XREAD on one connection and wakes every open stream of the process, so 500
screens cost one Redis connection, not 500. The hub keeps only the newest ids Redis told it (what
any other process would read too) and, until the next change, the deltas worked out for them; never
a screen's state. ``push_reader = "PER-STREAM"`` keeps the former reader (one connection and XREAD
per open stream, wake-ups only), to compare the two (bench/screens_real.py).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from typing import Any

import redis
import redis.asyncio as aioredis
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from dashboard.offload import pool
from dashboard.security import SCOPE_GUARD, WS_RECHECK_SECONDS
from domain.access.audit import audit
from domain.agencies.access import Reader, reader_for
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
SIGNED_OUT = b"event: signed-out\ndata: session\n\n"
RECHECK_SECONDS = WS_RECHECK_SECONDS  # a stream that carries data checks its session at least this often

# (the screen's cursor) -> (the cursor after, the delta message's JSON), or None: let the poll answer.
Deliver = Callable[[str], Awaitable[tuple[str, bytes] | None]]
# (reader, cursor) -> the same, worked out in a thread (dashboard/panels/live.py push_message).
Message = Callable[[Reader, str], tuple[str, bytes] | None]

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
        self._shared: dict[Hashable, asyncio.Future[Any]] = {}

    @property
    def changed(self) -> asyncio.Event:
        """Set at the next change (or failure); a fresh event is made for the one after."""
        return self._changed

    async def shared(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """``compute()`` run once in the callback pool for every stream asking with ``key`` until the
        next change (the key holds the heads it was asked at); a stream that goes away meanwhile
        does not cancel the others' answer."""
        future = self._shared.get(key)
        if future is None:
            future = self._shared[key] = asyncio.get_running_loop().run_in_executor(pool(), compute)
        return await asyncio.shield(future)

    def _wake(self) -> None:
        self._shared = {}  # answers for the former heads: the streams already asking keep theirs
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


async def wake_events(url: str, *, max_seconds: float = MAX_SECONDS, last_event_id: str | None = None,
                      deliver: Deliver | None = None) -> AsyncIterator[bytes]:
    """One screen's stream, woken by the process's :class:`WakeHub`; with ``deliver``, a change of
    the picture alone comes as its delta (``event: delta``), anything else as a wake-up."""
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
                heads = hub.heads
                try:
                    # Only the picture moved: its delta. An alert (or both) wakes the poll, which brings both.
                    delta = await deliver(seen[0]) if deliver is not None and heads[1] == seen[1] else None
                except SignedOut:
                    yield SIGNED_OUT
                    return
                if delta is not None and _id_key(delta[0]) > _id_key(seen[0]):
                    # Up to where the delta reached (a screen far behind gets the rest next round).
                    seen = (delta[0], seen[1])
                    yield b"id: " + ",".join(seen).encode() + b"\nevent: delta\ndata: " + delta[1] + b"\n\n"
                else:
                    seen = heads
                    yield f"id: {','.join(seen)}\ndata: change\n\n".encode()
                continue
            changed = hub.changed
            try:
                await asyncio.wait_for(changed.wait(), min(KEEPALIVE, max(0.1, end - time.monotonic())))
            except TimeoutError:
                yield b": keep-alive\n\n"
    finally:
        hub.subscribers -= 1


class SignedOut(Exception):
    """The stream's session ended (signed out, disabled, expired): no more data on it."""


def deliverer(url: str, reader_now: Callable[[], Reader | None], message: Message, *, binned: bool = False) -> Deliver:
    """One stream's deltas: its reader, read again (session, marking, agency) when the last check is
    older than ``RECHECK_SECONDS``, and the message for its cursor, shared by every stream of the
    process asking for the same reader, cursor and heads. A check that fails (the store away) sends
    a wake-up instead: no data goes out on a reader not checked within ``RECHECK_SECONDS``.

    ``binned``: the screen shows an aggregated picture (past ``map_max_points``); its cursor is
    "b:<change id>", the changes after that id in this process's bin model (domain/picture/bins.py)."""
    state: dict[str, Any] = {"reader": None, "checked": float("-inf")}
    prefix = "b:" if binned else ""

    async def deliver(cursor: str) -> tuple[str, bytes] | None:
        hub = hub_for(url)
        loop = asyncio.get_running_loop()
        if time.monotonic() - state["checked"] >= RECHECK_SECONDS:
            try:
                state["reader"] = await loop.run_in_executor(pool(), reader_now)
            except (redis.RedisError, OSError):
                return None
            state["checked"] = time.monotonic()
        reader = state["reader"]
        if reader is None:
            audit("session.end", record="push stream", outcome="refused", reason="session ended; stream closed")
            raise SignedOut
        asked = prefix + cursor
        try:
            made = await hub.shared((asked, reader, hub.heads), lambda: message(reader, asked))
        except (redis.RedisError, OSError):
            return None
        if made is None:
            return None
        after, body = made
        return after[len(prefix):], body

    return deliver


def session_reader(scope: dict[str, Any]) -> Callable[[], Reader | None]:
    """The request's reader as it is now: None when its session no longer holds (read in a thread)."""
    guard = scope.get(SCOPE_GUARD)

    def reader_now() -> Reader | None:
        store = guard.sessions() if guard is not None else None
        sid = guard.cookie_value(scope, guard.is_tls(scope)) if guard is not None else ""
        session = store.get(sid, active=False) if store is not None and sid else None  # never renews the idle clock
        if session is None or session.user.must_change_password:  # (what the access guard refuses)
            return None
        return reader_for(session.user, guard.get_client())

    return reader_now


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


def register_push(server: FastAPI, config: Config, message: Message | None = None) -> None:
    """``GET /api/push``: needs a session like every /api route (the access guard checks it).
    ``message`` (dashboard/panels/live.py push_message) lets the stream carry the picture's deltas."""
    per_stream = str(getattr(config, "push_reader", "SHARED")).upper() == "PER-STREAM"

    @server.get("/api/push", include_in_schema=False)
    async def push(request: Request) -> StreamingResponse:
        url = redis_url(config)
        if url is None:
            return StreamingResponse(iter([DEGRADED]), media_type="text/event-stream")
        resume = request.headers.get("last-event-id")
        if per_stream:
            events = wake_events_per_stream(url, last_event_id=resume)
        else:
            binned = request.query_params.get("binned") == "1"  # the page's picture is aggregated
            deliver = deliverer(url, session_reader(request.scope), message, binned=binned) if message is not None else None
            events = wake_events(url, last_event_id=resume, deliver=deliver)
        return StreamingResponse(events, media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
