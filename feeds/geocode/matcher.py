""":func:`geocode`: the place a text names, from its mentions, offsets and qualifiers."""

from __future__ import annotations

import logging
import math
import re

from feeds.geocode import index as _state  # its process-wide state, read at call time
from feeds.geocode.index import _Index, area_hint, gazetteer
from feeds.geocode.mentions import (
    _STATE_AFTER,
    _area_runs,
    _comma_ends,
    _find_mentions,
    _matches,
    _Mention,
    _qualified_runs,
    _qualifier,
    _Tok,
)
from feeds.geocode.model import Place, _Cand
from feeds.geocode.tables import _BEARING_WORDS, _BEARINGS, _OFFSET, US_CONTEXT_TOKENS, _key

log = logging.getLogger("feeds.geocode")


def _destination(lat: float, lon: float, km: float, bearing: float) -> tuple[float, float]:
    """Great-circle point ``km`` from lat/lon on ``bearing`` degrees."""
    r = km / 6371.0088
    p1, l1, b = math.radians(lat), math.radians(lon), math.radians(bearing)
    p2 = math.asin(math.sin(p1) * math.cos(r) + math.cos(p1) * math.sin(r) * math.cos(b))
    l2 = l1 + math.atan2(math.sin(b) * math.sin(r) * math.cos(p1), math.cos(r) - math.sin(p1) * math.sin(p2))
    lon2 = (math.degrees(l2) + 540.0) % 360.0 - 180.0
    return math.degrees(p2), lon2


_RANK = {"city": 3, "county": 2, "admin1": 1, "country": 0}


_hints: dict[str, tuple[str | None, _Cand | None]] = {}  # area_hint() of the hints seen


# (mention number, or -2 for the feed's hint and -1 for US words; country weights; states) a source names
_Contribution = tuple[int, dict[str, float], set[tuple[str | None, str | None]]]
_Qualified = dict[int, tuple[list[_Cand], int]]  # mention number -> (places its qualifier allows, where that ends)


def geocode(text: str, *, country_hint: str | None = None, learned: bool = True) -> Place | None:
    """The most specific place ``text`` names, or None when it names none.

    ``country_hint`` (ISO code or name, e.g. the feed's country) favours places in that country.
    ``learned=False`` leaves out the places learned from the feeds (:func:`use_learned_places`).
    Never raises for odd input: non-strings and empty strings give None."""
    if not isinstance(text, str) or not text.strip():
        return None
    if not learned and _state._learned:
        token = _state._learned_off.set(True)
        try:
            return geocode(text, country_hint=country_hint)
        finally:
            _state._learned_off.reset(token)
    index = gazetteer()
    shown = text[:2000]
    text = _name_cased(shown)
    hint, hint_area = _hint(country_hint)
    commas = _comma_ends(text)
    mentions, tokens = _find_mentions(text, index, commas)
    mentions = _qualified_runs(text, tokens, mentions, index, commas)
    hinted = {(hint, hint_area.admin1)} if hint_area else set()
    mentions = _area_runs(text, tokens, mentions, index, hinted, hint if hint and not hint_area else None, commas)
    qualified, consumed, contradicted = _pair_qualifiers(text, mentions, index)
    contributions = _contributions(tokens, mentions, qualified, contradicted, hint, hint_area)

    best: tuple[tuple[bool, int, float, int], Place] | None = None
    for k, mention in enumerate(mentions):
        if k in consumed or k in contradicted:
            continue
        ranked = _place_of(text, shown, k, mention, qualified, contributions, hint, hint_area)
        if ranked is not None and (best is None or ranked[0] > best[0]):
            best = ranked
    if best is not None:
        return best[1]
    return _state_only(text, index, hint)


def _name_cased(text: str) -> str:
    """An all-capitals text with its longer words in title case, so that names read as names."""
    if text.isupper():
        # ALL CAPITALS ("MOSS VALE RD, BARRENGARRY 2577", "CRETE, GREECE"): words of four letters or
        # more in title case, so that names read as names; short ones ("NSW", "RD") stay acronyms.
        cased = re.sub(r"[^\W\d_]{4,}", lambda m: m.group()[0] + m.group()[1:].lower(), text)
        if len(cased) == len(text):
            return cased
    return text


def _hint(country_hint: str | None) -> tuple[str | None, _Cand | None]:
    """area_hint() of ``country_hint``, remembered for the next text with the same hint."""
    hint, hint_area = _hints.get(country_hint) or area_hint(country_hint) if country_hint else (None, None)
    if country_hint and len(_hints) < 1000:
        _hints[country_hint] = (hint, hint_area)
    return hint, hint_area


def _pair_qualifiers(text: str, mentions: list[_Mention], index: _Index) -> tuple[_Qualified, set[int], set[int]]:
    """Qualified names: "Place, Qualifier" pairs narrowed to the qualifier, the qualifiers they use
    up, and the places a qualifier contradicts."""
    qualified: _Qualified = {}
    consumed: set[int] = set()
    contradicted: set[int] = set()
    for k, mention in enumerate(mentions):
        nxt = mentions[k + 1] if k + 1 < len(mentions) else None
        q = _qualifier(text, mention, nxt, index)
        if q is None:
            continue
        narrowed = [c for c in mention.cands if any(_matches(c, a) for a in q[0])]
        if narrowed:
            qualified[k] = (narrowed, q[1])
        elif any(c.precision in ("city", "county") for c in mention.cands):
            # "Hawthorne, Nevada" with only the Hawthorne of California known: not that place.
            contradicted.add(k)
            continue
        if nxt is not None and nxt.end <= q[1]:
            consumed.add(k + 1)
    return qualified, consumed, contradicted


def _contributions(
    tokens: list[_Tok],
    mentions: list[_Mention],
    qualified: _Qualified,
    contradicted: set[int],
    hint: str | None,
    hint_area: _Cand | None,
) -> list[_Contribution]:
    """Context: which countries and states the hint, US words and each mention name."""
    contributions: list[_Contribution] = []
    if hint:
        contributions.append((-2, {hint: 1.5}, {(hint, hint_area.admin1)} if hint_area else set()))
    folded = {t[3] for t in tokens if t[4] or t[3] in ("county", "parish")}
    if folded & US_CONTEXT_TOKENS:
        contributions.append((-1, {"US": 2.0}, set()))
    for k, mention in enumerate(mentions):
        if (mention.common and k not in qualified) or k in contradicted:
            continue
        cands = qualified[k][0] if k in qualified else mention.cands
        if all(c.precision in ("admin1", "country") for c in cands) and len({c.cc for c in cands}) == 1:
            admins = {(c.cc, c.admin1) for c in cands if c.precision == "admin1"}
            contributions.append((k, {cands[0].cc: 2.0}, admins))  # type: ignore[dict-item]
        elif len(cands) == 1:
            contributions.append((k, {cands[0].cc: 1.0}, {(cands[0].cc, cands[0].admin1)}))  # type: ignore[dict-item]
    return contributions


def _place_of(
    text: str,
    shown: str,
    k: int,
    mention: _Mention,
    qualified: _Qualified,
    contributions: list[_Contribution],
    hint: str | None,
    hint_area: _Cand | None,
) -> tuple[tuple[bool, int, float, int], Place] | None:
    """The place mention ``k`` names and its rank among the others, or None when the text does not back it."""
    context_cc: dict[str, float] = {}
    context_admin: set[tuple[str | None, str | None]] = set()
    for source, weights, admins in contributions:
        if source == k:
            continue
        for cc, weight in weights.items():
            context_cc[cc] = max(context_cc.get(cc, 0.0), weight)
        context_admin |= admins
    cands = qualified[k][0] if k in qualified else mention.cands
    scored = _scored(cands, context_cc, context_admin)
    score, cand = scored[0]
    if k in qualified:
        confidence: float | None = 0.95 if len(scored) == 1 or scored[1][0] < score - 0.3 else 0.85
    else:
        confidence = _bare_confidence(k, mention, scored, contributions, context_cc, context_admin, hint, hint_area)
        if confidence is None:
            return None
    lat, lon, precision, offset = _offset(text, mention, cand)
    end = qualified[k][1] if k in qualified else mention.end
    place = Place(
        name=cand.name,
        lat=round(lat, 5),
        lon=round(lon, 5),
        precision=precision,
        confidence=round(confidence, 2),
        matched=shown[offset.start() if offset else mention.start : end],
        country=cand.cc,
        admin1=cand.admin1,
    )
    rank = (not mention.street, _RANK[cand.precision], round(confidence, 1), -mention.start)
    return rank, place


def _scored(
    cands: list[_Cand], context_cc: dict[str, float], context_admin: set[tuple[str | None, str | None]]
) -> list[tuple[float, _Cand]]:
    """Scoring: each candidate's base score plus its context, best first."""
    scored = []
    for c in cands:
        score = c.base + context_cc.get(c.cc or "", 0.0)
        if c.precision in ("city", "county") and (c.cc, c.admin1) in context_admin:
            score += 1.5
        scored.append((score, c))
    scored.sort(key=lambda s: -s[0])
    return scored


def _bare_confidence(
    k: int,
    mention: _Mention,
    scored: list[tuple[float, _Cand]],
    contributions: list[_Contribution],
    context_cc: dict[str, float],
    context_admin: set[tuple[str | None, str | None]],
    hint: str | None,
    hint_area: _Cand | None,
) -> float | None:
    """Confidence in a bare (unqualified) name's best place, or None when the text does not back it."""
    score, cand = scored[0]
    supported = (cand.cc or "") in context_cc
    if mention.street and (cand.cc, cand.admin1) not in context_admin:
        return None  # a street is named after a place in the area it runs through
    # Backed by the text itself: its country or state named elsewhere in it (the feed's
    # hint is no such backing: "Virgin Mobile" in a US feed is still no town).
    backed = any(
        source not in (-2, k) and (cand.cc in weights or (cand.cc, cand.admin1) in admins)
        for source, weights, admins in contributions
    )
    if (
        hint_area is not None
        and cand.population < 1_000_000
        and (cand.cc, cand.admin1) != (hint, hint_area.admin1)
        and not backed
        and (cand.precision == "city" or cand.cc != hint)
    ):
        # A state's feed (a fire service's) naming a town elsewhere names it with its state
        # or country: "Halifax" in a Queensland incident is the local Halifax, not Canada's.
        return None
    if mention.common and not backed:
        return None
    if mention.compound and cand.precision == "city" and cand.population < 1_000_000 and not backed:
        return None
    if mention.weak and cand.precision == "city" and cand.population < 100_000 and not backed:
        return None
    confidence = {"country": 0.8, "admin1": 0.75, "county": 0.7}.get(
        cand.precision, min(0.85, 0.35 + 0.1 * math.log10(max(cand.population, 1000)))
    )
    if supported:
        confidence = min(0.9, confidence + 0.1)
    if len(scored) > 1 and scored[1][0] > score - 0.5:
        confidence *= 0.8
    return confidence


def _offset(text: str, mention: _Mention, cand: _Cand) -> tuple[float, float, str, re.Match[str] | None]:
    """Offsets: the point "12 km NE of" a place moves to (then exact), and the offset's match."""
    lat, lon, precision = cand.lat, cand.lon, cand.precision
    offset = None
    for m in _OFFSET.finditer(text, 0, mention.start):
        if m.end() == mention.start:
            offset = m
    if offset is not None:
        km = float(offset.group(1)) * (1.609344 if offset.group(2).lower().startswith("mi") else 1.0)
        way = offset.group(3)
        bearing = _BEARINGS.get(way.upper()) if len(way) <= 3 else _BEARING_WORDS.get(way.lower().replace("-", ""))
        if bearing is not None and km <= 1000:
            lat, lon = _destination(lat, lon, km, bearing)
            precision = "exact"
    return lat, lon, precision, offset


def _state_only(text: str, index: _Index, hint: str | None) -> Place | None:
    """Last resort: "Smalltown, TX" names a state even when the town is not in the gazetteer."""
    for m in re.finditer(r",", text):
        q = _STATE_AFTER.match(text, m.start())
        cands = index.qualifiers.get(_key(q.group(1))) if q else None
        if not cands:
            continue
        cand = next((c for c in cands if c.cc == hint), cands[0])
        return Place(cand.name, cand.lat, cand.lon, "admin1", 0.5, q.group(0).lstrip(" ,"), cand.cc, cand.admin1)
    return None


