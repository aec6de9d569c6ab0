"""Incidents: the reports of one happening and the summary the screens show."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from feeds.fuse.facts import Facts, facts_of
from feeds.fuse.rules import _NEVER_FUSED
from feeds.model import Event, Kind, Severity, iso, utc

# ---------------------------------------------------------------------------------------------
# Incidents


@dataclass(frozen=True, slots=True)
class Report:
    """One contributing report; ``fields`` names the incident fields it supplied."""

    event_id: str
    source: str
    feed: str
    time: datetime
    fields: tuple[str, ...] = ()
    agency: str | None = None  # the agency that owns the report (a partner's push); None: public

    def to_dict(self) -> dict[str, Any]:
        body = {
            "event_id": self.event_id,
            "source": self.source,
            "feed": self.feed,
            "time": iso(self.time),
            "fields": list(self.fields),
        }
        if self.agency is not None:  # absent for public reports: today's incidents are written unchanged
            body["agency"] = self.agency
        return body


@dataclass
class Incident:
    """One happening and every report of it. Built and changed only by :class:`Correlator`."""

    id: str
    kind: Kind
    title: str
    time: datetime
    lat: float | None = None
    lon: float | None = None
    magnitude: float | None = None
    severity: Severity = Severity.UNKNOWN
    place: str | None = None
    placed_by: str | None = None  # how the located report was placed (None: its own position)
    precision: str | None = None  # "exact", "town", "county", "region", "country" (None: its own position)
    areas: list[str] = field(default_factory=list)  # the warning areas (EMMA_ID) a region placement used
    reports: list[Report] = field(default_factory=list)
    events: dict[str, Event] = field(default_factory=dict, repr=False)
    facts: Facts = field(default=None, repr=False)  # type: ignore[assignment]
    seq: int = field(default=0, repr=False)  # creation order: the deterministic tie-breaker

    @property
    def corroboration(self) -> int:
        """Number of distinct sources that reported it."""
        return len({r.source for r in self.reports})

    @property
    def sources(self) -> list[str]:
        return sorted({r.source for r in self.reports})

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "title": self.title,
            "time": iso(self.time),
            "lat": self.lat,
            "lon": self.lon,
            "magnitude": self.magnitude,
            "severity": self.severity.value,
            "place": self.place,
            "placed_by": self.placed_by,
            "precision": self.precision,
            "areas": list(self.areas),
            "corroboration": self.corroboration,
            "reports": [r.to_dict() for r in self.reports],
        }


def _summarise(incident: Incident, order: dict[str, int], known: dict[str, Facts]) -> None:
    """Recompute the incident's fields and facts from its reports (see the module docstring)."""
    events = sorted(incident.events.values(), key=lambda e: order[e.id])
    facts = {e.id: known.get(e.id) or facts_of(e) for e in events}
    arrival = {e.id: i for i, e in enumerate(events)}

    def authority(e: Event) -> int:
        return facts[e.id].authority + (1 if e.kind not in _NEVER_FUSED else 0)

    lead = min(events, key=lambda e: (-authority(e), arrival[e.id]))
    placed = [e for e in events if e.lat is not None]
    located = min(placed, key=lambda e: (e.placed_by is not None, -authority(e), arrival[e.id])) if placed else None
    with_mag = [e for e in events if facts[e.id].magnitude is not None]
    sized = None
    if with_mag:
        top = max(authority(e) for e in with_mag)
        sized = max(
            (e for e in with_mag if authority(e) == top),
            key=lambda e: (utc(e.updated or e.time), arrival[e.id]),
        )
    origins = [(facts[e.id].origin, arrival[e.id], e) for e in events if facts[e.id].origin is not None]
    if origins:
        timed_at, _, timed = min(origins, key=lambda o: (o[0], o[1]))  # type: ignore[type-var]
    else:
        timed = min(events, key=lambda e: (utc(e.time), arrival[e.id]))
        timed_at = utc(timed.time)
    supplied: dict[str, list[str]] = {}
    for name, e in (("title", lead), ("kind", lead), ("location", located), ("magnitude", sized), ("time", timed)):
        if e is not None:
            supplied.setdefault(e.id, []).append(name)
    worst = max(events, key=lambda e: (e.severity.rank, -arrival[e.id]))
    if worst.severity.rank:
        supplied.setdefault(worst.id, []).append("severity")
    lead_facts = facts[lead.id]
    incident.kind = lead_facts.topic if lead.kind in _NEVER_FUSED else lead.kind
    incident.title = lead.title
    incident.place = lead.place or (located.place if located else None)
    incident.time = timed_at  # type: ignore[assignment]
    incident.lat = located.lat if located else None
    incident.lon = located.lon if located else None
    incident.placed_by = located.placed_by if located else None
    precision = located.extra.get("precision") if located else None
    incident.precision = precision if isinstance(precision, str) else None
    areas = located.extra.get("areas") if located else None
    incident.areas = [str(a) for a in areas] if isinstance(areas, list) else []
    incident.magnitude = facts[sized.id].magnitude if sized else None
    incident.severity = worst.severity
    incident.reports = [Report(e.id, e.source, e.feed, utc(e.time), tuple(supplied.get(e.id, ())), e.agency)
                        for e in events]
    # The incident's best estimate: bounds intersected when they agree, else the lead's.
    lo = max(f.lo for f in facts.values())
    hi = min(f.hi for f in facts.values())
    origin_facts = facts[timed.id] if origins else None
    if origin_facts is not None:
        origin = origin_facts.origin
        lo = hi = origin  # type: ignore[assignment]
    else:
        origin = None
        if lo > hi:
            lo, hi = lead_facts.lo, lead_facts.hi
    loc_facts = facts[located.id] if located else None
    incident.facts = Facts(
        topic=incident.kind if incident.kind not in _NEVER_FUSED else lead_facts.topic,
        origin=origin,
        lo=lo,
        hi=hi,
        lat=incident.lat,
        lon=incident.lon,
        geocoded=bool(loc_facts and loc_facts.geocoded),
        magnitude=incident.magnitude,
        keys=frozenset().union(*(f.keys for f in facts.values())),
        tokens=frozenset().union(*(f.tokens for f in facts.values())),
        catalogue_feeds=frozenset().union(*(f.catalogue_feeds for f in facts.values())),
        authority=lead_facts.authority,
        exercise=any(f.exercise for f in facts.values()),
    )


