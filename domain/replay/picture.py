"""The picture as it was: a window of the report history replayed once (read-only), then any instant
in it answered from the changes it recorded.

Building (:meth:`Replay.build`) feeds the whole history up to the window's end through
:class:`domain.replay.fusion.FusionReplay`, in stream order (the archive, then ``wf:events``): what
precedes the window only sets the state the window starts from; inside the window every change the
fuser wrote (an incident new, changed, merged away) is recorded with its stream time. The picture at
an instant T is then the state at the window's start plus the changes up to T, read from the nearest
keyframe (a copy of the state every :data:`KEYFRAME_EVERY` changes), so a jump costs at most that
many steps, whatever the window.

Memory for a window is its changes (the stored JSON of each, shared with the state) plus the
keyframes, plus the fusion window's reports: a 24-hour window costs what 24 hours of changes cost,
not the years of history before it (pruned incidents older than what a frame shows are let go).

A frame shows what the desk's default window shows: incidents timed in the :data:`SHOWN_BEFORE`
before the instant (or later). Readers' markings and roles are applied by the callers through the
live screens' own checks (:func:`domain.picture.incidents.rows_for`, :mod:`domain.replay.operations`).
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import redis

from domain.errors import Invalid
from domain.replay.fusion import FusionReplay
from domain.replay.history import entries, override_rules, stream_ms

__all__ = ["KEYFRAME_EVERY", "MAX_SPAN", "SHOWN_BEFORE", "Change", "Replay", "ReplayError", "Window", "parse_time"]

MAX_SPAN = timedelta(days=7)
SHOWN_BEFORE = timedelta(hours=24)
KEYFRAME_EVERY = 2000


class ReplayError(Invalid):
    """A window or an instant that cannot be replayed; the message names it."""


def parse_time(text: Any, name: str, now: datetime | None = None) -> datetime:
    """An ISO time (``2026-04-20T14:00Z``, ``2026-04-20 14:00``, ``2026-04-20``; UTC when no zone is
    given) or a span back from now (``90m``, ``6h``, ``2d``); ReplayError naming ``name`` otherwise."""
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=UTC)
    value = str(text or "").strip()
    unit = {"m": 60, "h": 3600, "d": 86400}.get(value[-1:].lower())
    if unit and value[:-1].isdigit() and len(value) <= 8:
        return (now or datetime.now(UTC)) - timedelta(seconds=int(value[:-1]) * unit)
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ReplayError(f"{name}: {value[:40]!r} is not a time; write 2026-04-20T14:00Z, or 6h back") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    """The stretch of time a replay covers, ``start`` < ``end``, at most :data:`MAX_SPAN`, not ahead of now."""

    start: datetime
    end: datetime

    @classmethod
    def parse(cls, start: Any, end: Any, now: datetime | None = None) -> Window:
        now = now or datetime.now(UTC)
        begin, finish = parse_time(start, "from", now), parse_time(end, "to", now)
        if finish <= begin:
            raise ReplayError(f"to: {finish:%Y-%m-%dT%H:%M:%SZ} is not after from {begin:%Y-%m-%dT%H:%M:%SZ}")
        if finish - begin > MAX_SPAN:
            raise ReplayError(f"the window is {(finish - begin) / timedelta(hours=1):g} h; replay at most "
                              f"{MAX_SPAN.days} days at a time")
        if begin > now:
            raise ReplayError(f"from: {begin:%Y-%m-%dT%H:%M:%SZ} is in the future")
        return cls(begin, min(finish, now))

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return int(self.end.timestamp() * 1000)

    def clamp(self, when: datetime) -> datetime:
        return max(self.start, min(self.end, when))


@dataclass(frozen=True)
class Change:
    """One write of the fuser in the window: an incident's stored JSON (None: merged away)."""

    ms: int
    stream_id: str
    id: str
    raw: bytes | None


@dataclass
class Replay:
    window: Window
    initial: dict[str, bytes]
    changes: list[Change]
    keyframes: list[tuple[int, dict[str, bytes]]] = field(default_factory=list)  # (changes applied, state)
    born: dict[str, int] = field(default_factory=dict)  # incident id -> order it first appeared in
    entries_read: int = 0
    build_seconds: float = 0.0
    _times: list[int] = field(default_factory=list, repr=False)
    _parsed: dict[str, tuple[bytes, dict[str, Any]]] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, client: redis.Redis, window: Window, *, archive: Path | None = None,
              fusion_window_hours: float = 72.0) -> Replay:
        """Replay the history up to the window's end (see the module docstring). Reads only."""
        started = time.perf_counter()
        fusion = FusionReplay(fusion_window_hours, override_rules(client))
        fusion.horizon_s = (window.start - SHOWN_BEFORE).timestamp()
        changes: list[Change] = []
        initial: dict[str, bytes] | None = None
        last_ms = 0
        for entry in entries(client, archive, until_ms=window.end_ms):
            ms = stream_ms(entry.stream_id)
            while (rule := fusion.rule_due()) is not None:
                at = max(last_ms, min(ms, _rule_ms(rule, ms)))
                if initial is None and at >= window.start_ms:
                    initial, fusion.horizon_s = dict(fusion.stored), None
                written = fusion.apply_rule()
                if initial is not None:
                    changes.extend(Change(at, entry.stream_id, i, raw) for i, raw in written.items())
            if initial is None and ms >= window.start_ms:
                initial = dict(fusion.stored)
                fusion.horizon_s = None  # inside the window nothing is let go: a frame may need it
            written = fusion.apply(entry)
            last_ms = ms
            if initial is not None:
                changes.extend(Change(ms, entry.stream_id, i, raw) for i, raw in written.items())
        while (rule := fusion.rule_due()) is not None and _rule_ms(rule, last_ms) <= window.end_ms:
            at = max(last_ms, _rule_ms(rule, last_ms))
            if initial is None and at >= window.start_ms:
                initial = dict(fusion.stored)
            written = fusion.apply_rule()
            if initial is not None:
                changes.extend(Change(at, f"{at}-0", i, raw) for i, raw in written.items())
        if initial is None:
            initial = dict(fusion.stored)
        replay = cls(window, initial, changes, entries_read=fusion.entries)
        replay._index()
        replay.build_seconds = time.perf_counter() - started
        return replay

    def _index(self) -> None:
        state = dict(self.initial)
        order = 0
        for incident_id in state:
            self.born[incident_id] = order
            order += 1
        for n, change in enumerate(self.changes):
            if n and n % KEYFRAME_EVERY == 0:
                self.keyframes.append((n, dict(state)))
            if change.raw is None:
                state.pop(change.id, None)
            else:
                state[change.id] = change.raw
                if change.id not in self.born:
                    self.born[change.id] = order
                    order += 1
        self._times = [c.ms for c in self.changes]

    # -- instants ------------------------------------------------------------------------------------
    def applied_at(self, when_ms: int) -> int:
        """How many of the window's changes had been written at ``when_ms``."""
        return bisect.bisect_right(self._times, when_ms)

    def state_at(self, when_ms: int) -> dict[str, bytes]:
        """What ``wf:incidents`` held at ``when_ms`` (incident id -> stored JSON)."""
        upto = self.applied_at(when_ms)
        start, state = 0, self.initial
        for n, kept in self.keyframes:
            if n > upto:
                break
            start, state = n, kept
        state = dict(state)
        for change in self.changes[start:upto]:
            if change.raw is None:
                state.pop(change.id, None)
            else:
                state[change.id] = change.raw
        return state

    def incidents_at(self, when: datetime) -> list[dict[str, Any]]:
        """The incidents a frame at ``when`` shows (timed in the SHOWN_BEFORE before it, or later), in
        the order they first appeared; every marking (callers filter for their reader)."""
        since = (when - SHOWN_BEFORE).timestamp()
        out = []
        for incident_id, raw in self.state_at(int(when.timestamp() * 1000)).items():
            incident = self._parse(incident_id, raw)
            stamp = _epoch(incident.get("time"))
            if stamp is None or stamp >= since:
                out.append(incident)
        out.sort(key=lambda i: self.born.get(i["id"], 0))
        return out

    def _parse(self, incident_id: str, raw: bytes) -> dict[str, Any]:
        held = self._parsed.get(incident_id)
        if held is None or held[0] is not raw:
            held = (raw, orjson.loads(raw))
            self._parsed[incident_id] = held
        return held[1]

    def next_change(self, after_ms: int) -> int | None:
        """The stream time of the first change after ``after_ms`` (stepping one event), or None."""
        index = bisect.bisect_right(self._times, after_ms)
        return self._times[index] if index < len(self._times) else None

    def changes_between(self, after_ms: int, upto_ms: int) -> Iterable[Change]:
        return self.changes[bisect.bisect_right(self._times, after_ms):bisect.bisect_right(self._times, upto_ms)]


def _rule_ms(rule: dict[str, Any], otherwise: int) -> int:
    """When an operator asked for a split or merge (``requested``, to the second), in epoch ms: the
    fuser applied it at its position in the stream, the screens showed it from about then."""
    stamp = _epoch(rule.get("requested"))
    return int(stamp * 1000) if stamp is not None else otherwise


def _epoch(value: Any) -> float | None:
    try:
        when = datetime.fromisoformat(str(value or "").replace("Z", "+00:00"))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
