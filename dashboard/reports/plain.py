"""Plain words for the reports pages: a form error as a person reads it, ages, times and field names.

The domain names the field a problem is in the way an API caller needs it (``vehicles[0].plate: ...``);
the page says the same thing the way the officer who typed it reads it (``Vehicle 1, plate: ...``)."""

from __future__ import annotations

import re
import time

FIELD_WORDS = {
    "category": "Behaviour category", "sector": "Target sector", "narrative": "Narrative", "time": "Date and time",
    "location": "Location", "location.text": "Location", "location.lat": "Latitude", "location.lon": "Longitude",
    "phones": "Phones", "emails": "E-mails", "organisations": "Organisations", "addresses": "Addresses",
    "source": "Source", "reporting_officer": "Reporting officer", "tlp": "Marking", "incidents": "Incidents",
    "contact": "Contact", "reason": "Reason", "affirm": "Affirmations", "to": "Move", "other": "Merge with",
    "mentions": "Mentions", "information": "Information",
}
LIST_WORDS = {"subjects": "Subject", "vehicles": "Vehicle", "phones": "Phone", "emails": "E-mail",
              "organisations": "Organisation", "addresses": "Address"}
PART_WORDS = {"name": "name", "dob": "date of birth", "description": "description", "plate": "plate",
              "state": "state", "make": "make", "model": "model", "colour": "colour"}
_PATH = re.compile(r"^(?P<list>[a-z_]+)\[(?P<i>\d+)\](?:\.(?P<part>[a-z_]+))?$")


def field_words(path: str) -> str | None:
    """``vehicles[0].plate`` -> "Vehicle 1, plate"; None for what is not a field path."""
    if path in FIELD_WORDS:
        return FIELD_WORDS[path]
    match = _PATH.match(path)
    if match and match["list"] in LIST_WORDS:
        words = f"{LIST_WORDS[match['list']]} {int(match['i']) + 1}"
        part = match["part"]
        return f"{words}, {PART_WORDS.get(part, part.replace('_', ' '))}" if part else words
    return None


def plain(message: str) -> str:
    """A domain message whose first word names a field, with that field named in words."""
    path, sep, rest = str(message).partition(": ")
    words = field_words(path) if sep else None
    return f"{words}: {rest}" if words else str(message)


def age_words(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 3600:
        return f"{max(1, seconds // 60)} min"
    if seconds < 86400 * 2:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def age_of(received: float, now: float | None = None) -> str:
    return age_words((time.time() if now is None else now) - float(received or 0))


def iso_words(stamp: str | None) -> str:
    """``2026-04-20T14:05:00Z`` -> "2026-04-20 14:05 UTC"."""
    if not stamp:
        return ""
    text = str(stamp).replace("T", " ")
    return (text[:16] + " UTC") if text.endswith("Z") else text


__all__ = ["age_of", "age_words", "field_words", "iso_words", "plain"]
