"""Declared profiles of agency feeds that travel as RSS/Atom: what their fields mean.

The generic news reader (``rss``) is the last resort. Many agencies publish their events as
RSS/Atom/GeoRSS with the meaning in their own elements or in labelled lines of the description;
read as news they lose kind, magnitude, severity and the time the event happened. A profile is
recognised from the document itself (never from a configured URL) and says, per entry:

==================  ==========================================  =====================================
profile             recognised by                               read
==================  ==========================================  =====================================
``usgs-atom``       entry ids ``urn:earthquake-usgs-gov:...``   magnitude (title "M 4.5 - ..." or the
                    or a USGS earthquake feed title             Magnitude category), origin time and
                                                                depth (summary), place (title)
``emsc``            ``emsc:magnitude`` elements                 magnitude and its type, origin time
                                                                (``emsc:time``), depth, region
``ign-sismologia``  ign.es links to its earthquake catalogue    magnitude and place from the text
``agency-fields``   descriptions of labelled lines (``TYPE:``,  kind from TYPE/Category, severity from
                    ``ALERT LEVEL:``, ``STATUS:``...) in most   ALERT LEVEL, time from the time of call
                    entries: Australian fire and emergency      or first report, place from LOCATION;
                    services, satellite hotspot feeds           hotspots (TEMPERATURE, CONFIDENCE) fire
==================  ==========================================  =====================================

Quakes take their severity from the one quake rule (:mod:`feeds.meaning`). A profile never
overrides a kind configured for the feed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timezone, tzinfo
from functools import partial
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from dateutil import parser as dateparser

from feeds.meaning import magnitude_number, quake_severity, warning_kind
from feeds.model import Kind, Severity
from feeds.sources.nsw_rfs import ALERT_SEVERITY as NSW_ALERT_SEVERITY
from feeds.sources.nsw_rfs import kind_for_type
from feeds.text import BadDate, parse_time, plain_text

__all__ = ["Reading", "recognise"]


@dataclass
class Reading:
    """What a profile read from one entry; None leaves the news reader's value."""

    profile: str
    kind: Kind | None = None
    severity: Severity | None = None
    time: datetime | None = None
    time_field: str | None = None
    magnitude: float | None = None
    depth_km: float | None = None
    place: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)


def _host(link: object) -> str:
    try:
        return urlsplit(str(link or "")).hostname or ""
    except ValueError:
        return ""


def _number(text: object) -> float | None:
    match = re.search(r"-?\d+(?:\.\d+)?", str(text or ""))
    return float(match.group(0)) if match else None


# -- USGS Atom ------------------------------------------------------------------------------------
_USGS_ID = "urn:earthquake-usgs-gov:"
_USGS_TITLE = re.compile(r"^\s*M\s*(-?\d+(?:\.\d+)?)\s*(?:[-,]\s*(.*))?$", re.S)
_UTC_ISO = re.compile(r"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.\d+)?\s*UTC")
_UTC_LONG = re.compile(r"([A-Z][a-z]+day, [A-Z][a-z]+ \d{1,2}, \d{4} \d{2}:\d{2}:\d{2}) UTC")
_DEPTH = re.compile(r"Depth\W{0,12}(-?\d+(?:\.\d+)?)\s*km", re.I)


def _is_usgs(channel: dict[str, Any], entries: list[Any]) -> bool:
    if any(str(e.get("id") or "").startswith(_USGS_ID) for e in entries[:5]):
        return True
    title = str(channel.get("title") or "")
    return "USGS" in title and "Earthquake" in title


def _utc_in_text(text: str) -> datetime | None:
    """The first "2018-12-07 05:58:25 UTC" or "Friday, May 09, 2014 13:55:12 UTC" of a text."""
    match = _UTC_ISO.search(text)
    if match:
        return datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}+00:00")
    match = _UTC_LONG.search(text)
    if match:
        try:
            return datetime.strptime(match.group(1), "%A, %B %d, %Y %H:%M:%S").replace(tzinfo=UTC)
        except ValueError:
            return None
    return None


def _read_usgs(entry: Any, title: str, text: str, warnings: list[str], channel: dict[str, Any]) -> Reading:
    reading = Reading("usgs-atom", kind=Kind.EARTHQUAKE)
    match = _USGS_TITLE.match(title)
    magnitude = float(match.group(1)) if match else None
    if magnitude is None:
        tags = [t for t in entry.get("tags") or [] if str(t.get("label") or "").lower() == "magnitude"]
        magnitude = magnitude_number(tags[0].get("term")) if tags and "." in str(tags[0].get("term")) else None
    reading.magnitude = magnitude if magnitude is not None and -2 <= magnitude <= 10 else None
    reading.place = plain_text(match.group(2), 200) if match and match.group(2) else None
    origin = _utc_in_text(text)
    if origin is not None:
        reading.time, reading.time_field = origin, "summary (origin time, UTC)"
    else:
        warnings.append("USGS entry gives no origin time; using its update time")
    depth = _DEPTH.search(text)
    if depth:
        reading.depth_km = float(depth.group(1))
    elif entry.get("georss_elev") not in (None, ""):
        elev = _number(entry.get("georss_elev"))
        reading.depth_km = abs(elev) / 1000.0 if elev is not None and abs(elev) > 1000 else abs(elev or 0) or None
    reading.severity = quake_severity(reading.magnitude)
    code = str(entry.get("id") or "")[len(_USGS_ID):].replace(":", "")
    reading.extra = {"usgs_event": plain_text(code, 40)} if code else {}
    reading.fields = {"magnitude": "title M|category Magnitude", "depth_km": "summary Depth|georss:elev",
                      "kind": "profile usgs-atom", "severity": "magnitude (feeds.meaning quake rule)"}
    return reading


# -- EMSC -----------------------------------------------------------------------------------------
def _is_emsc(channel: dict[str, Any], entries: list[Any]) -> bool:
    return any("emsc_magnitude" in e for e in entries[:5]) or "EMSC" in str(channel.get("generator") or "")


def _read_emsc(entry: Any, title: str, text: str, warnings: list[str], channel: dict[str, Any]) -> Reading:
    reading = Reading("emsc", kind=Kind.EARTHQUAKE)
    raw = plain_text(entry.get("emsc_magnitude") or title, 40)
    reading.magnitude = magnitude_number(raw)
    kind_of_magnitude = re.match(r"\s*([A-Za-z]{1,4})\b", raw)
    if kind_of_magnitude:
        reading.extra["magnitude_type"] = kind_of_magnitude.group(1)
    try:
        if entry.get("emsc_time"):
            reading.time, _ = parse_time(str(entry["emsc_time"]).replace(" UTC", "Z").replace(" ", "T", 1))
            reading.time_field = "emsc:time (origin time)"
    except BadDate as exc:
        warnings.append(f"emsc:time unreadable ({exc}); using the publication date")
    reading.depth_km = _number(entry.get("emsc_depth"))
    region = re.sub(r"^\s*[A-Za-z]{0,4}\s*-?\d+(?:\.\d+)?\s*", "", title)
    reading.place = plain_text(region, 200) or None
    reading.severity = quake_severity(reading.magnitude)
    reading.fields = {"magnitude": "emsc:magnitude", "depth_km": "emsc:depth", "kind": "profile emsc",
                      "severity": "magnitude (feeds.meaning quake rule)"}
    return reading


# -- IGN (Spain) ----------------------------------------------------------------------------------
_IGN_MAG = re.compile(r"magnitud\s+(-?\d+(?:\.\d+)?)", re.I)
_IGN_PLACE = re.compile(r"\ben\s+(.+?)\s+en la fecha", re.I)


def _is_ign(channel: dict[str, Any], entries: list[Any]) -> bool:
    hosts = [_host(e.get("link")) for e in entries[:5]] + [_host(channel.get("link"))]
    return any(h.endswith("ign.es") for h in hosts) and any("terremoto" in str(e.get("title") or "").lower()
                                                              for e in entries[:5])


def _read_ign(entry: Any, title: str, text: str, warnings: list[str], channel: dict[str, Any]) -> Reading:
    reading = Reading("ign-sismologia", kind=Kind.EARTHQUAKE)
    found = _IGN_MAG.search(text)
    reading.magnitude = float(found.group(1)) if found else None
    place = _IGN_PLACE.search(text)
    reading.place = plain_text(place.group(1), 200) if place else None
    reading.severity = quake_severity(reading.magnitude)
    reading.fields = {"magnitude": "description 'magnitud'", "kind": "profile ign-sismologia",
                      "severity": "magnitude (feeds.meaning quake rule)"}
    return reading


# -- labelled agency fields ---------------------------------------------------------------------
_BREAK = re.compile(r"<\s*br\s*/?\s*>|</\s*(div|p|li|tr)\s*>", re.I)
_SENTENCE_LABEL = re.compile(r"\.\s+(?=[A-Z][A-Za-z /]{1,25}:\s)")
_LABEL = re.compile(r"^\s*([A-Za-z][A-Za-z /]{1,30}?)\s*:\s*(.*)$", re.S)
_TYPE_LABELS = ("TYPE", "INCIDENT TYPE", "CATEGORY", "INCIDENT")
_TIME_LABELS = ("TIME OF CALL", "FIRST REPORTED", "REPORTED", "START DATE/TIME", "OBS TIME", "STARTED")
_KNOWN = {"TYPE", "ALERT LEVEL", "STATUS", "LOCATION", "CATEGORY", "COUNCIL AREA", "CURRENT STATUS", "SIZE",
          "RESPONSIBLE AGENCY", "ALERT SUMMARY", "CONFIDENCE", "TEMPERATURE", "SATELLITE", "SUBURB", "AGENCY", *_TIME_LABELS}
# The Australian warning levels as the NSW Rural Fire Service adapter reads them, and Queensland's word.
ALERT_SEVERITY = {**NSW_ALERT_SEVERITY, "permitted burn": Severity.MINOR}


def labelled_fields(summary_html: str) -> dict[str, str]:
    """``{"ALERT LEVEL": "Advice", ...}`` from a description of ``Label: value`` lines or sentences."""
    found: dict[str, str] = {}
    for line in _BREAK.split(summary_html or ""):
        for part in _SENTENCE_LABEL.split(plain_text(line or "", 1000)):
            match = _LABEL.match(part)
            if match and match.group(1).strip().upper() not in found:
                found[match.group(1).strip().upper()] = plain_text(match.group(2), 300).rstrip(".")
    return found


def _is_agency(channel: dict[str, Any], entries: list[Any]) -> bool:
    sample = entries[:5]
    labelled = sum(len(_KNOWN & set(labelled_fields(e.get("summary") or ""))) >= 2 for e in sample)
    return bool(sample) and labelled * 2 > len(sample)


_STATE_ZONES = {"vic": "Australia/Melbourne", "nsw": "Australia/Sydney", "act": "Australia/Sydney",
                "sa": "Australia/Adelaide", "tas": "Australia/Hobart", "qld": "Australia/Brisbane",
                "wa": "Australia/Perth", "nt": "Australia/Darwin"}


def _local_time(text: str, zone: tzinfo | None) -> datetime | None:
    """A local time written by an agency ("17 May 2013 09:34:50", "13/04/2013 5:44:09 PM"), read day
    first, in the agency's zone; None when unreadable or when the zone is not known."""
    try:
        moment = dateparser.parse(text, dayfirst=True, fuzzy=False)
    except (ValueError, OverflowError):
        return None
    if moment.tzinfo is None:
        if zone is None:
            return None
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def agency_state(entry: Any, channel: dict[str, Any]) -> str | None:
    """"VIC" for an agency on a ``.vic.gov.au`` host (entry or channel link), else None."""
    for link in (entry.get("link"), channel.get("link")):
        host = _host(link)
        for state in _STATE_ZONES:
            if host.endswith(f".{state}.gov.au"):
                return state.upper()
    return None


def agency_zone(entry: Any, channel: dict[str, Any]) -> tzinfo | None:
    """The zone an agency writes local times in: its state's (from a ``.<state>.gov.au`` host), else
    the offset of the entry's own date when that is not UTC; None when neither says."""
    state = agency_state(entry, channel)
    if state:
        return ZoneInfo(_STATE_ZONES[state.lower()])
    raw = str(entry.get("published") or entry.get("updated") or "").strip()
    raw = re.sub(r"\bEST$", "+1000", raw)
    raw = re.sub(r"([+-]\d{2})$", r"\g<1>00", raw)
    try:
        moment = dateparser.parse(raw)
    except (ValueError, OverflowError):
        return None
    offset = moment.utcoffset() if moment.tzinfo else None
    return timezone(offset) if offset else None


def _agency_kind(info: dict[str, str], title: str, tags: list[str]) -> Kind:
    if "CONFIDENCE" in info and ("TEMPERATURE" in info or "SATELLITE" in info):
        return Kind.FIRE
    kind_text = next((info[k] for k in _TYPE_LABELS if info.get(k)), "")
    if not kind_text:
        parens = re.search(r"\(([^()]{2,60})\)\s*$", title)
        kind_text = parens.group(1) if parens else " ".join(tags)
    return warning_kind(kind_text) or kind_for_type(kind_text)


def _read_agency(entry: Any, title: str, text: str, warnings: list[str], channel: dict[str, Any]) -> Reading:
    info = labelled_fields(entry.get("summary") or "")
    tags = [str(t.get("term") or "") for t in entry.get("tags") or []]
    reading = Reading("agency-fields", kind=_agency_kind(info, title, tags))
    level = info.get("ALERT LEVEL", "")
    reading.severity = ALERT_SEVERITY.get(level.lower())
    if reading.severity is None and reading.kind is Kind.FIRE and "CONFIDENCE" in info:
        reading.severity = Severity.MINOR  # a satellite detection alone, no agency's warning
    label = next((k for k in _TIME_LABELS if info.get(k)), None)
    if label:
        when = _local_time(info[label], agency_zone(entry, channel))
        if when is not None:
            reading.time, reading.time_field = when, f"description {label} (the agency's local time)"
        else:
            warnings.append(f"{label} {info[label][:40]!r} unreadable; using the entry's date")
    reading.place = info.get("LOCATION") or info.get("SUBURB") or None
    reading.extra = {"fields": {k.lower(): v for k, v in list(info.items())[:20]}}
    state = agency_state(entry, channel)
    if state:  # the feed's own region weighs in when its words are geocoded (a town of this state)
        reading.extra["country"] = f"AU-{state}"
    if level:
        reading.extra["alert_level"] = level
    reading.fields = {"kind": "description TYPE|Category (profile agency-fields)",
                      "severity": "description ALERT LEVEL", "place": "description LOCATION"}
    return reading


PROFILES = (
    ("usgs-atom", _is_usgs, _read_usgs),
    ("emsc", _is_emsc, _read_emsc),
    ("ign-sismologia", _is_ign, _read_ign),
    ("agency-fields", _is_agency, _read_agency),
)


def recognise(parsed: Any) -> tuple[str, Any] | None:
    """(profile name, reader of one entry) for a parsed feed whose document shows a profile, else None.
    The reader is called as ``reader(entry, title, plain text, warnings)``."""
    channel = parsed.get("feed") or {}
    entries = parsed.get("entries") or []
    for name, matches, reader in PROFILES:
        if matches(channel, entries):
            return name, partial(_with_channel, reader, channel)
    return None


def _with_channel(reader: Any, channel: dict[str, Any], entry: Any, title: str, text: str, warnings: list[str]) -> Reading:
    return reader(entry, title, text, warnings, channel)
