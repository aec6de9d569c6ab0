"""The fusion rules per kind: time and distance windows, magnitude and text thresholds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from feeds.model import Kind

MERGE_THRESHOLD = 0.5
_Z0_SQUARED = 9.0  # similarity 0.5 <=> z2 == 9 ("three sigma")
_CLOCK_SKEW = timedelta(minutes=2)
_GEOCODED_SCALE_FACTOR = 3.0
_GEOCODED_MIN_RADIUS_KM = 250.0


class OverrideError(ValueError):
    """An operator override names an incident or event the correlator does not hold."""


@dataclass(frozen=True, slots=True)
class Rule:
    """How reports of one kind are compared (see the module docstring for the values)."""

    time_scale_s: float  # z-scale of the difference between two stated origin times
    time_gate_s: float  # origin times further apart: never the same
    pub_window_s: float  # a report may be published this long after the happening
    duration_s: float  # how long the happening lasts when the report gives no end
    dist_scale_km: float
    radius_km: float
    mag_scale: float | None = None  # None: magnitude not compared
    mag_gate: float = 1.0
    mag_gate_untimed: float = 0.3  # when either side states no origin time, the magnitude must agree this well
    unknown_time_z: float = 1.5
    unknown_place_z: float = 2.0
    unknown_mag_z: float = 1.0
    text_z: float = 0.0  # weight of (1 - text containment); 0: text only when place/time missing
    text_z_incomplete: float = 2.0
    min_text: float = 0.0  # containment required always
    min_text_unplaced: float = 0.5  # containment required when either side has no position
    bucket_s: int = 3600  # time bucket of the index


_H = 3600.0
_D = 86400.0
RULES: dict[Kind, Rule] = {
    Kind.EARTHQUAKE: Rule(15, 120, 12 * _H, 0, 30, 150, mag_scale=0.3, mag_gate=1.0),
    Kind.TSUNAMI: Rule(60, 900, 12 * _H, 6 * _H, 100, 1000, text_z=1.0, min_text=0.2),
    Kind.VOLCANO: Rule(6 * _H, 3 * _D, 2 * _D, 7 * _D, 30, 100, text_z=1.0),
    Kind.WEATHER: Rule(3 * _H, 12 * _H, 12 * _H, 12 * _H, 40, 150, text_z=2.5, min_text=0.4, bucket_s=6 * 3600),
    Kind.FLOOD: Rule(2 * _D, 7 * _D, 7 * _D, 7 * _D, 150, 500, text_z=2.0, min_text=0.3, bucket_s=86400),
    Kind.FIRE: Rule(12 * _H, 3 * _D, 2 * _D, 3 * _D, 15, 60, text_z=1.5, min_text=0.2, bucket_s=6 * 3600),
    Kind.CYCLONE: Rule(2 * _D, 10 * _D, 3 * _D, 10 * _D, 300, 1500, text_z=2.0, min_text=0.3, bucket_s=86400),
    Kind.DROUGHT: Rule(30 * _D, 180 * _D, 30 * _D, 180 * _D, 500, 1500, text_z=2.0, min_text=0.3, bucket_s=86400),
    Kind.EPIDEMIC: Rule(7 * _D, 60 * _D, 14 * _D, 60 * _D, 300, 1500, text_z=2.0, min_text=0.4, bucket_s=86400),
}
_DEFAULT_RULE = Rule(1 * _H, 6 * _H, 6 * _H, 3 * _H, 5, 25, text_z=2.5, min_text=0.4)
_NEVER_FUSED = {Kind.NEWS, Kind.OTHER}


def rule_for(kind: Kind) -> Rule:
    return RULES.get(kind, _DEFAULT_RULE)


