"""Push alerts: composed by operators (or raised by rules), shown on screens, copied out.

Exceptions::
    UnknownAlert    404
    InvalidAlert    422: a field is malformed (the message names it)
    AboveMarking    403: the alert (or the requested marking) is above the user's TLP
    NotSender       403: only its sender or a supervisor may update or withdraw an alert
    Conflict        409: the update was based on an older version ("changed by X at T")
    (all in the domain's one tree, :mod:`domain.errors`)

An alert is JSON in ``wf:alert:<id>``: ``id``, ``headline``, ``text``, ``severity`` (extreme, severe,
moderate, minor, unknown), ``scope`` (``floor`` | ``zone:<workspace id>`` | ``event:<incident or event
id>`` | ``role:<role>``), ``expires`` (ISO UTC), ``tlp``, ``issued_by``, ``issued_at``, ``status``
(active | updated | cancelled | expired: expired is computed when read), ``version``, ``incident``
(optional) and ``messages``: one CAP message per version (identifier, sent, msgType, and the alert
as it was then, which is what the outbound copies of that version carry).

Every issue, update, cancel, receipt and acknowledgement appends ``{id, op, v}`` to the ``wf:alerts``
stream; screens poll it with :func:`alerts_after` and get only the alerts their user may see (TLP and
scope), so a withdrawal or a remote acknowledgement reaches every screen as fast as the alert did.

The cycle: issued (pushed) -> received by each screen (:func:`receipt`: each screen reports it; its
sender sees the list) -> acknowledged (:func:`ack`) per person on the desk and tablet, per screen on
a wall (:func:`ack_identity`), kept in ``wf:alert-acks:<id>`` so a reload keeps it; a desk user may
acknowledge on behalf of a wall screen -> updated (a new version shows again everywhere) or
cancelled (withdrawn) by its sender or a supervisor -> expired. Receipts and acknowledgements are
per version.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

import orjson
import redis

from domain.access.tlp import TLP, TLPError, max_marking, parse, visible
from domain.agencies.access import may_see, owner_fields, reader_for, refuse_unshared
from domain.errors import AboveMarking, Conflict, Invalid, NotFound, RecordError
from domain.operations.annotations import InvalidAnnotation, find_incident, plain_text, record_marking
from domain.operations.keys import AlertKeys

MAX_HEADLINE = 160  # CAP's advice for headline length
MAX_TEXT = 5000
MAX_EXPIRY = timedelta(days=30)
ALERT_ID = re.compile(r"^a-[0-9a-f]{16}$")
_SCOPE = re.compile(r"^(floor|zone:[a-z0-9][a-z0-9_.-]{0,63}|event:[^\s]{1,200}|role:(display|viewer|operator|supervisor|admin))$")
SEVERITIES = ("extreme", "severe", "moderate", "minor", "unknown")
URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")
CERTAINTIES = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")
EDITABLE = ("headline", "text", "severity", "scope", "expires", "tlp", "urgency", "certainty")
FIELDS = (*EDITABLE, "incident", "reason", "exercise", "version", "sharing")  # sharing: the owner's rule
ACKS_ROLE = "supervisor"  # besides the sender, who sees receipts and acknowledgements and may change an alert
SCREENS = ("desk", "wall", "tablet")
ON_BEHALF_ROLE = "operator"  # may acknowledge for a wall screen


class AlertStatus(str, Enum):
    ACTIVE = "active"
    UPDATED = "updated"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class UnknownAlert(NotFound):
    pass


class InvalidAlert(Invalid):
    """A field is malformed; the message names it."""


class NotSender(RecordError):
    """Only the alert's sender or a supervisor may update or withdraw it."""

    status = 403


def may_manage(alert: dict[str, Any], user: Any) -> bool:
    """The sender of the alert, or a supervisor: may update and withdraw it, and see who received
    and acknowledged it."""
    return user is not None and not getattr(user, "is_display", False) and (
        alert.get("issued_by") == user.name or user.role.grants(ACKS_ROLE))


def _now() -> datetime:
    return datetime.now(UTC)


def iso_z(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def cap_time(when: datetime) -> str:
    """CAP 1.2 dateTime: seconds and an explicit offset, never Z."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def parse_time(value: Any, field: str) -> datetime:
    if not isinstance(value, str) or not value:
        raise InvalidAlert(f"{field}: give an ISO 8601 time with a zone, e.g. 2026-11-01T18:00:00Z")
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidAlert(f"{field}: {value[:40]!r} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise InvalidAlert(f"{field}: {value[:40]!r} has no time zone; add Z for UTC")
    return when.astimezone(UTC).replace(microsecond=0)


def _text(value: Any, field: str, limit: int, required: bool = True) -> str:
    try:
        text = plain_text(value, limit) if value is not None else ""
    except InvalidAnnotation as exc:
        raise InvalidAlert(f"{field}: {exc}") from None
    if required and not text:
        raise InvalidAlert(f"{field}: required")
    return text


def _validate(fields: dict[str, Any], user: Any, client: redis.Redis, now: datetime,
              default_minutes: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "headline" in fields:
        out["headline"] = " ".join(_text(fields["headline"], "headline", MAX_HEADLINE).split())  # one line
    if "text" in fields:
        out["text"] = _text(fields["text"], "text", MAX_TEXT, required=False)
    if "severity" in fields:
        severity = str(fields["severity"] or "").lower()
        if severity not in SEVERITIES:
            raise InvalidAlert(f"severity must be one of {', '.join(SEVERITIES)}")
        out["severity"] = severity
    if "scope" in fields:
        scope = fields["scope"]
        if not isinstance(scope, str) or not _SCOPE.match(scope):
            raise InvalidAlert("scope must be floor, zone:<workspace id>, event:<incident id> or role:<role>")
        out["scope"] = scope
    if "expires" in fields:
        expires = parse_time(fields["expires"], "expires") if fields["expires"] else now + timedelta(minutes=default_minutes)
        if expires <= now:
            raise InvalidAlert("expires: must be in the future")
        if expires - now > MAX_EXPIRY:
            raise InvalidAlert("expires: at most 30 days out")
        out["expires"] = iso_z(expires)
    if "tlp" in fields:
        try:
            marking = parse(fields["tlp"])
        except TLPError as exc:
            raise InvalidAlert(f"tlp: {exc}") from None
        if not max_marking(user, client).allows(marking):
            raise AboveMarking(f"you may not issue an alert marked {marking.value}, above your maximum "
                               f"{max_marking(user, client).value}")
        out["tlp"] = marking.value
    if "urgency" in fields:
        if fields["urgency"] not in URGENCIES:
            raise InvalidAlert(f"urgency must be one of {', '.join(URGENCIES)}")
        out["urgency"] = fields["urgency"]
    if "certainty" in fields:
        if fields["certainty"] not in CERTAINTIES:
            raise InvalidAlert(f"certainty must be one of {', '.join(CERTAINTIES)}")
        out["certainty"] = fields["certainty"]
    return out


def _check_keys(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise RecordError("the body must be a JSON object")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise RecordError(f"unknown field {unknown[0]!r}; fields: {', '.join(FIELDS)}")
    return body


def new_id() -> str:
    return "a-" + secrets.token_hex(8)


def _message(alert: dict[str, Any], msg_type: str, sender: str, now: datetime) -> dict[str, Any]:
    identifier = f"watchfloor-{alert['id']}-{alert['version']}"
    snapshot = {k: alert.get(k) for k in ("id", "headline", "text", "severity", "scope", "expires", "tlp",
                                          "issued_by", "issued_at", "status", "version", "incident", "urgency",
                                          "certainty", "exercise", "updated_by", "updated_at")}
    return {"identifier": identifier, "sender": sender, "sent": cap_time(now), "msgType": msg_type,
            "alert": snapshot}


def issue(client: redis.Redis, body: dict[str, Any], user: Any, *, sender: str, default_minutes: int = 360,
          issued_by: str | None = None) -> dict[str, Any]:
    """Store a new alert and append it to ``wf:alerts``; the stored alert."""
    body = _check_keys(body)
    now = _now().replace(microsecond=0)
    fields = {"severity": "unknown", "scope": "floor", "expires": None, "tlp": TLP.GREEN.value,
              "urgency": "Immediate", "certainty": "Observed", "text": "", **body}
    if "headline" not in fields:
        raise InvalidAlert("headline: required")
    values = _validate(fields, user, client, now, default_minutes)
    incident = body.get("incident")
    if incident is not None:
        if not isinstance(incident, str) or find_incident(client, incident) is None:
            raise InvalidAlert(f"incident: no incident or event {str(incident)[:80]!r}")
        floor = record_marking(client, incident)
        if parse(values["tlp"]).rank < floor.rank:
            raise InvalidAlert(f"tlp: the incident is marked {floor.value}; an alert about it cannot be marked lower")
    exercise = body.get("exercise", False)
    if not isinstance(exercise, bool):
        raise InvalidAlert("exercise must be true or false")
    reason = _text(body.get("reason"), "reason", 300, required=False)
    alert = {
        "id": new_id(), **values, **owner_fields(client, user, body.get("sharing")), "issued_by": issued_by or user.name, "issued_at": iso_z(now),
        "status": AlertStatus.ACTIVE.value, "version": 1, "incident": incident, "exercise": exercise,
        "reason": reason, "updated_by": issued_by or user.name, "updated_at": iso_z(now),
    }
    alert["messages"] = [_message(alert, "Alert", sender, now)]
    pipe = client.pipeline(transaction=True)
    pipe.set(AlertKeys.alert(alert["id"]), orjson.dumps(alert))
    pipe.zadd(AlertKeys.ALERT_IDS, {alert["id"]: now.timestamp()})
    pipe.xadd(AlertKeys.ALERTS, {"id": alert["id"], "op": "issue", "v": "1"})
    pipe.execute()
    return alert


def load(client: redis.Redis, alert_id: str) -> dict[str, Any] | None:
    if not isinstance(alert_id, str) or not ALERT_ID.match(alert_id):
        return None
    raw = client.get(AlertKeys.alert(alert_id))
    return orjson.loads(raw) if raw else None


def current_status(alert: dict[str, Any], now: datetime | None = None) -> str:
    if alert["status"] == AlertStatus.CANCELLED.value:
        return alert["status"]
    now = now or _now()
    try:
        if parse_time(alert["expires"], "expires") <= now:
            return AlertStatus.EXPIRED.value
    except InvalidAlert:
        pass
    return alert["status"]


def get_visible(client: redis.Redis, alert_id: str, user: Any) -> dict[str, Any]:
    alert = load(client, alert_id)
    if alert is None:
        raise UnknownAlert(f"no alert {alert_id[:40]!r}")
    if not visible(alert["tlp"], user, client):
        raise AboveMarking(f"the alert is marked {alert['tlp']}, above your maximum {max_marking(user, client).value}")
    refuse_unshared(alert, reader_for(user, client), "alert")
    if not in_scope(alert, user) and alert.get("issued_by") != getattr(user, "name", None):
        # Sent to a role above the reader's: as if it did not exist (its id says nothing more).
        raise UnknownAlert(f"no alert {alert_id[:40]!r}")
    return alert


def _change(client: redis.Redis, alert_id: str, user: Any, based_on: Any, mutate: Any, op: str) -> dict[str, Any]:
    if based_on is not None and (not isinstance(based_on, int) or isinstance(based_on, bool)):
        raise RecordError("version: give the version the change is based on")
    key = AlertKeys.alert(alert_id)
    with client.pipeline() as pipe:
        while True:
            try:
                pipe.watch(key)
                raw = pipe.get(key) if ALERT_ID.match(alert_id) else None
                if raw is None:
                    raise UnknownAlert(f"no alert {alert_id[:40]!r}")
                alert = orjson.loads(raw)
                if not visible(alert["tlp"], user, client):
                    raise AboveMarking(f"the alert is marked {alert['tlp']}, above your maximum "
                                       f"{max_marking(user, client).value}")
                refuse_unshared(alert, reader_for(user, client), "alert")
                if not may_manage(alert, user):
                    raise NotSender(f"only its sender ({alert.get('issued_by', '?')}) or a supervisor may change "
                                    "this alert")
                if based_on is not None and based_on != alert["version"]:
                    raise Conflict(alert.get("updated_by", "?"), alert.get("updated_at", "?"))
                if alert["status"] == AlertStatus.CANCELLED.value:
                    raise InvalidAlert("the alert was cancelled; issue a new one")
                now = _now().replace(microsecond=0)
                new = mutate(dict(alert), now)
                new["version"] = alert["version"] + 1
                new["updated_by"] = user.name
                new["updated_at"] = iso_z(now)
                msg_type = "Cancel" if op == "cancel" else "Update"
                new["messages"] = [*alert["messages"], _message(new, msg_type, alert["messages"][0]["sender"], now)]
                pipe.multi()
                pipe.set(key, orjson.dumps(new))
                pipe.xadd(AlertKeys.ALERTS, {"id": alert_id, "op": op, "v": str(new["version"])})
                pipe.execute()
                return new
            except redis.WatchError:
                continue


def update(client: redis.Redis, alert_id: str, body: dict[str, Any], user: Any, *,
           default_minutes: int = 360) -> dict[str, Any]:
    """A new version of the alert (CAP Update referencing the earlier messages)."""
    body = _check_keys(body)
    if "version" not in body:
        raise RecordError("version: give the version the change is based on")
    if set(body) - set(EDITABLE) - {"version"}:
        raise RecordError(f"only these fields can change: {', '.join(EDITABLE)}")

    def mutate(alert: dict[str, Any], now: datetime) -> dict[str, Any]:
        values = _validate(body, user, client, now, default_minutes)
        if "tlp" in values and alert.get("incident"):
            floor = record_marking(client, alert["incident"])
            if parse(values["tlp"]).rank < floor.rank:
                raise InvalidAlert(f"tlp: the incident is marked {floor.value}; the alert cannot be marked lower")
        return {**alert, **values, "status": AlertStatus.UPDATED.value}

    return _change(client, alert_id, user, body["version"], mutate, "update")


def cancel(client: redis.Redis, alert_id: str, user: Any, based_on: int | None = None) -> dict[str, Any]:
    """Withdraw the alert (CAP Cancel referencing the earlier messages)."""

    def mutate(alert: dict[str, Any], now: datetime) -> dict[str, Any]:
        return {**alert, "status": AlertStatus.CANCELLED.value}

    return _change(client, alert_id, user, based_on, mutate, "cancel")


def ack_identity(user: Any, screen: str | None = None) -> str:
    """Who an acknowledgement is recorded for: a display screen by its own name; a wall opened under
    a person's account as "<name>/wall" (a shared screen, not the person); otherwise the person."""
    if getattr(user, "is_display", False):
        return str(user.name)
    return f"{user.name}/wall" if screen == "wall" else str(user.name)


def _record(raw: bytes | str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    text = raw.decode() if isinstance(raw, bytes) else raw
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = None
    return value if isinstance(value, dict) else {"at": text, "version": 1}  # an acknowledgement kept as a time


def _once_per_version(client: redis.Redis, key: str, field: str, record: dict[str, Any], alert_id: str,
                      op: str) -> dict[str, Any]:
    """Store ``record`` under ``field`` unless one for this version (or a later one) is there; the
    stored record. A new one is announced on ``wf:alerts`` so every screen follows."""
    with client.pipeline() as pipe:
        while True:
            try:
                pipe.watch(key)
                kept = _record(pipe.hget(key, field))
                if kept is not None and int(kept.get("version") or 1) >= record["version"]:
                    pipe.unwatch()
                    return kept
                pipe.multi()
                pipe.hset(key, field, orjson.dumps(record))
                pipe.xadd(AlertKeys.ALERTS, {"id": alert_id, "op": op, "v": str(record["version"])})
                pipe.execute()
                return record
            except redis.WatchError:
                continue


def _version(alert: dict[str, Any], version: Any) -> int:
    if version is None:
        return int(alert["version"])
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= alert["version"]:
        raise InvalidAlert(f"version: the alert has versions 1 to {alert['version']}")
    return version


def ack(client: redis.Redis, alert: dict[str, Any], who: str, *, version: int | None = None,
        by: str | None = None) -> dict[str, Any]:
    """Record that ``who`` (a person, or a screen: :func:`ack_identity`) acknowledged the alert's
    ``version`` (default its current one); ``by``: the person who did it on a screen's behalf.
    The first acknowledgement of a version is kept: {at, version[, by]}."""
    record: dict[str, Any] = {"at": iso_z(_now()), "version": _version(alert, version)}
    if by and by != who:
        record["by"] = by
    return _once_per_version(client, AlertKeys.alert_acks(alert["id"]), who, record, alert["id"], "ack")


def acks(client: redis.Redis, alert_id: str) -> dict[str, dict[str, Any]]:
    """Who acknowledged: person or screen -> {at, version[, by]}."""
    out = {}
    for who, raw in client.hgetall(AlertKeys.alert_acks(alert_id)).items():
        record = _record(raw)
        if record is not None:
            out[who.decode()] = record
    return out


def receipt(client: redis.Redis, alert: dict[str, Any], user: Any, screen: str, version: int | None = None
            ) -> dict[str, Any]:
    """Record that a screen (``screen`` of ``user``'s session) received the alert's ``version``:
    {account, screen, ack_as, version, at}; the first receipt of a version is kept."""
    if screen not in SCREENS:
        raise InvalidAlert(f"screen must be one of {', '.join(SCREENS)}")
    record = {"account": user.name, "screen": screen, "ack_as": ack_identity(user, screen),
              "version": _version(alert, version), "at": iso_z(_now())}
    return _once_per_version(client, AlertKeys.alert_receipts(alert["id"]), f"{user.name}/{screen}", record,
                             alert["id"], "receipt")


def receipts(client: redis.Redis, alert_id: str) -> dict[str, dict[str, Any]]:
    """Which screens received it: "<account>/<screen>" -> {account, screen, ack_as, version, at}."""
    return {k.decode(): r for k, raw in client.hgetall(AlertKeys.alert_receipts(alert_id)).items()
            if (r := _record(raw)) is not None}


def walls_of(client: redis.Redis, alert_id: str) -> list[str]:
    """The wall screens a desk user may acknowledge this alert for: those that received it."""
    return sorted({r["ack_as"] for r in receipts(client, alert_id).values() if r.get("screen") == "wall"})


def ack_for(client: redis.Redis, alert: dict[str, Any], screen_name: str, user: Any,
            version: int | None = None) -> dict[str, Any]:
    """A desk user acknowledges on behalf of a wall screen that received the alert (its banner
    then clears by itself); refused for anything but such a screen."""
    if not isinstance(screen_name, str) or screen_name not in walls_of(client, alert["id"]):
        raise InvalidAlert(f"for: {str(screen_name)[:60]!r} is not a wall screen that received this alert")
    return ack(client, alert, screen_name, version=version, by=user.name)


# -- what screens and readers get -----------------------------------------------------------------------
def in_scope(alert: dict[str, Any], user: Any, workspace: str | None = None) -> bool:
    """Scope: ``floor`` everyone; ``role:X`` those at or above X; ``zone:W`` screens on W (and callers
    that name no workspace, such as the desk); ``event:E`` everyone (it is about that incident)."""
    scope = str(alert.get("scope") or "floor")
    if scope.startswith("role:"):
        return user is not None and user.role.grants(scope[5:])
    if scope.startswith("zone:"):
        return workspace is None or workspace == scope[5:]
    return True


def view(client: redis.Redis, alert: dict[str, Any], user: Any, now: datetime | None = None,
         screen: str | None = None) -> dict[str, Any]:
    """The fields a screen shows; ``acked``: this person (or, on a wall, this screen) acknowledged
    the current version. Its sender and supervisors also get ``acks`` and ``receipts``."""
    out = {k: alert.get(k) for k in ("id", "headline", "text", "severity", "scope", "expires", "tlp", "issued_by",
                                     "issued_at", "version", "incident", "updated_by", "updated_at", "exercise",
                                     "agency", "sharing")}
    out["status"] = current_status(alert, now)
    if getattr(user, "name", None):
        kept = _record(client.hget(AlertKeys.alert_acks(alert["id"]), ack_identity(user, screen)))
        out["acked"] = kept is not None and int(kept.get("version") or 1) >= int(alert["version"])
    if may_manage(alert, user):
        out["acks"] = acks(client, alert["id"])
        out["receipts"] = receipts(client, alert["id"])
    return out


def alerts_after(client: redis.Redis, cursor: str | None, user_or_display: Any, *,
                 workspace: str | None = None, screen: str | None = None) -> tuple[list[dict[str, Any]], str]:
    """Alerts changed after ``cursor`` that this user or screen may see, and the new cursor.

    ``cursor`` None or "" (a screen that just opened): every alert still active or updated (not
    expired, not cancelled), and the cursor of the newest entry. Otherwise the latest state of each
    alert issued, updated or cancelled since, once each, oldest change first, cancelled and expired
    ones included (so the screen can take their banner down). Above the user's TLP or out of scope:
    left out. ``workspace``: the event a screen is focused on (zone-scoped alerts for other
    workspaces are left out); None for screens that show everything. ``screen``: the kind of screen
    asking (a wall's acknowledgements are its own, :func:`ack_identity`)."""
    now = _now()
    if not cursor:
        newest = client.xrevrange(AlertKeys.ALERTS, count=1)
        new_cursor = newest[0][0].decode() if newest else "0-0"
        ids = [i.decode() for i in client.zrange(AlertKeys.ALERT_IDS, 0, -1)]
        wanted_active = True
    else:
        start = "-" if cursor == "0-0" else "(" + cursor
        rows = client.xrange(AlertKeys.ALERTS, min=start, max="+", count=1000)
        new_cursor = rows[-1][0].decode() if rows else cursor
        order: dict[str, int] = {}
        for index, (_sid, fields) in enumerate(rows):
            order.pop(fields[b"id"].decode(), None)
            order[fields[b"id"].decode()] = index
        ids = list(order)
        wanted_active = False
    out = []
    for alert_id in ids:
        alert = load(client, alert_id)
        if alert is None:
            continue
        status = current_status(alert, now)
        if wanted_active and status not in (AlertStatus.ACTIVE.value, AlertStatus.UPDATED.value):
            continue
        if not may_see(alert, user_or_display, client) or not in_scope(alert, user_or_display, workspace):
            continue
        out.append(view(client, alert, user_or_display, now, screen))
    return out, new_cursor


def list_alerts(client: redis.Redis, user: Any, *, include_inactive: bool = False, limit: int = 200
                ) -> list[dict[str, Any]]:
    """Newest first, what ``user`` may see."""
    now = _now()
    out = []
    for raw_id in client.zrevrange(AlertKeys.ALERT_IDS, 0, limit - 1):
        alert = load(client, raw_id.decode())
        if alert is None or not may_see(alert, user, client) or not in_scope(alert, user):
            continue
        if not include_inactive and current_status(alert, now) not in ("active", "updated"):
            continue
        out.append(view(client, alert, user, now))
    return out
