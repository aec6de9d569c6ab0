"""Callbacks that talk to Redis run in a worker thread, never on the server's event loop.

Dash's FastAPI backend calls a synchronous callback right on the event loop: one Redis call
waiting on a slow store would hold every other screen's request behind it, and the screens would
go STALE instead of saying DEGRADED. An ``async`` callback is awaited instead; this turns a plain
one into that, running its body in the thread pool (with the request's context: the signed-in user)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def off_the_loop(func: F) -> F:
    @functools.wraps(func)
    async def run(*args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(func, *args, **kwargs)  # copies the context: current_user() holds

    return run  # type: ignore[return-value]
