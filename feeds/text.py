"""Untrusted text from feeds: reduce markup to plain text, keep only http(s) links, read dates
strictly. Every string that reaches an Event passes through here."""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

_TAG = re.compile(r"<[^>]*>?", re.S)
_DROP_BLOCKS = re.compile(r"<(script|style|iframe|object|embed|svg|math)\b.*?(</\1\s*>|$)", re.S | re.I)
_SPACE = re.compile(r"\s+")
# After decoding, only what is unmistakably a tag ("3 &lt; 5" is a comparison, kept as text).
_DECODED_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9:-]*(\s[^<>]*)?/?>|<!--.*?-->", re.S)
_CONTROL = dict.fromkeys(c for c in range(32) if chr(c) not in "\t\n\r")
# Bidirectional embeddings, overrides and isolates (U+202A-202E, U+2066-2069): a title carrying them
# can display reversed or hide what follows. Letters keep their own direction without them.
_CONTROL.update(dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))

MAX_TITLE = 300
MAX_TEXT = 4000
# Text that needs no cleaning at all: printable ASCII, no markup, no entities, single spaces.
_ALREADY_PLAIN = re.compile(r"[ -%'-;=?-~]*")
_URL_BAD_CHAR = re.compile(r"[\s\x00-\x1f\x7f]")


def plain_text(value: object, limit: int = MAX_TEXT) -> str:
    """Markup reduced to text, entities decoded once, markup that decoding revealed (a feed that
    encoded it twice) removed too, control and bidirectional-override characters dropped, white space
    folded, cut at ``limit`` characters. The result is meant to be shown as text, never as HTML."""
    if value is None:
        return ""
    text = str(value)
    # Most feed strings are already plain: skip the regex, entity and normalisation passes.
    if len(text) <= limit and _ALREADY_PLAIN.fullmatch(text) and "  " not in text and text == text.strip():
        return text
    if "<" in text:
        text = _DROP_BLOCKS.sub(" ", text)
        text = _TAG.sub(" ", text)
    text = html.unescape(text).translate(_CONTROL)
    if "<" in text:  # markup that was entity-encoded twice in the feed: still markup, never shown as text
        text = _DROP_BLOCKS.sub(" ", text)
        text = _DECODED_TAG.sub(" ", text)
    text = unicodedata.normalize("NFC", text)
    text = _SPACE.sub(" ", text).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def title_text(value: object) -> str:
    return plain_text(value, MAX_TITLE)


def safe_link(value: object) -> str | None:
    """The URL when it is an absolute http(s) URL with a host; None otherwise (``javascript:``,
    ``data:``, relative or malformed links are not links)."""
    if not value:
        return None
    url = str(value).strip()
    if _URL_BAD_CHAR.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


class BadDate(ValueError):
    """A date that cannot be read without guessing, or that names an impossible time."""


_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_time(value: object) -> tuple[datetime, list[str]]:
    """Read an ISO 8601, RFC 822 or epoch (s/ms) time strictly into aware UTC.

    Returns the time and the assumptions made (a missing zone is taken as UTC, and says so).
    Impossible dates (month 13, hour 99) raise BadDate instead of rolling over.
    """
    notes: list[str] = []
    if isinstance(value, datetime):
        if value.tzinfo is None:
            notes.append("time had no zone; assumed UTC")
            return value.replace(tzinfo=UTC), notes
        return value.astimezone(UTC), notes
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000.0 if abs(value) > 1e11 else float(value)
        try:
            return datetime.fromtimestamp(seconds, tz=UTC), notes
        except (OverflowError, OSError, ValueError) as exc:
            raise BadDate(f"epoch time {value!r} is out of range") from exc
    text = str(value or "").strip()
    if not text:
        raise BadDate("no time given")
    if re.fullmatch(r"-?\d{9,14}(\.\d+)?", text):
        return parse_time(float(text))
    match = _ISO.match(text)
    if match:
        year, month, day, hour, minute, sec, frac, zone = match.groups()
        try:
            micro = int((frac or "0")[:6].ljust(6, "0"))
            moment = datetime(
                int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(sec or 0), micro
            )
        except ValueError as exc:
            raise BadDate(f"impossible date {text[:40]!r}") from exc
        if zone is None:
            notes.append("time had no zone; assumed UTC")
            return moment.replace(tzinfo=UTC), notes
        if zone == "Z":
            return moment.replace(tzinfo=UTC), notes
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        if offset > timedelta(hours=14):
            raise BadDate(f"impossible zone offset in {text[:40]!r}")
        return moment.replace(tzinfo=timezone(sign * offset)).astimezone(UTC), notes
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError) as exc:
        raise BadDate(f"unreadable date {text[:40]!r}") from exc
    if moment is None:
        raise BadDate(f"unreadable date {text[:40]!r}")
    if moment.tzinfo is None:
        notes.append("time had no zone; assumed UTC")
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC), notes


def clock_skew_warning(moment: datetime, now: datetime, *, future: timedelta = timedelta(hours=2)) -> str | None:
    """A warning when a report's time is implausibly far in the future (a wrong clock)."""
    if moment - now > future:
        return f"time {moment.isoformat()} is in the future; source clock may be wrong"
    if now - moment > timedelta(days=365 * 30):
        return f"time {moment.isoformat()} is decades old; source clock may be wrong"
    return None
