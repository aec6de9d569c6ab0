"""The audit trail: one append-only Redis stream, ``wf:audit``.

Each record holds ``time`` (UTC, ISO 8601), ``user``, ``source`` (address), ``action``, ``record``
(what was acted on), ``outcome`` (ok | refused | failed) and ``reason``. Only the server writes it
(there is no HTTP route that writes or deletes records); entries are never capped by count
(no MAXLEN: that would silently drop records), only trimmed by age (MINID) once they are older than
``audit_retention_days`` (at least 366, default 400).

Inside a request the user, address and Redis client come from the request context that
dashboard.security sets, so a callback only says what happened::
    from domain.access.audit import audit
    audit("annotation.save", record=incident_id)
    audit("alert.push", record=alert_id, outcome="refused", reason="above the recipient's TLP")
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import redis

from domain.access.keys import AuditKeys

log = logging.getLogger(__name__)

DEFAULT_RETENTION_DAYS = 400
THROTTLE_PER_MINUTE = 30  # unauthenticated refusals recorded per source address per minute


class Outcome(str, Enum):
    OK = "ok"
    REFUSED = "refused"
    FAILED = "failed"


@dataclass
class RequestContext:
    """Who is asking and from where; set per request (or WebSocket) by dashboard.security."""

    get_client: Callable[[], redis.Redis | None]
    source: str = "-"
    user: Any = None  # domain.access.accounts.User | None
    retention_days: int = DEFAULT_RETENTION_DAYS
    refused: list[str] = field(default_factory=list)  # reasons; the middleware turns them into a 403
    origin: str = ""  # the scheme, host and port the request came to ("http://127.0.0.1:8050/"), for absolute URLs

    @property
    def user_name(self) -> str:
        return self.user.name if self.user is not None else "-"


request_context: ContextVar[RequestContext | None] = ContextVar("watchfloor_request_context", default=None)


@dataclass(frozen=True)
class AuditRecord:
    id: str
    time: str
    user: str
    source: str
    action: str
    record: str
    outcome: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_entry(cls, entry_id: bytes, raw: dict[bytes, bytes]) -> AuditRecord:
        """One ``wf:audit`` stream entry as a record (missing fields empty)."""
        data = {k.decode(): v.decode() for k, v in raw.items()}
        return cls(id=entry_id.decode(), **{k: data.get(k, "") for k in
                                            ("time", "user", "source", "action", "record", "outcome", "reason")})


def _clean(value: Any, limit: int) -> str:
    """One line, bounded: audit fields may come from attackers (names typed at the sign-in form)."""
    text = "" if value is None else str(value)
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text[:limit]


def audit(
    action: str,
    record: str = "",
    outcome: Outcome | str = Outcome.OK,
    reason: str = "",
    *,
    user: str | None = None,
    source: str | None = None,
    client: redis.Redis | None = None,
) -> str | None:
    """Append one record; its stream id, or None when Redis could not take it (logged as an error).

    ``user``, ``source`` and ``client`` default to the current request's."""
    ctx = request_context.get()
    if client is None and ctx is not None:
        client = ctx.get_client()
    if user is None:
        user = ctx.user_name if ctx is not None else "-"
    if source is None:
        source = ctx.source if ctx is not None else "-"
    outcome = Outcome(outcome)
    now = time.time()
    fields = {
        "time": datetime.fromtimestamp(now, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "user": _clean(user, 128),
        "source": _clean(source, 64),
        "action": _clean(action, 64),
        "record": _clean(record, 256),
        "outcome": outcome.value,
        "reason": _clean(reason, 300),
    }
    if client is None:
        log.error("audit record lost: no Redis", extra={"audit": fields})
        return None
    try:
        entry_id = client.xadd(AuditKeys.AUDIT, fields)  # never MAXLEN: see the module docstring
        retention = ctx.retention_days if ctx is not None else DEFAULT_RETENTION_DAYS
        if client.set(AuditKeys.AUDIT_TRIMMED, "1", nx=True, ex=86_400):
            trim(client, retention)
    except (redis.RedisError, OSError) as exc:
        log.error("audit record lost: Redis unreachable (%s)", type(exc).__name__, extra={"audit": fields})
        return None
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def audit_refusal(action: str, record: str, reason: str, *, throttle: bool) -> None:
    """A refused request. ``throttle`` for unauthenticated ones: at most THROTTLE_PER_MINUTE records
    per source address and minute, then one record saying the rest were not recorded, so nobody can
    fill Redis by hammering the server without signing in."""
    ctx = request_context.get()
    if throttle and ctx is not None:
        client = ctx.get_client()
        if client is None:
            return
        try:
            key = AuditKeys.audit_throttle(_clean(ctx.source, 64), int(time.time() // 60))
            pipe = client.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, 120)
            count = int(pipe.execute()[0])
        except (redis.RedisError, OSError):
            return
        if count > THROTTLE_PER_MINUTE + 1:
            return
        if count == THROTTLE_PER_MINUTE + 1:
            audit("access", record="*", outcome=Outcome.REFUSED,
                  reason=f"more than {THROTTLE_PER_MINUTE} refusals from this address this minute; the rest not recorded")
            return
    audit(action, record=record, outcome=Outcome.REFUSED, reason=reason)


def trim(client: redis.Redis, retention_days: int = DEFAULT_RETENTION_DAYS) -> int:
    """Drop records older than ``retention_days`` (never fewer than 366); the number removed."""
    days = max(366, int(retention_days))
    cutoff_ms = int((time.time() - days * 86_400) * 1000)
    return int(client.xtrim(AuditKeys.AUDIT, minid=f"{cutoff_ms}-0", approximate=False))


def read(client: redis.Redis, since: datetime | None = None, until: datetime | None = None,
         batch: int = 1000) -> Iterator[AuditRecord]:
    """Records from ``since`` (inclusive) to ``until`` (exclusive), oldest first."""
    start = f"{int(since.timestamp() * 1000)}-0" if since else "-"
    end_ms = int(until.timestamp() * 1000) - 1 if until else None
    end = f"{end_ms}-18446744073709551615" if end_ms is not None else "+"
    while True:
        rows = client.xrange(AuditKeys.AUDIT, min=start, max=end, count=batch)
        for entry_id, raw in rows:
            yield AuditRecord.from_entry(entry_id, raw)
        if len(rows) < batch:
            return
        start = "(" + rows[-1][0].decode()


@dataclass(frozen=True)
class AuditQuery:
    """What a supervisor asks of the trail: a time range and exact-match filters (empty: any)."""

    since: datetime | None = None
    until: datetime | None = None
    user: str = ""
    action: str = ""  # exact, or a prefix ending in "." ("alert." matches alert.push, alert.ack...)
    outcome: str = ""
    limit: int = 500

    @classmethod
    def parse(cls, params: Any) -> AuditQuery:
        """From query parameters or form fields; ValueError with a one-line reason when malformed."""
        def when(name: str) -> datetime | None:
            text = str(params.get(name) or "").strip()
            if not text:
                return None
            try:
                value = datetime.fromisoformat(text)
            except ValueError:
                raise ValueError(f"{name}: {text[:40]!r} is not a date (example: 2026-11-01 or 2026-11-01T08:00)") from None
            return value if value.tzinfo else value.replace(tzinfo=UTC)

        outcome = str(params.get("outcome") or "").strip()
        if outcome and outcome not in {o.value for o in Outcome}:
            raise ValueError(f"outcome: {outcome[:20]!r} is not one of ok, refused, failed")
        try:
            limit = int(params.get("limit") or 500)
        except (TypeError, ValueError):
            raise ValueError("limit: give a whole number from 1 to 5000") from None
        if not 1 <= limit <= 5000:
            raise ValueError("limit: give a whole number from 1 to 5000")
        return cls(since=when("since"), until=when("until"), user=_clean(params.get("user"), 64).strip(),
                   action=_clean(params.get("action"), 64).strip(), outcome=outcome, limit=limit)

    def matches(self, rec: AuditRecord) -> bool:
        if self.user and rec.user != self.user:
            return False
        if self.outcome and rec.outcome != self.outcome:
            return False
        if self.action:
            return rec.action.startswith(self.action) if self.action.endswith(".") else rec.action == self.action
        return True

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in (("since", self.since and self.since.isoformat()),
                                         ("until", self.until and self.until.isoformat()), ("user", self.user),
                                         ("action", self.action), ("outcome", self.outcome)) if v]
        return " ".join(parts) or "everything"


SCAN_BUDGET = 200_000  # records examined per query at most: a filter that matches little stays cheap


def search(client: redis.Redis, query: AuditQuery, batch: int = 2000) -> tuple[list[AuditRecord], bool]:
    """Newest first: up to ``query.limit`` records matching ``query``, and whether more (older) may
    match beyond the limit or the scan budget."""
    end = f"{int(query.until.timestamp() * 1000) - 1}-18446744073709551615" if query.until else "+"
    start = f"{int(query.since.timestamp() * 1000)}-0" if query.since else "-"
    found: list[AuditRecord] = []
    scanned = 0
    while True:
        rows = client.xrevrange(AuditKeys.AUDIT, max=end, min=start, count=batch)
        for entry_id, raw in rows:
            scanned += 1
            rec = AuditRecord.from_entry(entry_id, raw)
            if query.matches(rec):
                found.append(rec)
                if len(found) >= query.limit:
                    return found, True
        if len(rows) < batch:
            return found, False
        if scanned >= SCAN_BUDGET:
            return found, True
        end = "(" + rows[-1][0].decode()
