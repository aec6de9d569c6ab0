"""Whether two reports are one happening: the physical score, vetoes, :func:`should_merge`."""

from __future__ import annotations

import math

from feeds.fuse.facts import Facts, facts_of, text_similarity
from feeds.fuse.incident import Incident
from feeds.fuse.rules import (
    _GEOCODED_MIN_RADIUS_KM,
    _GEOCODED_SCALE_FACTOR,
    _NEVER_FUSED,
    _Z0_SQUARED,
    MERGE_THRESHOLD,
    rule_for,
)
from feeds.model import Event, Kind

# ---------------------------------------------------------------------------------------------
# Scoring

_EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def score_facts(a: Facts, b: Facts) -> float:
    """The physical similarity of two readings in [0, 1] (see the module docstring)."""
    if a.topic is not b.topic or a.topic in _NEVER_FUSED:
        return 0.0
    rule = rule_for(a.topic)
    z2 = 0.0
    complete = True
    if a.origin is not None and b.origin is not None:
        dt = abs((a.origin - b.origin).total_seconds())
        if dt > rule.time_gate_s:
            return 0.0
        z2 += (dt / rule.time_scale_s) ** 2
    else:
        if a.hi < b.lo or b.hi < a.lo:
            return 0.0
        if a.topic in (Kind.EARTHQUAKE, Kind.TSUNAMI):
            z2 += rule.unknown_time_z**2
            complete = False
    placed = a.placed and b.placed
    if placed:
        d = haversine_km(a.lat, a.lon, b.lat, b.lon)  # type: ignore[arg-type]
        scale, gate = rule.dist_scale_km, rule.radius_km
        if a.geocoded or b.geocoded:
            scale, gate = scale * _GEOCODED_SCALE_FACTOR, max(gate, _GEOCODED_MIN_RADIUS_KM)
        if d > gate:
            return 0.0
        z2 += (d / scale) ** 2
    else:
        z2 += rule.unknown_place_z**2
        complete = False
    if rule.mag_scale is not None:
        if a.magnitude is not None and b.magnitude is not None:
            dm = abs(a.magnitude - b.magnitude)
            gate = rule.mag_gate if a.origin is not None and b.origin is not None else rule.mag_gate_untimed
            if dm > gate + 1e-9:
                return 0.0
            z2 += (dm / rule.mag_scale) ** 2
        else:
            z2 += rule.unknown_mag_z**2
    text_weight = rule.text_z if complete else max(rule.text_z, rule.text_z_incomplete)
    if text_weight or rule.min_text or not placed:
        sim = text_similarity(a.tokens, b.tokens)
        if sim < rule.min_text or (not placed and sim < rule.min_text_unplaced):
            return 0.0
        z2 += ((1.0 - sim) * text_weight) ** 2
    return 1.0 / (1.0 + z2 / _Z0_SQUARED)


def _veto(a: Facts, b: Facts) -> bool:
    """True when the sources themselves say these are different happenings, or one is exercise
    data and the other real: an exercise inject must never corroborate a real report."""
    if a.exercise != b.exercise:
        return True
    usgs_a = {k for k in a.keys if k.startswith("usgs:")}
    usgs_b = {k for k in b.keys if k.startswith("usgs:")}
    if usgs_a and usgs_b and not usgs_a & usgs_b:
        return True
    return bool(a.catalogue_feeds & b.catalogue_feeds)


def _facts(x: Event | Incident | Facts) -> Facts:
    if isinstance(x, Facts):
        return x
    if isinstance(x, Incident):
        return x.facts
    return facts_of(x)


def similarity(a: Event | Facts, b: Event | Incident | Facts) -> float:
    """How alike two reports (or a report and an incident) are physically, in [0, 1].

    Ignores identities and vetoes; :func:`should_merge` applies those.
    """
    return score_facts(_facts(a), _facts(b))


def should_merge(a: Event | Facts, b: Event | Incident | Facts, threshold: float = MERGE_THRESHOLD) -> bool:
    """True when ``a`` reports the same happening as ``b``: a shared network id, else no veto and
    :func:`similarity` >= ``threshold``. Operator rules are applied by :class:`Correlator`."""
    if isinstance(a, Event) and isinstance(b, Event) and a.id == b.id:
        return True
    if isinstance(a, Event) and isinstance(b, Incident) and a.id in b.events:
        return True
    fa, fb = _facts(a), _facts(b)
    if fa.keys & fb.keys:
        return True
    if _veto(fa, fb):
        return False
    return score_facts(fa, fb) >= threshold


