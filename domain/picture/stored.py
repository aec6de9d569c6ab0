"""The stored form of a fused incident: what the fuser writes to ``wf:incidents`` and what a replay
(domain/replay/) rebuilds, from one function so the two never drift apart."""

from __future__ import annotations

import orjson

from feeds.fuse import Incident
from feeds.model import tlp_highest

__all__ = ["incident_json"]


def incident_json(incident: Incident, superseded: set[str] | frozenset[str] = frozenset()) -> bytes:
    """The stored form of an incident: :meth:`Incident.to_dict` plus ``exercise`` (any report is an
    exercise report) and ``superseded`` (reports replaced by a CAP Update/Cancel), and for reports an agency owns ``owners``
    ([{agency, sharing, event_id}]) and ``open_title`` (a title from a report shared with all), keys sorted."""
    data = incident.to_dict()
    data["exercise"] = any(e.exercise for e in incident.events.values())
    data["tlp"] = tlp_highest(*(e.tlp for e in incident.events.values()))  # the most restrictive report's marking
    data["superseded"] = [r.event_id for r in incident.reports if r.event_id in superseded]
    owners = [{"agency": e.agency, "sharing": e.sharing or "all", "event_id": r.event_id}
              for r in incident.reports if (e := incident.events.get(r.event_id)) is not None and e.agency]
    if owners:  # absent for an incident of public reports only, so their stored form does not change
        data["owners"] = owners
        public = [e.title for r in incident.reports if (e := incident.events.get(r.event_id)) is not None
                  and (not e.agency or (e.sharing or "all") == "all")]
        data["open_title"] = public[0] if public else None  # what a reader who sees only these is shown
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
