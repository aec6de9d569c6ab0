"""Reports and tips in Redis: taken in whole or not at all, read only by those allowed.

A report is one JSON value (``wf:report:<id>``) with its fields (domain.reports.form), its vetting
``state``, its marking, who entered it and how (``channel``: desk, api, cli, tip), the geocoded
place, what the vetting analyst must look at (``privacy_flags``) and the tipster's later additions
(``addenda``). Its mentions of entities are written in the same transaction (domain.reports.entities).

Who reads what (:func:`can_see`): screens (display accounts) never read a report, only the vetting
queue's size and age; viewers read reports shared as ISE-SAR that did not start as public tips;
operators and above read every report; everyone only up to their TLP maximum.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import redis

from domain.access.accounts import Role
from domain.access.tlp import visible
from domain.agencies.access import reader_for, shared_with
from domain.errors import Invalid, NotFound
from domain.reports import entities
from domain.reports.form import check_privacy, clean_text, parse_report, privacy_flags
from domain.reports.keys import EntityKeys, ReportKeys

WAITING = ("received", "screened", "review")
MAX_ADDENDA = 20
RECEIPT_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud over a phone

Geocoder = Callable[[str], Any]


def iso_now(now: float | None = None) -> str:
    return datetime.fromtimestamp(now if now is not None else time.time(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id(kind: str, now: float) -> str:
    day = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d")
    return f"{'TIP' if kind == 'tip' else 'SAR'}-{day}-{secrets.token_hex(3).upper()}"


def receipt_code() -> str:
    raw = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def receipt_digest(code: str) -> str:
    plain = "".join(c for c in (code or "").upper() if c.isalnum())
    return hashlib.sha256(plain.encode()).hexdigest()


def place(report: dict[str, Any], geocode: Geocoder | None) -> None:
    """Add ``lat``/``lon``/``label`` to a location given only as text (the existing offline geocoder)."""
    location = report.get("location") or {}
    if "lat" in location or not location.get("text") or geocode is None:
        return
    found = geocode(location["text"])
    if found is not None:
        location.update(lat=round(found.lat, 6), lon=round(found.lon, 6), label=found.name,
                        precision=found.precision)


def build(data: Any, *, kind: str, by: str, channel: str, now: float | None = None,
          geocode: Geocoder | None = None) -> dict[str, Any]:
    """A checked report ready to store (no Redis): FormError naming the field when anything is wrong."""
    now = time.time() if now is None else now
    report = parse_report(data, kind=kind, now=datetime.fromtimestamp(now, UTC))
    if kind == "sar":
        check_privacy(report)
    place(report, geocode)
    report.update(id=new_id(kind, now), state="received", received_at=iso_now(now), received=now,
                  entered_by=by, channel=channel, privacy_flags=privacy_flags(report), addenda=[],
                  time=report["time"] or iso_now(now))
    if kind == "sar" and not report["reporting_officer"]:
        report["reporting_officer"] = by
    return report


def save_new(client: redis.Redis, report: dict[str, Any], *, region: str = "US",
             receipt: str | None = None) -> dict[str, Any]:
    """Store a new report with its mentions and (for a tip) its receipt, in one transaction."""
    if receipt:
        report["receipt"] = receipt_digest(receipt)  # so a purge removes the code with the tip
    save_many(client, [report], region=region)
    return report


def save_many(client: redis.Redis, reports: list[dict[str, Any]], *, region: str = "US",
              batch: int = 200) -> list[dict[str, Any]]:
    """Store reports (built by :func:`build`) with their mentions, ``batch`` to a transaction: each
    transaction stores all of its reports or none, and resolves their entities against each other."""
    for i in range(0, len(reports), batch):
        _save_batch(client, reports[i:i + batch], region)
    return reports


def _save_batch(client: redis.Redis, reports: list[dict[str, Any]], region: str) -> None:
    found = [entities.mentions_of(r, region) for r in reports]
    watched = entities.watch_keys([m for mentions in found for m in mentions])
    for _ in range(10):
        with client.pipeline() as pipe:
            try:
                if watched:
                    pipe.watch(*watched)
                resolutions = entities.plan_many(pipe, found)
                pipe.multi()
                for report, resolution in zip(reports, resolutions, strict=True):
                    _queue_report(pipe, report)
                    entities.write(pipe, report["id"], resolution)
                pipe.execute()
                return
            except redis.WatchError:
                continue
    raise Invalid("the store was busy with the same entities; send the reports again")


def _queue_report(pipe: Any, report: dict[str, Any]) -> None:
    pipe.set(ReportKeys.report(report["id"]), orjson.dumps(report))
    pipe.zadd(ReportKeys.REPORTS, {report["id"]: report["received"]})
    pipe.zadd(ReportKeys.QUEUE, {report["id"]: report["received"]})
    pipe.zadd(ReportKeys.in_state(report["state"]), {report["id"]: report["received"]})
    pipe.rpush(ReportKeys.history(report["id"]), orjson.dumps(
        {"from": "", "to": "received", "by": report["entered_by"], "at": report["received_at"],
         "reason": f"entered via {report['channel']}"}))
    if report.get("receipt"):
        pipe.set(ReportKeys.receipt(report["receipt"]), report["id"])
    for incident_id in report.get("incidents") or []:
        pipe.sadd(ReportKeys.incident_reports(incident_id), report["id"])


def load(client: redis.Redis, report_id: str) -> dict[str, Any] | None:
    raw = client.get(ReportKeys.report(report_id))
    return orjson.loads(raw) if raw is not None else None


def history(client: redis.Redis, report_id: str) -> list[dict[str, Any]]:
    return [orjson.loads(r) for r in client.lrange(ReportKeys.history(report_id), 0, -1)]


def role_of(user: Any) -> Role:
    role = getattr(user, "role", Role.VIEWER)
    return role if isinstance(role, Role) else Role(str(role))


def can_see(report: dict[str, Any], user: Any, client: redis.Redis | None = None) -> bool:
    """The one rule for reading a report (see the module docstring). ``user`` None: the host's CLI."""
    if user is None:
        return True
    role = role_of(user)
    if role is Role.DISPLAY:
        return False
    if not visible(report.get("tlp"), user, client):
        return False
    if report.get("agency") and not shared_with(report, reader_for(user, client).agency):
        return False  # its owner's sharing rule leaves the reader's agency out
    if role.grants(Role.OPERATOR):
        return True
    return report.get("state") == "shared" and report.get("kind") != "tip"


def read(client: redis.Redis, report_id: str, user: Any) -> dict[str, Any]:
    """The report if ``user`` may read it; NotFound otherwise (existence is not revealed)."""
    report = load(client, report_id)
    if report is None or not can_see(report, user, client):
        raise NotFound(f"no report {report_id[:60]!r} that you may read")
    return report


def listing(client: redis.Redis, user: Any, *, state: str | None = None, kind: str | None = None,
            limit: int = 200) -> list[dict[str, Any]]:
    """Reports ``user`` may read, newest first."""
    out = []
    for raw_id in client.zrevrange(ReportKeys.in_state(state) if state else ReportKeys.REPORTS, 0, -1):
        report = load(client, raw_id.decode())
        if report is None or (state and report["state"] != state) or (kind and report["kind"] != kind):
            continue
        if can_see(report, user, client):
            out.append(report)
            if len(out) >= limit:
                break
    return out


def queue_status(client: redis.Redis, target_hours: float, now: float | None = None) -> dict[str, Any]:
    """The vetting queue for screens: how many wait, the oldest's age, how many are past the target."""
    now = time.time() if now is None else now
    waiting = client.zcard(ReportKeys.QUEUE)
    oldest = client.zrange(ReportKeys.QUEUE, 0, 0, withscores=True)
    oldest_age = max(0.0, now - oldest[0][1]) if oldest else 0.0
    target = target_hours * 3600
    late = client.zcount(ReportKeys.QUEUE, "-inf", now - target) if waiting else 0
    return {"waiting": int(waiting), "oldest_seconds": round(oldest_age), "target_seconds": round(target),
            "late": int(late)}


def queue_line(status: dict[str, Any]) -> str:
    """"3 reports waiting, oldest 5 h (target 24 h)" for the desk and the wall."""
    waiting = status["waiting"]
    if not waiting:
        return "No reports waiting for vetting"
    age = status["oldest_seconds"]
    text = f"{age // 3600} h" if age >= 3600 else f"{max(1, age // 60)} min"
    target = status["target_seconds"] // 3600
    return (f"{waiting} report{'s' if waiting != 1 else ''} waiting, oldest {text} (target {target} h)"
            + (f", {status['late']} late" if status.get("late") else ""))


def add_information(client: redis.Redis, code: str, text: Any, now: float | None = None) -> str:
    """A tipster's addition to their own tip by its receipt code; the tip's id (never its content)."""
    addition = clean_text(text, "information", limit=2000, lines=True, required=True)
    key = ReportKeys.receipt(receipt_digest(code))
    for _ in range(10):
        with client.pipeline() as pipe:
            try:
                pipe.watch(key)
                report_id = pipe.get(key)
                if report_id is None:
                    raise NotFound("no tip has that receipt code; check it, or send a new tip")
                report_key = ReportKeys.report(report_id.decode())
                pipe.watch(report_key)
                raw = pipe.get(report_key)
                if raw is None:
                    raise NotFound("no tip has that receipt code; check it, or send a new tip")
                report = orjson.loads(raw)
                if len(report["addenda"]) >= MAX_ADDENDA:
                    raise Invalid(f"information: this tip already has {MAX_ADDENDA} additions; send a new tip")
                report["addenda"].append({"at": iso_now(now), "text": addition})
                pipe.multi()
                pipe.set(report_key, orjson.dumps(report))
                pipe.execute()
                return report["id"]
            except redis.WatchError:
                continue
    raise Invalid("the tip was busy; send the information again")


def count_entities(client: redis.Redis) -> int:
    return int(client.zcard(EntityKeys.ENTITIES))
