"""One report (a suspicious-activity report or a public tip) from JSON or a form.

Every field is checked and the first problem is one line naming the field and the fix; nothing is
stored from a report with a problem. Feed-like rules for untrusted text: no control characters (line
breaks and tabs only in the narrative and descriptions), no bidirectional overrides, no markup, every
field and every list capped. The shape :func:`parse_report` accepts (all but ``narrative`` optional
for a tip; an officer's report also needs ``category`` and ``time``)::

    {"category": "Photography" | "PHOTO", "sector": "Mass Gatherings", "narrative": "...",
     "time": "2026-04-20T14:05:00Z", "location": {"text": "..."} | {"lat": 42.35, "lon": -71.07},
     "subjects": [{"name": "...", "dob": "1990-01-31", "description": "..."}],
     "vehicles": [{"plate": "ABC 123", "state": "MA", "make": "...", "model": "...", "colour": "..."}],
     "phones": ["..."], "emails": ["..."], "organisations": ["..."], "addresses": ["..."],
     "source": "...", "reporting_officer": "...", "tlp": "TLP:AMBER", "incidents": ["<incident id>"],
     "contact": "...", "anonymous": true}
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta
from typing import Any

from dateutil import parser as dateparser

from domain.access.tlp import TLP, TLPError
from domain.access.tlp import parse as parse_tlp
from domain.errors import Invalid
from domain.reports.categories import BY_CODE, SECTORS, category_code

MAX_NARRATIVE = 8000
MIN_NARRATIVE = 20
MAX_TEXT = 200
MAX_DESCRIPTION = 1000
MAX_ITEMS = 20
FUTURE_SLACK = timedelta(minutes=10)
DEFAULT_MARKING = TLP.AMBER

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROL_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
_MARKUP = re.compile(r"<\s*[a-zA-Z/!?]|&#?\w+;|javascript:", re.IGNORECASE)
_EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
_PLATE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 .\-]{0,14}$")
_STATE = re.compile(r"^[A-Za-z]{2,3}$")

FIELDS = ("category", "sector", "narrative", "time", "location", "subjects", "vehicles", "phones", "emails",
          "organisations", "addresses", "source", "reporting_officer", "tlp", "incidents", "contact", "anonymous")
SUBJECT_FIELDS = ("name", "dob", "description")
VEHICLE_FIELDS = ("plate", "state", "make", "model", "colour")
_ALIASES = {"organizations": "organisations", "color": "colour", "date_of_birth": "dob", "emails_addresses": "emails"}

# Race, ethnicity, national origin or religion given as the reason for suspicion (ISE-SAR 1.5.5
# privacy protections): they may be part of a specific description of a subject, never the reason.
_PROTECTED_WORDS = (r"race|racial|religion|religious|ethnicity|ethnic|national origin|nationality|muslims?|arabs?|"
                    r"middle[- ]eastern|foreign(?:er|ers)?|immigrants?|accent|headscarf|hijab|niqab|turban|"
                    r"skin colou?r|jewish|jews|sikhs?|hispanic|latinos?|asians?|africans?|somalis?")
PROTECTED_REASON: tuple[re.Pattern[str], ...] = (
    re.compile(r"\b(?:suspicious|suspect(?:ed)?|reported|concern(?:ed|ing)?|alarm(?:ed|ing)?|nervous|odd|strange)\b"
               r"[^.!?]{0,60}\b(?:because|due to|given)\b[^.!?]{0,40}\b(?:" + _PROTECTED_WORDS + r")\b", re.IGNORECASE),
    re.compile(r"\b(?:looked|looking|looks|appeared|appearing|seemed|seeming)\s+(?:to\s+be\s+|like\s+(?:an?\s+)?)?"
               r"(?:" + _PROTECTED_WORDS + r")\b", re.IGNORECASE),
    re.compile(r"\bsuspicious[^.!?]{0,20}\b(?:" + _PROTECTED_WORDS + r")\b", re.IGNORECASE),
)
# Activity the First Amendment protects: not reported without facts of criminal activity.
FIRST_AMENDMENT = re.compile(
    r"\b(?:protest(?:s|ed|er|ers|ing)?|demonstrat(?:ion|ions|or|ors|ing)|rally|rallies|petition(?:s|ing)?|"
    r"leaflet(?:s|ing)?|flyers?|picket(?:s|ing)?|placards?|sermons?|prayers?|praying|worship(?:ping)?|vigil|"
    r"speech|preaching|journalists?|reporters?|press conference|political (?:meeting|speech|campaign))\b",
    re.IGNORECASE)


class FormError(Invalid):
    """A field of a report is wrong; the message names it (``vehicles[0].plate``) and the fix."""


def fail(field: str, why: str) -> FormError:
    return FormError(f"{field}: {why}")


def clean_text(value: Any, field: str, *, limit: int = MAX_TEXT, lines: bool = False, required: bool = False) -> str:
    """Untrusted text, trimmed; FormError naming ``field`` for a wrong type, size or character."""
    if value is None or value == "":
        if required:
            raise fail(field, "is required")
        return ""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise fail(field, "must be text")
    text = unicodedata.normalize("NFC", str(value)).replace("\r\n", "\n").strip()
    if len(text) > limit:
        raise fail(field, f"is {len(text)} characters; at most {limit}")
    if (_CONTROL if lines else _CONTROL_LINE).search(text):
        raise fail(field, "holds control characters; send plain text" + ("" if lines else " on one line"))
    if _BIDI.search(text):
        raise fail(field, "holds bidirectional override characters, which can disguise text; remove them")
    if _MARKUP.search(text):
        raise fail(field, "holds markup (<tag>, &entity; or a script link); send plain text")
    if required and not text:
        raise fail(field, "is required")
    return text


def text_list(value: Any, field: str, limit: int = MAX_TEXT) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise fail(field, "must be a list of text")
    if len(value) > MAX_ITEMS:
        raise fail(field, f"has {len(value)} items; at most {MAX_ITEMS}")
    out = [clean_text(v, f"{field}[{i}]", limit=limit) for i, v in enumerate(value)]
    return [v for v in out if v]


def parse_time(value: Any, field: str = "time", *, now: datetime | None = None, required: bool = False) -> str:
    """An ISO 8601 time with its zone (naive means UTC), not in the future; as ``...Z``."""
    text = clean_text(value, field, limit=64, required=required)
    if not text:
        return ""
    try:
        when = dateparser.isoparse(text)
    except (ValueError, OverflowError):
        raise fail(field, f"{text[:40]!r} is not an ISO 8601 time (e.g. 2026-04-20T14:05:00Z)") from None
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    now = now or datetime.now(UTC)
    if when > now + FUTURE_SLACK:
        raise fail(field, f"{text[:40]} is in the future")
    if when.year < 1990:
        raise fail(field, f"{text[:40]} is too far in the past")
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_dob(value: Any, field: str) -> str:
    text = clean_text(value, field, limit=10)
    if not text:
        return ""
    try:
        born = date.fromisoformat(text)
    except ValueError:
        raise fail(field, f"{text!r} is not a date (YYYY-MM-DD)") from None
    if born >= datetime.now(UTC).date() or born.year < 1900:
        raise fail(field, f"{text} is not a plausible date of birth")
    return born.isoformat()


def parse_location(value: Any) -> dict[str, Any]:
    if value is None or value == "" or value == {}:
        return {}
    if isinstance(value, str):
        value = {"text": value}
    if not isinstance(value, dict):
        raise fail("location", 'must be {"text": "..."} or {"lat": ..., "lon": ...}')
    unknown = sorted(set(value) - {"text", "lat", "lon", "label"})
    if unknown:
        raise fail(f"location.{unknown[0]}", "is not a location field; use text, or lat and lon")
    out: dict[str, Any] = {}
    text = clean_text(value.get("text"), "location.text", limit=300)
    if text:
        out["text"] = text
    if value.get("label"):
        out["label"] = clean_text(value.get("label"), "location.label", limit=300)
    if value.get("lat") is not None or value.get("lon") is not None:
        for name, bound in (("lat", 90.0), ("lon", 180.0)):
            raw = value.get(name)
            try:
                number = float(raw)
            except (TypeError, ValueError):
                raise fail(f"location.{name}", "must be a number") from None
            if isinstance(raw, bool) or number != number or not -bound <= number <= bound:
                raise fail(f"location.{name}", f"must be between -{bound:g} and {bound:g}")
            out[name] = round(number, 6)
    if not out.get("text") and "lat" not in out:
        raise fail("location", "give text (an address or place) or lat and lon")
    return out


def parse_records(value: Any, field: str, names: tuple[str, ...]) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise fail(field, "must be a list of objects")
    if len(value) > MAX_ITEMS:
        raise fail(field, f"has {len(value)} items; at most {MAX_ITEMS}")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise fail(f"{field}[{i}]", "must be an object")
        item = {_ALIASES.get(k, k): v for k, v in item.items()}
        unknown = sorted(set(item) - set(names))
        if unknown:
            raise fail(f"{field}[{i}].{unknown[0]}", f"is not a field here; use {', '.join(names)}")
        out.append(item)
    return out


def parse_subjects(value: Any) -> list[dict[str, str]]:
    out = []
    for i, item in enumerate(parse_records(value, "subjects", SUBJECT_FIELDS)):
        subject = {"name": clean_text(item.get("name"), f"subjects[{i}].name"),
                   "dob": parse_dob(item.get("dob"), f"subjects[{i}].dob"),
                   "description": clean_text(item.get("description"), f"subjects[{i}].description",
                                             limit=MAX_DESCRIPTION, lines=True)}
        if not any(subject.values()):
            raise fail(f"subjects[{i}]", "is empty; give a name, a date of birth or a description")
        out.append(subject)
    return out


def parse_vehicles(value: Any) -> list[dict[str, str]]:
    out = []
    for i, item in enumerate(parse_records(value, "vehicles", VEHICLE_FIELDS)):
        plate = clean_text(item.get("plate"), f"vehicles[{i}].plate", limit=15)
        if plate and not _PLATE.match(plate):
            raise fail(f"vehicles[{i}].plate", f"{plate!r} is not a plate (letters, digits, spaces and dashes)")
        state = clean_text(item.get("state"), f"vehicles[{i}].state", limit=3).upper()
        if state and not _STATE.match(state):
            raise fail(f"vehicles[{i}].state", f"{state!r} is not a state or country code (MA, NY, FIN)")
        vehicle = {"plate": plate, "state": state,
                   **{k: clean_text(item.get(k), f"vehicles[{i}].{k}", limit=60) for k in ("make", "model", "colour")}}
        if not any(vehicle.values()):
            raise fail(f"vehicles[{i}]", "is empty; give a plate, or a make, model or colour")
        out.append(vehicle)
    return out


def parse_emails(value: Any) -> list[str]:
    emails = text_list(value, "emails", limit=254)
    for i, email in enumerate(emails):
        if not _EMAIL.match(email):
            raise fail(f"emails[{i}]", f"{email[:60]!r} is not an e-mail address")
    return emails


def parse_phones(value: Any) -> list[str]:
    phones = text_list(value, "phones", limit=40)
    for i, phone in enumerate(phones):
        digits = re.sub(r"\D", "", phone)
        if not 5 <= len(digits) <= 15 or re.search(r"[^\d\s()+.\-/x]", phone, re.IGNORECASE):
            raise fail(f"phones[{i}]", f"{phone[:40]!r} is not a phone number")
    return phones


def parse_marking(value: Any) -> str:
    if value in (None, ""):
        return DEFAULT_MARKING.value
    try:
        return parse_tlp(str(value)).value
    except TLPError as exc:
        raise fail("tlp", str(exc)) from None


def parse_report(data: Any, *, kind: str = "sar", now: datetime | None = None) -> dict[str, Any]:
    """The checked fields of one report (``kind`` "sar": an officer's or agency's; "tip": the public's)."""
    if not isinstance(data, dict):
        raise FormError("a report must be a JSON object with at least a narrative")
    data = {_ALIASES.get(k, k): v for k, v in data.items()}
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise fail(unknown[0], f"is not a report field; known fields: {', '.join(FIELDS)}")
    report: dict[str, Any] = {"kind": kind}
    raw_category = data.get("category")
    code = category_code(raw_category) if raw_category not in (None, "") else ""
    if code is None:
        raise fail("category", f"{str(raw_category)[:40]!r} is not an ISE-SAR category; use a code "
                   f"({', '.join(BY_CODE)}) or its title")
    if kind == "sar" and not code:
        raise fail("category", "is required: the ISE-SAR behaviour category (e.g. PHOTO, SURVL, TESTSEC)")
    report["category"] = code
    sector = clean_text(data.get("sector"), "sector", limit=80)
    if sector and sector.casefold() not in {s.casefold() for s in SECTORS}:
        raise fail("sector", f"{sector[:40]!r} is not a sector; use one of: {', '.join(SECTORS)}")
    report["sector"] = next((s for s in SECTORS if s.casefold() == sector.casefold()), "")
    report["narrative"] = clean_text(data.get("narrative"), "narrative", limit=MAX_NARRATIVE, lines=True,
                                     required=True)
    if len(report["narrative"]) < MIN_NARRATIVE:
        raise fail("narrative", f"say what happened in at least {MIN_NARRATIVE} characters: the facts observed")
    report["time"] = parse_time(data.get("time"), now=now, required=kind == "sar")
    report["location"] = parse_location(data.get("location"))
    report["subjects"] = parse_subjects(data.get("subjects"))
    report["vehicles"] = parse_vehicles(data.get("vehicles"))
    report["phones"] = parse_phones(data.get("phones"))
    report["emails"] = parse_emails(data.get("emails"))
    report["organisations"] = text_list(data.get("organisations"), "organisations")
    report["addresses"] = text_list(data.get("addresses"), "addresses", limit=300)
    report["source"] = clean_text(data.get("source"), "source")
    report["reporting_officer"] = clean_text(data.get("reporting_officer"), "reporting_officer")
    report["tlp"] = parse_marking(data.get("tlp"))
    report["incidents"] = text_list(data.get("incidents"), "incidents", limit=200)
    report["contact"] = clean_text(data.get("contact"), "contact", limit=300)
    anonymous = data.get("anonymous", False)
    if not isinstance(anonymous, bool):
        raise fail("anonymous", "must be true or false")
    report["anonymous"] = anonymous
    if anonymous:
        report["contact"] = ""
    return report


def protected_reason(text: str) -> str | None:
    """The words by which ``text`` gives race, ethnicity, national origin or religion as a reason for
    suspicion, or None."""
    for pattern in PROTECTED_REASON:
        match = pattern.search(text or "")
        if match:
            return match.group(0)
    return None


def first_amendment(text: str) -> str | None:
    """The first word describing activity the First Amendment protects, or None."""
    match = FIRST_AMENDMENT.search(text or "")
    return match.group(0) if match else None


def check_privacy(report: dict[str, Any]) -> None:
    """Refuse a report whose narrative gives a protected attribute as the reason for suspicion."""
    words = protected_reason(report.get("narrative", ""))
    if words:
        raise fail("narrative", f"gives race, ethnicity, national origin or religion as a reason for suspicion "
                   f"({words[:80]!r}); they may only be part of a specific description of a subject: "
                   "write the behaviour observed")


def privacy_flags(report: dict[str, Any]) -> list[str]:
    """What the vetting analyst must look at before sharing (shown with the report)."""
    flags = []
    words = protected_reason(report.get("narrative", ""))
    if words:
        flags.append(f"narrative may give a protected attribute as a reason for suspicion: {words[:80]!r}")
    words = first_amendment(report.get("narrative", ""))
    if words:
        flags.append(f"narrative mentions activity the First Amendment protects ({words!r}): "
                     "share only with facts of criminal activity")
    return flags
