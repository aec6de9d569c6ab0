"""The stored form of a fused incident: what the fuser writes to ``wf:incidents`` and what a replay
(domain/replay/) rebuilds, from one function so the two never drift apart."""

from __future__ import annotations

import orjson

from feeds.fuse import Incident
from feeds.model import tlp_highest

__all__ = ["incident_json"]


def incident_json(incident: Incident, superseded: set[str] | frozenset[str] = frozenset()) -> bytes:
    """The stored form of an incident: :meth:`Incident.to_dict` plus ``exercise`` (any report is an
    exercise report) and ``superseded`` (reports replaced by a CAP Update/Cancel), keys sorted."""
    data = incident.to_dict()
    data["exercise"] = any(e.exercise for e in incident.events.values())
    data["tlp"] = tlp_highest(*(e.tlp for e in incident.events.values()))  # the most restrictive report's marking
    data["superseded"] = [r.event_id for r in incident.reports if r.event_id in superseded]
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
