"""The two-step vetting of suspicious-activity reports (ISE-SAR Functional Standard 1.5.5), as states.

    received --screen--> screened --submit--> review --share--> shared (an ISE-SAR)
        |                   |                    |---keep----> kept (information only)
        +-----close---------+--------close-------+---close---> closed
    kept --reopen--> review;  kept --close--> closed;  shared --close--> closed (withdrawn)

Step one, front-line screening (operator and above): is this a behaviour of one of the sixteen
categories? The screener sets the category (a public tip arrives without one). Step two, the trained
analyst (supervisor and above) decides whether it has a potential nexus to terrorism or crime and is
shared as an ISE-SAR, kept as information, or closed. Every move needs a reason, is kept in the
report's history and written to the audit trail; a move by a role that may not make it is refused
and audited the same way.

Sharing is where the privacy rules bite. The analyst affirms (``affirm``) that race, ethnicity,
national origin or religion were not a reason for suspicion (only part of a specific description) and
that activity protected by the First Amendment is not reported without facts of criminal activity.
A narrative that gives a protected attribute as the reason is refused; one that describes protected
activity (a protest, a prayer, a leaflet) is shared only under a category of defined criminal activity.

Retention: a report not shared is kept ``sar_retention_days`` after it was received, then purged (the
report, its history, its mentions and the entities no other report holds) with a purge record that
keeps ids and dates, never content. A shared report becomes criminal intelligence under 28 CFR Part 23:
it gets a review date at most five years out and is purged at it unless a supervisor revalidates it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import redis

from domain.access.accounts import Role
from domain.access.audit import audit
from domain.errors import AboveMarking, Invalid, NotFound
from domain.operations.criminal_intel import review_limit
from domain.reports import entities
from domain.reports.categories import BY_CODE, CRIMINAL, category_code
from domain.reports.form import MIN_NARRATIVE, clean_text, first_amendment, protected_reason
from domain.reports.keys import ReportKeys
from domain.reports.store import WAITING, can_see, iso_now, load, role_of

STATES = ("received", "screened", "review", "shared", "kept", "closed")
MIN_REASON = 5


@dataclass(frozen=True)
class Move:
    source: str
    target: str
    role: Role
    name: str


MOVES: tuple[Move, ...] = (
    Move("received", "screened", Role.OPERATOR, "screen"),
    Move("received", "closed", Role.OPERATOR, "close"),
    Move("screened", "review", Role.OPERATOR, "submit for analyst review"),
    Move("screened", "closed", Role.OPERATOR, "close"),
    Move("review", "shared", Role.SUPERVISOR, "share as ISE-SAR"),
    Move("review", "kept", Role.SUPERVISOR, "keep as information"),
    Move("review", "closed", Role.SUPERVISOR, "close"),
    Move("kept", "review", Role.SUPERVISOR, "reopen for review"),
    Move("kept", "closed", Role.SUPERVISOR, "close"),
    Move("shared", "closed", Role.SUPERVISOR, "withdraw"),
)
_BY_PAIR = {(m.source, m.target): m for m in MOVES}


class Refused(AboveMarking):
    """A move the user's role may not make (403)."""


def moves_from(state: str, user: Any = None) -> list[Move]:
    """The moves out of ``state`` (only those ``user`` may make, when given)."""
    return [m for m in MOVES if m.source == state and (user is None or role_of(user).grants(m.role))]


def _affirmed(data: dict[str, Any]) -> bool:
    affirm = data.get("affirm")
    if affirm is True:
        return True
    return isinstance(affirm, dict) and affirm.get("protected_attributes") is True and affirm.get("first_amendment") is True


def check_share(report: dict[str, Any], data: dict[str, Any]) -> None:
    """The privacy rules of sharing; Invalid naming what is missing."""
    if not _affirmed(data):
        raise Invalid("affirm: before sharing, affirm that race, ethnicity, national origin or religion were not a "
                      "reason for suspicion and that no activity protected by the First Amendment is reported "
                      "without facts of criminal activity")
    if report.get("category") not in BY_CODE:
        raise Invalid("category: a shared ISE-SAR needs its behaviour category")
    if len(report.get("narrative") or "") < MIN_NARRATIVE:
        raise Invalid("narrative: a shared ISE-SAR needs the articulable facts observed")
    words = protected_reason(report.get("narrative", ""))
    if words:
        raise Invalid(f"narrative gives a protected attribute as the reason for suspicion ({words[:80]!r}); "
                      "it cannot be shared: keep it as information or close it")
    words = first_amendment(report.get("narrative", ""))
    if words and report["category"] not in CRIMINAL:
        raise Invalid(f"narrative describes activity the First Amendment protects ({words!r}) under "
                      f"{report['category']}, which needs more facts; share only with facts of criminal activity "
                      f"(one of {', '.join(sorted(CRIMINAL))}) or keep it as information")


def move(client: redis.Redis, report_id: str, data: Any, user: Any, *, source: str | None = None,
         now: float | None = None) -> dict[str, Any]:
    """Move a report to ``data["to"]`` with ``data["reason"]``; the report after the move.

    Refused moves raise (NotFound, Invalid, Refused) and are audited as refused here."""
    now = time.time() if now is None else now
    data = data if isinstance(data, dict) else {}
    name = getattr(user, "name", "cli")
    try:
        report = _checked_move(client, report_id, data, user, now)
    except (NotFound, Invalid, Refused) as exc:
        audit("sar.move", record=report_id[:120], outcome="refused", reason=str(exc)[:300], user=name,
              source=source, client=client)
        raise
    audit("sar.move", record=report_id, reason=f"{report['_from']} -> {report['state']}: {data['reason'][:200]}",
          user=name, source=source, client=client)
    report.pop("_from", None)
    return report


def _checked_move(client: redis.Redis, report_id: str, data: dict[str, Any], user: Any, now: float) -> dict[str, Any]:
    target = str(data.get("to") or "").strip().lower()
    reason = clean_text(data.get("reason"), "reason", limit=500, lines=True)
    key = ReportKeys.report(report_id)
    for _ in range(10):
        with client.pipeline() as pipe:
            try:
                pipe.watch(key)
                report = load(pipe, report_id)
                if report is None or not can_see(report, user, client):
                    raise NotFound(f"no report {report_id[:60]!r} that you may read")
                step = _BY_PAIR.get((report["state"], target))
                if step is None:
                    allowed = ", ".join(m.target for m in moves_from(report["state"])) or "none"
                    raise Invalid(f"to: a report {report['state']} cannot move to {target or '(nothing)'!r}; "
                                  f"it can move to {allowed}")
                if user is not None and not role_of(user).grants(step.role):
                    raise Refused(f"to {target}: {step.name} needs role {step.role.value}; you are "
                                  f"{role_of(user).value}")
                if len(reason) < MIN_REASON:
                    raise Invalid("reason: say why (at least a few words); it is kept with the report")
                _apply(report, data, target, user, now)
                pipe.multi()
                pipe.set(key, orjson.dumps(report))
                if target in WAITING:
                    pipe.zadd(ReportKeys.QUEUE, {report_id: report["received"]})
                else:
                    pipe.zrem(ReportKeys.QUEUE, report_id)
                pipe.zrem(ReportKeys.in_state(report["_from"]), report_id)
                pipe.zadd(ReportKeys.in_state(target), {report_id: report["received"]})
                pipe.rpush(ReportKeys.history(report_id), orjson.dumps(
                    {"from": report["_from"], "to": target, "by": getattr(user, "name", "cli"),
                     "at": iso_now(now), "reason": reason}))
                pipe.execute()
                return report
            except redis.WatchError:
                continue
    raise Invalid("the report was changed by someone else meanwhile; try again")


def _apply(report: dict[str, Any], data: dict[str, Any], target: str, user: Any, now: float) -> None:
    if data.get("category") not in (None, ""):
        code = category_code(data["category"])
        if code is None:
            raise Invalid(f"category: {str(data['category'])[:40]!r} is not an ISE-SAR category")
        report["category"] = code
    if target == "screened" and not report.get("category"):
        raise Invalid("category: screening decides the behaviour category (e.g. PHOTO, SURVL); give it")
    if target == "shared":
        check_share(report, data)
        today = datetime.fromtimestamp(now, UTC).date()
        report["shared"] = {"by": getattr(user, "name", "cli"), "at": iso_now(now), "affirmed": True,
                            "review_date": review_limit(today).isoformat()}
    report["_from"], report["state"] = report["state"], target
    report["state_at"] = iso_now(now)


# -- retention ----------------------------------------------------------------------------------------------
def purge_due(client: redis.Redis, retention_days: float, now: float | None = None) -> list[dict[str, Any]]:
    """Reports past their keeping: not shared and received more than ``retention_days`` ago, or shared
    and past their review date."""
    now = time.time() if now is None else now
    today = datetime.fromtimestamp(now, UTC).date().isoformat()
    due = []
    for raw_id in client.zrangebyscore(ReportKeys.REPORTS, "-inf", now):
        report = load(client, raw_id.decode())
        if report is None:
            continue
        if report["state"] == "shared":
            if str((report.get("shared") or {}).get("review_date") or "9999") < today:
                due.append(report)
        elif report["received"] < now - retention_days * 86400:
            due.append(report)
    return due


def purge(client: redis.Redis, retention_days: float, *, dry_run: bool, actor: str = "scheduler",
          source: str = "cron", now: float | None = None) -> list[dict[str, Any]]:
    """Remove what :func:`purge_due` lists, each with a purge record; the rows purged (or due, dry run)."""
    now = time.time() if now is None else now
    rows = []
    for report in purge_due(client, retention_days, now):
        why = ("shared report past its review date without revalidation (28 CFR 23.20(h))"
               if report["state"] == "shared" else f"not shared within the retention of {retention_days:g} days")
        row = {"id": report["id"], "kind": report["kind"], "state": report["state"],
               "received": report["received_at"], "reason": why, "at": iso_now(now)}
        rows.append(row)
        if dry_run:
            continue
        gone = entities.forget_report(client, report["id"])
        with client.pipeline() as pipe:
            pipe.delete(ReportKeys.report(report["id"]), ReportKeys.history(report["id"]))
            pipe.zrem(ReportKeys.REPORTS, report["id"])
            pipe.zrem(ReportKeys.QUEUE, report["id"])
            pipe.zrem(ReportKeys.in_state(report["state"]), report["id"])
            pipe.xadd(ReportKeys.PURGED, {**row, "entities_removed": str(len(gone))})
            pipe.execute()
        for incident_id in report.get("incidents") or []:
            client.srem(ReportKeys.incident_reports(incident_id), report["id"])
        if report.get("receipt"):
            client.delete(ReportKeys.receipt(report["receipt"]))
        audit("sar.purge", record=report["id"], reason=f"{why}; {len(gone)} entity(ies) with no other source removed",
              user=actor, source=source, client=client)
    if dry_run:
        audit("sar.purge.preview", record=f"{len(rows)} report(s)", reason="dry run: nothing removed", user=actor,
              source=source, client=client)
    return rows


def purged(client: redis.Redis) -> list[dict[str, str]]:
    return [{"entry": i.decode(), **{k.decode(): v.decode() for k, v in row.items()}}
            for i, row in client.xrange(ReportKeys.PURGED)]
