"""IFRC GO API appeals and field reports (format ``ifrc-go``): ``goadmin.ifrc.org/api/v2/appeal/``
and ``/api/v2/field_report/``.

A page is ``{"count": 1234, "next": "...?offset=50", "previous": null, "results": [...]}``. Each
result is told apart by its own fields: an appeal has ``aid``/``atype``/``amount_requested``, a
field report ``countries``/``summary``/``report_date``; a page may mix them.

Decisions:

- ``id`` = ``"ifrc-go:appeal:" + aid`` (else ``id``, else ``code``) or ``"ifrc-go:field-report:" + id``.
- ``title`` = ``"Appeal: <name> (<disaster type>)"``; ``"Field report: <summary> (<disaster type>)"``
  (the type left out when the summary already says it).
- ``kind`` from the disaster type name (``dtype.name``): the ReliefWeb table
  (:data:`feeds.sources.reliefweb.TYPE_KIND`) plus GO's own names (Cyclone, Pluvial/Flash Flood,
  Civil Unrest, Biological Emergency, Transport Accident...); unknown names are ``other``.
  ``severity`` unknown: GO grades none in these records.
- ``time`` = ``start_date``; when absent, a field report's ``report_date`` then ``created_at``, an
  appeal's ``created_at``, with a warning; none readable: the record is skipped. ``updated`` =
  ``modified_at``/``updated_at``. ``report_date``, ``created_at``, ``end_date`` are kept in ``extra``.
- Position: GO names only countries (no coordinates), so the event is put at the country's centre
  from the gazetteer with ``placed_by="country-centroid"`` and ``extra["precision"] = "country"``,
  as ReliefWeb countries are: a country-level report, never an exact point. A field report naming
  several countries is placed in the first the gazetteer knows, all of them listed in
  ``extra["countries"]``. A record whose country is unknown stays unplaced (the pipeline may
  geocode its words).
- ``extra``: appeal code, type, status, amounts requested/funded, beneficiaries, region, GO
  event id; a field report's casualty and people figures (``num_dead``, ``gov_num_affected``...)
  and district names.
- Paging: like the other paginated APIs (ReliefWeb, Socrata), one poll reads one page. ``next``
  is never followed (it could point anywhere); when the page is not the last, a warning says how
  many results there are in all, so the feed URL can ask for more (``limit=``) or a narrower filter.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from feeds.contract import DocumentRefused, FeedConfig, ParseResult
from feeds.geocode import country_centre
from feeds.model import Event, InvalidEvent, Kind, Severity, iso
from feeds.sources import register
from feeds.sources._json import integer, load_json, number
from feeds.sources.reliefweb import TYPE_KIND
from feeds.text import BadDate, clock_skew_warning, parse_time, plain_text, title_text

# IFRC GO disaster type names (lower case) beyond ReliefWeb's -> kind.
GO_TYPE_KIND = {
    **TYPE_KIND,
    "cyclone": Kind.CYCLONE,
    "pluvial/flash flood": Kind.FLOOD,
    "coastal flood": Kind.FLOOD,
    "fluvial flood": Kind.FLOOD,
    "storm surge": Kind.FLOOD,
    "landslide": Kind.OTHER,
    "cold wave": Kind.WEATHER,
    "heat wave": Kind.WEATHER,
    "civil unrest": Kind.SECURITY,
    "complex emergency": Kind.SECURITY,
    "population movement": Kind.OTHER,
    "food insecurity": Kind.OTHER,
    "biological emergency": Kind.EPIDEMIC,
    "chemical emergency": Kind.INCIDENT,
    "radiological emergency": Kind.INCIDENT,
    "transport accident": Kind.INCIDENT,
    "transport emergency": Kind.INCIDENT,
    "explosion": Kind.INCIDENT,
}
FIGURES = (
    "num_dead", "num_missing", "num_injured", "num_affected", "num_displaced", "num_assisted",
    "num_localstaff", "num_volunteers", "num_expats_delegates",
    "gov_num_dead", "gov_num_missing", "gov_num_injured", "gov_num_affected", "gov_num_displaced",
    "gov_num_assisted", "other_num_dead", "other_num_missing", "other_num_injured", "other_num_affected",
    "other_num_displaced", "other_num_assisted",
)
APPEAL_KEYS = ("aid", "atype", "amount_requested", "amount_funded", "num_beneficiaries")
REPORT_KEYS = ("countries", "report_date", "num_dead", "num_affected", "gov_num_affected")
GO_SITE = "https://go.ifrc.org"
MAX_RAW = 100_000  # characters of one string read before cleaning
MAX_LIST = 50


def text_of(value: object, limit: int = MAX_RAW) -> str:
    """``value`` when it is a string (cut at ``limit``), a number as text; "" for any other type."""
    if isinstance(value, str):
        return value[:limit]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def kind_for_type(name: str) -> Kind:
    """Kind for a GO disaster type name; ``other`` when unknown."""
    return GO_TYPE_KIND.get(name.strip().lower(), Kind.OTHER)


def type_name(record: dict[str, Any]) -> str:
    """The disaster type's name: ``dtype`` is an object (``{"id": 12, "name": "Flood"}``) in v2."""
    dtype = record.get("dtype")
    return plain_text(text_of(dtype.get("name") if isinstance(dtype, dict) else None, 200), 60)


def record_type(record: dict[str, Any]) -> str | None:
    """``appeal``, ``field-report`` or None (neither)."""
    if any(key in record for key in APPEAL_KEYS):
        return "appeal"
    if any(key in record for key in REPORT_KEYS) or ("summary" in record and "dtype" in record):
        return "field-report"
    return None


def country_fields(country: object) -> tuple[str, str, str]:
    """(ISO2, ISO3, name) of a GO country object, each "" when absent or of the wrong type."""
    if not isinstance(country, dict):
        return "", "", ""
    return (
        plain_text(text_of(country.get("iso"), 10), 2).upper(),
        plain_text(text_of(country.get("iso3"), 10), 3).upper(),
        plain_text(text_of(country.get("name"), 500), 120),
    )


def placement(countries: list[Any]) -> dict[str, Any]:
    """Event fields placing a record at the centre of its first known country (country-level)."""
    for country in countries[:MAX_LIST]:
        iso2, iso3, name = country_fields(country)
        centre = next((c for c in (country_centre(v) for v in (iso3, iso2, name) if v) if c), None)
        if centre is None:
            continue
        cc, known_name, lat, lon = centre
        return {"lat": lat, "lon": lon, "place": name or known_name, "placed_by": "country-centroid",
                "country": cc}
    return {}


def read_time(record: dict[str, Any], keys: tuple[str, ...], fetched_at: datetime, notes: list[str]) -> tuple[datetime, str]:
    """The first of ``keys`` that reads as a time; BadDate when none does."""
    for key in keys:
        raw = text_of(record.get(key), 100)
        if not raw:
            continue
        try:
            moment, assumed = parse_time(raw)
        except BadDate as exc:
            notes.append(f"{key} ignored ({exc})")
            continue
        if key != keys[0]:
            notes.append(f"no {keys[0]}; time is {key}")
        notes.extend(assumed)
        skew = clock_skew_warning(moment, fetched_at)
        if skew:
            notes.append(skew)
        return moment, key
    raise BadDate(f"no readable {' or '.join(keys)}")


def optional_time(record: dict[str, Any], key: str) -> datetime | None:
    try:
        return parse_time(text_of(record.get(key), 100))[0] if text_of(record.get(key), 100) else None
    except BadDate:
        return None


def appeal_text(extra: dict[str, Any]) -> str:
    """One readable line from an appeal's figures ("Emergency Appeal, Active. Requested 1,000 CHF...")."""
    parts = [", ".join(x for x in (extra.get("appeal_type"), extra.get("status")) if x)]
    if extra.get("amount_requested") is not None:
        funded = extra.get("amount_funded")
        parts.append(f"Requested {extra['amount_requested']:,.0f} CHF" + (f", funded {funded:,.0f} CHF" if funded is not None else ""))
    if extra.get("num_beneficiaries") is not None:
        parts.append(f"{extra['num_beneficiaries']:,} people to assist")
    if extra.get("end_date"):
        parts.append(f"Ends {extra['end_date'][:10]}")
    return plain_text(". ".join(p for p in parts if p) + ("." if any(parts) else ""))


def go_id(value: object) -> str:
    """A GO identifier: a number or a short string of letters, digits, dashes and underscores."""
    text = plain_text(text_of(value, 100), 60)
    return text if text and all(ch.isalnum() or ch in "-_." for ch in text) else ""


class IfrcGo:
    """Adapter for IFRC GO API v2 appeal and field-report pages."""

    name = "ifrc-go"

    def sniff(self, head: str) -> int:
        """96 for a paginated ``results`` object naming ifrc.org; 85 for one whose results carry
        GO's appeal or field-report fields; 0 otherwise (others' JSON has no ``results`` list)."""
        if not head.lstrip("\ufeff \t\r\n").startswith("{") or '"results"' not in head:
            return 0
        if "ifrc.org" in head:
            return 96
        if '"dtype"' in head and any(f'"{key}"' in head for key in (*APPEAL_KEYS, *REPORT_KEYS)):
            return 85
        return 0

    def parse(self, data: bytes, feed: FeedConfig, fetched_at: datetime) -> ParseResult:
        """Events for the page's appeals and field reports; DocumentRefused unless a GO page."""
        doc, warnings = load_json(data)
        if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
            if isinstance(doc, dict) and isinstance(doc.get("detail"), str):
                raise DocumentRefused(f"IFRC GO API error: {plain_text(doc['detail'][:1000], 160)}")
            raise DocumentRefused("not an IFRC GO API page (expected an object with a results list)")
        results = doc["results"]
        result = ParseResult(warnings=warnings)
        unknown = 0
        for n, record in enumerate(results, 1):
            kind = record_type(record) if isinstance(record, dict) else None
            if kind is None:
                unknown += 1
                continue
            try:
                event = self._appeal(record, feed, fetched_at) if kind == "appeal" else self._report(record, feed, fetched_at)
            except (InvalidEvent, BadDate, ValueError, TypeError, AttributeError) as exc:
                result.warnings.append(f"result {n} skipped: {plain_text(exc, 160)}")
                continue
            result.events.append(event)
            result.warnings.extend(f"result {n}: {w}" for w in event.warnings)
        if unknown:
            result.warnings.append(f"{unknown} of {len(results)} results are not appeals or field reports; skipped")
        total = integer(doc.get("count"))
        if doc.get("next") and total is not None:
            result.warnings.append(
                f"page holds {len(results)} of {total} results; later pages are not read "
                "(ask for more with limit= or narrow the query)"
            )
        return result

    def _appeal(self, record: dict[str, Any], feed: FeedConfig, fetched_at: datetime) -> Event:
        raw_id = go_id(record.get("aid")) or go_id(record.get("id")) or go_id(record.get("code"))
        if not raw_id:
            raise ValueError("appeal has no aid, id or code")
        notes: list[str] = []
        time, time_key = read_time(record, ("start_date", "created_at"), fetched_at, notes)
        dtype = type_name(record)
        name = title_text(text_of(record.get("name"))) or f"appeal {plain_text(text_of(record.get('code'), 60), 30) or raw_id}"
        event_id = go_id(record.get("event"))
        extra = {
            "code": plain_text(text_of(record.get("code"), 100), 40) or None,
            "type": dtype or None,
            "appeal_type": plain_text(text_of(record.get("atype_display"), 200), 60) or None,
            "status": plain_text(text_of(record.get("status_display"), 200), 60) or None,
            "amount_requested": number(record.get("amount_requested")),
            "amount_funded": number(record.get("amount_funded")),
            "num_beneficiaries": integer(record.get("num_beneficiaries")),
            "end_date": plain_text(text_of(record.get("end_date"), 100), 40) or None,
            "created_at": plain_text(text_of(record.get("created_at"), 100), 40) or None,
            "region": self._region(record.get("region")),
            "go_event": event_id or None,
        }
        iso2, iso3, _name = country_fields(record.get("country"))
        extra["countries"] = [iso3 or iso2] if (iso3 or iso2) else []
        return self._build(
            record, feed, fetched_at, notes, kind="appeal", raw_id=raw_id, time=time, time_key=time_key,
            title=f"Appeal: {name}" + (f" ({dtype})" if dtype else ""), text=appeal_text(extra),
            countries=[record.get("country")], extra=extra,
            link=f"{GO_SITE}/emergencies/{event_id}" if event_id.isdigit() else None,
        )

    def _report(self, record: dict[str, Any], feed: FeedConfig, fetched_at: datetime) -> Event:
        raw_id = go_id(record.get("id"))
        if not raw_id:
            raise ValueError("field report has no id")
        notes: list[str] = []
        time, time_key = read_time(record, ("start_date", "report_date", "created_at"), fetched_at, notes)
        dtype = type_name(record)
        summary = title_text(text_of(record.get("summary"))) or f"report {raw_id}"
        suffix = f" ({dtype})" if dtype and dtype.lower() not in summary.lower() else ""
        countries = record.get("countries") if isinstance(record.get("countries"), list) else []
        districts = record.get("districts") if isinstance(record.get("districts"), list) else []
        extra: dict[str, Any] = {
            "type": dtype or None,
            "report_date": plain_text(text_of(record.get("report_date"), 100), 40) or None,
            "created_at": plain_text(text_of(record.get("created_at"), 100), 40) or None,
            "figures": {key: value for key in FIGURES if (value := integer(record.get(key))) is not None},
            "countries": [c for c in ((f[1] or f[0]) for f in map(country_fields, countries[:MAX_LIST])) if c],
            "districts": [d for d in (plain_text(text_of(x.get("name"), 500), 120) for x in districts[:MAX_LIST]
                                      if isinstance(x, dict)) if d],
            "go_event": go_id(record.get("event")) or None,
        }
        return self._build(
            record, feed, fetched_at, notes, kind="field-report", raw_id=raw_id, time=time, time_key=time_key,
            title=f"Field report: {summary}{suffix}", text=plain_text(text_of(record.get("description"))),
            countries=countries, extra=extra, link=f"{GO_SITE}/field-reports/{raw_id}" if raw_id.isdigit() else None,
        )

    def _build(
        self, record: dict[str, Any], feed: FeedConfig, fetched_at: datetime, notes: list[str], *, kind: str,
        raw_id: str, time: datetime, time_key: str, title: str, text: str, countries: list[Any],
        extra: dict[str, Any], link: str | None,
    ) -> Event:
        placed = placement(countries)
        if not placed:
            notes.append("no known country; left unplaced")
        else:
            extra["country"] = placed["country"]
            extra["precision"] = "country"
        updated = optional_time(record, "modified_at") or optional_time(record, "updated_at")
        return Event(
            id=f"ifrc-go:{kind}:{raw_id}",
            source=self.name,
            kind=kind_for_type(extra.get("type") or ""),
            title=title_text(title),
            text=text,
            time=time,
            updated=updated,
            severity=Severity.UNKNOWN,
            lat=placed.get("lat"),
            lon=placed.get("lon"),
            place=placed.get("place"),
            placed_by=placed.get("placed_by"),
            link=link,
            feed=feed.id,
            exercise=feed.exercise,
            extra={"record": kind, **{k: v for k, v in extra.items() if v not in (None, [], {})}},
            provenance={
                "feed": feed.id,
                "raw_id": raw_id,
                "fetched_at": iso(fetched_at),
                "fields": {
                    "id": "aid|id|code" if kind == "appeal" else "id",
                    "time": time_key,
                    "kind": "dtype.name",
                    "title": "name" if kind == "appeal" else "summary",
                    "position": "country (centre)" if kind == "appeal" else "countries[] (centre of the first known)",
                },
            },
            warnings=tuple(notes),
        )

    @staticmethod
    def _region(value: object) -> str | None:
        if isinstance(value, dict):
            value = value.get("region_name") or value.get("name") or value.get("id")
        return plain_text(text_of(value, 200), 60) or None


SOURCE = register(IfrcGo())
