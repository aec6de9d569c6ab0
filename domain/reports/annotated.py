"""Entities in operators' annotations: the phone numbers and e-mail addresses a note on an incident
names become mentions of the same entities reports resolve to, linking the entity to the incident.

A mention from an annotation is read under the annotation's own rule (domain.operations.annotations
.check_readable): the higher of the incident's and the note's marking, and criminal intelligence for
operators and above only. Saving the annotation again re-indexes it; purging it forgets its mentions.
"""

from __future__ import annotations

import re
from typing import Any

import phonenumbers
import redis

from domain.reports import entities
from domain.reports.keys import EntityKeys

_EMAIL_IN_TEXT = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+")
MAX_MENTIONS = 40


def source(incident_id: str) -> str:
    return f"A:{incident_id}"


def mentions_in(note: str, region: str = "US") -> list[entities.Mention]:
    """Phones (libphonenumber's matcher, the numbering plan of ``region`` for local numbers) and e-mails."""
    out: list[entities.Mention] = []
    try:
        matches = list(phonenumbers.PhoneNumberMatcher(note or "", region))
    except Exception:  # noqa: BLE001 - an unknown region code: no phone mentions, never a failed save
        matches = []
    for i, match in enumerate(matches[:MAX_MENTIONS]):
        key = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        out.append(entities.Mention(f"phones[{i}]", "phone", match.raw_string, key, key))
    for i, email in enumerate(_EMAIL_IN_TEXT.findall(note or "")[:MAX_MENTIONS]):
        key = entities.email_key(email.rstrip("."))
        out.append(entities.Mention(f"emails[{i}]", "email", email, key, key))
    return out


def index(client: redis.Redis, incident_id: str, annotation: dict[str, Any], *, marking: str,
          region: str = "US") -> int:
    """Re-index one annotation's mentions (entities it alone held and no longer names are deleted;
    those it still names keep their ids); how many mentions it holds now."""
    held = entities.report_entities(client, source(incident_id))
    found = mentions_in(str(annotation.get("note") or ""), region)
    resolution = entities.plan(client, found)
    entities.drop_mentions(client, source(incident_id), held)
    client.delete(EntityKeys.report_entities(source(incident_id)))
    if found:
        extra = {"incident": incident_id, "tlp": marking, "intel": bool(annotation.get("criminal_intel"))}
        with client.pipeline() as pipe:
            entities.write(pipe, source(incident_id), resolution, extra)
            pipe.execute()
    entities.drop_orphans(client, held)
    return len(found)


def forget(client: redis.Redis, incident_id: str) -> None:
    entities.forget_report(client, source(incident_id))
