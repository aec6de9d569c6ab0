"""GDELT 1.0 event export (format ``gdelt``): tab-separated, no header.

Rows have 57 columns (historical backfile: no SOURCEURL) or 58 (daily files from April 2013 on:
SOURCEURL last). Columns used, 0-based: 0 GLOBALEVENTID, 1 SQLDATE (YYYYMMDD), 6/16 Actor1/2Name,
7/17 Actor1/2CountryCode, 25 IsRootEvent, 26 EventCode, 27 EventBaseCode, 28 EventRootCode,
29 QuadClass, 30 GoldsteinScale, 31-33 NumMentions/NumSources/NumArticles, 34 AvgTone,
35-41 Actor1Geo (Type, FullName, CountryCode, ADM1Code, Lat, Long, FeatureID), 49-55 ActionGeo,
56 DATEADDED, 57 SOURCEURL.

Decisions:

- ``id`` = ``"gdelt:" + GLOBALEVENTID``.
- Position: ActionGeo lat/long, falling back to Actor1Geo; rows with neither (or with a bad or
  0,0 position) are skipped, counted in one warning: an unplaced news item is noise on a map.
- ``time`` = SQLDATE, a day: midnight UTC (GDELT dates are UTC days). ``updated`` = DATEADDED.
- ``kind`` = security for CAMEO root codes 14-20 (protest, force posture, reduce relations,
  coerce, assault, fight, mass violence), news otherwise.
- ``severity`` by root code: 20 extreme; 18-19 severe; 14, 15, 17 moderate; everything else minor.
- ``title`` = actors and the CAMEO root description ("UNITED STATES - Threaten - CHINA").
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from feeds.contract import DocumentRefused, FeedConfig, ParseResult
from feeds.model import Event, InvalidEvent, Kind, Severity, check_lonlat, iso
from feeds.sources import register
from feeds.sources._json import decode_text
from feeds.text import BadDate, clock_skew_warning, parse_time, plain_text, safe_link, title_text

CAMEO_ROOT = {
    "01": "Make public statement",
    "02": "Appeal",
    "03": "Express intent to cooperate",
    "04": "Consult",
    "05": "Engage in diplomatic cooperation",
    "06": "Engage in material cooperation",
    "07": "Provide aid",
    "08": "Yield",
    "09": "Investigate",
    "10": "Demand",
    "11": "Disapprove",
    "12": "Reject",
    "13": "Threaten",
    "14": "Protest",
    "15": "Exhibit force posture",
    "16": "Reduce relations",
    "17": "Coerce",
    "18": "Assault",
    "19": "Fight",
    "20": "Use unconventional mass violence",
}
SECURITY_ROOTS = {"14", "15", "16", "17", "18", "19", "20"}
ROOT_SEVERITY = {
    "20": Severity.EXTREME,
    "18": Severity.SEVERE,
    "19": Severity.SEVERE,
    "14": Severity.MODERATE,
    "15": Severity.MODERATE,
    "17": Severity.MODERATE,
}
WIDTHS = (57, 58)
MAX_ROW_WARNINGS = 20
_DAY = re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{2})?(\d{2})?(\d{2})?$")

FIELDS = {
    "id": "GLOBALEVENTID (col 0)",
    "time": "SQLDATE (col 1, day at 00:00 UTC)",
    "updated": "DATEADDED (col 56)",
    "lat": "ActionGeo_Lat (col 53)|Actor1Geo_Lat (col 39)",
    "lon": "ActionGeo_Long (col 54)|Actor1Geo_Long (col 40)",
    "kind": "EventRootCode (col 28)",
    "severity": "EventRootCode (col 28)",
    "link": "SOURCEURL (col 57)",
    "place": "ActionGeo_FullName (col 50)|Actor1Geo_FullName (col 36)",
}


def gdelt_day(text: str) -> datetime:
    """``YYYYMMDD`` (or ``YYYYMMDDhhmmss``) as aware UTC; BadDate when impossible."""
    match = _DAY.match(text.strip())
    if not match:
        raise BadDate(f"unreadable GDELT date {text[:20]!r}")
    y, mo, d, h, mi, s = match.groups()
    moment, _ = parse_time(f"{y}-{mo}-{d}T{h or '00'}:{mi or '00'}:{s or '00'}Z")
    return moment


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _position(row: list[str]) -> tuple[float, float, str, str] | None:
    """(lon, lat, place, which) from ActionGeo, else Actor1Geo; None when neither is usable."""
    for lat_i, name_i, which in ((53, 50, "ActionGeo"), (39, 36, "Actor1Geo")):
        lat, lon = _float(row[lat_i]), _float(row[lat_i + 1])
        if lat is None or lon is None:
            continue
        try:
            check_lonlat(lon, lat)
        except InvalidEvent:
            continue
        return lon, lat, row[name_i], which
    return None


def _actor(row: list[str], base: int) -> dict[str, Any]:
    return {
        "code": plain_text(row[base], 40) or None,
        "name": plain_text(row[base + 1], 120) or None,
        "country": plain_text(row[base + 2], 10) or None,
    }


class Gdelt:
    """Adapter for GDELT 1.0 event export files."""

    name = "gdelt"

    def sniff(self, head: str) -> int:
        """90 when the first line is 57/58 tab-separated columns starting with an id and a
        YYYYMMDD date; 70 when that line is cut short by the 4 KiB head but looks the same."""
        text = head.lstrip("\ufeff")
        first, newline, _ = text.partition("\n")
        cells = first.rstrip("\r").split("\t")
        if len(cells) < 30 or not cells[0].isdigit() or not re.fullmatch(r"\d{8}", cells[1]):
            return 0
        if len(cells) in WIDTHS:
            return 90
        return 70 if not newline else 0

    def parse(self, data: bytes, feed: FeedConfig, fetched_at: datetime) -> ParseResult:
        """One event per placed row; DocumentRefused when no line has GDELT's shape."""
        text, warnings = decode_text(data)
        result = ParseResult(warnings=warnings)
        fetched = iso(fetched_at)
        unplaced = skipped = rows = 0
        for number, line in enumerate(text.split("\n"), start=1):
            line = line.rstrip("\r")
            if not line:
                continue
            row = line.split("\t")
            try:
                if len(row) not in WIDTHS:
                    raise ValueError(f"{len(row)} columns, expected 57 or 58")
                if not row[0].isdigit():
                    raise ValueError("GLOBALEVENTID is not a number")
                rows += 1
                position = _position(row)
                if position is None:
                    unplaced += 1
                    continue
                result.events.append(self._event(row, position, feed, fetched_at, fetched))
            except (InvalidEvent, BadDate, ValueError) as exc:
                skipped += 1
                if skipped <= MAX_ROW_WARNINGS:
                    result.warnings.append(f"line {number} skipped: {exc}")
        if rows == 0 and skipped:
            raise DocumentRefused("not a GDELT 1.0 export: no line has 57 or 58 tab-separated columns")
        if skipped > MAX_ROW_WARNINGS:
            result.warnings.append(f"{skipped - MAX_ROW_WARNINGS} more lines skipped")
        if unplaced:
            result.warnings.append(f"{unplaced} rows carry no usable location (ActionGeo/Actor1Geo); skipped")
        return result

    def _event(
        self, row: list[str], position: tuple[float, float, str, str], feed: FeedConfig,
        fetched_at: datetime, fetched: str | None,
    ) -> Event:
        lon, lat, place, which = position
        time = gdelt_day(row[1])
        notes: list[str] = []
        skew = clock_skew_warning(time, fetched_at)
        if skew:
            notes.append(skew)
        updated = None
        try:
            updated = gdelt_day(row[56])
        except BadDate as exc:
            notes.append(f"DATEADDED ignored: {exc}")
        root = row[28].strip()
        action = CAMEO_ROOT.get(root, f"CAMEO {plain_text(root, 4) or '?'}")
        actor1, actor2 = _actor(row, 5), _actor(row, 15)
        title = " - ".join(part for part in (actor1["name"], action, actor2["name"]) if part)
        if which != "ActionGeo":
            notes.append("placed at Actor1Geo: the row has no ActionGeo position")
        return Event(
            id="gdelt:" + row[0],
            source=self.name,
            kind=Kind.SECURITY if root in SECURITY_ROOTS else Kind.NEWS,
            title=title_text(title),
            time=time,
            severity=ROOT_SEVERITY.get(root, Severity.MINOR),
            lat=lat,
            lon=lon,
            link=safe_link(row[57]) if len(row) == 58 else None,
            feed=feed.id,
            exercise=feed.exercise,
            place=plain_text(place, 200) or None,
            updated=updated,
            extra={
                "event_code": plain_text(row[26], 8),
                "event_base_code": plain_text(row[27], 8),
                "root_code": plain_text(root, 4),
                "quad_class": plain_text(row[29], 4),
                "goldstein": _float(row[30]),
                "num_mentions": int(row[31]) if row[31].isdigit() else None,
                "num_sources": int(row[32]) if row[32].isdigit() else None,
                "num_articles": int(row[33]) if row[33].isdigit() else None,
                "avg_tone": _float(row[34]),
                "is_root_event": row[25] == "1",
                "actor1": actor1,
                "actor2": actor2,
                "geo_source": which,
            },
            provenance={"feed": feed.id, "raw_id": row[0], "fetched_at": fetched, "fields": FIELDS},
            warnings=tuple(notes),
        )


SOURCE = register(Gdelt())
