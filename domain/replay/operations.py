"""What the operators' side of the floor held at an instant: alerts (pushed, updated, withdrawn,
expired, acknowledgements), annotations (rebuilt from their history) and threat levels (the one
definition of domain/picture/threat.py applied at that instant, with the last logged change's cause).

Every reader check is the live one: an alert is shown when :func:`domain.access.tlp.visible` and
:func:`domain.operations.alerts.in_scope` allow it, an annotation when
:func:`domain.operations.annotations.check_readable` does, an incident when
:func:`domain.picture.incidents.shareable` does. Where a record's marking changed since the instant,
the stricter of then and now is applied (fail closed). Reads only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
import redis

from domain.access.tlp import TLP, highest, incident_marking, max_marking, visible
from domain.errors import AboveMarking
from domain.operations import alerts as alert_store
from domain.operations.annotations import check_readable
from domain.operations.keys import AlertKeys, AnnotationKeys
from domain.picture import incidents as picture
from domain.picture import threat
from domain.picture.incidents import shareable

__all__ = ["alerts_at", "annotation_history", "annotations_at", "rebuilt", "threat_at", "visible_alert"]

ANNOTATION_FIELDS = ("note", "status", "assignee", "tags", "tlp", "criminal_intel")


def _when(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value or "").replace("Z", "+00:00"))
    except ValueError:
        return None


def visible_alert(then: dict[str, Any], alert: dict[str, Any], reader: Any) -> bool:
    """The live screens' test (TLP and scope) on an alert as it was (``then``) and as it is, both."""
    marking = highest(then.get("tlp"), alert.get("tlp"))
    return visible(marking, reader) and alert_store.in_scope(then, reader) and alert_store.in_scope(alert, reader)


def alerts_at(client: redis.Redis, when: datetime, reader: Any) -> list[dict[str, Any]]:
    """Alerts as screens showed them at ``when``: each issued by then (and not expired more than a day
    before), as its latest version sent by then says, with ``status`` (active, updated, cancelled,
    expired) and ``acks`` (how many had acknowledged that version by then); newest first."""
    since = (when - alert_store.MAX_EXPIRY - timedelta(days=1)).timestamp()
    out = []
    for raw_id in client.zrevrangebyscore(AlertKeys.ALERT_IDS, when.timestamp(), since):
        alert = alert_store.load(client, raw_id.decode())
        if alert is None:
            continue
        sent = [m for m in alert.get("messages") or [] if (_when(m.get("sent")) or when) <= when]
        if not sent:
            continue
        then = dict(sent[-1].get("alert") or {})
        if not visible_alert(then, alert, reader):
            continue
        marking = highest(then.get("tlp"), alert.get("tlp"))
        status = "cancelled" if sent[-1].get("msgType") == "Cancel" else then.get("status") or "active"
        expires = _when(then.get("expires"))
        if status != "cancelled" and expires is not None and expires <= when:
            if expires < when - timedelta(days=1):
                continue
            status = "expired"
        acked = 0
        for raw in client.hvals(AlertKeys.alert_acks(alert["id"])):
            record = orjson.loads(raw)
            at = _when(record.get("at"))
            if at is not None and at <= when and int(record.get("version") or 1) >= int(then.get("version") or 1):
                acked += 1
        out.append({k: then.get(k) for k in ("id", "headline", "severity", "scope", "expires", "issued_by",
                                             "issued_at", "version", "incident")}
                   | {"tlp": marking.value, "status": status, "acks": acked, "sent": sent[-1].get("sent")})
    return out


def annotation_history(client: redis.Redis, incident_id: str) -> list[dict[str, Any]]:
    return [orjson.loads(r) for r in client.lrange(AnnotationKeys.annotation_history(incident_id), 0, -1)]


def rebuilt(history: list[dict[str, Any]], when: datetime) -> dict[str, Any] | None:
    """An annotation as it stood at ``when``, from its history (None: not written yet)."""
    note: dict[str, Any] | None = None
    for change in history:
        at = _when(change.get("at"))
        if at is None or at > when:
            break
        note = dict(note or {})
        for name, pair in (change.get("changes") or {}).items():
            if name in ANNOTATION_FIELDS and isinstance(pair, list) and len(pair) == 2:
                note[name] = pair[1]
        note.update(version=change.get("version"), updated_by=change.get("by"), updated_at=change.get("at"))
    return note


def _notes_at(client: redis.Redis, ids: list[str], when: datetime) -> dict[str, dict[str, Any]]:
    """incident id -> its annotation at ``when``, marked the stricter of then and now (every reader)."""
    if not ids:
        return {}
    out = {}
    for incident_id, member in zip(ids, client.smismember(AnnotationKeys.ANNOTATED, ids), strict=True):
        if not member:
            continue
        history = annotation_history(client, incident_id)
        note = rebuilt(history, when)
        if note is None:
            continue
        now_tlp = ((history and (history[-1].get("changes") or {}).get("tlp")) or [None, None])[1]
        out[incident_id] = {**note, "tlp": highest(note.get("tlp"), now_tlp).value}
    return out


def annotations_at(client: redis.Redis, items: list[dict[str, Any]], when: datetime, reader: Any
                   ) -> dict[str, dict[str, Any]]:
    """incident id -> its annotation at ``when``, for the incidents of ``items`` the reader may see
    annotated (the live screens' check, on the marking then and now, whichever is stricter). A
    reader given as a bare TLP label has no role: criminal intelligence is never shown to it."""
    by_id = {i["id"]: i for i in items}
    out: dict[str, dict[str, Any]] = {}
    for incident_id, note in _notes_at(client, list(by_id), when).items():
        try:
            if isinstance(reader, (TLP, str)):
                if note.get("criminal_intel") or not visible(highest(note["tlp"], incident_marking(by_id[incident_id])),
                                                             reader):
                    continue
            else:
                check_readable(client, reader, incident_id, note, by_id[incident_id])
        except AboveMarking:
            continue
        out[incident_id] = {"incident": incident_id, **{k: note.get(k) for k in ANNOTATION_FIELDS},
                            "version": note.get("version"), "updated_by": note.get("updated_by"),
                            "updated_at": note.get("updated_at")}
    return out


def threat_at(client: redis.Redis, items: list[dict[str, Any]], when: datetime, reader: Any,
              workspaces: list[Any]) -> dict[str, Any]:
    """Threat levels at ``when`` for this reader, by the live definition (domain.picture.threat.assess):
    {"global": level, "workspaces": {id: level}}, with ``last_change`` (the last logged change of the
    whole picture's level by then, for this reader's marking, with its cause)."""
    ceiling = max_marking(reader, client)
    live = [i for i in items if picture._live(i) and threat.in_window(i, when)]
    areas = picture._areas(client, live)
    live = [{**i, "area": areas[i["id"]]} if i["id"] in areas else i for i in live]
    shared = [i for i in live if shareable(i, ceiling)]
    known = {i["id"]: i for i in live}
    notes = _notes_at(client, list(known), when)  # (as threat.closed_incidents: every note, then the ceiling)
    shut = [i for i, n in notes.items() if n.get("status") in threat.CLOSED_STATUSES
            and ceiling.allows(highest(incident_marking(known[i]), n.get("tlp")))]
    found = threat.assess(shared, None, when, shut)
    summary: dict[str, Any] = {"global": {"name": threat.GLOBAL_NAME, **found.as_dict()}, "workspaces": {}}
    for space in workspaces:
        summary["workspaces"][space.id] = {"name": space.name, **threat.assess(shared, space, when, shut).as_dict()}
    logged = threat.level_changes(client, when - timedelta(days=7), when, ceiling=ceiling, scope=threat.GLOBAL)
    summary["last_change"] = logged[-1] if logged else None
    return summary
