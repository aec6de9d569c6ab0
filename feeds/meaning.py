"""What a report means, one rule per kind, the same for every source of that kind.

Every adapter reads its own fields; this module turns what they read into the picture's words, so
that a quake from USGS, EMSC, GDACS, QuakeML or a CAP alert ranks the same way and a Meteoalarm
warning is weather whichever document carried it.

Earthquake severity (documented in the README, "What each source means"):

* from the magnitude: M >= 7.0 extreme, >= 6.0 severe, >= 4.5 moderate, any smaller magnitude minor;
  unknown without a magnitude (then an alert level alone decides);
* an alert level (USGS PAGER colour, GDACS alert level, a CAP severity) may **raise** that, never
  lower it, and never above what a quake one whole magnitude bigger would have. So no quake ever
  outranks a quake a whole magnitude bigger, whatever the sources say (tests/feeds/test_meaning.py checks
  this over every quake of every capture).
"""

from __future__ import annotations

import re
from datetime import datetime

from feeds.model import Kind, Severity, parse_iso

__all__ = [
    "ALERT_COLOURS",
    "happened_at",
    "alert_colour",
    "magnitude_number",
    "magnitude_severity",
    "meteoalarm_kind",
    "quake_severity",
    "warning_kind",
]

# (lower bound, severity), checked from the top
MAGNITUDE_BANDS = ((7.0, Severity.EXTREME), (6.0, Severity.SEVERE), (4.5, Severity.MODERATE))

ALERT_COLOURS = {
    "red": Severity.EXTREME,
    "orange": Severity.SEVERE,
    "yellow": Severity.MODERATE,
    "green": Severity.MINOR,
}


def magnitude_severity(magnitude: float | None) -> Severity:
    """The magnitude bands alone (see the module docstring)."""
    if magnitude is None:
        return Severity.UNKNOWN
    for bound, severity in MAGNITUDE_BANDS:
        if magnitude >= bound:
            return severity
    return Severity.MINOR


def quake_severity(magnitude: float | None, alert: Severity | None = None) -> Severity:
    """A quake's severity: its magnitude's band, raised by an alert level at most to the band of a
    quake one magnitude bigger; an alert level never lowers it."""
    base = magnitude_severity(magnitude)
    if alert is None or alert is Severity.UNKNOWN or alert.rank <= base.rank:
        return base
    if magnitude is None:
        return alert
    ceiling = magnitude_severity(magnitude + 1.0)
    return alert if alert.rank <= ceiling.rank else ceiling


def happened_at(sent: datetime, onset: str | None) -> tuple[datetime, bool]:
    """When an alert's event happens: its onset (ISO text, as the adapters keep it) when it has one,
    else when it was sent; and whether the onset was used. ``sent`` stays in ``extra["cap"]``."""
    if onset:
        when = parse_iso(onset)
        if when is not None:
            return when, True
    return sent, False


def alert_colour(value: object) -> Severity | None:
    """Red/orange/yellow/green (any case, "Red" or "RED") as a severity; None for anything else."""
    return ALERT_COLOURS.get(str(value or "").strip().lower())


_MAGNITUDE = re.compile(r"(?<![\w.])(?:[Mm][a-zA-Z]{0,3}\s*=?\s*)?(-?\d{1,2}(?:\.\d{1,2})?)(?![\w.])")


def magnitude_number(text: object) -> float | None:
    """The number of a magnitude as written ("ML 1.2", "M 4.5", "mb4.9", "6.3"); None when there is
    none or it cannot be a magnitude (outside -2..10)."""
    match = _MAGNITUDE.search(str(text or ""))
    if not match:
        return None
    value = float(match.group(1))
    return value if -2.0 <= value <= 10.0 else None


# Meteoalarm awareness types (the EMMA "awareness_type" parameter, "<n>; <name>").
METEOALARM_TYPES: dict[int, Kind] = {
    1: Kind.WEATHER,  # wind
    2: Kind.WEATHER,  # snow / ice
    3: Kind.WEATHER,  # thunderstorm
    4: Kind.WEATHER,  # fog
    5: Kind.WEATHER,  # extreme high temperature
    6: Kind.WEATHER,  # extreme low temperature
    7: Kind.FLOOD,  # coastal event (storm surge, high water)
    8: Kind.FIRE,  # forest fire
    9: Kind.WEATHER,  # avalanche (a snowpack warning from the weather service)
    10: Kind.WEATHER,  # rain
    12: Kind.FLOOD,  # flooding
    13: Kind.FLOOD,  # rain-flood
}


def meteoalarm_kind(awareness_type: object) -> Kind | None:
    """``"3; thunderstorm"`` (or ``3``) -> the kind; None when it is not an awareness type."""
    match = re.match(r"\s*(\d{1,2})\b", str(awareness_type or ""))
    return METEOALARM_TYPES.get(int(match.group(1))) if match else None


# Warning words of weather services (Meteoalarm event names, NWS, BoM...), checked in order: the
# first that matches names the kind. Used after the hazard words that name a kind outright.
_WARNING_WORDS: tuple[tuple[re.Pattern[str], Kind], ...] = tuple(
    (re.compile(pattern, re.I), kind)
    for pattern, kind in (
        (r"\bMVA\b|motor vehicle|vehicle accident|road (closure|closed|crash)|traffic (incident|hazard)|"
         r"car crash|\bcollision", Kind.TRAFFIC),
        (r"forest[- ]?fire|wild ?fire|bush ?fire|fire danger|fire weather", Kind.FIRE),
        (r"coastal (event|flood)|storm surge|rain[- ]flood|flood", Kind.FLOOD),
        (
            r"thunderstorm|\bstorm|\bwind|\bgale|\brain\b|rainfall|\bsnow|\bice\b|icing|\bfrost|\bfreez|"
            r"\bfog\b|low[- ]temperature|high[- ]temperature|\bheat\b|\bcold\b|\bavalanche|blizzard|\bhail",
            Kind.WEATHER,
        ),
    )
)


def warning_kind(text: str) -> Kind | None:
    """The kind a weather service's warning name means ("Moderate avalanches warning", "Yellow
    Thunderstorm Warning"); None when no word says."""
    for pattern, kind in _WARNING_WORDS:
        if pattern.search(text):
            return kind
    return None
