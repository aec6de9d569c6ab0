"""Threat levels: one definition for the whole picture and every workspace, the incidents that drive
each level, and the log of every change of level with its cause.

The definition (README.md says it for the floor)::

    contributors  the live incidents of the last six hours (THREAT_WINDOW) that are not resolved or
                  closed (their annotation's status; applied for readers who may read that
                  annotation's marking) and that concern the scope
    weight        severity weight (SEVERITY_WEIGHT) x relevance: 1 for every incident in the whole
                  picture; for a workspace 1 inside a venue or on the course, 0.6 just outside,
                  falling to 0 at its near_km (layers.zones.Workspace.proximity)
    score         the sum of the contributors' weights
    level         the highest step of THREAT_LEVELS the score reaches

So the whole picture is never below one of its workspaces, and every screen (desk, tablet, wall)
shows the same level and the same list of contributors for a scope, heaviest first, because they
read one computation (:func:`threat_summary`), made for each reader marking (a reader is never told
of an incident above their TLP).

Every change of a level is logged with its cause (:func:`level_changes` reads the log): what
entered or left the contributors since the level was last set, and why (new, resolved or closed by
whom, left the window, withdrawn, superseded or merged, moved). Keys: :class:`domain.picture.keys.ThreatKeys`.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import redis

from domain.access.tlp import TLP, highest, incident_marking
from domain.agencies.access import Reader, reader_for
from domain.operations.annotations import Status
from domain.operations.keys import AnnotationKeys
from domain.picture import incidents
from domain.picture.keys import IncidentKeys, ThreatKeys
from domain.picture.markers import SEVERITY_WEIGHT, THREAT_LEVELS

THREAT_WINDOW = timedelta(hours=6)
FUTURE_SLACK = timedelta(hours=1)  # an incident timed a little ahead (clock skew) still counts
CLOSED_STATUSES = (Status.RESOLVED.value, Status.CLOSED.value)
DRIVERS_SHOWN = 6  # every screen lists this many contributors of a level, then "and N more"
DRIVERS_KEPT = 50  # contributors carried to the screens per level (the rest are counted)
CAUSES_KEPT = 8  # contributors named in the cause of a logged change
CACHE_SECONDS = 4  # one computation of the levels serves every screen and process
# While no incident changes, the levels are recomputed only this often (what time alone moves: an
# incident leaving the window is counted out at most this late), so an idle floor costs next to nothing.
IDLE_SECONDS = 60
GLOBAL = "global"
GLOBAL_NAME = "Whole picture"


@dataclass(frozen=True)
class ThreatAssessment:
    level: str
    colour: str
    score: float
    drivers: list[dict[str, Any]]  # the heaviest DRIVERS_KEPT contributors, heaviest first
    contributors: int  # how many incidents contribute
    window_hours: float
    scored: list[tuple[float, dict[str, Any], str]] = field(default_factory=list, repr=False)  # (weight, incident, where)

    @property
    def basis(self) -> dict[str, list[Any]]:
        """id -> [weight, title, severity] of every contributor: what a logged change of level is
        explained against. Made when asked (only a level that changed needs it)."""
        return {i["id"]: [w, i.get("title") or "", i.get("severity") or "unknown"] for w, i, _ in self.scored}

    def as_dict(self) -> dict[str, Any]:
        return {"level": self.level, "colour": self.colour, "score": self.score, "drivers": self.drivers,
                "contributors": self.contributors, "window_hours": self.window_hours}


def threat_level(score: float) -> tuple[str, str]:
    """The highest step of the five-step scale whose threshold ``score`` reaches, and its colour."""
    level, colour = THREAT_LEVELS[0][0], THREAT_LEVELS[0][2]
    for name, minimum, col in THREAT_LEVELS:
        if score >= minimum:
            level, colour = name, col
    return level, colour


def _when(incident: dict[str, Any]) -> datetime | None:
    try:
        when = datetime.fromisoformat(str(incident.get("time", "")).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def in_window(incident: dict[str, Any], now: datetime) -> bool:
    """True when the incident's time falls in the threat window ending ``now``."""
    when = _when(incident)
    return when is not None and now - THREAT_WINDOW <= when <= now + FUTURE_SLACK


def relevance(incident: dict[str, Any], scope: Any = None) -> tuple[float, str]:
    """How much an incident concerns a scope (0..1) and where it is, as the drivers say it.
    ``scope`` None is the whole picture (everything counts fully); else a layers.zones.Workspace."""
    if scope is None:
        return 1.0, str(incident.get("place") or "")
    factor, where, km = scope.proximity(incident.get("lat"), incident.get("lon"), area=incident.get("area"))
    if factor <= 0:
        return 0.0, ""
    return factor, ("inside " + where) if km == 0 else f"{km:.1f} km from {where}"


def assess(items: Iterable[dict[str, Any]], scope: Any = None, now: datetime | None = None,
           closed: Iterable[str] = (), *, times: dict[str, float] | None = None) -> ThreatAssessment:
    """The level of ``scope`` (None: the whole picture; else a Workspace) from live incidents, by
    the module's one definition. ``closed``: ids resolved or closed, which never count. ``times``:
    epoch seconds by id of ``items`` already known to lie in the window (a caller assessing many
    scopes and markings parses each time once)."""
    now = now or datetime.now(UTC)
    shut = set(closed)
    scored: list[tuple[float, dict[str, Any], str]] = []
    for incident in items:
        if incident.get("id") in shut or (times is None and not in_window(incident, now)):
            continue
        if scope is None:  # the whole picture: everything counts fully (relevance, without a call per incident)
            scored.append((round(SEVERITY_WEIGHT.get(incident.get("severity") or "unknown", 0.25), 2), incident,
                           str(incident.get("place") or "")))
            continue
        factor, where = relevance(incident, scope)
        if factor <= 0:
            continue
        weight = round(SEVERITY_WEIGHT.get(incident.get("severity") or "unknown", 0.25) * factor, 2)
        scored.append((weight, incident, where))
    newest_first = _neg_time if times is None else (lambda i: -times.get(i.get("id"), 0.0))
    # The heaviest DRIVERS_KEPT only: a window of 50,000 incidents is never sorted whole.
    top = heapq.nsmallest(DRIVERS_KEPT, scored, key=lambda item: (-item[0], newest_first(item[1]), str(item[1].get("id"))))
    score = round(sum(w for w, *_ in scored), 2)
    level, colour = threat_level(score)
    drivers = [{"id": i["id"], "title": i.get("title") or "", "severity": i.get("severity") or "unknown",
                "weight": w, "where": where} for w, i, where in top]
    return ThreatAssessment(level, colour, score, drivers, len(scored), THREAT_WINDOW.total_seconds() / 3600, scored)


def _neg_time(incident: dict[str, Any]) -> float:
    when = _when(incident)
    return -when.timestamp() if when else 0.0  # newest first among equal weights


# -- what is resolved or closed ------------------------------------------------------------------------------
def closed_incidents(client: redis.Redis, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Of ``ids``, those whose annotation says resolved or closed: id -> {status, by, at, marking}
    (``marking``: the label a reader needs to read that annotation, so to learn its status)."""
    if not ids:
        return {}
    annotated = [i for i, member in zip(ids, client.smismember(AnnotationKeys.ANNOTATED, ids), strict=True) if member]
    if not annotated:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for incident_id, raw in zip(annotated, client.mget([AnnotationKeys.annotation(i) for i in annotated]), strict=True):
        note = orjson.loads(raw) if raw else None
        if note and note.get("status") in CLOSED_STATUSES:
            out[incident_id] = {"status": note["status"], "by": note.get("updated_by") or "?",
                                "at": note.get("updated_at") or "", "marking": note.get("tlp")}
    return out


# -- every marking at once, cached, changes logged ---------------------------------------------------------
@dataclass
class _Evaluation:
    summaries: dict[str, dict[str, Any]]  # TLP label -> {"global": ..., "workspaces": {...}}
    bases: dict[tuple[str, str], ThreatAssessment]  # (TLP label, scope) -> its assessment (``basis``: contributors)
    names: dict[str, str]  # scope -> its name
    closed: dict[str, dict[str, Any]]
    live: dict[str, dict[str, Any]]  # every live incident, by id


def label_for(ceiling: TLP, agency: str | None = None) -> str:
    """The name of one reader's levels: the TLP label, with "@AGENCY" for an agency's members (their
    agency's own and listed items weigh in their levels; the host center's are the bare label)."""
    return ceiling.value + (f"@{agency}" if agency else "")


def evaluate(client: redis.Redis, workspaces: list[Any], now: datetime | None = None,
             agency: str | None = None) -> _Evaluation:
    """The levels of the whole picture and each workspace for readers of each TLP marking: of the
    host center (``agency`` None: what is shared with all) or of one agency's members (what they
    may see: their own items too, and the reports of a fused incident shared with them)."""
    now = now or datetime.now(UTC)
    # Through the time index: a tick costs the window, not the years of history. An hour more than the
    # window, so an incident that has just left it is still known (and its leaving is told as such).
    between = ((now - THREAT_WINDOW - timedelta(hours=1)).timestamp(), (now + FUTURE_SLACK).timestamp())
    live = incidents.live_incidents_with_areas(client, Reader(TLP.RED, agency), between=between)
    recent = [i for i in live if in_window(i, now)]
    known = {i["id"]: i for i in recent}
    # Each time parsed once, not once per marking and scope (a marking is a set lookup in reader.sees): a tick's cost is the window's.
    times = {i["id"]: (_when(i) or now).timestamp() for i in recent}
    closed = closed_incidents(client, list(known))
    scopes: list[tuple[str, str, Any]] = [(GLOBAL, GLOBAL_NAME, None)] + [(w.id, w.name, w) for w in workspaces]
    summaries: dict[str, dict[str, Any]] = {}
    bases: dict[tuple[str, str], ThreatAssessment] = {}
    # A marking that sees exactly what the one below it sees (on most floors nothing in the window is
    # marked above TLP:CLEAR) has the same levels: assessed once, not once per marking.
    last: tuple[frozenset[str], list[str]] | None = None
    assessed: dict[str, ThreatAssessment] = {}  # scope -> its assessment for what ``last`` names
    for ceiling in TLP:  # (a bare label is a reader of no agency: agencies' restricted items never weigh in)
        reader = Reader(ceiling, agency)
        shared = [i for i in recent if reader.sees(i)]
        shut = [i for i, c in closed.items() if ceiling.allows(highest(incident_marking(known[i]), c.get("marking")))]
        sees = (frozenset(i["id"] for i in shared), shut)
        if sees != last:
            last, assessed = sees, {}
        summary: dict[str, Any] = {"global": {}, "workspaces": {}}
        for scope_id, name, scope in scopes:
            if scope_id not in assessed:
                assessed[scope_id] = assess(shared, scope, now, shut, times=times)
            found = assessed[scope_id]
            bases[(label_for(ceiling, agency), scope_id)] = found
            if scope is None:
                summary["global"] = {"name": name, **found.as_dict()}
            else:
                summary["workspaces"][scope_id] = {"name": name, **found.as_dict()}
        summaries[label_for(ceiling, agency)] = summary
    return _Evaluation(summaries, bases, {s: n for s, n, _ in scopes}, closed, {i["id"]: i for i in live})


def threat_summary(client: redis.Redis, workspaces: list[Any], ceiling: TLP | Reader = TLP.CLEAR) -> dict[str, Any]:
    """Threat levels of the whole picture and each workspace as a reader whose maximum marking is
    ``ceiling`` (a TLP label, or a Reader: a member of an agency counts that agency's own items) sees them: {"global": level, "workspaces": {id: level}}, each level with ``name``,
    ``level``, ``colour``, ``score``, ``drivers`` and ``contributors``. Computed for every marking
    at once, cached CACHE_SECONDS, or up to IDLE_SECONDS while no incident changed (the newest entry
    of ``wf:incident-changes`` is the one it was computed at); each computation logs the changes of
    level (:func:`level_changes`)."""
    reader = reader_for(ceiling)
    label, agency = label_for(reader.ceiling, reader.agency), reader.agency
    pipe = client.pipeline(transaction=False)
    pipe.get(ThreatKeys.threat_cache(label)).get(ThreatKeys.threat_stamp(agency))
    pipe.xrevrange(IncidentKeys.INCIDENT_CHANGES, count=1).get(ThreatKeys.THREAT_GENERATION)
    cached, stamp, newest, generation = pipe.execute()
    changes = newest[0][0].decode() if newest else "0-0"
    generation = generation.decode() if generation else "0"
    if cached and stamp:
        at, computed_at, made_in = (stamp.decode().split("|") + ["", ""])[:3]
        # A resolution moves the generation, not the change stream: levels computed from before it
        # (even if written after it) are never reused.
        if made_in == generation and (computed_at == changes or time.time() - float(at) < CACHE_SECONDS):
            return orjson.loads(cached)
    now = datetime.now(UTC)
    found = evaluate(client, workspaces, now, agency)
    pipe = client.pipeline(transaction=False)
    for each, summary in found.summaries.items():
        pipe.set(ThreatKeys.threat_cache(each), orjson.dumps(summary), ex=IDLE_SECONDS)
    pipe.set(ThreatKeys.threat_stamp(agency), f"{now.timestamp()}|{changes}|{generation}", ex=IDLE_SECONDS)
    if agency:  # so forget_cached finds it
        pipe.sadd(ThreatKeys.THREAT_AGENCIES, agency)
    pipe.execute()
    record_changes(client, found, now)
    return found.summaries[label]


def forget_cached(client: redis.Redis) -> None:
    """Drop the cached levels, the host center's and every agency's: the next screen refresh
    recomputes them (an incident was resolved)."""
    agencies = [a.decode() for a in client.smembers(ThreatKeys.THREAT_AGENCIES)]
    pipe = client.pipeline(transaction=False)
    pipe.incr(ThreatKeys.THREAT_GENERATION)
    pipe.delete(*(ThreatKeys.threat_stamp(a) for a in [None, *agencies]))
    pipe.execute()


def record_changes(client: redis.Redis, found: _Evaluation, now: datetime) -> int:
    """Log each level that differs from the last one logged for its marking and scope, with its
    cause; the number logged. Two processes computing at once log a change once (WATCH)."""
    fields = [f"{label}|{scope}" for label in found.summaries for scope in found.names]
    with client.pipeline() as pipe:
        try:
            pipe.watch(ThreatKeys.THREAT_LEVELS)
            previous = dict(zip(fields, pipe.hmget(ThreatKeys.THREAT_LEVELS, fields), strict=True))
            entries = []
            for name in fields:
                label, scope = name.split("|", 1)
                now_level = _level_of(found.summaries[label], scope)
                was = previous[name].decode().split() if previous[name] else ["", "0"]
                if was[0] == now_level["level"]:
                    continue
                before_raw = pipe.get(ThreatKeys.threat_basis(name))
                before = orjson.loads(before_raw) if before_raw else {}
                after = found.bases[(label, scope)].basis
                entries.append((name, label, scope, was, now_level, after, _cause(before, after, found, now)))
            if not entries:
                pipe.unwatch()
                return 0
            pipe.multi()
            for name, label, scope, was, level, after, cause in entries:
                pipe.hset(ThreatKeys.THREAT_LEVELS, name, f"{level['level']} {level['score']}")
                pipe.set(ThreatKeys.threat_basis(name), orjson.dumps(after))
                tlp, _, agency = label.partition("@")
                pipe.xadd(ThreatKeys.THREAT_CHANGES, {
                    "tlp": tlp, "agency": agency, "scope": scope, "name": found.names[scope], "from": was[0], "to": level["level"],
                    "was": was[1], "score": str(level["score"]), "at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "cause": orjson.dumps(cause), "text": _cause_text(was[0], level["level"], cause)})
            pipe.execute()
            return len(entries)
        except redis.WatchError:
            return 0  # another process logged these changes first


def _level_of(summary: dict[str, Any], scope: str) -> dict[str, Any]:
    return summary["global"] if scope == GLOBAL else summary["workspaces"][scope]


def _cause(before: dict[str, list[Any]], after: dict[str, list[Any]], found: _Evaluation,
           now: datetime) -> list[dict[str, Any]]:
    """What entered, left or changed weight among the contributors since the level was last set,
    heaviest change first, each with why."""
    out = []
    for incident_id in set(before) | set(after):
        old = before.get(incident_id, [0.0, "", ""])
        new = after.get(incident_id, [0.0, "", ""])
        delta = round(float(new[0]) - float(old[0]), 2)
        if delta == 0:
            continue
        title, severity = (new[1], new[2]) if incident_id in after else (old[1], old[2])
        out.append({"id": incident_id, "title": title, "severity": severity, "delta": delta,
                    "why": _why(incident_id, before, after, found, now)})
    out.sort(key=lambda c: (-abs(c["delta"]), c["id"]))
    return out[:CAUSES_KEPT]


def _why(incident_id: str, before: dict[str, Any], after: dict[str, Any], found: _Evaluation, now: datetime) -> str:
    if incident_id not in before:
        return "new"
    if incident_id in after:
        return "severity or distance changed"
    shut = found.closed.get(incident_id)
    if shut:
        return f"{shut['status']} by {shut['by']}"
    if incident_id in found.live:
        return "no longer near" if in_window(found.live[incident_id], now) else "left the 6-hour window"
    return "withdrawn, superseded or merged"


def _cause_text(was: str, level: str, cause: list[dict[str, Any]]) -> str:
    head = f"{was} → {level}" if was else f"first assessment: {level}"
    parts = [f"{'+' if c['delta'] > 0 else '−'}{abs(c['delta']):g} {c['title']} ({c['why']})" for c in cause[:3]]
    return head + (": " + "; ".join(parts) if parts else "")


def _stream_id(when: datetime, end: bool = False) -> str:
    return f"{int(when.timestamp() * 1000)}-{'18446744073709551615' if end else '0'}"


def level_changes(client: redis.Redis, since: datetime, until: datetime | None = None, *,
                  ceiling: TLP | Reader = TLP.CLEAR, scope: str | None = None) -> list[dict[str, Any]]:
    """Every change of threat level logged between ``since`` and ``until`` (default now), oldest
    first, as a reader whose maximum marking is ``ceiling`` saw them (their screens' levels and
    causes, nothing above their TLP; a Reader of an agency: that agency's levels); ``scope``: "global" or one workspace id, else all. Each:
    at, scope, name, from ("" for the first assessment), to, score, was (the score before),
    cause (list of {id, title, severity, delta, why}) and text (one line)."""
    until = until or datetime.now(UTC)
    reader = reader_for(ceiling)
    out = []
    for _sid, raw in client.xrange(ThreatKeys.THREAT_CHANGES, min=_stream_id(since), max=_stream_id(until, end=True)):
        entry = {k.decode(): v.decode() for k, v in raw.items()}
        if entry.get("tlp") != reader.value or (entry.get("agency") or None) != reader.agency or \
                (scope is not None and entry.get("scope") != scope):
            continue
        entry.pop("tlp")
        entry.pop("agency", None)
        entry["cause"] = orjson.loads(entry.get("cause") or "[]")
        entry["score"], entry["was"] = float(entry["score"]), float(entry.get("was") or 0)
        out.append(entry)
    return out
