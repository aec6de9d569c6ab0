"""Finding place mentions in a text: tokens, capitalised runs, qualified names, commas, qualifiers."""

from __future__ import annotations

import logging
import re
from typing import NamedTuple

from feeds.geocode import index as _state  # its process-wide state, read at call time
from feeds.geocode.index import _Index, small_places
from feeds.geocode.model import _Cand
from feeds.geocode.tables import (
    _OFFSET,
    _SENTENCE_END,
    _TOKEN,
    COMMON_WORDS,
    CONNECTORS,
    NAME_PREFIXES,
    STORM_WORDS,
    _fold,
    _key,
)

log = logging.getLogger("feeds.geocode")


# --- matching -----------------------------------------------------------------------------------


class _Mention(NamedTuple):
    start: int
    end: int
    text: str
    cands: list[_Cand]
    common: bool
    weak: bool  # sentence-initial single word: weaker evidence
    compound: bool = False  # one word of a longer capitalised name ("Davis Cup", "George Santos")
    street: bool = False  # inside a street name ("Moss Vale Rd"): the place the street leads to


_Tok = tuple[int, int, str, str, bool]  # start, end, word, folded word, capitalised


def _tokens(text: str) -> list[_Tok]:
    out = []
    lower = text.lower() if text.isascii() else None  # then a word's fold is a slice of it, less dots
    for m in _TOKEN.finditer(text):
        word, start, end = m.group(), m.start(), m.end()
        if "-" in word:
            head, sep, tail = word.partition("-")
            if tail[:1].islower():  # "Tokyo-based" -> "Tokyo"
                word, end = head, start + len(head)
        if word.endswith(("'s", "’s")):
            word, end = word[:-2], end - 2
        if lower is None:
            folded = _fold(word)
        else:
            folded = lower[start:end]
            if "." in folded:
                folded = folded.replace(".", "")
        out.append((start, end, word, folded, word[0].isupper()))
    return out


def _find_mentions(text: str, index: _Index, commas: set[int]) -> tuple[list[_Mention], list[_Tok]]:
    """The mentions of the main index's places in ``text``, and its tokens."""
    tokens = _tokens(text)
    return _match_runs(text, tokens, index, commas), tokens


def _match_runs(text: str, tokens: list[_Tok], index: _Index, commas: set[int]) -> list[_Mention]:
    """Leftmost-longest names of the main index in the runs of capitalised words, one mention each."""
    mentions: list[_Mention] = []
    i, n = 0, len(tokens)
    while i < n:
        start, end, word, _, _ = tokens[i]
        if not word[0].isupper():
            i += 1
            continue
        prev = tokens[i - 1][3] if i else ""
        if i and prev in NAME_PREFIXES and (tokens[i - 1][4] or prev in STORM_WORDS):
            i = _past_titled_name(text, tokens, i)
            continue
        found, words = _longest_name(text, tokens, i, index)
        if found is None and commas:
            found = _county_before_state(text, tokens, i, words, index, commas)
        if found is None:
            i += 1
            continue
        size, key, cands = found
        m_end = tokens[i + size - 1][1]
        before = text[:start].rstrip()
        initial = not before or before[-1] in _SENTENCE_END or before.endswith(" -")
        if size == 1 and i > 0 and tokens[i - 1][4] and tokens[i - 1][3] in _FEATURE_WORDS:
            if text[tokens[i - 1][1] : start] == " ":
                i += 1  # "Cape Cleveland" is a cape, not Cleveland
                continue
        compound = size == 1 and _in_longer_name(text, tokens, i, index)
        mentions.append(
            _Mention(start, m_end, text[start:m_end], cands, key in COMMON_WORDS, initial and size == 1, compound)
        )
        i += size
    return mentions


def _past_titled_name(text: str, tokens: list[_Tok], i: int) -> int:
    """The token after a person's or storm's name starting at ``i`` (up to two capitalised words)."""
    # "Hurricane Milton", "Gov. Brian Kemp": skip the name (up to two capitalised words).
    n = len(tokens)
    j = i
    while j < n and j < i + 2 and tokens[j][4]:
        j += 1
        if j < n and not text[tokens[j - 1][1] : tokens[j][0]].isspace():
            break  # "of King City, California": the name ends at the comma
    return j


def _longest_name(
    text: str, tokens: list[_Tok], i: int, index: _Index
) -> tuple[tuple[int, str, list[_Cand]] | None, list[str]]:
    """The longest name of the main index starting at token ``i`` ((words, key, places) or None), and
    the words after it that a name could take."""
    n = len(tokens)
    prefixes = index.prefixes
    word = tokens[i][2]
    words = [word]
    fwords = [tokens[i][3]]
    prefix = fwords[0]
    longest = 1  # names of more words are looked up only as far as some name starts that way
    for j in range(i + 1, min(i + 6, n)):
        if not text[tokens[j - 1][1] : tokens[j][0]].isspace():
            break
        words.append(tokens[j][2])
        fwords.append(tokens[j][3])
        if prefix is not None and prefix in prefixes:
            prefix += " " + tokens[j][3]
            longest += 1
        else:
            prefix = None
    for size in range(longest, 0, -1):
        last = words[size - 1]
        if not last[0].isupper():
            continue
        if size > 1 and any(
            not w[0].isupper() and f not in CONNECTORS
            for w, f in zip(words[1 : size - 1], fwords[1 : size - 1], strict=True)
        ):
            continue
        key = " ".join(fwords[:size]) if size > 1 else fwords[0]
        cands = index.names.get(key)
        if cands and size == 1 and len(word.rstrip(".")) <= 3 and word.isupper():
            # Short capitals are acronyms, not towns: "USA", "NSW" yes, "WA" (Ghana) no.
            cands = [c for c in cands if c.precision != "city"]
        if cands:
            return (size, key, cands), words
    return None, words


def _in_longer_name(text: str, tokens: list[_Tok], i: int, index: _Index) -> bool:
    """Is the one-word name at token ``i`` part of a longer name that is no place ("Davis Cup")?"""
    return (
        _unknown_capital(text, tokens, i - 1, index, before=True)
        or _unknown_capital(text, tokens, i + 1, index, before=False)
        or (  # "Kirishima and Atamifuji": paired with a name that is no place
            i + 2 < len(tokens)
            and tokens[i + 1][2] == "and"
            and _unknown_capital(text, tokens, i + 2, index, before=False)
            and not index.names.get(tokens[i + 2][3])
        )
    )


# Street types: a capitalised run ending in one (or followed by one) names a street, not a place.
_STREET = frozenset(
    "rd road st street hwy highway dr drive lane ln ave avenue tce terrace cres crescent pde parade fwy "
    "freeway mwy motorway blvd boulevard trail track bypass".split()
)


_LONG_ROADS = frozenset("hwy highway fwy freeway mwy motorway bypass".split())
# Named areas: "Bondi State Forest" is a forest named after a place, nowhere near it.
_FEATURES = frozenset(
    "state forest|national park|state park|regional park|nature reserve|game reserve|conservation area|"
    "state conservation area|marine park|wilderness area".split("|")
)


def _runs(text: str, tokens: list[_Tok]) -> list[_Tok]:
    """Runs of capitalised words (connectors inside) separated by spaces only, each (first token,
    last token, kind): kind is "" (a name), "street" ("Moss Vale Rd": named after a place near it),
    "road" (a highway, named after a place perhaps hundreds of km away) or "feature" ("Bondi State
    Forest"). A run ends after a street type ("Big Jack Mountain Rd | Rocky Hall NSW")."""
    runs = []
    i, n = 0, len(tokens)
    while i < n:
        if not tokens[i][4]:
            i += 1
            continue
        j = i
        while (
            j + 1 < n
            and text[tokens[j][1] : tokens[j + 1][0]].isspace()
            and (tokens[j + 1][4] or tokens[j + 1][3] in CONNECTORS)
            and not (j > i and tokens[j][3] in _STREET)
        ):
            j += 1
        while j > i and not tokens[j][4]:
            j -= 1
        last = tokens[j][3]
        after = tokens[j + 1][3] if j + 1 < n and text[tokens[j][1] : tokens[j + 1][0]].isspace() else ""
        kind = ""
        if j > i and (
            tokens[j - 1][3] + " " + last in _FEATURES
            or (j > i + 1 and " ".join(t[3] for t in tokens[j - 2 : j + 1]) in _FEATURES)
        ):
            kind = "feature"
        elif (j > i and last in _STREET) or after in _STREET:
            kind = "road" if (last if last in _STREET else after) in _LONG_ROADS else "street"
        runs.append((i, j, kind))
        i = j + 1
    return runs


def _area_runs(
    text: str,
    tokens: list[_Tok],
    mentions: list[_Mention],
    index: _Index,
    hinted: set[tuple[str | None, str | None]],
    country: str | None,
    commas: set[int],
) -> list[_Mention]:
    """Mark mentions inside street names, and find small places (cities500) inside the state the
    feed is about (``hinted``) or a state the text names: "Power Rd, Widgee" from the Queensland
    fire service, "Big Jack Mountain Rd Rocky Hall NSW". Leftmost-longest names in each run; a
    longer name replaces the main index's shorter ones inside it ("Tamborine Mountain"). With only
    a ``country`` hint, the one place of that name in the country, where an address puts the
    locality: right after a street ("Power Rd, Widgee" from a feed hinted "AU")."""
    named = {
        (c.cc, c.admin1)
        for m in mentions
        if m.cands and all(c.precision == "admin1" for c in m.cands) and len({c.cc for c in m.cands}) == 1
        for c in m.cands
    }
    areas = hinted | named
    has_street = any(t[3] in _STREET for t in tokens)
    if not areas and not has_street:
        return mentions
    runs = _runs(text, tokens)
    if any(kind for _, _, kind in runs):
        mentions = _mark_streets(tokens, runs, mentions)
    if not areas and not (country and has_street):
        return mentions
    small = small_places()
    out = list(mentions)
    for r, (_, _, kind) in enumerate(runs):
        if kind in ("road", "feature"):
            continue  # a highway runs hundreds of km from the town it is named after
        out = _run_places(text, tokens, runs, r, out, small, areas, hinted, country, commas)
    return out


def _mark_streets(tokens: list[_Tok], runs: list[tuple[int, int, str]], mentions: list[_Mention]) -> list[_Mention]:
    """Mentions inside a street name marked so; those inside a named feature ("Bondi State Forest") dropped."""
    features = [(tokens[i][0], tokens[j][1]) for i, j, kind in runs if kind == "feature"]
    streets = [(tokens[i][0], tokens[j][1]) for i, j, kind in runs if kind in ("street", "road")]
    return [
        m._replace(street=True) if any(a <= m.start and m.end <= b for a, b in streets) else m
        for m in mentions
        if not any(a <= m.start and m.end <= b for a, b in features)
    ]


def _run_places(
    text: str,
    tokens: list[_Tok],
    runs: list[tuple[int, int, str]],
    r: int,
    out: list[_Mention],
    small: dict[str, list[_Cand]],
    areas: set[tuple[str | None, str | None]],
    hinted: set[tuple[str | None, str | None]],
    country: str | None,
    commas: set[int],
) -> list[_Mention]:
    """``out`` with the small places in run ``r`` (leftmost-longest) in place of the shorter names there."""
    i, j, kind = runs[r]
    street = kind == "street"
    locality = (  # "Power Rd, Widgee": the run after a street and a comma is the locality
        country is not None
        and r > 0
        and runs[r - 1][2] in ("street", "road")
        and text[tokens[runs[r - 1][1]][1] : tokens[i][0]].strip() == ","
    )
    if locality:
        # An address's locality is in the feed's country: "Mona Rd, Halifax" is no Canadian city.
        a, b = tokens[i][0], tokens[j][1]
        out = [
            m if not (a <= m.start and m.end <= b) else m._replace(cands=[c for c in m.cands if c.cc == country])
            for m in out
        ]
        out = [m for m in out if m.cands]
    if not areas and not locality:
        return out
    if i == j and tokens[i][2].isupper() and len(tokens[i][3]) <= 3:
        return out  # "M", "NNE", "NSW": acronyms, not towns
    if not hinted and not locality and tokens[j][1] in commas:
        return out  # "Pahala, Hawaii": names before a comma are _qualified_runs' work
    s = i
    while s <= j:
        found = _small_place_at(text, tokens, runs, r, s, small, areas, hinted, country, locality, street, commas)
        if found is None:
            s += 1
            continue
        e, start, end, cands = found
        inside = [m for m in out if m.start < end and m.end > start]
        if all(m.start >= start and m.end <= end and m.end - m.start <= end - start for m in inside):
            same = [m for m in inside if (m.start, m.end) == (start, end)]
            known = same[0].cands if same else []
            merged = known + [c for c in cands if c not in known]
            out = [m for m in out if m not in inside]
            out.append(_Mention(start, end, text[start:end], merged, False, False, street=street))
            out.sort(key=lambda m: m.start)
        s = e + 1
    return out


def _small_place_at(
    text: str,
    tokens: list[_Tok],
    runs: list[tuple[int, int, str]],
    r: int,
    s: int,
    small: dict[str, list[_Cand]],
    areas: set[tuple[str | None, str | None]],
    hinted: set[tuple[str | None, str | None]],
    country: str | None,
    locality: bool,
    street: bool,
    commas: set[int],
) -> tuple[int, int, int, list[_Cand]] | None:
    """The longest small place starting at token ``s`` of run ``r``: (last token, start, end, places) or None."""
    i, j, _ = runs[r]
    for e in range(min(j, s + 4), s - 1, -1):
        if not tokens[e][4] or tokens[s][3] in CONNECTORS:
            continue
        start, end = tokens[s][0], tokens[e][1]
        key = " ".join(t[3] for t in tokens[s : e + 1])
        if e == s and (key in COMMON_WORDS or key in COUNTRY_LIKE_WORDS):
            continue
        if s > i and tokens[s - 1][3] in _FEATURE_WORDS:
            return None  # "Cape Cleveland": not Cleveland
        got = small.get(key)
        cands = [c for c in got if (c.cc, c.admin1) in areas] if got else None
        if not cands and locality and got and s == i and e == j:
            cands = [c for c in got if c.cc == country]
            if len(cands) > 1:
                continue  # several of that name in the country: which one is unknown
        if not cands:
            continue
        if not locality and not any((c.cc, c.admin1) in hinted for c in cands):
            before = text[:start].rstrip()
            if e == s and (not before or before[-1] in _SENTENCE_END):
                continue  # a text-named state backs no sentence-initial single word
        if street and (e == j or len({(c.cc, c.admin1) for c in cands}) > 1):
            continue
        if not locality and not street and not _located(text, tokens, runs, r, s, commas):
            continue  # "Amazon's New Echo Show Is Very Cool": no hamlet in a headline's words
        return e, start, end, cands
    return None


# Words after which a name is where something is: "near Bilpin", "4 km west of Termeil".
_PREPOSITIONS = frozenset("in near at of from outside around towards toward to via off into nr".split())


def _located(text: str, tokens: list[_Tok], runs: list[tuple[int, int, str]], r: int, s: int, commas: set[int]) -> bool:
    """Does a name starting at token ``s`` of run ``r`` stand where a text puts a place: after a
    preposition, an offset, a comma, a bracket or a street ("Big Jack Mountain Rd Rocky Hall"), or
    as a whole location field ("Rockton", "Yandina, QLD")? Small places are looked up only there,
    never in any capitalised headline word."""
    i, j, _ = runs[r]
    if s > i and tokens[s - 1][3] in COUNTRY_LIKE_WORDS and all(t[3] in COUNTRY_LIKE_WORDS for t in tokens[i:s]):
        s = i  # "South Guyra": where the run stands counts
    k = tokens[s][0]
    while k > 0 and text[k - 1].isspace():
        k -= 1
    if k == 0:
        end = tokens[j][1]
        return end in commas or not text[end:].strip()
    if text[k - 1] in ",(/-–":
        return True
    if s > 0 and tokens[s - 1][1] == k and tokens[s - 1][3] in _PREPOSITIONS:
        return True
    if any(m.end() == tokens[s][0] for m in _OFFSET.finditer(text, max(0, k - 40), tokens[s][0])):
        return True  # "40km W Coonabarabran"
    return s == i and r > 0 and runs[r - 1][2] in ("street", "road") and tokens[runs[r - 1][1]][1] == k


def _unknown_capital(text: str, tokens: list[_Tok], j: int, index: _Index, *, before: bool) -> bool:
    """Is token ``j`` a capitalised word, right next to its neighbour, that names no place? Then the
    neighbour is one word of a longer name: a person ("George Santos"), a thing ("Davis Cup")."""
    if j < 0 or j >= len(tokens):
        return False
    start, end, word, folded, _ = tokens[j]
    if not word[0].isupper() or word.isupper() or folded in NAME_PREFIXES:
        return False
    gap = text[end : tokens[j + 1][0]] if before else text[tokens[j - 1][1] : start]
    if gap != " ":
        return False
    key = folded
    if key in COUNTRY_LIKE_WORDS:
        return False
    cands = index.names.get(key)
    # Two town names side by side without a comma are one name too: "George Santos".
    return not cands or all(c.precision == "city" for c in cands)


# "Cape Cleveland", "Mount Tyson": a cape or a mountain, not the town of the next word.
_FEATURE_WORDS = frozenset("cape mount mt lake point port fort glen".split())

# Capitalised words that sit next to place names without making them part of another name.
COUNTRY_LIKE_WORDS = frozenset(
    "north south east west northern southern eastern western central upper lower greater new old "
    "city county state province region island islands district area".split()
)


def _qualified_runs(
    text: str, tokens: list[_Tok], mentions: list[_Mention], index: _Index, commas: set[int]
) -> list[_Mention]:
    """Whole names before ", <state or country>" that the main index lacks, from the small places:
    "17km S of Searles Valley, CA" names Searles Valley (not a Valley County elsewhere)."""
    out = list(mentions)
    if not commas:
        return out
    for t in range(len(tokens) - 1):
        end = tokens[t][1]
        if end not in commas:
            continue
        probe = _Mention(end, end, "", [], False, False)
        nxt = next((m for m in out if m.start > end), None)
        q = _qualifier(text, probe, nxt, index)
        if q is None:
            continue
        # the capitalised run ending at token t (connectors inside it)
        first = t
        while (
            first > 0
            and text[tokens[first - 1][1] : tokens[first][0]].strip(" -") == ""
            and (tokens[first - 1][4] or tokens[first - 1][3] in CONNECTORS)
        ):
            first -= 1
        if not tokens[t][4]:
            continue
        known = [m for m in out if m.end == end and any(_matches(c, a) for c in m.cands for a in q[0])]
        for s in range(first, t + 1):
            if not tokens[s][4]:
                continue  # a capitalised connector may start a name: "La Playa", "El Centro"
            start = tokens[s][0]
            if known and start >= known[0].start:
                break  # the main index has this name (or all of it that is left)
            key = _key(text[start:end])
            # What the feeds taught wins over a namesake the tables hold in the same area.
            learned = _state._learned.get(key, ()) if _state._learned and not _state._learned_off.get() else ()
            cands = [c for c in learned if any(_matches(c, a) for a in q[0])]
            cands = cands or [c for c in small_places().get(key, ()) if any(_matches(c, a) for a in q[0])]
            if cands:
                out = [m for m in out if m.end <= start or m.start >= end]
                out.append(_Mention(start, end, text[start:end], cands, False, False))
                out.sort(key=lambda m: m.start)
                break
    return out


_COUNTY_SUFFIXES = (" county", " parish", " borough", " census area", " city and borough", " municipality")
_STATE_AFTER = re.compile(r"\s*,\s*((?:[A-Za-z]\.){1,3}|[A-Z][A-Za-z]{1,4})\.?(?![\w.])")


def _county_before_state(
    text: str, tokens: list[_Tok], i: int, words: list[str], index: _Index, commas: set[int]
) -> tuple[int, str, list[_Cand]] | None:
    """NWS ``areaDesc`` style "Harris, TX": capitalised words then ", <state>" name a county."""
    for size in range(min(len(words), 4), 0, -1):
        after = tokens[i + size - 1][1]
        if after not in commas:
            continue
        if not all(w[0].isupper() for w in words[:size]):
            continue
        m = _STATE_AFTER.match(text, after)
        if not m or not index.qualifiers.get(_key(m.group(1))):
            continue
        base = _key(" ".join(words[:size]))
        for suffix in _COUNTY_SUFFIXES:
            cands = [c for c in index.names.get(base + suffix, ()) if c.precision == "county"]
            if cands:
                return size, base + suffix, cands
    return None


def _comma_ends(text: str) -> set[int]:
    """Positions right after the words that a comma follows (white space between allowed)."""
    out = set()
    at = text.find(",")
    while at >= 0:
        k = at
        while k > 0 and text[k - 1].isspace():
            k -= 1
        out.add(k)
        at = text.find(",", at + 1)
    return out


def _comma_at(text: str, at: int) -> int:
    """Where the comma is when only white space lies between ``at`` and one; else -1."""
    n = len(text)
    while at < n:
        c = text[at]
        if c == ",":
            return at
        if not c.isspace():
            return -1
        at += 1
    return -1


def _qualifier(text: str, mention: _Mention, nxt: _Mention | None, index: _Index) -> tuple[list[_Cand], int] | None:
    """The states/countries named right after "mention, " (and where that name ends)."""
    comma = _comma_at(text, mention.end)
    if comma < 0:
        return None
    after = comma + 1
    if nxt is not None and text[after : nxt.start].strip() == "":
        cands = [c for c in nxt.cands if c.precision in ("admin1", "country")]
        if cands:
            return cands, nxt.end
    m = _STATE_AFTER.match(text, mention.end)
    if not m:
        return None
    cands = index.qualifiers.get(_key(m.group(1)))
    return (cands, m.end()) if cands else None


def _matches(cand: _Cand, admin: _Cand) -> bool:
    if cand.cc != admin.cc or cand is admin:
        return False
    return admin.precision == "country" or (cand.admin1 == admin.admin1 and cand.precision != "country")


