"""Annotations that are criminal intelligence: the rules of 28 CFR Part 23, enforced on the server.

An annotation marked ``criminal_intel`` must

* record a **criminal nexus**: ``nexus``, at least MIN_NEXUS_CHARS characters saying which criminal
  conduct the record is about (23.20(a), reasonable suspicion);
* not hold **political, religious or social views, associations or activities** (23.20(b)):
  - the body fields in REFUSED_FIELDS are refused outright (on every annotation);
  - the tags in REFUSED_TAGS are refused on intelligence records;
  - the note and tags are checked against VIEW_PATTERNS (identity, affiliation and belief words);
    a match is refused with the word and the category, so the operator can rewrite the note to
    the conduct alone. The check is deliberately narrow (it does not refuse "protest" or "rally":
    a note about violence at a demonstration is conduct) and it is a guard, not a substitute for
    the supervisor's review;
* carry a **review date** at most MAX_REVIEW_YEARS (five) years out (23.20(h)); without one it gets
  exactly five years. A supervisor validating the record (``POST .../annotation/validate``) sets a
  new review date, again at most five years from the validation;
* be **purged** once its review date has passed without validation: ``watchfloor intel purge
  --dry-run`` lists what would go, without ``--dry-run`` it deletes the annotation and its history
  and writes one audit record per record purged (the audit keeps ids and dates, never the note);
* have **every dissemination** logged (23.20(g)): exports and pushes outside the agency append to
  ``wf:intel:disseminations`` (incident, recipient, reason, by, channel, UTC time) and to the audit
  trail; a dissemination without a recipient and a reason is refused.

A record stays criminal intelligence until it is purged: the flag cannot be cleared (clearing it
would drop the protections while the history still holds the text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import redis

from domain.access.audit import audit
from domain.errors import WatchfloorError
from domain.operations.keys import AnnotationKeys, IntelKeys
from domain.reports import annotated

MAX_REVIEW_YEARS = 5
MIN_NEXUS_CHARS = 20
MAX_NEXUS_CHARS = 2000

# Body fields that would hold views, associations or activities protected by 23.20(b).
REFUSED_FIELDS = frozenset({
    "political_views", "political_affiliation", "political_party", "party_affiliation", "voting",
    "religion", "religious_views", "religious_affiliation", "faith", "church", "congregation",
    "social_views", "beliefs", "ideology", "associations", "affiliations", "memberships",
    "sexual_orientation", "ethnicity", "race",
})

# Tags refused on criminal-intelligence records.
REFUSED_TAGS = frozenset({
    "political", "politics", "political-views", "political-affiliation", "party", "voter",
    "religion", "religious", "religious-views", "faith", "church", "mosque", "synagogue", "temple",
    "social-views", "beliefs", "ideology", "activist", "association", "membership",
})

# (pattern, category) checked on the note and tags of criminal-intelligence records.
VIEW_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p, re.IGNORECASE), category) for p, category in (
        (r"\bpolitic(?:al|s)\b", "political views"),
        (r"\b(?:democrat|republican|libertarian|socialist|communist|anarchist)s?\b", "political affiliation"),
        (r"\bvot(?:ed|es|ing)\s+for\b", "political activity"),
        (r"\bparty\s+(?:member|membership|affiliation)\b", "political affiliation"),
        (r"\breligio(?:n|ns|us)\b", "religious views"),
        (r"\b(?:church|mosque|synagogue|temple|parish|congregation)\b", "religious association"),
        (r"\b(?:christian|muslim|jewish|hindu|buddhist|sikh|catholic|protestant|atheist)s?\b", "religious views"),
        (r"\b(?:faith|worship(?:s|ped|ping)?)\b", "religious activity"),
        (r"\bsocial\s+(?:views?|beliefs?|opinions?|causes?)\b", "social views"),
        (r"\b(?:beliefs?|ideology|ideological)\b", "views or beliefs"),
        (r"\bsexual\s+orientation\b", "social views"),
    )
)


class IntelError(WatchfloorError, ValueError):
    """A criminal-intelligence rule refused the request; the message says which and how to fix it."""


@dataclass(frozen=True)
class PurgeItem:
    incident: str
    review_date: str
    marked_by: str
    validated_at: str

    def to_dict(self) -> dict[str, str]:
        return {"incident": self.incident, "review_date": self.review_date, "marked_by": self.marked_by,
                "validated_at": self.validated_at}


def now_utc() -> datetime:
    return datetime.now(UTC)


def iso_z(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def review_limit(today: date) -> date:
    """The latest review date allowed for a record created or validated on ``today``."""
    try:
        return today.replace(year=today.year + MAX_REVIEW_YEARS)
    except ValueError:  # 29 February
        return today.replace(year=today.year + MAX_REVIEW_YEARS, day=28)


def parse_review_date(value: Any, today: date) -> date:
    """A review date (``YYYY-MM-DD``) after today and at most five years out; IntelError otherwise."""
    if value in (None, ""):
        return review_limit(today)
    try:
        when = date.fromisoformat(str(value)) if len(str(value)) == 10 else None
    except ValueError:
        when = None
    if when is None:
        raise IntelError(f"review_date {str(value)[:40]!r} is not a date (YYYY-MM-DD)")
    if when <= today:
        raise IntelError(f"review_date {when.isoformat()} is not in the future")
    if when > review_limit(today):
        raise IntelError(f"review_date {when.isoformat()} is more than {MAX_REVIEW_YEARS} years out "
                         f"(28 CFR 23.20(h)); the latest allowed is {review_limit(today).isoformat()}")
    return when


def refused_fields(keys: Any) -> list[str]:
    """Body keys that are about protected views (refused on every annotation)."""
    return sorted(k for k in keys if str(k).lower() in REFUSED_FIELDS)


def check_refused_fields(keys: Any) -> None:
    found = refused_fields(keys)
    if found:
        raise IntelError(f"field {found[0]!r} is refused: records may not hold political, religious or social "
                         "views, associations or activities (28 CFR 23.20(b))")


def check_views(note: str, tags: list[str]) -> None:
    """IntelError naming the first protected-views word found in the note or tags."""
    for tag in tags:
        if tag.lower() in REFUSED_TAGS:
            raise IntelError(f"tag {tag!r} is refused on criminal intelligence: no political, religious or social "
                             "views, associations or activities (28 CFR 23.20(b)); record the criminal conduct only")
    for where, text in (("note", note), *((f"tag {t!r}", t) for t in tags)):
        for pattern, category in VIEW_PATTERNS:
            match = pattern.search(text or "")
            if match:
                raise IntelError(f"the {where} mentions {category} ({match.group(0)!r}); criminal intelligence may "
                                 "not record political, religious or social views, associations or activities "
                                 "(28 CFR 23.20(b)) unless they directly relate to criminal conduct; rewrite it "
                                 "to describe the conduct")


def check_record(*, note: str, tags: list[str], nexus: Any, review_date: Any, today: date,
                 previous: dict[str, Any] | None, by: str, when: datetime) -> dict[str, Any]:
    """The ``intel`` block of a criminal-intelligence annotation after a save, or IntelError."""
    previous = previous or {}
    nexus_text = str(nexus if nexus is not None else previous.get("nexus") or "").strip()
    if len(nexus_text) < MIN_NEXUS_CHARS:
        raise IntelError("criminal intelligence needs a criminal nexus: say in `nexus` (at least "
                         f"{MIN_NEXUS_CHARS} characters) which criminal conduct this record concerns (28 CFR 23.20(a))")
    if len(nexus_text) > MAX_NEXUS_CHARS:
        raise IntelError(f"nexus is longer than {MAX_NEXUS_CHARS} characters")
    check_views(note, tags)
    check_views(nexus_text, [])
    if review_date is None and previous.get("review_date"):
        review = previous["review_date"]  # unchanged on an edit
    else:
        review = parse_review_date(review_date, today).isoformat()
    return {
        "nexus": nexus_text,
        "review_date": review,
        "marked_by": previous.get("marked_by") or by,
        "marked_at": previous.get("marked_at") or iso_z(when),
        "validated_by": previous.get("validated_by") or "",
        "validated_at": previous.get("validated_at") or "",
    }


def validated_block(intel: dict[str, Any], *, by: str, review_date: Any, when: datetime) -> dict[str, Any]:
    """``intel`` after a supervisor's validation: who, when, and the new review date (<= 5 years)."""
    review = parse_review_date(review_date, when.date()).isoformat()
    return {**intel, "validated_by": by, "validated_at": iso_z(when), "review_date": review}


def is_past_review(annotation: dict[str, Any], today: date) -> bool:
    intel = annotation.get("intel") or {}
    try:
        return date.fromisoformat(str(intel.get("review_date"))) < today
    except ValueError:
        return True  # a record without a readable review date is not kept


# -- purge ----------------------------------------------------------------------------------------------
def purge_candidates(client: redis.Redis, today: date | None = None) -> list[PurgeItem]:
    """Criminal-intelligence records whose review date has passed without validation."""
    today = today or now_utc().date()
    out: list[PurgeItem] = []
    for raw_id in sorted(client.smembers(IntelKeys.INTEL)):
        incident = raw_id.decode()
        raw = client.get(AnnotationKeys.annotation(incident))
        if raw is None:
            continue
        annotation = orjson.loads(raw)
        if not annotation.get("criminal_intel") or not is_past_review(annotation, today):
            continue
        intel = annotation.get("intel") or {}
        out.append(PurgeItem(incident, str(intel.get("review_date") or ""), str(intel.get("marked_by") or ""),
                             str(intel.get("validated_at") or "")))
    return out


def purge(client: redis.Redis, *, dry_run: bool, actor: str, source: str = "cli",
          today: date | None = None, only: set[str] | None = None) -> list[PurgeItem]:
    """Delete (or, with ``dry_run``, only list) the records past review; one audit record each.
    ``only`` limits it to those incident ids (the scheduled purge: the announced ones)."""

    items = [i for i in purge_candidates(client, today) if only is None or i.incident in only]
    if dry_run:
        audit("intel.purge.preview", record=f"{len(items)} record(s)", reason="dry run: nothing removed",
              user=actor, source=source, client=client)
        return items
    today = today or now_utc().date()
    removed: list[PurgeItem] = []
    for item in items:
        key = AnnotationKeys.annotation(item.incident)
        # Re-check under WATCH: a supervisor may validate the record while the purge runs.
        with client.pipeline() as pipe:
            try:
                pipe.watch(key)
                raw = pipe.get(key)
                if raw is None or not is_past_review(orjson.loads(raw), today):
                    continue
                pipe.multi()
                pipe.delete(key, AnnotationKeys.annotation_history(item.incident))
                pipe.srem(IntelKeys.INTEL, item.incident)
                pipe.srem(AnnotationKeys.ANNOTATED, item.incident)
                pipe.execute()
            except redis.WatchError:
                continue
        annotated.forget(client, item.incident)  # the phones and e-mails its note named
        audit("intel.purge", record=item.incident,
              reason=f"criminal intelligence past review date {item.review_date} without validation; "
                     "annotation and history removed (28 CFR 23.20(h))", user=actor, source=source, client=client)
        removed.append(item)
    return removed


def scheduled_purge(client: redis.Redis, *, notice_days: int, today: date | None = None) -> dict[str, Any]:
    """The daily purge job: a record past review is first *announced* (a dry-run preview, audited as
    ``intel.purge.preview`` with the date it will go), and purged only when it is still past review
    without validation ``notice_days`` later. A supervisor who validates it meanwhile keeps it.

    Returns ``{"announced": [...], "purged": [...], "pending": {incident: purge date}}``."""

    today = today or now_utc().date()
    candidates = {item.incident: item for item in purge_candidates(client, today)}
    pending = {k.decode(): v.decode() for k, v in client.hgetall(IntelKeys.INTEL_PURGE_NOTICE).items()}
    for gone in set(pending) - set(candidates):  # validated or removed since: no longer due
        client.hdel(IntelKeys.INTEL_PURGE_NOTICE, gone)
        pending.pop(gone)
    announced: list[str] = []
    for incident, item in sorted(candidates.items()):
        if incident in pending:
            continue
        when = (today + timedelta(days=notice_days)).isoformat()
        client.hset(IntelKeys.INTEL_PURGE_NOTICE, incident, when)
        pending[incident] = when
        announced.append(incident)
        audit("intel.purge.preview", record=incident, user="scheduler", source="cron", client=client,
              reason=f"past review date {item.review_date} without validation; will be purged on {when} "
                     "unless a supervisor validates it (28 CFR 23.20(h))")
    due = {i for i, when in pending.items() if when <= today.isoformat()}
    purged: list[str] = []
    if due:
        # purge() re-checks every record under WATCH; restrict it to the announced ones that are due.
        for item in purge(client, dry_run=False, actor="scheduler", source="cron", today=today, only=due):
            purged.append(item.incident)
            client.hdel(IntelKeys.INTEL_PURGE_NOTICE, item.incident)
            pending.pop(item.incident, None)
    return {"announced": announced, "purged": purged, "pending": pending}


# -- dissemination log ----------------------------------------------------------------------------------
def log_dissemination(client: redis.Redis, incident: str, *, recipient: str, reason: str, by: str,
                      channel: str, source: str | None = None) -> str:
    """Record one dissemination of a criminal-intelligence record (recipient, reason, date)."""

    recipient, reason = str(recipient or "").strip()[:300], str(reason or "").strip()[:300]
    if not recipient or not reason:
        audit("intel.disseminate", record=incident, outcome="refused",
              reason="dissemination of criminal intelligence needs a recipient and a reason",
              user=by, source=source, client=client)
        raise IntelError("disseminating criminal intelligence needs a recipient and a reason (28 CFR 23.20(g))")
    at = iso_z(now_utc())
    entry = client.xadd(IntelKeys.INTEL_DISSEMINATIONS, {"incident": incident, "recipient": recipient, "reason": reason,
                                                    "by": by, "channel": channel, "at": at})
    audit("intel.disseminate", record=incident, reason=f"to {recipient} via {channel}: {reason}", user=by,
          source=source, client=client)
    return entry.decode() if isinstance(entry, bytes) else str(entry)


def disseminations(client: redis.Redis, incident: str | None = None) -> list[dict[str, str]]:
    rows = []
    for entry_id, raw in client.xrange(IntelKeys.INTEL_DISSEMINATIONS):
        row = {k.decode(): v.decode() for k, v in raw.items()}
        if incident is None or row.get("incident") == incident:
            rows.append({"id": entry_id.decode(), **row})
    return rows


def is_intel(client: redis.Redis, incident: str) -> bool:
    return bool(client.sismember(IntelKeys.INTEL, incident))
