"""Callbacks that talk to Redis run in a worker thread, never on the server's event loop.

Dash's FastAPI backend calls a synchronous callback right on the event loop: one Redis call
waiting on a slow store would hold every other screen's request behind it, and the screens would
go STALE instead of saying DEGRADED. An ``async`` callback is awaited instead; this turns a plain
one into that, running its body in the process's callback pool (with the request's context: the
signed-in user).

The pool is this module's own, sized by the ``web_threads`` setting (:func:`configure`): asyncio's
default executor has ``cpu + 4`` threads, six on a two-core host, and with hundreds of screens
polling that queue, not the CPU, was what made answers late."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_THREADS = 64
_pool: ThreadPoolExecutor | None = None
_threads = DEFAULT_THREADS


def configure(threads: int) -> None:
    """Size the callback pool (takes effect when the pool is first used)."""
    global _threads
    _threads = max(1, int(threads))


def pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=_threads, thread_name_prefix="wf-callback")
    return _pool


def off_the_loop(func: F) -> F:
    @functools.wraps(func)
    async def run(*args: Any, **kwargs: Any) -> Any:
        context = contextvars.copy_context()  # current_user() holds in the thread
        call = functools.partial(context.run, func, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(pool(), call)

    return run  # type: ignore[return-value]
