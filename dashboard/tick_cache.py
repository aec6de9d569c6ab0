"""What many screens ask at the same moment, worked out once per web process.

Every open screen asks for the same things: the vetting queue's counts on its five-second tick and,
when the push stream wakes them all at once, the changes after the same cursor. A :class:`TickCache`
keeps each answer for a second or so, keyed by everything the answer depends on (the reader's TLP
ceiling, the cursor and the stream heads the process's push reader has announced), and lets one thread compute it while the others asking for
the same key wait for that answer instead of asking Redis again.

It is a cache of what Redis says, never state: an entry lives ``seconds`` at most, so several web
processes behind a proxy disagree for no longer than that, and a process that restarts loses
nothing. Failures are not kept (the next caller asks again)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

MAX_ENTRIES = 4096  # distinct keys kept at once (cursors x markings x screens); old ones go first


class TickCache:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._computing: dict[Hashable, threading.Lock] = {}
        self.hits = 0
        self.misses = 0

    def _fresh(self, key: Hashable) -> tuple[bool, Any]:
        entry = self._entries.get(key)
        if entry is not None and time.monotonic() - entry[0] < self.seconds:
            return True, entry[1]
        return False, None

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The answer for ``key`` computed at most ``seconds`` ago, or ``compute()`` (once, however
        many threads ask at the same time)."""
        with self._lock:
            found, value = self._fresh(key)
            if found:
                self.hits += 1
                return value  # type: ignore[no-any-return]
            gate = self._computing.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                found, value = self._fresh(key)
                if found:
                    self.hits += 1
                    return value  # type: ignore[no-any-return]
            try:
                value = compute()
            finally:
                with self._lock:
                    self._computing.pop(key, None)
            with self._lock:
                self.misses += 1
                self._entries[key] = (time.monotonic(), value)
                if len(self._entries) > MAX_ENTRIES:
                    self._prune()
            return value

    def _prune(self) -> None:
        now = time.monotonic()
        for key in [k for k, (at, _) in self._entries.items() if now - at >= self.seconds]:
            del self._entries[key]
        while len(self._entries) > MAX_ENTRIES:
            del self._entries[next(iter(self._entries))]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


__all__ = ["TickCache"]


def plain(value: Any) -> Any:
    """Dash components as the plain JSON they are sent as (type, namespace, props), all the way down.
    An answer with a component in it sends Dash's serialiser (plotly's) through every value in Python;
    a plain one is written by orjson in one call. For answers kept in a :class:`TickCache`: made plain
    once, sent many times."""
    if hasattr(value, "to_plotly_json"):
        doc = value.to_plotly_json()
        return {**doc, "props": {k: plain(v) for k, v in doc.get("props", {}).items()}}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value
