"""The fuser's work done again, read-only: the same :class:`feeds.fuse.Correlator`, fed the same
entries in stream order, with the operators' rules at their recorded positions and the same prunes
at the same stream times, so the incidents (ids included) are those the live fuser wrote.

This mirrors ``workers.fusion.Fuser`` step for step (``_process``, ``_maybe_prune``, ``_touch_rule``):
domain code cannot import the workers, and the replay must never take the fuser's lock or write.
tests/domain/test_replay.py runs both on the same entries and compares what they hold.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson

from domain.picture.stored import incident_json
from domain.replay.history import stream_ms
from domain.store.streams import StreamEntry
from feeds.fuse import Correlator, OverrideError
from feeds.model import Event, InvalidEvent

log = logging.getLogger(__name__)

__all__ = ["FusionReplay"]

PRUNE_EVERY_MS = 3_600_000  # as workers/fusion.py


class FusionReplay:
    """Applies stream entries one by one; :meth:`apply` returns what the fuser would have written for
    that entry: incident id -> its stored JSON (bytes), or None for an incident merged away."""

    def __init__(self, window_hours: float, rules: list[dict[str, Any]]) -> None:
        self.correlator = Correlator()
        self.window_ms = int(window_hours * 3_600_000)
        self.prune_every_ms = max(1000, min(PRUNE_EVERY_MS, self.window_ms // 4))
        self._pending = list(rules)
        self._touched: dict[str, int] = {}
        self._superseded: set[str] = set()
        self._prune_period: int | None = None
        self._last_ms = 0
        self.stored: dict[str, bytes] = {}  # what wf:incidents held after the last entry applied
        self.retired: set[str] = set()  # pruned out of the fusion window (stored, frozen)
        self.entries = 0
        self.horizon_s: float | None = None  # pruned incidents timed before this are let go (memory)

    def rule_due(self) -> dict[str, Any] | None:
        """The next operator rule the fuser applied before the next entry (its position is reached)."""
        if self._pending and int(self._pending[0].get("at", 0)) <= self.correlator.adds:
            return self._pending[0]
        return None

    def apply_rule(self) -> dict[str, bytes | None]:
        """Apply :meth:`rule_due`; what the fuser wrote for it."""
        dirty: set[str] = set()
        aliases = len(self.correlator._aliases)
        self._rule(self._pending.pop(0), dirty)
        if len(self.correlator._aliases) != aliases:
            dirty |= {i for i in self.correlator._aliases if i in self.stored}
        return self._changes(dirty)

    def apply(self, entry: StreamEntry) -> dict[str, bytes | None]:
        """Apply one stream entry (the rules due before it first: see :meth:`rule_due`)."""
        ms = stream_ms(entry.stream_id)
        dirty: set[str] = set()
        aliases = len(self.correlator._aliases)
        while self._pending and int(self._pending[0].get("at", 0)) <= self.correlator.adds:
            self._rule(self._pending.pop(0), dirty)
        self._prune(ms)
        self._last_ms = ms
        self.entries += 1
        try:
            event = Event.from_dict(entry.event)
        except (InvalidEvent, KeyError, ValueError, TypeError):
            event = None  # skipped by the fuser too
        if event is not None:
            incident, _ = self.correlator.add(event)
            self._touched[incident.id] = ms
            dirty.add(incident.id)
            for ref in entry.supersedes:
                if ref != entry.id:
                    self._superseded.add(ref)
                    held = self.correlator.incident_of(ref)
                    if held is not None:
                        dirty.add(held.id)
        if len(self.correlator._aliases) != aliases:  # a merge: every absorbed incident leaves the picture
            dirty |= {i for i in self.correlator._aliases if i in self.stored}
        return self._changes(dirty)

    def _changes(self, dirty: set[str]) -> dict[str, bytes | None]:
        out: dict[str, bytes | None] = {}
        for incident_id in sorted(dirty):
            incident = self.correlator.incidents.get(incident_id)
            if incident is not None:
                raw = incident_json(incident, self._superseded)
                if self.stored.get(incident_id) != raw:
                    self.stored[incident_id] = raw
                    out[incident_id] = raw
            elif incident_id in self.stored and incident_id not in self.retired:
                del self.stored[incident_id]
                out[incident_id] = None
        return out

    def _prune(self, ms: int) -> None:
        period = ms // self.prune_every_ms
        if self._prune_period is None:
            self._prune_period = period
            return
        if period <= self._prune_period:
            return
        self._prune_period = period
        cutoff = ms - self.window_ms
        keep = {i for i, t in self._touched.items() if t >= cutoff}
        for incident in self.correlator.prune(datetime.fromtimestamp(cutoff / 1000, UTC), keep):
            self.retired.add(incident.id)
        self._touched = {i: t for i, t in self._touched.items() if i in self.correlator.incidents}
        if self.horizon_s is not None:
            self._forget(self.horizon_s)

    def _rule(self, rule: dict[str, Any], dirty: set[str]) -> None:
        try:
            self.correlator.apply_override(rule)
        except OverrideError as exc:
            log.warning("replay: override %r not replayed: %s", rule, exc)
            return
        for event_id in (rule.get("event"), *(rule.get("apart_from") or ()), *(rule.get("events") or ())):
            if isinstance(event_id, str):
                incident = self.correlator.incident_of(event_id)
                if incident is not None:
                    self._touched[incident.id] = self._last_ms
                    dirty.add(incident.id)
        for incident_id in (rule.get("incident"), *(rule.get("incidents") or ())):
            if isinstance(incident_id, str):
                dirty.add(incident_id)

    def _forget(self, before_s: float) -> None:
        """Drop pruned incidents timed before ``before_s`` (epoch seconds) from what is held: older
        than any replay frame shows, they would only cost memory (the bound of a long history)."""
        for incident_id in [i for i in self.retired if i in self.stored]:
            when = _time_of(self.stored[incident_id])
            if when is not None and when < before_s:
                del self.stored[incident_id]


def _time_of(raw: bytes) -> float | None:
    try:
        text = str(orjson.loads(raw).get("time") or "")
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
