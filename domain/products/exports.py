"""The live picture as files partners load into their own tools, within the reader's TLP maximum.

    geojson  RFC 7946 FeatureCollection of Points ([lon, lat]); each incident's fields as properties,
             the export's marking as a foreign member ``tlp`` and on every feature
    csv      one row per incident; cells a spreadsheet would run as a formula are quoted with '
    kml      KML 2.2 for Google Earth: one Placemark per incident, styled by severity, the marking in
             the document's name and description
    cot      Cursor on Target 2.0 ``<event>`` elements, one per line, as a TAK server reads them on its
             TCP input: uid ``watchfloor.<incident>``, type ``b-m-p-s-p-i`` (a point of interest), the
             marking and the sources in ``<remarks>``

Nothing above the reader's maximum is included (the filter runs before any format sees an incident);
the export's marking is the highest of what it holds. Every export is written to the dissemination
log (``wf:products:log``: what, by, to, when, channel) and the audit trail.
"""

from __future__ import annotations

import csv
import io
import socket
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

import orjson
import redis

from domain.access.audit import audit
from domain.access.tlp import TLP, highest, incident_marking
from domain.agencies.access import Reader
from domain.errors import Invalid
from domain.picture.incidents import live_incidents
from domain.products.keys import ProductKeys
from layers.zones import Workspace

FORMATS = ("geojson", "csv", "kml", "cot")
MEDIA = {"geojson": "application/geo+json", "csv": "text/csv", "kml": "application/vnd.google-earth.kml+xml",
         "cot": "application/xml"}
SUFFIX = {"geojson": "geojson", "csv": "csv", "kml": "kml", "cot": "cot.xml"}
CAVEAT = {
    "TLP:CLEAR": "Recipients can spread this to the world; there is no limit on disclosure.",
    "TLP:GREEN": "Recipients can spread this within their community, but not via publicly accessible channels.",
    "TLP:AMBER": "Limited disclosure: recipients can only spread this on a need-to-know basis within their "
                 "organization and its clients.",
    "TLP:AMBER+STRICT": "Limited disclosure: recipients can only spread this on a need-to-know basis within their "
                        "organization only.",
    "TLP:RED": "For the eyes and ears of individual recipients only, no further disclosure.",
}
KML_COLOURS = {"extreme": "ff0000ff", "severe": "ff0080ff", "moderate": "ff00d7ff", "minor": "ff00ff80",
               "unknown": "ffc0c0c0"}
COT_STALE = timedelta(hours=1)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def parse_since(text: str | None, now: datetime | None = None) -> datetime | None:
    """``2026-04-20``, ``2026-04-20T14:00Z`` or a duration back from now (``6h``, ``2d``, ``30m``)."""
    if not text:
        return None
    now = now or datetime.now(UTC)
    unit = {"m": 60, "h": 3600, "d": 86400}.get(text[-1:].lower())
    if unit and text[:-1].isdigit():
        return now - timedelta(seconds=int(text[:-1]) * unit)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"since: {text[:40]!r} is not a time (2026-04-20, 2026-04-20T14:00Z) or a span (6h, 2d)") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def select(client: redis.Redis, ceiling: TLP | Reader, *, workspace: Workspace | None = None,
           since: datetime | None = None) -> list[dict[str, Any]]:
    """The live incidents a reader (``ceiling``: a Reader, TLP and sharing; a bare label: a reader of no
    agency) may receive, in a workspace, since a time, each trimmed to the reports it may see."""
    out = []
    for incident in live_incidents(client, ceiling):
        lat, lon = incident.get("lat"), incident.get("lon")
        if not isinstance(lat, (int, float)) or not isinstance(lon, (int, float)):
            continue
        if workspace is not None and workspace.distance(lat, lon)[0] > workspace.near_km:
            continue
        if since is not None and str(incident.get("time") or "") < since.strftime("%Y-%m-%dT%H:%M:%S"):
            continue
        out.append(incident)
    return sorted(out, key=lambda i: (str(i.get("time") or ""), i["id"]))


def properties(incident: dict[str, Any]) -> dict[str, Any]:
    reports = incident.get("reports") or []
    return {"id": incident["id"], "title": str(incident.get("title") or "(untitled)"),
            "kind": incident.get("kind") or "other", "severity": incident.get("severity") or "unknown",
            "time": incident.get("time") or "", "place": incident.get("place") or "",
            "sources": sorted({r.get("source") or "" for r in reports} - {""}), "reports": len(reports),
            "tlp": incident_marking(incident).value}


def to_geojson(incidents: list[dict[str, Any]], marking: TLP) -> bytes:
    features = [{"type": "Feature", "id": i["id"],
                 "geometry": {"type": "Point", "coordinates": [round(float(i["lon"]), 6), round(float(i["lat"]), 6)]},
                 "properties": properties(i)} for i in incidents]
    return orjson.dumps({"type": "FeatureCollection", "tlp": marking.value, "caveat": CAVEAT[marking.value],
                         "features": features})


def to_csv(incidents: list[dict[str, Any]], marking: TLP) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "title", "kind", "severity", "time", "lat", "lon", "place", "sources", "reports", "tlp"])
    for incident in incidents:
        p = properties(incident)
        writer.writerow([_cell(p["id"]), _cell(p["title"]), p["kind"], p["severity"], p["time"], incident["lat"],
                         incident["lon"], _cell(p["place"]), _cell(" ".join(p["sources"])), p["reports"], p["tlp"]])
    return out.getvalue().encode()


def _cell(text: str) -> str:
    return "'" + text if text[:1] in _FORMULA else text


def to_kml(incidents: list[dict[str, Any]], marking: TLP, title: str) -> bytes:
    ET.register_namespace("", "http://www.opengis.net/kml/2.2")
    kml = ET.Element("{http://www.opengis.net/kml/2.2}kml")
    doc = ET.SubElement(kml, "Document")
    ET.SubElement(doc, "name").text = f"{marking.value} {title}"
    ET.SubElement(doc, "description").text = f"{marking.value}: {CAVEAT[marking.value]}"
    for severity, colour in KML_COLOURS.items():
        style = ET.SubElement(doc, "Style", id=f"sev-{severity}")
        icon = ET.SubElement(style, "IconStyle")
        ET.SubElement(icon, "color").text = colour
    for incident in incidents:
        p = properties(incident)
        mark = ET.SubElement(doc, "Placemark", id=_xml_id(p["id"]))
        ET.SubElement(mark, "name").text = _xml_text(p["title"])
        ET.SubElement(mark, "description").text = _xml_text(
            f"{p['tlp']} | {p['kind']}, {p['severity']} | {p['time']} | {p['place']} | sources: "
            f"{', '.join(p['sources']) or '-'} ({p['reports']} report(s))")
        stamp = ET.SubElement(mark, "TimeStamp")
        ET.SubElement(stamp, "when").text = p["time"] or None
        ET.SubElement(mark, "styleUrl").text = f"#sev-{p['severity'] if p['severity'] in KML_COLOURS else 'unknown'}"
        point = ET.SubElement(mark, "Point")
        ET.SubElement(point, "coordinates").text = f"{float(incident['lon']):.6f},{float(incident['lat']):.6f},0"
        if not p["time"]:
            mark.remove(stamp)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(kml, encoding="utf-8")


def cot_event(incident: dict[str, Any], now: datetime) -> bytes:
    p = properties(incident)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
    event = ET.Element("event", version="2.0", uid=f"watchfloor.{p['id']}", type="b-m-p-s-p-i", how="h-e",
                       time=stamp, start=stamp, stale=(now + COT_STALE).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z")
    ET.SubElement(event, "point", lat=f"{float(incident['lat']):.6f}", lon=f"{float(incident['lon']):.6f}",
                  hae="9999999.0", ce="9999999.0", le="9999999.0")
    detail = ET.SubElement(event, "detail")
    ET.SubElement(detail, "contact", callsign=_xml_text(p["title"])[:120])
    ET.SubElement(detail, "remarks").text = _xml_text(
        f"{p['tlp']} {p['kind']} {p['severity']} at {p['time']}: {p['title']} (sources: "
        f"{', '.join(p['sources']) or '-'})")
    return ET.tostring(event, encoding="utf-8")


def to_cot(incidents: list[dict[str, Any]], marking: TLP, now: datetime | None = None) -> bytes:
    now = now or datetime.now(UTC)
    return b"".join(cot_event(i, now) + b"\n" for i in incidents)


def _xml_text(text: str) -> str:
    """Text an XML 1.0 document may hold (feed strings are untrusted: control characters go)."""
    return "".join(c for c in str(text) if c in "\t\n\r" or (" " <= c <= "\ud7ff") or ("\ue000" <= c <= "\ufffd")
                   or c >= "\U00010000")


def _xml_id(text: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in text)
    return cleaned if cleaned[:1].isalpha() else f"i{cleaned}"


def render(fmt: str, incidents: list[dict[str, Any]], marking: TLP, title: str = "Watchfloor picture") -> bytes:
    if fmt not in FORMATS:
        raise Invalid(f"format: {fmt[:20]!r} is not one of {', '.join(FORMATS)}")
    if fmt == "geojson":
        return to_geojson(incidents, marking)
    if fmt == "csv":
        return to_csv(incidents, marking)
    if fmt == "kml":
        return to_kml(incidents, marking, title)
    return to_cot(incidents, marking)


def export(client: redis.Redis, fmt: str, ceiling: TLP | Reader, *, by: str, recipient: str, channel: str,
           workspace: Workspace | None = None, since: datetime | None = None, source: str | None = None) -> tuple[bytes, int, TLP]:
    """Render the picture for a reader with maximum ``ceiling`` and log it; (bytes, count, marking)."""
    if fmt not in FORMATS:
        raise Invalid(f"format: {fmt[:20]!r} is not one of {', '.join(FORMATS)}")
    incidents = select(client, ceiling, workspace=workspace, since=since)
    marking = highest(*(incident_marking(i) for i in incidents))
    title = f"Watchfloor picture{f' - {workspace.name}' if workspace else ''}"
    body = render(fmt, incidents, marking, title)
    log(client, what=f"{fmt} export: {len(incidents)} incident(s), {marking.value}"
        + (f", workspace {workspace.id}" if workspace else "") + (f", since {since:%Y-%m-%dT%H:%MZ}" if since else ""),
        by=by, recipient=recipient, channel=channel, marking=marking, source=source)
    return body, len(incidents), marking


def log(client: redis.Redis, *, what: str, by: str, recipient: str, channel: str, marking: TLP,
        source: str | None = None) -> None:
    """One entry in the dissemination log of products, and its audit record."""
    recipient = (recipient or "").strip()[:200] or "(not said)"
    client.xadd(ProductKeys.LOG, {"what": what[:300], "by": by, "to": recipient, "channel": channel,
                                  "tlp": marking.value, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    audit("product.export", record=what[:200], reason=f"to {recipient} via {channel}", user=by, source=source,
          client=client)


def disseminations(client: redis.Redis) -> Iterable[dict[str, str]]:
    for entry, row in client.xrange(ProductKeys.LOG):
        yield {"entry": entry.decode(), **{k.decode(): v.decode() for k, v in row.items()}}


def send_cot(url: str, body: bytes, timeout: float = 10.0) -> int:
    """Stream CoT events to a TAK server's TCP input (``tcp://host:port``); the bytes sent."""
    parts = urlsplit(url)
    if parts.scheme != "tcp" or not parts.hostname or not parts.port:
        raise Invalid(f"send: {url[:60]!r} is not tcp://host:port (a TAK server's TCP CoT input, e.g. tcp://tak:8087)")
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as conn:
        conn.sendall(body)
    return len(body)
