"""A window told in order, for an exercise debrief: incidents appearing, gaining sources, merging and
being resolved or closed, threat levels changing (with the cause logged at the time), alerts pushed,
updated, withdrawn, acknowledged and expiring, annotations written. Each item: ``at`` (ISO UTC),
``kind``, ``id`` and ``text`` (one line). Filtered for the reader exactly as the frames are."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import redis

from domain.access.tlp import max_marking
from domain.agencies.access import reader_for
from domain.operations import alerts as alert_store
from domain.operations.keys import AlertKeys
from domain.picture import threat
from domain.picture.incidents import shareable
from domain.replay.operations import ANNOTATION_FIELDS, annotation_history, annotations_at, visible_alert
from domain.replay.picture import Replay

__all__ = ["picture_lines", "timeline"]


def _iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sources(incident: dict[str, Any]) -> list[str]:
    return sorted({r.get("source") or "" for r in incident.get("reports") or []} - {""})


def _incident_items(replay: Replay, ceiling: Any) -> list[dict[str, Any]]:
    held = {i: orjson.loads(raw) for i, raw in replay.initial.items()}
    out: list[dict[str, Any]] = []
    pending: list[tuple[Any, dict[str, Any]]] = []  # removals whose survivor is named once the entry is done
    for n, change in enumerate(replay.changes):
        before = held.get(change.id)
        at = _iso_ms(change.ms)
        if change.raw is None:
            held.pop(change.id, None)
            if before is not None and shareable(before, ceiling):
                pending.append((change, before))
        else:
            now = orjson.loads(change.raw)
            held[change.id] = now
            if shareable(now, ceiling):
                where = f" at {now['lat']:.3f}, {now['lon']:.3f}" if now.get("lat") is not None else " (unplaced)"
                if before is None:
                    out.append({"at": at, "kind": "incident.new", "id": change.id,
                                "text": f"new {now.get('severity')} {now.get('kind')}: {now.get('title')}{where} "
                                        f"[{', '.join(_sources(now))}]"})
                elif _sources(now) != _sources(before) or now.get("severity") != before.get("severity"):
                    added = sorted(set(_sources(now)) - set(_sources(before)))
                    out.append({"at": at, "kind": "incident.update", "id": change.id,
                                "text": f"{now.get('title')}: now {len(_sources(now))} source(s)"
                                        + (f", + {', '.join(added)}" if added else "") + f", {now.get('severity')}"})
        last = n + 1 == len(replay.changes) or replay.changes[n + 1].stream_id != change.stream_id
        if last and pending:
            for gone, was in pending:
                events = {r.get("event_id") for r in was.get("reports") or []}
                into = next((i for i, inc in held.items()
                             if events & {r.get("event_id") for r in inc.get("reports") or []}), "")
                out.append({"at": _iso_ms(gone.ms), "kind": "incident.merged", "id": gone.id,
                            "text": f"{was.get('title')} merged into {into or 'another incident'}"})
            pending = []
    return out


def _annotation_items(client: redis.Redis, replay: Replay, reader: Any) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for incident_id, raw in replay.initial.items():
        seen[incident_id] = orjson.loads(raw)
    for change in replay.changes:
        if change.raw is not None:
            seen[change.id] = orjson.loads(change.raw)
    out = []
    start, end = replay.window.start, replay.window.end
    for incident_id in replay.born:
        incident = seen.get(incident_id)
        if incident is None:
            continue
        for entry in annotation_history(client, incident_id):
            at = datetime.fromisoformat(str(entry.get("at")).replace("Z", "+00:00"))
            if not start <= at <= end or not annotations_at(client, [incident], at, reader):
                continue
            changes = entry.get("changes") or {}
            status = (changes.get("status") or [None, None])[1]
            kind = "incident.closed" if status in threat.CLOSED_STATUSES else "annotation"
            what = ", ".join(f"{k} → {v[1]}" for k, v in changes.items()
                             if k in ANNOTATION_FIELDS and k not in ("note", "criminal_intel") and isinstance(v, list))
            out.append({"at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "kind": kind, "id": incident_id,
                        "text": f"{incident.get('title')}: annotation v{entry.get('version')} by {entry.get('by')}"
                                + (f" ({what})" if what else "") + (" note changed" if "note" in changes else "")})
    return out


def _alert_items(client: redis.Redis, replay: Replay, reader: Any) -> list[dict[str, Any]]:
    start, end = replay.window.start, replay.window.end
    out = []
    since = (start - alert_store.MAX_EXPIRY).timestamp()
    for raw_id in client.zrangebyscore(AlertKeys.ALERT_IDS, since, end.timestamp()):
        alert = alert_store.load(client, raw_id.decode())
        if alert is None or not visible_alert(alert, alert, reader):
            continue
        for message in alert.get("messages") or []:
            at = datetime.fromisoformat(str(message.get("sent")).replace("Z", "+00:00"))
            then = message.get("alert") or {}
            if start <= at <= end:
                word = {"Alert": "alert.issue", "Update": "alert.update", "Cancel": "alert.cancel"}.get(
                    message.get("msgType"), "alert.update")
                out.append({"at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "kind": word, "id": alert["id"],
                            "text": f"{then.get('severity')} \"{then.get('headline')}\" v{then.get('version')} "
                                    f"by {then.get('updated_by') or then.get('issued_by')} to {then.get('scope')}"})
        last = (alert.get("messages") or [{}])[-1]
        expires = str((last.get("alert") or {}).get("expires") or "")
        if last.get("msgType") != "Cancel" and expires:
            at = datetime.fromisoformat(expires.replace("Z", "+00:00"))
            if start <= at <= end:
                out.append({"at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "kind": "alert.expired", "id": alert["id"],
                            "text": f"\"{alert.get('headline')}\" expired"})
        for who, raw in client.hgetall(AlertKeys.alert_acks(alert["id"])).items():
            record = orjson.loads(raw)
            at = datetime.fromisoformat(str(record.get("at")).replace("Z", "+00:00"))
            if start <= at <= end:
                by = f" (by {record['by']})" if record.get("by") else ""
                out.append({"at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "kind": "alert.ack", "id": alert["id"],
                            "text": f"\"{alert.get('headline')}\" v{record.get('version')} acknowledged by "
                                    f"{who.decode()}{by}"})
    return out


def timeline(client: redis.Redis, replay: Replay, reader: Any) -> list[dict[str, Any]]:
    """Everything that happened in the window the reader may know of, oldest first."""
    ceiling = max_marking(reader, client)
    items = _incident_items(replay, reader_for(reader, client)) + _annotation_items(client, replay, reader) + _alert_items(client, replay, reader)
    for change in threat.level_changes(client, replay.window.start, replay.window.end, ceiling=ceiling):
        items.append({"at": change["at"], "kind": "level", "id": change["scope"],
                      "text": f"{change['name']}: {change['text']}"})
    order = {"incident.new": 0, "incident.update": 1, "incident.merged": 2}
    items.sort(key=lambda i: (i["at"], order.get(i["kind"], 3)))
    return items


def picture_lines(frame: dict[str, Any]) -> list[str]:
    """The picture at one instant (:func:`domain.replay.frames.frame` for a reader) as text lines."""
    lines = [f"REPLAY — picture at {frame['at']}", ""]
    level = frame["threat"]["global"]
    lines.append(f"threat: {level['name']} {level['level']} (score {level['score']:g}, {level['contributors']} incident(s))")
    for space in frame["threat"]["workspaces"].values():
        lines.append(f"        {space['name']} {space['level']} (score {space['score']:g})")
    lines.append(f"incidents: {len(frame['incidents'])}")
    for incident in frame["incidents"]:
        where = f"{incident['lat']:.3f}, {incident['lon']:.3f}" if incident.get("lat") is not None else "unplaced"
        lines.append(f"  {incident['id']}  {incident.get('severity')}  {incident.get('title')}  ({where})  "
                     f"[{', '.join(incident.get('sources') or [])}]")
    lines.append(f"alerts: {len(frame['alerts'])}")
    for alert in frame["alerts"]:
        lines.append(f"  {alert['id']}  {alert['status']}  {alert.get('severity')}  {alert.get('headline')}  "
                     f"({alert['acks']} acknowledgement(s))")
    lines.append(f"annotations: {len(frame['annotations'])}")
    for note in frame["annotations"].values():
        lines.append(f"  {note['incident']}  {note.get('status')}  v{note.get('version')} by {note.get('updated_by')}")
    return lines
