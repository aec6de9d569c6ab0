"""NASA FIRMS active-fire CSV (format ``firms-csv``): MODIS C6/C6.1 and VIIRS (S-NPP, NOAA-20/21).

The two instruments use different columns: MODIS has ``brightness``/``bright_t31`` and a numeric
``confidence`` 0-100; VIIRS has ``bright_ti4``/``bright_ti5`` and a word ``l``/``n``/``h`` (or
``low``/``nominal``/``high``). ``acq_time`` is UTC ``HHMM`` and is not always zero-padded: ``"5"``
means 00:05. An ``instrument`` column, when present, wins over the inference from columns.

Each row is one hotspot:

- ``id`` = ``"firms:" + stable_hash(satellite, instrument, latitude, longitude, acq_date, acq_time)``
  using the document's own latitude/longitude text, so a re-poll never duplicates.
- ``kind`` fire; ``time`` = acquisition time (UTC); ``extra``: ``confidence`` (MODIS number or VIIRS
  word), ``confidence_class`` (low/nominal/high for both; MODIS <30 low, 30-79 nominal, >=80 high,
  FIRMS' own classes), ``frp`` (fire radiative power, MW), ``brightness`` (K, MODIS ``brightness``
  or VIIRS ``bright_ti4``), ``satellite``, ``instrument``, ``daynight``, ``version``.
- ``severity`` from FRP: >= 1000 MW extreme, >= 300 MW severe, >= 50 MW moderate, else minor; a
  low-confidence detection is at most minor (low confidence is where false alarms live); unknown
  when FRP is missing.

Rows with a bad position, date or time are skipped; the first few are named in warnings and the
rest counted, so a broken file cannot flood the log.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

from feeds.contract import DocumentRefused, FeedConfig, ParseResult
from feeds.model import Event, InvalidEvent, Kind, Severity, iso, stable_hash
from feeds.sources import register
from feeds.sources._json import decode_text
from feeds.text import BadDate, clock_skew_warning, parse_time, plain_text

SATELLITES = {
    "T": "Terra",
    "TERRA": "Terra",
    "A": "Aqua",
    "AQUA": "Aqua",
    "N": "Suomi NPP",
    "NPP": "Suomi NPP",
    "SUOMI NPP": "Suomi NPP",
    "N20": "NOAA-20",
    "1": "NOAA-20",
    "NOAA-20": "NOAA-20",
    "N21": "NOAA-21",
    "2": "NOAA-21",
    "NOAA-21": "NOAA-21",
}
VIIRS_CONFIDENCE = {"l": "low", "n": "nominal", "h": "high", "low": "low", "nominal": "nominal", "high": "high"}
DAYNIGHT = {"D": "day", "N": "night"}
# (lower bound in MW, severity), checked from the top; documented in the module docstring.
FRP_SEVERITY = ((1000.0, Severity.EXTREME), (300.0, Severity.SEVERE), (50.0, Severity.MODERATE))
MAX_ROW_WARNINGS = 20

FIELDS = {
    "time": "acq_date+acq_time",
    "lat": "latitude",
    "lon": "longitude",
    "extra.frp": "frp",
    "extra.confidence": "confidence",
    "extra.brightness": "brightness|bright_ti4",
    "extra.satellite": "satellite",
}


def modis_class(confidence: int) -> str:
    """FIRMS' MODIS confidence classes: 0-29 low, 30-79 nominal, 80-100 high."""
    if confidence < 30:
        return "low"
    if confidence < 80:
        return "nominal"
    return "high"


def fire_severity(frp: float | None, confidence_class: str | None) -> Severity:
    """Severity from fire radiative power, capped at minor for low-confidence detections."""
    if frp is None:
        return Severity.UNKNOWN
    if confidence_class == "low":
        return Severity.MINOR
    for bound, severity in FRP_SEVERITY:
        if frp >= bound:
            return severity
    return Severity.MINOR


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


class FirmsCsv:
    """Adapter for NASA FIRMS MODIS/VIIRS CSV files."""

    name = "firms-csv"

    def sniff(self, head: str) -> int:
        """95 when the header has latitude, longitude, acq_date, acq_time and a brightness column."""
        first = head.lstrip("\ufeff \r\n").split("\n", 1)[0].strip().lower()
        columns = set(first.split(","))
        if {"latitude", "longitude", "acq_date", "acq_time"} <= columns and (
            "brightness" in columns or "bright_ti4" in columns
        ):
            return 95
        return 0

    def parse(self, data: bytes, feed: FeedConfig, fetched_at: datetime) -> ParseResult:
        """One event per hotspot row; DocumentRefused when the FIRMS columns are missing."""
        text, warnings = decode_text(data)
        reader = csv.reader(io.StringIO(text, newline=""))
        header = [name.strip().lower() for name in next(reader, [])]
        i_lat, i_lon, i_date, i_time, i_sat, bright, default_instrument = _required_columns(header)
        col = {name: i for i, name in enumerate(header)}
        i_conf, i_frp = col.get("confidence"), col.get("frp")
        i_dn, i_ver, i_inst = col.get("daynight"), col.get("version"), col.get("instrument")
        width = len(header)

        result = ParseResult(warnings=warnings)
        events = result.events
        fetched = iso(fetched_at)
        feed_id, exercise = feed.id, feed.exercise
        times: dict[tuple[str, str], tuple[datetime, str | None]] = {}
        names: dict[tuple[str, str], tuple[str, str]] = {}
        skipped = 0
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            try:
                if len(row) < width:
                    raise ValueError(f"{len(row)} columns, expected {width}")
                lat_text, lon_text = row[i_lat].strip(), row[i_lon].strip()
                lat, lon = float(lat_text), float(lon_text)
                date_text, hhmm = row[i_date].strip(), row[i_time].strip().zfill(4)
                moment, skew = times.get((date_text, hhmm)) or _acquired(times, date_text, hhmm, fetched_at)
                raw_sat = row[i_sat].strip()
                inst_text = row[i_inst].strip() if i_inst is not None else default_instrument
                name_key = (raw_sat, inst_text)
                naming = names.get(name_key)
                if naming is None:
                    sat = SATELLITES.get(raw_sat.upper()) or plain_text(raw_sat, 30) or "unknown"
                    naming = names[name_key] = (sat, plain_text(inst_text, 20).upper() or default_instrument)
                satellite, instrument = naming

                confidence, conf_class = _confidence(row[i_conf]) if i_conf is not None else (None, None)
                frp = _float(row[i_frp]) if i_frp is not None else None
                brightness = _float(row[bright])
                daynight = DAYNIGHT.get(row[i_dn].strip().upper()) if i_dn is not None else None
                frp_text = f"{frp:g} MW" if frp is not None else "FRP unknown"
                events.append(
                    Event(
                        id="firms:" + stable_hash(satellite, instrument, lat_text, lon_text, date_text, hhmm),
                        source="firms-csv",
                        kind=Kind.FIRE,
                        title=f"Fire hotspot ({instrument} {satellite}, {frp_text})",
                        text=f"{conf_class or 'unknown'} confidence, {daynight or 'day/night unknown'} pass",
                        time=moment,
                        severity=fire_severity(frp, conf_class),
                        lat=lat,
                        lon=lon,
                        feed=feed_id,
                        exercise=exercise,
                        extra={
                            "confidence": confidence,
                            "confidence_class": conf_class,
                            "frp": frp,
                            "brightness": brightness,
                            "satellite": satellite,
                            "instrument": instrument,
                            "daynight": daynight,
                            "version": plain_text(row[i_ver], 20) if i_ver is not None else None,
                        },
                        provenance={"feed": feed_id, "raw_id": None, "fetched_at": fetched, "fields": FIELDS},
                        warnings=(skew,) if skew else (),
                    )
                )
            except (InvalidEvent, BadDate, ValueError, TypeError, IndexError) as exc:
                skipped += 1
                if skipped <= MAX_ROW_WARNINGS:
                    result.warnings.append(f"row {line} skipped: {exc}")
        if skipped > MAX_ROW_WARNINGS:
            result.warnings.append(f"{skipped - MAX_ROW_WARNINGS} more rows skipped")
        return result


def _required_columns(header: list[str]) -> tuple[int, int, int, int, int, int, str]:
    """Indexes of latitude, longitude, acq_date, acq_time, satellite and brightness, and the instrument
    the brightness column implies; DocumentRefused naming the missing columns."""
    col = {name: i for i, name in enumerate(header)}
    missing = [n for n in ("latitude", "longitude", "acq_date", "acq_time", "satellite") if n not in col]
    if "brightness" in col:
        bright, default_instrument = col["brightness"], "MODIS"
    elif "bright_ti4" in col:
        bright, default_instrument = col["bright_ti4"], "VIIRS"
    else:
        missing.append("brightness|bright_ti4")
    if missing:
        raise DocumentRefused(f"not a FIRMS CSV: missing column(s) {', '.join(missing)}")
    return (
        col["latitude"],
        col["longitude"],
        col["acq_date"],
        col["acq_time"],
        col["satellite"],
        bright,
        default_instrument,
    )


def _acquired(
    times: dict[tuple[str, str], tuple[datetime, str | None]], date_text: str, hhmm: str, fetched_at: datetime
) -> tuple[datetime, str | None]:
    """The acquisition time and its clock-skew warning, remembered in ``times`` (rows share a few times)."""
    if len(hhmm) != 4 or not hhmm.isdigit():
        raise BadDate(f"acq_time {hhmm[:10]!r} is not HHMM")
    moment, _ = parse_time(f"{date_text}T{hhmm[:2]}:{hhmm[2:]}:00Z")
    cached = times[(date_text, hhmm)] = (moment, clock_skew_warning(moment, fetched_at))
    return cached


def _confidence(raw: str) -> tuple[int | str | None, str | None]:
    """(confidence as given, its class): MODIS gives 0-100, VIIRS a letter or word."""
    raw_conf = raw.strip()
    if raw_conf.isdigit():
        confidence = int(raw_conf)
        return confidence, modis_class(confidence)
    conf_class = VIIRS_CONFIDENCE.get(raw_conf.lower())
    return conf_class, conf_class


SOURCE = register(FirmsCsv())
