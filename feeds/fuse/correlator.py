"""The :class:`Correlator`: reports in, incidents out, with operator overrides and a spatial index."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from feeds.fuse.facts import Facts, facts_of
from feeds.fuse.incident import Incident, _summarise
from feeds.fuse.rules import _GEOCODED_MIN_RADIUS_KM, _NEVER_FUSED, MERGE_THRESHOLD, OverrideError, rule_for
from feeds.fuse.scoring import _veto, score_facts
from feeds.model import Event

# ---------------------------------------------------------------------------------------------
# The correlator

_CELL_DEG = 1.0
_MAX_BUCKETS = 48  # an incident spanning more time buckets is indexed as "any time" in its cells


def _cell(lat: float, lon: float) -> tuple[int, int]:
    return math.floor(lat / _CELL_DEG), math.floor(lon / _CELL_DEG)


def _buckets(lo: datetime, hi: datetime, size: int) -> list[int | None]:
    first, last = math.floor(lo.timestamp() / size), math.floor(hi.timestamp() / size)
    if last - first >= _MAX_BUCKETS:
        return [None]
    return list(range(first, last + 1))


class Correlator:
    """Fuses events into incidents, with operator overrides that stick.

    Deterministic: the same events in the same order (with the same overrides) give the same
    incidents, ids included. :meth:`rebuild` replays events and overrides, each override at the
    position (``at`` = number of :meth:`add` calls before it) where it was made.

    The index buckets incidents by topic, 1-degree cell and time bucket (per-kind size), plus an
    inverted index of place tokens for reports without a position, so one :meth:`add` looks at a
    handful of buckets whatever the number of incidents held.
    """

    def __init__(self, threshold: float = MERGE_THRESHOLD) -> None:
        self.threshold = threshold
        self.incidents: dict[str, Incident] = {}
        self._by_event: dict[str, str] = {}
        self._aliases: dict[str, str] = {}
        self._order: dict[str, int] = {}  # event id -> first arrival
        self._arrivals = 0
        self._facts: dict[str, Facts] = {}  # event id -> facts of its current version
        self._adds = 0
        self._seq = 0
        self._overrides: list[dict[str, Any]] = []
        self._apart: dict[str, set[str]] = {}  # event id -> events it must never share an incident with
        self._together: dict[str, set[str]] = {}  # event id -> events it must share an incident with
        self._cells: dict[tuple[Any, ...], dict[str, None]] = {}
        self._words: dict[tuple[Any, ...], dict[str, None]] = {}
        self._keys: dict[str, dict[str, None]] = {}
        self._indexed: dict[str, list[tuple[str, tuple[Any, ...]]]] = {}
        self._retired: set[str] = set()  # ids of pruned incidents: never given to a new incident

    # -- reading

    def __len__(self) -> int:
        return len(self.incidents)

    def __iter__(self) -> Iterator[Incident]:
        return iter(sorted(self.incidents.values(), key=lambda i: i.seq))

    def resolve(self, incident_id: str) -> str:
        """The current id of an incident, following merges."""
        seen = 0
        while incident_id in self._aliases and seen < 1000:
            incident_id = self._aliases[incident_id]
            seen += 1
        return incident_id

    def get(self, incident_id: str) -> Incident | None:
        return self.incidents.get(self.resolve(incident_id))

    def incident_of(self, event_id: str) -> Incident | None:
        inc = self._by_event.get(event_id)
        return self.incidents.get(inc) if inc else None

    @property
    def overrides(self) -> list[dict[str, Any]]:
        """Operator rules as plain dicts, in the order they were made (persist these)."""
        return [dict(o) for o in self._overrides]

    # -- adding

    def add(self, event: Event) -> tuple[Incident, bool]:
        """File ``event`` under an incident; ``merged`` is True when that incident holds other reports.

        An event id already held is an update: it replaces the earlier version in its incident.
        """
        self._adds += 1
        facts = facts_of(event)
        self._facts[event.id] = facts
        known = self._by_event.get(event.id)
        if known is not None:
            incident = self.incidents[known]
            incident.events[event.id] = event
            self._refresh(incident)
            return incident, len(incident.events) > 1
        if event.id not in self._order:
            self._order[event.id] = self._arrivals
            self._arrivals += 1
        target = self._forced_target(event.id)
        if target is None:
            target = self._best_match(event.id, facts)
        if target is None:
            incident = self._new_incident(event)
            return incident, False
        target.events[event.id] = event
        self._by_event[event.id] = target.id
        self._refresh(target)
        return target, True

    def add_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.add(event)

    def _new_incident(self, event: Event, incident_id: str | None = None) -> Incident:
        base = incident_id or f"inc:{event.id}"
        new_id, n = base, 1
        while new_id in self.incidents or new_id in self._aliases or new_id in self._retired:
            n += 1
            new_id = f"{base}/{n}"
        self._seq += 1
        incident = Incident(id=new_id, kind=event.kind, title=event.title, time=event.time, seq=self._seq)
        incident.events[event.id] = event
        self.incidents[new_id] = incident
        self._by_event[event.id] = new_id
        self._refresh(incident)
        return incident

    def _forced_target(self, event_id: str) -> Incident | None:
        """Merge rules: join (and merge together) the incidents holding events this one must be with."""
        together = sorted({self._by_event[e] for e in self._together.get(event_id, ()) if e in self._by_event})
        incidents = sorted((self.incidents[i] for i in together), key=lambda i: i.seq)
        incidents = [i for i in incidents if not self._kept_apart(event_id, i)]
        if not incidents:
            return None
        target = incidents[0]
        for other in incidents[1:]:
            if not self._groups_apart(target, other):
                target = self._absorb(target, other)
        return target

    def _kept_apart(self, event_id: str, incident: Incident) -> bool:
        apart = self._apart.get(event_id)
        return bool(apart) and not apart.isdisjoint(incident.events)  # type: ignore[union-attr]

    def _groups_apart(self, a: Incident, b: Incident) -> bool:
        return any(self._kept_apart(e, b) for e in a.events)

    def _candidates(self, facts: Facts) -> list[Incident]:
        found: dict[str, None] = {}
        for key in facts.keys:
            found.update(self._keys.get(key, {}))
        rule = rule_for(facts.topic)
        buckets = _buckets(
            facts.lo - timedelta(seconds=rule.time_gate_s),
            facts.hi + timedelta(seconds=rule.time_gate_s),
            rule.bucket_s,
        )
        if None not in buckets:
            buckets.append(None)
        if facts.topic not in _NEVER_FUSED:
            if facts.placed:
                # a geocoded incident may match from further away than the rule's radius
                radius = max(rule.radius_km, _GEOCODED_MIN_RADIUS_KM)
                cy, cx = _cell(facts.lat, facts.lon)  # type: ignore[arg-type]
                dy = math.ceil(radius / 111.0 / _CELL_DEG)
                coslat = max(0.01, math.cos(math.radians(min(89.9, abs(facts.lat) + dy * _CELL_DEG))))  # type: ignore[arg-type]
                dx = min(math.ceil(radius / (111.0 * coslat) / _CELL_DEG), int(180 / _CELL_DEG))
                span = int(360 / _CELL_DEG)
                for y in range(cy - dy, cy + dy + 1):
                    for x in range(cx - dx, cx + dx + 1):
                        xx = (x + span // 2) % span - span // 2  # wrap across the antimeridian
                        for b in buckets:
                            hit = self._cells.get((facts.topic, y, xx, b))
                            if hit:
                                found.update(hit)
                # incidents without a position are found through their words
                for word in facts.tokens:
                    for b in buckets:
                        hit = self._cells.get((facts.topic, None, word, b))
                        if hit:
                            found.update(hit)
            else:
                for word in facts.tokens:
                    for b in buckets:
                        hit = self._words.get((facts.topic, word, b))
                        if hit:
                            found.update(hit)
        incidents = [self.incidents[i] for i in found if i in self.incidents]
        incidents.sort(key=lambda i: i.seq)
        return incidents

    def _best_match(self, event_id: str, facts: Facts) -> Incident | None:
        best: Incident | None = None
        best_score = -1.0
        for incident in self._candidates(facts):
            if self._kept_apart(event_id, incident):
                continue
            other = incident.facts
            if facts.keys & other.keys:
                score = 2.0  # a shared network id beats any physical score
            elif _veto(facts, other):
                continue
            else:
                score = score_facts(facts, other)
                if score < self.threshold:
                    continue
            if score > best_score:  # strict: ties go to the older incident
                best, best_score = incident, score
        return best

    # -- index

    def _refresh(self, incident: Incident) -> None:
        _summarise(incident, self._order, self._facts)
        self._unindex(incident.id)
        facts = incident.facts
        entries: list[tuple[str, tuple[Any, ...]]] = []
        for key in facts.keys:
            self._keys.setdefault(key, {})[incident.id] = None
            entries.append(("k", (key,)))
        if facts.topic not in _NEVER_FUSED:
            rule = rule_for(facts.topic)
            buckets = _buckets(facts.lo, facts.hi, rule.bucket_s)
            if facts.placed:
                cy, cx = _cell(facts.lat, facts.lon)  # type: ignore[arg-type]
                for b in buckets:
                    entries.append(("c", (facts.topic, cy, cx, b)))
            else:
                for word in facts.tokens:
                    for b in buckets:
                        entries.append(("c", (facts.topic, None, word, b)))
            for word in facts.tokens:
                for b in buckets:
                    entries.append(("w", (facts.topic, word, b)))
            for table, key in entries:
                if table == "c":
                    self._cells.setdefault(key, {})[incident.id] = None
                elif table == "w":
                    self._words.setdefault(key, {})[incident.id] = None
        self._indexed[incident.id] = entries

    def _unindex(self, incident_id: str) -> None:
        for table, key in self._indexed.pop(incident_id, ()):
            index = self._keys if table == "k" else self._cells if table == "c" else self._words
            ikey: Any = key[0] if table == "k" else key
            bucket = index.get(ikey)
            if bucket is not None:
                bucket.pop(incident_id, None)
                if not bucket:
                    del index[ikey]

    def _absorb(self, keep: Incident, gone: Incident) -> Incident:
        """Move every report of ``gone`` into ``keep`` (the older); ``gone``'s id becomes an alias."""
        if gone.seq < keep.seq:
            keep, gone = gone, keep
        for event_id, event in gone.events.items():
            keep.events[event_id] = event
            self._by_event[event_id] = keep.id
        self._unindex(gone.id)
        del self.incidents[gone.id]
        self._aliases[gone.id] = keep.id
        self._refresh(keep)
        return keep

    # -- operator overrides

    def merge(self, a_id: str, b_id: str) -> Incident:
        """Force two incidents into one (the older id survives); later reports of either join it."""
        a, b = self.get(a_id), self.get(b_id)
        if a is None or b is None:
            raise OverrideError(f"no incident {a_id if a is None else b_id} to merge")
        members = sorted(set(a.events) | set(b.events), key=lambda e: self._order[e])
        rule = {"op": "merge", "at": self._adds, "incidents": [a.id, b.id], "events": members}
        self._overrides.append(rule)
        self._apply_merge(members)
        result = self.incident_of(members[0])
        assert result is not None
        return result

    def split(self, incident_id: str, event_id: str) -> Incident:
        """Take ``event_id`` out of the incident into its own; it never re-joins the others' incident.

        The remainder keeps the incident id (operators' notes stay attached); the event's new
        incident is ``inc:<event id>`` (``/2``... when taken).
        """
        incident = self.get(incident_id)
        if incident is None or event_id not in incident.events:
            raise OverrideError(f"incident {incident_id} holds no report {event_id}")
        others = sorted((e for e in incident.events if e != event_id), key=lambda e: self._order[e])
        rule = {"op": "split", "at": self._adds, "incident": incident.id, "event": event_id, "apart_from": others}
        self._overrides.append(rule)
        result = self._apply_split(event_id, others)
        assert result is not None
        return result

    def _apply_merge(self, members: list[str]) -> None:
        for e in members:
            self._together.setdefault(e, set()).update(m for m in members if m != e)
            # a merge after a split wins over that split for the events it names
            if e in self._apart:
                self._apart[e].difference_update(members)
        incidents = sorted(
            {self._by_event[e] for e in members if e in self._by_event}, key=lambda i: self.incidents[i].seq
        )
        if incidents:
            keep = self.incidents[incidents[0]]
            for other in incidents[1:]:
                keep = self._absorb(keep, self.incidents[other])

    def _apply_split(self, event_id: str, others: list[str]) -> Incident | None:
        self._apart.setdefault(event_id, set()).update(others)
        for e in others:
            self._apart.setdefault(e, set()).add(event_id)
            if e in self._together:
                self._together[e].discard(event_id)
        self._together.pop(event_id, None)
        current = self.incident_of(event_id)
        if current is None or len(current.events) == 1:
            return current
        event = current.events.pop(event_id)
        self._refresh(current)
        return self._new_incident(event)

    def apply_override(self, rule: dict[str, Any]) -> None:
        """Apply a rule recorded by :meth:`merge` or :meth:`split` (from :attr:`overrides`) now.

        For a caller that replays events itself (and prunes on the way): apply each rule when
        :attr:`adds` equals its ``at``, as :meth:`rebuild` does."""
        self._apply(rule)

    @property
    def adds(self) -> int:
        """Number of :meth:`add` calls so far (the position ``at`` of an override)."""
        return self._adds

    def _apply(self, rule: dict[str, Any]) -> None:
        op = rule.get("op")
        if op == "merge":
            self._apply_merge([e for e in rule.get("events", []) if isinstance(e, str)])
        elif op == "split":
            event_id = rule.get("event")
            if not isinstance(event_id, str):
                raise OverrideError(f"split rule without an event: {rule!r}")
            self._apply_split(event_id, [e for e in rule.get("apart_from", []) if isinstance(e, str)])
        else:
            raise OverrideError(f"unknown override {op!r}")
        self._overrides.append(dict(rule))

    @classmethod
    def rebuild(
        cls, events: Iterable[Event], overrides: Iterable[dict[str, Any]] = (), threshold: float = MERGE_THRESHOLD
    ) -> Correlator:
        """The correlator that adding ``events`` in this order, with ``overrides`` made at their
        recorded positions, produces. Overrides whose events never arrive still hold as rules."""
        correlator = cls(threshold=threshold)
        pending = sorted(enumerate(overrides), key=lambda p: (int(p[1].get("at", 0)), p[0]))
        position = 0
        for event in events:
            while position < len(pending) and int(pending[position][1].get("at", 0)) <= correlator._adds:
                correlator._apply(pending[position][1])
                position += 1
            correlator.add(event)
        for _, rule in pending[position:]:
            correlator._apply(rule)
        return correlator

    # -- housekeeping

    def prune(self, before: datetime, keep: Collection[str] = ()) -> list[Incident]:
        """Drop incidents whose every bound ends before ``before`` (out of the window), except those
        in ``keep``; returns them. A pruned incident's id is never reused: a later report of that
        happening starts a new incident (``inc:<id>/2``...)."""
        gone = [
            i
            for i in self.incidents.values()
            if i.id not in keep and i.facts.hi < before and max(r.time for r in i.reports) < before
        ]
        for incident in gone:
            self._unindex(incident.id)
            del self.incidents[incident.id]
            self._retired.add(incident.id)
            for event_id in incident.events:
                self._by_event.pop(event_id, None)
                self._facts.pop(event_id, None)
                self._order.pop(event_id, None)
        return gone

    def state(self) -> dict[str, Any]:
        """Everything this correlator holds, as plain JSON-able data: :meth:`from_state` gives a
        correlator that answers every later :meth:`add` and override exactly as this one would (a
        fuser's checkpoint). Its size grows with the window, plus one id per pruned incident."""
        return {
            "threshold": self.threshold,
            "incidents": [
                {"id": i.id, "seq": i.seq,
                 "events": [e.to_dict() for e in sorted(i.events.values(), key=lambda e: self._order[e.id])]}
                for i in self.incidents.values()  # creation order, as held
            ],
            "aliases": dict(self._aliases),
            "order": dict(self._order),
            "arrivals": self._arrivals,
            "adds": self._adds,
            "seq": self._seq,
            "overrides": [dict(o) for o in self._overrides],
            "apart": {k: sorted(v) for k, v in self._apart.items()},
            "together": {k: sorted(v) for k, v in self._together.items()},
            "retired": sorted(self._retired),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Correlator:
        """The correlator :meth:`state` describes: incidents, facts and the index rebuilt from the
        reports it held (what it costs grows with the window, not with what was pruned)."""
        correlator = cls(threshold=float(state["threshold"]))
        correlator._order = {str(k): int(v) for k, v in state["order"].items()}
        correlator._aliases = dict(state["aliases"])
        correlator._arrivals, correlator._adds, correlator._seq = int(state["arrivals"]), int(state["adds"]), int(state["seq"])
        correlator._overrides = [dict(o) for o in state["overrides"]]
        correlator._apart = {k: set(v) for k, v in state["apart"].items()}
        correlator._together = {k: set(v) for k, v in state["together"].items()}
        correlator._retired = set(state["retired"])
        for held in state["incidents"]:
            events = [Event.from_dict(e) for e in held["events"]]
            incident = Incident(id=held["id"], kind=events[0].kind, title=events[0].title, time=events[0].time,
                                seq=int(held["seq"]))
            for event in events:
                incident.events[event.id] = event
                correlator._facts[event.id] = facts_of(event)
                correlator._by_event[event.id] = incident.id
            correlator.incidents[incident.id] = incident
            correlator._refresh(incident)
        return correlator

    def snapshot(self) -> list[dict[str, Any]]:
        """Every incident as a plain dict, oldest first (for comparing two correlators)."""
        return [i.to_dict() for i in self]
