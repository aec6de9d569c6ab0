"""Atom/RSS indexes of CAP alerts (format ``cap-index``): NWS alerts Atom, MeteoAlarm legacy Atom,
Krisinformation Atom.

Promises:

* An entry that carries ``cap:`` elements (event, severity, effective, expires, areaDesc,
  polygon, circle, geocode...) becomes an event directly, even when it also links to the CAP
  document (no follow then). An entry that embeds a whole CAP ``<alert>`` with ``<info>`` is read
  exactly as the ``cap`` format reads it.
* An entry with no CAP data contributes its absolute http(s) link to ``ParseResult.follow``
  (``follow_format="cap"``) and no event.
* Ids are ``cap_event_id(sender, identifier, sent)`` as in ``cap``: ``cap:identifier`` /
  ``cap:sender`` / ``cap:sent`` when given (placeholders like ``!`` are ignored), else the entry id
  (NWS: the alert URL), the entry author, and the published time. So an index and the CAP
  document give the same id only when the index states the real identifier, sender and sent.
* MeteoAlarm repeats one alert as one entry per (info, area): entries naming the same alert are
  merged into one event (areas and geocodes united). The EMMA_ID code its legacy Atom gives only in
  an entry link (``?geocode=EMMA_ID:FR035``) joins the geocodes (``{"EMMA_ID": [...], "NUTS3": [...]}``).
* Krisinformation.se writes ``cap:circle`` as ``lon,lat``, against the CAP standard; circles from
  that publisher are swapped back, with a warning.
* Index geometry follows ``cap`` (lat,lon order, validated; refused with a warning otherwise).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from xml.etree.ElementTree import Element

from feeds.contract import FeedConfig, ParseResult
from feeds.meaning import happened_at
from feeds.model import Event, Severity, iso
from feeds.sources import register
from feeds.sources.cap import (
    CAP_NAMESPACES,
    alert_to_event,
    area_geometry,
    cap_event_id,
    cap_kind,
    circle_from_cap,
    combine_geometries,
    geocodes_of,
    kid,
    kid_text,
    kids,
    local,
    namespace,
    parse_references,
    polygon_from_cap,
    read_xml,
    root_tag,
)
from feeds.text import BadDate, parse_time, plain_text, safe_link, title_text

ATOM = "http://www.w3.org/2005/Atom"
LONLAT_CIRCLE_PUBLISHERS = ("krisinformation.se",)
_PLACEHOLDERS = {"", "!", "-", "?"}


def _cap_fields(entry: Element) -> dict[str, list[Element]]:
    """Every CAP-namespace element under ``entry`` (not inside an embedded full alert's info),
    by local name."""
    fields: dict[str, list[Element]] = {}
    for el in entry.iter():
        if el is entry or not isinstance(el.tag, str) or namespace(el.tag) not in CAP_NAMESPACES:
            continue
        fields.setdefault(local(el.tag), []).append(el)
    return fields


def _first(fields: dict[str, list[Element]], *names: str) -> str:
    for name in names:
        for el in fields.get(name, []):
            text = (el.text or "").strip()
            if text:
                return text
    return ""


def _entry_links(entry: Element) -> list[str]:
    """Absolute http(s) links of an Atom entry or RSS item, CAP documents first."""
    links: list[tuple[int, str]] = []
    for link in kids(entry, "link"):
        href = link.get("href") or (link.text or "").strip()
        url = safe_link(href)
        if url is None or link.get("rel") in ("related", "self", "hub"):
            continue
        kind = (link.get("type") or "").lower()
        links.append((0 if "cap" in kind else 1, url))
    return [url for _, url in sorted(links, key=lambda p: p[0])]


def _link_geocodes(entry: Element) -> dict[str, list[str]]:
    """Geocodes an entry states only in its links: MeteoAlarm's legacy Atom names each entry's
    warning area as ``<link href="https://meteoalarm.org?geocode=EMMA_ID:FR035" .../>`` and gives
    only its NUTS3 code as ``cap:geocode``."""
    found: dict[str, list[str]] = {}
    for link in kids(entry, "link"):
        href = link.get("href") or (link.text or "").strip()
        for key, value in parse_qsl(urlsplit(href).query):
            name, _, code = value.partition(":")
            name, code = plain_text(name, 40).strip(), plain_text(code, 40).strip()
            if key == "geocode" and name and code and code not in found.get(name, []):
                found.setdefault(name, []).append(code)
    return found


def _publisher(entry: Element) -> str:
    for url in [kid_text(entry, "id"), *_entry_links(entry)]:
        host = urlsplit(url).hostname if url.startswith("http") else None
        if host:
            return host
    return ""


def _swap_circle(text: str) -> str:
    parts = text.split()
    if len(parts) == 2 and parts[0].count(",") == 1:
        a, b = parts[0].split(",")
        return f"{b},{a} {parts[1]}"
    return text


def _identity(entry: Element, fields: dict[str, list[Element]]) -> tuple[str, str, str]:
    """The entry's CAP identifier, sender and sent time, from its cap: fields or else its Atom/RSS elements."""
    identifier = _first(fields, "identifier")
    if identifier in _PLACEHOLDERS or any(c in identifier for c in " ,<&"):
        identifier = kid_text(entry, "id") or kid_text(entry, "guid")
    author = kid(entry, "author")
    sender = _first(fields, "sender")
    if sender in _PLACEHOLDERS:
        sender = (kid_text(author, "name") if author is not None else "") or _publisher(entry)
    sent = (
        _first(fields, "sent")
        or kid_text(entry, "published")
        or kid_text(entry, "updated")
        or kid_text(entry, "pubDate")
    )
    return identifier, sender, sent


def _alert_fields(
    entry: Element, fields: dict[str, list[Element]], identifier: str, sender: str, sent: str
) -> dict[str, str]:
    """The alert's CAP fields as the first entry naming it gives them, with its title, summary and link."""
    out = {"identifier": identifier, "sender": sender, "sent": sent}
    for name in (
        "event",
        "status",
        "msgType",
        "message_type",
        "scope",
        "urgency",
        "severity",
        "certainty",
        "effective",
        "onset",
        "expires",
        "category",
        "references",
        "language",
        "web",
    ):
        out[name] = _first(fields, name)
    out["title"] = kid_text(entry, "title")
    out["summary"] = kid_text(entry, "summary") or kid_text(entry, "description")
    links = _entry_links(entry)
    out["link"] = links[0] if links else ""
    return out


def _flat_area(
    fields: dict[str, list[Element]], swap: bool, warnings: list[str]
) -> tuple[list[Any], list[dict[str, float]], dict[str, list[str]], list[str]]:
    """Geometries, circles, geocodes and area descriptions of an entry whose cap: area fields sit
    directly in it (no <cap:area>); ``swap`` reads circles written lon,lat."""
    geoms: list[Any] = []
    circles: list[dict[str, float]] = []
    for el in fields.get("polygon", []):
        if (el.text or "").strip():
            poly = polygon_from_cap(el.text or "", warnings)
            if poly is not None:
                geoms.append(poly)
    for el in fields.get("circle", []):
        got = circle_from_cap(_swap_circle(el.text or "") if swap else el.text or "", warnings)
        if got is not None:
            geoms.append(got[0])
            circles.append(got[1])
    desc = plain_text(_first(fields, "areaDesc"), 500)
    descs = [desc] if desc else []
    geocodes: dict[str, list[str]] = {}
    for holder in {id(g): g for g in fields.get("geocode", [])}.values():
        wrapper = Element("w")
        wrapper.append(holder)
        for name, values in geocodes_of(wrapper, split_values=True).items():
            geocodes.setdefault(name, []).extend(values)
    return geoms, circles, geocodes, descs


class _Alert:
    """One alert as an index describes it, possibly over several entries."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.entries: list[Element] = []
        self.fields: dict[str, str] = {}
        self.geoms: list[Any] = []
        self.circles: list[dict[str, float]] = []
        self.geocodes: dict[str, list[str]] = {}
        self.descs: list[str] = []
        self.warnings: list[str] = []


class CapIndexSource:
    """The ``cap-index`` format."""

    name = "cap-index"

    def sniff(self, head: str) -> int:
        tag = (root_tag(head) or "").rsplit(":", 1)[-1]
        if tag in ("feed", "rss", "RDF") and "urn:oasis:names:tc:emergency:cap:" in head:
            return 85
        return 0

    def parse(self, data: bytes, feed: FeedConfig, fetched_at: datetime) -> ParseResult:
        root, warnings = read_xml(data)
        result = ParseResult(warnings=warnings)
        entries = list(_iter_entries(root))
        alerts: dict[str, _Alert] = {}
        for n, entry in enumerate(entries):
            embedded = [
                a
                for a in entry.iter()
                if isinstance(a.tag, str)
                and local(a.tag) == "alert"
                and namespace(a.tag) in CAP_NAMESPACES
                and kid(a, "info") is not None
            ]
            if embedded:
                for alert in embedded:
                    event, alert_warnings = alert_to_event(alert, feed, fetched_at, source=self.name)
                    result.warnings.extend(f"entry {n + 1}: {w}" for w in alert_warnings)
                    if event is not None:
                        result.events.append(event)
                continue
            fields = _cap_fields(entry)
            if not fields:
                links = _entry_links(entry)
                if links:
                    result.follow.append(links[0])
                else:
                    result.warnings.append(f"entry {n + 1} has neither CAP fields nor an http(s) link; skipped")
                continue
            self._collect(entry, fields, alerts, result.warnings, n + 1)
        for alert in alerts.values():
            event = self._event(alert, feed, fetched_at)
            if event is not None:
                result.events.append(event)
            result.warnings.extend(f"alert {plain_text(alert.fields['identifier'], 80)}: {w}" for w in alert.warnings)
        if result.follow:
            result.follow_format = "cap"
        return result

    def _collect(
        self,
        entry: Element,
        fields: dict[str, list[Element]],
        alerts: dict[str, _Alert],
        warnings: list[str],
        number: int,
    ) -> None:
        identifier, sender, sent = _identity(entry, fields)
        if not identifier or not sender or not sent:
            warnings.append(f"entry {number}: no identifier, sender or sent time; skipped")
            return
        key = cap_event_id(sender, identifier, sent)
        alert = alerts.get(key)
        if alert is None:
            alert = alerts[key] = _Alert(key)
            alert.fields = _alert_fields(entry, fields, identifier, sender, sent)
        alert.entries.append(entry)
        swap = _publisher(entry).endswith(LONLAT_CIRCLE_PUBLISHERS)
        areas = fields.get("area", [])
        if areas:
            if swap:
                for area in areas:
                    for circle in kids(area, "circle"):
                        circle.text = _swap_circle(circle.text or "")
            geoms, circles, geocodes, descs = area_geometry(areas, alert.warnings)
        else:
            geoms, circles, geocodes, descs = _flat_area(fields, swap, alert.warnings)
        for name, values in _link_geocodes(entry).items():
            geocodes.setdefault(name, []).extend(v for v in values if v not in geocodes.get(name, []))
        if swap and circles:
            alert.warnings.append("publisher writes cap:circle as lon,lat; swapped to lat,lon")
        alert.geoms.extend(geoms)
        alert.circles.extend(c for c in circles if c not in alert.circles)
        alert.descs.extend(d for d in descs if d not in alert.descs)
        for name, values in geocodes.items():
            known = alert.geocodes.setdefault(name, [])
            known.extend(v for v in values if v not in known)

    def _event(self, alert: _Alert, feed: FeedConfig, fetched_at: datetime) -> Event | None:
        f = alert.fields
        try:
            time, notes = parse_time(f["sent"])
        except BadDate as exc:
            alert.warnings.append(f"sent time unreadable ({exc}); alert dropped")
            return None
        alert.warnings.extend(notes)
        times: dict[str, str | None] = {}
        for name in ("effective", "onset", "expires"):
            if f[name]:
                try:
                    times[name] = iso(parse_time(f[name])[0])
                except BadDate as exc:
                    alert.warnings.append(f"cap:{name} unreadable: {exc}")
        references_ids: list[str] = []
        if f["references"]:
            references_ids, ref_warnings = parse_references(f["references"])
            alert.warnings.extend(ref_warnings)
        geometry, lat, lon = combine_geometries(alert.geoms)
        status = plain_text(f["status"], 40)
        msg_type = plain_text(f["msgType"] or f["message_type"], 40)
        place = "; ".join(alert.descs) or None
        extra_cap = {
            "identifier": plain_text(f["identifier"], 300),
            "sender": plain_text(f["sender"], 300),
            "sent": iso(time),
            "status": status,
            "msgType": msg_type,
            "scope": plain_text(f["scope"], 40),
            "urgency": plain_text(f["urgency"], 40),
            "severity": plain_text(f["severity"], 40),
            "certainty": plain_text(f["certainty"], 40),
            "effective": times.get("effective"),
            "onset": times.get("onset"),
            "expires": times.get("expires"),
            "event": plain_text(f["event"], 300),
            "category": [plain_text(f["category"], 40)] if f["category"] else [],
            "areaDesc": place or "",
            "references": plain_text(f["references"], 4000),
            "references_ids": references_ids,
            "geocodes": alert.geocodes,
            "language": plain_text(f["language"], 40),
            "web": safe_link(f["web"]),
            "index_entries": len(alert.entries),
        }
        fields = {
            "id": "entry/cap:sender|author+cap:identifier|id+cap:sent|published",
            "time": "entry/cap:onset" if times.get("onset") else "entry/cap:sent|published",
            "title": "entry/title|cap:event",
            "text": "entry/summary",
            "severity": "entry/cap:severity",
            "place": "entry/cap:areaDesc",
        }
        if lat is not None:
            fields["lat"] = fields["lon"] = "entry/cap:polygon|cap:circle"
        return Event(
            id=alert.key,
            source=self.name,
            kind=cap_kind(extra_cap["category"], f"{f['event']} {f['title']}"),
            title=title_text(f["title"] or f["event"]) or f"CAP alert {plain_text(f['identifier'], 100)}",
            text=plain_text(f["summary"]),
            time=happened_at(time, times.get("onset"))[0],
            severity=Severity.parse(f["severity"]),
            lat=lat,
            lon=lon,
            geometry=geometry,
            link=safe_link(f["link"]) or safe_link(f["web"]),
            feed=feed.id,
            exercise=feed.exercise or status == "Exercise",
            place=place,
            extra={"cap": extra_cap, "circles": alert.circles},
            provenance={
                "feed": feed.id,
                "raw_id": plain_text(f["identifier"], 300),
                "fetched_at": iso(fetched_at),
                "fields": fields,
            },
            warnings=tuple(alert.warnings),
        )


def _iter_entries(root: Element) -> list[Element]:
    """Atom ``<entry>`` children of the feed, or RSS ``<item>`` elements."""
    if local(root.tag) == "feed":
        return kids(root, "entry")
    return [el for el in root.iter() if isinstance(el.tag, str) and local(el.tag) == "item"]


register(CapIndexSource())
