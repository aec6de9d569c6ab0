"""How a report is read for fusion: origin time, magnitude, identity keys, topic (:class:`Facts`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from feeds.fuse.rules import _CLOCK_SKEW, _NEVER_FUSED, rule_for
from feeds.model import Event, Kind, parse_iso, utc

# ---------------------------------------------------------------------------------------------
# Reading a report

_AUTHORITY = {
    "usgs-geojson": 3,
    "usgs-csv": 3,
    "quakeml": 3,
    "cap": 3,
    "nws-geojson": 3,
    "nsw-rfs": 3,
    "gdacs": 2,
    "firms-csv": 2,
    "reliefweb": 1,
}
_CATALOGUE_SOURCES = {"usgs-geojson", "usgs-csv", "quakeml", "gdacs", "cap", "nws-geojson", "nsw-rfs", "firms-csv"}
_ORIGIN_SOURCES = {"usgs-geojson", "usgs-csv", "quakeml"}  # Event.time is the origin time

_MAG = re.compile(
    r"(?:\b(?:M[wWlLbBsSdD]?|m[bl]|EQ|[Mm]agnitude|[Mm]ag\.?)\s*[:=]?\s*(\d(?:\.\d{1,2})?)(?![\d.])"
    r"|\b(\d\.\d{1,2})\s*-?\s*[Mm]agnitude\b)"
)
_ISO_UTC = re.compile(r"\b(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?)\s*(?:UTC|Z)\b")
_AT_UTC_ON = re.compile(r"\bat (\d{1,2}:\d{2}:\d{2})(?:\.\d+)? UTC on ([A-Z][a-z]{2})[a-z]* (\d{1,2}), (\d{4})")
_LONG_DATE_UTC = re.compile(r"\b([A-Z][a-z]{2})[a-z]* (\d{1,2}), (\d{4}),? (\d{1,2}:\d{2}:\d{2}) UTC")
_MONTHS = {m: i for i, m in enumerate(("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec").split(), 1)}
_USGS_URN = re.compile(r"urn:earthquake-usgs-gov:([a-z0-9]+):([a-z0-9]+)", re.I)
_USGS_LINK = re.compile(r"earthquake\.usgs\.gov/(?:\S*/)?(?:eventpage|Quakes|cap)/([a-z]{2}[a-z0-9]*\d[a-z0-9]*)", re.I)
_USGS_CAP_ID = re.compile(r"^USGS-earthquakes-([a-z]{2}[a-z0-9]{4,})\.", re.I)
_HAZARD_WORDS: tuple[tuple[re.Pattern[str], Kind], ...] = tuple(
    (re.compile(p, re.I), k)
    for p, k in (
        (r"\btsunami", Kind.TSUNAMI),
        (r"\b(earth)?quakes?\b|\bseismic\b|\btremors?\b|\baftershocks?\b|\bterremoto\b|\bsismo\b", Kind.EARTHQUAKE),
        (r"\b(bush|wild|grass|forest|scrub)[ -]?fires?\b", Kind.FIRE),
        (r"\bfloods?\b|\bflooding\b", Kind.FLOOD),
        (r"\b(cyclone|hurricane|typhoon)s?\b", Kind.CYCLONE),
        (r"\bvolcan(o|ic)\b|\beruption\b", Kind.VOLCANO),
    )
)
_TOKEN = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
# Stop-words, generic hazard/alert vocabulary and compass words: they say nothing about *which* happening.
_STOP = frozenset(
    """the and for with from that this was were are has have had not but near into over under after before
    about across off out its his her their our your you all any per via who what when where which while
    km mi miles kilometres kilometers south north east west northern southern eastern western central
    nne ene ese sse ssw wsw wnw nnw region area border coast island islands off offshore
    earthquake earthquakes quake quakes seismic tremor tremors aftershock magnitude mag strikes strike struck
    hits hit shakes shook jolts rocks strong powerful moderate minor major light deadly shallow deep depth
    alert alerts green orange red yellow warning warnings watch advisory statement update updated report
    reports preliminary reported says said news breaking live event events incident utc gmt time date""".split()
)


@dataclass(frozen=True, slots=True)
class Facts:
    """What one report (or an incident's best estimate) says, in comparable form.

    ``origin`` is the happening's time when stated; ``lo``/``hi`` bound it (equal to ``origin``
    when stated; for alerts, the validity). ``keys`` are network identities ("usgs:us2010apcd").
    """

    topic: Kind
    origin: datetime | None
    lo: datetime
    hi: datetime
    lat: float | None
    lon: float | None
    geocoded: bool
    magnitude: float | None
    keys: frozenset[str]
    tokens: frozenset[str]
    catalogue_feeds: frozenset[str]
    authority: int
    exercise: bool = False  # exercise data never fuses with real-world reports

    @property
    def placed(self) -> bool:
        return self.lat is not None and self.lon is not None


def tokens_of(*texts: str | None) -> frozenset[str]:
    """Lower-case words of three or more letters, stop-words and generic hazard words removed."""
    words: set[str] = set()
    for text in texts:
        if text:
            words.update(w for w in (m.group(0).lower() for m in _TOKEN.finditer(text)) if w not in _STOP)
    return frozenset(words)


def text_similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Shared tokens over the tokens of the shorter side (containment): a short news title naming
    the place scores 1 against an incident whose many reports name it in several ways."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def magnitude_in(text: str) -> float | None:
    """The first plausible magnitude stated in ``text`` ("ML 2.2", "EQ 6.3", "6.1-magnitude")."""
    for match in _MAG.finditer(text):
        value = float(match.group(1) or match.group(2))
        if 0.0 < value < 10.0:
            return value
    return None


def origin_in(text: str, published: datetime) -> datetime | None:
    """The origin time stated in ``text`` when it is plausible (not after publication, at most a week before)."""
    found: datetime | None = None
    if m := _ISO_UTC.search(text):
        try:
            found = datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}").replace(tzinfo=UTC)
        except ValueError:
            found = None
    if found is None and (m := _AT_UTC_ON.search(text) or _LONG_DATE_UTC.search(text)):
        parts = m.groups()
        clock, mon, day, year = (
            (parts[0], parts[1], parts[2], parts[3]) if m.re is _AT_UTC_ON else (parts[3], parts[0], parts[1], parts[2])
        )
        month = _MONTHS.get(mon[:3])
        if month:
            try:
                h, mi, s = (int(x) for x in clock.split(":"))
                found = datetime(int(year), month, int(day), h, mi, s, tzinfo=UTC)
            except ValueError:
                found = None
    if found is None or found > published + _CLOCK_SKEW or found < published - timedelta(days=7):
        return None
    return found


def identity_keys(event: Event) -> frozenset[str]:
    """Network identities the report carries, e.g. ``usgs:us2010apcd``."""
    keys: set[str] = set()
    if event.source in ("usgs-geojson", "usgs-csv") and event.id.startswith("usgs:"):
        keys.add("usgs:" + event.id[5:].lower())
        for other in event.extra.get("ids") or ():
            if isinstance(other, str) and other:
                keys.add("usgs:" + other.lower())
    guid = event.extra.get("guid") if isinstance(event.extra, dict) else None
    if isinstance(guid, str) and (m := _USGS_URN.search(guid)):
        keys.add(f"usgs:{m.group(1).lower()}{m.group(2).lower()}")
    cap = event.extra.get("cap") if isinstance(event.extra, dict) else None
    if isinstance(cap, dict) and isinstance(cap.get("identifier"), str):
        if m := _USGS_CAP_ID.match(cap["identifier"]):
            keys.add("usgs:" + m.group(1).lower())
    if event.link and (m := _USGS_LINK.search(event.link)):
        keys.add("usgs:" + m.group(1).lower())
    return frozenset(keys)


def topic_of(event: Event, magnitude: float | None) -> Kind:
    """The kind a report is about: its own kind, or for news the hazard its title/text names."""
    if event.kind not in _NEVER_FUSED:
        return event.kind
    for text in (event.title, event.text[:400]):
        for pattern, kind in _HAZARD_WORDS:
            if pattern.search(text):
                return kind
    if magnitude is not None and _MAG.search(event.title):
        return Kind.EARTHQUAKE  # EMSC: "ML 2.2 CROATIA"
    return event.kind


def _cap_time(cap: dict[str, Any], name: str) -> datetime | None:
    try:
        return parse_iso(cap.get(name)) if isinstance(cap.get(name), str) else None
    except ValueError:
        return None


def facts_of(event: Event) -> Facts:
    """Read one report into comparable :class:`Facts` (see the module docstring)."""
    head = f"{event.title}\n{event.text[:600]}"
    magnitude = event.magnitude if event.magnitude is not None else magnitude_in(head)
    topic = topic_of(event, magnitude)
    rule = rule_for(topic)
    published = utc(event.time)
    origin: datetime | None = None
    lo = hi = published
    cap = event.extra.get("cap") if isinstance(event.extra, dict) else None
    gdacs = event.extra.get("gdacs") if isinstance(event.extra, dict) else None
    if topic in (Kind.EARTHQUAKE, Kind.TSUNAMI):
        if event.source in _ORIGIN_SOURCES or (event.source == "gdacs" and topic is Kind.EARTHQUAKE):
            origin = published
        elif isinstance(cap, dict) and (onset := _cap_time(cap, "onset")) and onset <= published + _CLOCK_SKEW:
            origin = onset
        else:
            origin = origin_in(head, published)
        if origin is not None:
            lo = hi = origin
        else:
            lo, hi = published - timedelta(seconds=rule.pub_window_s), published + _CLOCK_SKEW
    else:
        start = published
        end: datetime | None = None
        if isinstance(cap, dict):
            start = _cap_time(cap, "onset") or _cap_time(cap, "effective") or published
            end = _cap_time(cap, "expires")
        elif isinstance(gdacs, dict):
            end = parse_iso(gdacs.get("todate")) if isinstance(gdacs.get("todate"), str) else None
        if event.source in _CATALOGUE_SOURCES:
            lo = start
        else:
            lo = start - timedelta(seconds=rule.pub_window_s)
        hi = max(end or start, start + timedelta(seconds=rule.duration_s)) + _CLOCK_SKEW
    catalogue = event.source in _CATALOGUE_SOURCES or (
        origin is not None and magnitude is not None and event.lat is not None and event.placed_by is None
    )
    return Facts(
        topic=topic,
        origin=origin,
        lo=lo,
        hi=hi,
        lat=event.lat,
        lon=event.lon,
        geocoded=event.placed_by is not None,
        magnitude=magnitude,
        keys=identity_keys(event),
        tokens=tokens_of(event.title, event.place),
        # (feed, format): the CLI ingests every document under one pseudo-feed; one catalogue is one format
        catalogue_feeds=frozenset({f"{event.feed or event.source}|{event.source}"}) if catalogue else frozenset(),
        authority=_AUTHORITY.get(event.source, 2 if catalogue else 0),
        exercise=event.exercise,
    )


