"""Operator annotations on incidents: note, status, assignee, tags, TLP marking; full history;
optimistic concurrency.

Exceptions::
    UnknownIncident      404: no incident (``wf:incidents``) or event (``wf:current``) by that id
    InvalidAnnotation    422: a field is malformed, or a 28 CFR Part 23 rule refused it
    AboveMarking         403: the record (or the requested marking) is above the user's TLP
    Conflict             409: the save was based on an older version ("changed by X at T")
    (all in the domain's one tree, :mod:`domain.errors`)

An annotation is stored as JSON in ``wf:annotation:<incident>`` with a ``version`` that every save
increments. A save says which version it was based on (``version``; 0 for a new annotation); if
someone saved in between, it is refused with :class:`Conflict` naming who and when, never applied
over their change. The check and the write are one WATCH/MULTI transaction, so two saves racing
cannot both win. Every change appends ``{version, by, at, changes: {field: [old, new]}}`` to
``wf:annotation-history:<incident>``.

The note is stored as plain text (control characters removed); whoever displays it renders it as
text (if it is shown as markdown, through a renderer that escapes HTML and allows only http(s) links).

The marking of an annotation is at least the incident's (an AMBER incident's note is AMBER or
above) and at most the author's own maximum. Reading one needs a maximum at or above the higher of
the two; criminal-intelligence annotations (domain.operations.criminal_intel) are also refused below operator.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import orjson
import redis

from domain.access.accounts import AccountStore
from domain.access.audit import audit
from domain.access.tlp import TLP, TLPError, highest, incident_marking, max_marking, parse, visible
from domain.agencies.access import owner_fields, reader_for, refuse_unshared
from domain.errors import AboveMarking, Conflict, Invalid, NotFound, RecordError
from domain.operations import criminal_intel as intel
from domain.operations.keys import AnnotationKeys, IntelKeys
from domain.picture.incidents import stored_incident
from domain.reports import annotated
from domain.store.streams import EventKeys

MAX_NOTE = 10_000
MAX_TAGS = 20
MAX_TAG = 40
_TAG = re.compile(r"^[a-z0-9][a-z0-9 _.:+/-]*$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
FIELDS = ("note", "status", "assignee", "tags", "tlp", "criminal_intel", "nexus", "review_date", "sharing")
INTEL_READ_ROLE = "operator"


class Status(str, Enum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    MONITORING = "monitoring"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    CLOSED = "closed"  # resolved and closed incidents leave the threat score (domain/picture/threat.py)


class UnknownIncident(NotFound):
    """No incident (``wf:incidents``) or event (``wf:current``) by that id."""


class InvalidAnnotation(Invalid):
    """A field is malformed, or a 28 CFR Part 23 rule refused it."""


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def plain_text(value: Any, limit: int) -> str:
    """One operator-typed text: str, control and bidi-override characters removed, bounded."""
    if not isinstance(value, str):
        raise InvalidAnnotation("expected text")
    text = _CONTROL.sub("", value.replace("\r\n", "\n").replace("\t", " "))
    if len(text) > limit:
        raise InvalidAnnotation(f"text longer than {limit} characters")
    return text.strip()


def find_incident(client: redis.Redis, incident_id: str) -> dict[str, Any] | None:
    """The incident (``wf:incidents``, or aged out of it: ``wf:incidents:aged``) or event
    (``wf:current``) with this id, or None."""
    if not isinstance(incident_id, str) or not incident_id or len(incident_id) > 512:
        return None
    raw = stored_incident(client, incident_id) or client.hget(EventKeys.CURRENT, incident_id)
    return orjson.loads(raw) if raw else None


def load(client: redis.Redis, incident_id: str) -> dict[str, Any] | None:
    raw = client.get(AnnotationKeys.annotation(incident_id))
    return orjson.loads(raw) if raw else None


def history(client: redis.Redis, incident_id: str) -> list[dict[str, Any]]:
    return [orjson.loads(r) for r in client.lrange(AnnotationKeys.annotation_history(incident_id), 0, -1)]


def record_marking(client: redis.Redis, incident_id: str, annotation: dict[str, Any] | None = None,
                   incident: dict[str, Any] | None = None) -> TLP:
    """The marking that guards an incident's annotation: the higher of the incident's and the note's."""
    incident = incident if incident is not None else find_incident(client, incident_id)
    annotation = annotation if annotation is not None else load(client, incident_id)
    return highest(incident_marking(incident), (annotation or {}).get("tlp"))


def check_readable(client: redis.Redis, user: Any, incident_id: str, annotation: dict[str, Any] | None,
                   incident: dict[str, Any] | None) -> None:
    """AboveMarking when ``user`` may not see this incident's annotation."""
    marking = record_marking(client, incident_id, annotation or {}, incident or {})
    if not visible(marking, user, client):
        raise AboveMarking(f"the record is marked {marking.value}, above your maximum "
                           f"{max_marking(user, client).value}")
    reader = reader_for(user, client)
    refuse_unshared(incident or {}, reader, "incident")
    refuse_unshared(annotation or {}, reader, "annotation")
    if annotation and annotation.get("criminal_intel") and not user.role.grants(INTEL_READ_ROLE):
        raise AboveMarking("criminal intelligence: need to know (operator or above)")


def read(client: redis.Redis, incident_id: str, user: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(incident, annotation or None) when ``user`` may see them; UnknownIncident / AboveMarking."""
    incident = find_incident(client, incident_id)
    if incident is None:
        raise UnknownIncident(f"no incident or event {incident_id[:80]!r}")
    annotation = load(client, incident_id)
    check_readable(client, user, incident_id, annotation, incident)
    return incident, annotation


def _tags(value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_TAGS:
        raise InvalidAnnotation(f"tags must be a list of at most {MAX_TAGS} words")
    out: list[str] = []
    for tag in value:
        text = plain_text(tag, MAX_TAG).lower()
        if not _TAG.match(text):
            raise InvalidAnnotation(f"tag {text[:40]!r}: use letters, digits, space and - _ . : + /")
        if text not in out:
            out.append(text)
    return out


def _assignee(client: redis.Redis, value: Any) -> str:
    if value in (None, ""):
        return ""

    user = AccountStore(client).get(value) if isinstance(value, str) else None
    if user is None or user.is_display or user.disabled:
        raise InvalidAnnotation(f"assignee {str(value)[:64]!r} is not an enabled person's account")
    return user.name


def save(client: redis.Redis, incident_id: str, body: dict[str, Any], user: Any, *,
         region: str = "US") -> dict[str, Any]:
    """Apply the fields in ``body`` (any of FIELDS, plus ``version``: the version it was based on).

    Returns the saved annotation. Raises Conflict when ``version`` is not the stored one. The phones
    and e-mails its note names become entity mentions (domain.reports.annotated; ``region`` reads
    local phone numbers)."""
    if not isinstance(body, dict):
        raise RecordError("the body must be a JSON object")
    try:
        intel.check_refused_fields(body)
    except intel.IntelError as exc:
        raise InvalidAnnotation(str(exc)) from None
    unknown = sorted(set(body) - set(FIELDS) - {"version"})
    if unknown:
        raise RecordError(f"unknown field {unknown[0]!r}; fields: {', '.join(FIELDS)}, version")
    based_on = body.get("version")
    if not isinstance(based_on, int) or isinstance(based_on, bool) or based_on < 0:
        raise RecordError("version: give the version the change is based on (0 for a new annotation)")
    incident = find_incident(client, incident_id)
    if incident is None:
        raise UnknownIncident(f"no incident or event {incident_id[:80]!r}")
    key = AnnotationKeys.annotation(incident_id)
    with client.pipeline() as pipe:
        while True:
            try:
                pipe.watch(key)
                raw = pipe.get(key)
                current = orjson.loads(raw) if raw else None
                stored = int(current["version"]) if current else 0
                if current is not None:
                    check_readable(client, user, incident_id, current, incident)
                if based_on != stored:
                    if current is None:
                        raise RecordError(f"version {based_on}: there is no annotation yet; send version 0")
                    raise Conflict(current.get("updated_by", "?"), current.get("updated_at", "?"), current)
                now = _now()
                new, changes = _apply(client, incident_id, incident, current, body, user, now)
                if not changes:
                    pipe.unwatch()
                    return current or new
                pipe.multi()
                pipe.set(key, orjson.dumps(new))
                pipe.rpush(AnnotationKeys.annotation_history(incident_id), orjson.dumps(
                    {"version": new["version"], "by": user.name, "at": new["updated_at"], "changes": changes}))
                pipe.sadd(AnnotationKeys.ANNOTATED, incident_id)
                if new["criminal_intel"]:
                    pipe.sadd(IntelKeys.INTEL, incident_id)
                pipe.execute()
                annotated.index(client, incident_id, new, marking=record_marking(client, incident_id, new,
                                                                                 incident).value, region=region)
                return new
            except redis.WatchError:
                continue  # someone saved meanwhile: read again; the version check now refuses


def _apply(client: redis.Redis, incident_id: str, incident: dict[str, Any], current: dict[str, Any] | None,
           body: dict[str, Any], user: Any, now: datetime) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    floor = incident_marking(incident)
    default_marking = highest(floor, TLP.GREEN)  # a new note: GREEN, or the incident's label if higher
    old = current or {
        "incident": incident_id, "note": "", "status": Status.NEW.value, "assignee": "", "tags": [],
        "tlp": default_marking.value if max_marking(user, client).allows(default_marking) else floor.value,
        "criminal_intel": False, "intel": None, "version": 0,
        "created_by": user.name, "created_at": _iso(now), **owner_fields(client, user),
    }
    new = dict(old)
    if "sharing" in body:  # the owner's agency alone re-shares its note
        if not old.get("agency") or old.get("agency") != reader_for(user, client).agency:
            raise AboveMarking("sharing: only the owner's agency changes who sees its note")
        new["sharing"] = owner_fields(client, user, body["sharing"])["sharing"]
    if "note" in body:
        new["note"] = plain_text(body["note"], MAX_NOTE)
    if "status" in body:
        try:
            new["status"] = Status(body["status"]).value
        except ValueError:
            raise InvalidAnnotation(f"status must be one of {', '.join(s.value for s in Status)}") from None
    if "assignee" in body:
        new["assignee"] = _assignee(client, body["assignee"])
    if "tags" in body:
        new["tags"] = _tags(body["tags"])
    if "tlp" in body:
        try:
            new["tlp"] = parse(body["tlp"]).value
        except TLPError as exc:
            raise InvalidAnnotation(str(exc)) from None
    marking = parse(new["tlp"])
    if marking.rank < floor.rank:
        raise InvalidAnnotation(f"the incident is marked {floor.value}; its annotation cannot be marked lower")
    if not max_marking(user, client).allows(marking):
        raise AboveMarking(f"you may not mark a record {marking.value}, above your maximum "
                           f"{max_marking(user, client).value}")
    if "criminal_intel" in body:
        if not isinstance(body["criminal_intel"], bool):
            raise InvalidAnnotation("criminal_intel must be true or false")
        if old.get("criminal_intel") and not body["criminal_intel"]:
            raise InvalidAnnotation("a criminal-intelligence record stays one until it is purged "
                                    "(`watchfloor intel purge`)")
        new["criminal_intel"] = body["criminal_intel"]
    if new["criminal_intel"]:
        try:
            new["intel"] = intel.check_record(
                note=new["note"], tags=new["tags"], nexus=body.get("nexus"), review_date=body.get("review_date"),
                today=now.date(), previous=old.get("intel"), by=user.name, when=now)
        except intel.IntelError as exc:
            raise InvalidAnnotation(str(exc)) from None
    elif "nexus" in body or "review_date" in body:
        raise InvalidAnnotation("nexus and review_date apply only to criminal intelligence (criminal_intel: true)")
    changes = {f: [old.get(f), new.get(f)] for f in ("note", "status", "assignee", "tags", "tlp", "criminal_intel",
                                                     "intel", "sharing") if old.get(f) != new.get(f)}
    if current is None:
        changes = {f: [None, new.get(f)] for f in ("note", "status", "assignee", "tags", "tlp", "criminal_intel",
                                                    "intel")}
    if changes:
        new["version"] = int(old["version"]) + 1
        new["updated_by"] = user.name
        new["updated_at"] = _iso(now)
    return new, changes


def validate_intel(client: redis.Redis, incident_id: str, body: dict[str, Any], user: Any) -> dict[str, Any]:
    """A supervisor confirms a criminal-intelligence record still meets 28 CFR Part 23: new review date."""
    based_on = body.get("version") if isinstance(body, dict) else None
    if not isinstance(based_on, int) or isinstance(based_on, bool):
        raise RecordError("version: give the version you reviewed")
    key = AnnotationKeys.annotation(incident_id)
    with client.pipeline() as pipe:
        while True:
            try:
                pipe.watch(key)
                raw = pipe.get(key)
                current = orjson.loads(raw) if raw else None
                if current is None or not current.get("criminal_intel"):
                    raise UnknownIncident("no criminal-intelligence annotation on this incident")
                check_readable(client, user, incident_id, current, find_incident(client, incident_id))
                if based_on != current["version"]:
                    raise Conflict(current.get("updated_by", "?"), current.get("updated_at", "?"), current)
                now = _now()
                try:
                    block = intel.validated_block(current["intel"], by=user.name, review_date=body.get("review_date"),
                                                  when=now)
                except intel.IntelError as exc:
                    raise InvalidAnnotation(str(exc)) from None
                new = {**current, "intel": block, "version": current["version"] + 1, "updated_by": user.name,
                       "updated_at": _iso(now)}
                pipe.multi()
                pipe.set(key, orjson.dumps(new))
                pipe.rpush(AnnotationKeys.annotation_history(incident_id), orjson.dumps(
                    {"version": new["version"], "by": user.name, "at": new["updated_at"],
                     "changes": {"intel": [current["intel"], block]}}))
                pipe.execute()
                return new
            except redis.WatchError:
                continue


def is_annotated(client: redis.Redis, incident_id: str) -> bool:
    return bool(client.sismember(AnnotationKeys.ANNOTATED, incident_id))


def audited_read(client: redis.Redis, incident_id: str, user: Any) -> dict[str, Any] | None:
    """For screens showing an incident (the desk's detail drawer): its annotation when ``user`` may
    see it, else None. A read of an annotated incident is audited; a refusal too."""

    try:
        _incident, note = read(client, incident_id, user)
    except UnknownIncident:
        return None
    except AboveMarking as exc:
        audit("annotation.read", record=incident_id, outcome="refused", reason=f"403: {exc}", user=user.name,
              client=client)
        return None
    if note is not None:
        audit("annotation.read", record=incident_id, reason=f"v{note['version']} {note['tlp']}", user=user.name,
              client=client)
    return note
