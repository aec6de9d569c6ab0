"""What screens draw: fused incidents (one per real-world happening, each listing its reports),
read from what the fuser writes (workers/fusion.py): ``wf:incidents`` and the change stream
``wf:incident-changes``. Same cursor discipline as the event stream: a snapshot and the cursor read
before it, then every change after the cursor; rows are applied by incident id, so replays are
harmless."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import orjson
import redis

from domain.access.tlp import TLP
from domain.agencies.access import Reader, reader_for, redact
from domain.picture import bins as aggregate
from domain.picture.keys import IncidentKeys
from domain.picture.markers import AREA_TYPES, hidden_row, marker_row
from domain.store.streams import EventKeys


def _live(incident: dict[str, Any]) -> bool:
    """Shown unless every report of it was superseded (CAP Update/Cancel) or it has no report."""
    reports = {r.get("event_id") for r in incident.get("reports") or []}
    return bool(reports) and not reports <= set(incident.get("superseded") or [])


# Sources whose reports can carry an area: CAP polygons, NWS/RFS polygons, and CAP alerts placed on
# the counties or Meteoalarm warning areas they name (the cap-index feeds included).
AREA_SOURCES = ("cap", "cap-index", "nws-geojson", "nsw-rfs-geojson")


def _areas(client: redis.Redis, incidents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """An alert area (polygon) per incident, from the first of its reports that has one."""
    wanted: list[tuple[str, str]] = []
    for incident in incidents:
        superseded = set(incident.get("superseded") or [])
        for report in incident.get("reports") or []:
            if report.get("event_id") not in superseded and report.get("source") in AREA_SOURCES:
                wanted.append((incident["id"], report["event_id"]))
    if not wanted:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for (incident_id, _), raw in zip(wanted, client.hmget(EventKeys.CURRENT, [e for _, e in wanted]), strict=True):
        if raw and incident_id not in out:
            geometry = orjson.loads(raw).get("geometry")
            if isinstance(geometry, dict) and geometry.get("type") in AREA_TYPES:
                out[incident_id] = geometry
    return out


def incident_row(incident: dict[str, Any], area: dict[str, Any] | None = None) -> dict[str, Any]:
    reports = incident.get("reports") or []
    sources = sorted({r.get("source") or "" for r in reports} - {""})
    row = marker_row({
        **incident,
        "source": ", ".join(sources),
        "feed": ", ".join(sorted({r.get("feed") or "" for r in reports} - {""})),
        "corroboration": incident.get("corroboration") or len(sources),
    })
    if area is not None:
        row["area"] = area
    return row


def shareable(incident: dict[str, Any], ceiling: TLP | Reader) -> bool:
    """True when ``ceiling`` (a Reader: TLP and sharing; a bare label: a reader of no agency) may
    receive this incident (domain/agencies/access.py, the one check)."""
    return reader_for(ceiling).sees(incident)


def rows_for(client: redis.Redis, incidents: Iterable[dict[str, Any]], ceiling: TLP | Reader = TLP.CLEAR) -> list[dict[str, Any]]:
    """Marker rows of the live incidents a reader with maximum marking ``ceiling`` may receive
    (TLP:CLEAR when not said: a caller that forgets the reader shares nothing marked)."""
    reader = reader_for(ceiling)
    live = [redact(i, reader) for i in incidents if _live(i) and reader.sees(i)]
    areas = _areas(client, live)
    return [incident_row(i, areas.get(i["id"])) for i in live]


def snapshot(client: redis.Redis, ceiling: TLP | Reader = TLP.CLEAR) -> tuple[list[dict[str, Any]], str]:
    """Rows of every live incident the reader may receive, and the change-stream cursor read before them.
    Past ``map_max_points`` (domain/picture/bins.py): the most important incidents' rows plus hexagon
    bin rows, and an aggregated cursor "b:<id>"."""
    binned = _aggregator()
    if binned is not None:
        aggregated = binned.snapshot(client, ceiling, lambda i: _live(i) and shareable(i, ceiling),
                                     lambda items: rows_for(client, items, ceiling))
        if aggregated is not None:
            client.sadd(IncidentKeys.AGGREGATED_MARKINGS, ceiling.value)  # what a restarted process builds first
            return aggregated
    newest = client.xrevrange(IncidentKeys.INCIDENT_CHANGES, count=1)
    cursor = newest[0][0].decode() if newest else "0-0"
    incidents = [orjson.loads(raw) for raw in client.hvals(IncidentKeys.INCIDENTS)]
    return rows_for(client, incidents, ceiling), cursor


def changes_after(client: redis.Redis, cursor: str, count: int = 2000,
                  ceiling: TLP | Reader = TLP.CLEAR) -> tuple[list[dict[str, Any]], str, bool]:
    """Rows for every incident changed after ``cursor``; ``reload`` is True when the stream was
    trimmed past the cursor (a screen away longer than the change stream keeps): reload the page.
    An incident now marked above ``ceiling`` comes as a removal: the screen drops it.
    An aggregated cursor ("b:<id>") gets the bins and markers touched since (domain/picture/bins.py)."""
    if cursor and cursor.startswith("b:"):
        binned = _aggregator()
        if binned is None:  # aggregation switched off since the page loaded: start again
            return [], cursor, True
        return binned.changes_after(client, cursor, ceiling, lambda i: _live(i) and shareable(i, ceiling),
                                    lambda items: rows_for(client, items, ceiling))
    binned = _aggregator()
    if binned is not None and binned.outgrown(client, ceiling, lambda i: _live(i) and shareable(i, ceiling)):
        return [], cursor, True  # grown well past map_max_points since this screen loaded: reload, aggregated
    start = "(" + cursor if cursor and cursor != "0-0" else "-"
    entries = client.xrange(IncidentKeys.INCIDENT_CHANGES, min=start, max="+", count=count)
    if cursor and cursor != "0-0":
        # The cursor is always an id the stream held; if the oldest entry is now newer, entries
        # after the cursor may have been trimmed too.
        oldest = client.xrange(IncidentKeys.INCIDENT_CHANGES, count=1)
        if oldest and _older(cursor, oldest[0][0].decode()):
            return [], cursor, True
    if not entries:
        return [], cursor, False
    changed: dict[str, str] = {}
    for _sid, fields in entries:
        changed[fields[b"id"].decode()] = fields.get(b"op", b"upsert").decode()
    ids = list(changed)
    stored = dict(zip(ids, client.hmget(IncidentKeys.INCIDENTS, ids), strict=True))
    upserts = [orjson.loads(raw) for iid, raw in stored.items() if raw and changed[iid] != "remove"]
    live_rows = {row["id"]: row for row in rows_for(client, upserts, ceiling)}
    rows = [live_rows.get(iid) or hidden_row(iid) for iid in ids]
    return rows, entries[-1][0].decode(), False


def warm_aggregated(client: redis.Redis) -> int:
    """Build now the aggregated model of every reader marking whose screens were aggregated before
    (``wf:aggregated-markings``), so that the first page after a web process starts does not wait
    for a read of every live incident; the number built (0 below ``map_max_points``)."""
    binned = _aggregator()
    if binned is None or client.hlen(IncidentKeys.INCIDENTS) <= binned.max_points:
        return 0
    built = 0
    for raw in sorted(client.smembers(IncidentKeys.AGGREGATED_MARKINGS)):
        try:
            ceiling = TLP(raw.decode())
        except ValueError:  # not a label (a hand-written key): nothing to build
            continue
        binned.warm(client, ceiling, lambda i, c=ceiling: _live(i) and shareable(i, c))
        built += 1
    return built


def _aggregator() -> Any:
    """This process's aggregation (set up with the live callbacks), or None."""

    return aggregate.current()


def _older(a: str, b: str) -> bool:
    return _sid(a) < _sid(b)


def live_incidents(client: redis.Redis, ceiling: TLP | Reader = TLP.RED) -> list[dict[str, Any]]:
    """Live incidents up to ``ceiling`` (every marking by default, of what is shared with all partners:
    for server-side computations whose results are filtered again; a caller passes the reader)."""
    reader = reader_for(ceiling)
    return [redact(i, reader) for i in (orjson.loads(raw) for raw in client.hvals(IncidentKeys.INCIDENTS))
            if _live(i) and reader.sees(i)]


def _sid(value: str) -> tuple[int, int]:
    ms, _, seq = value.partition("-")
    return int(ms), int(seq or 0)


class WindowDocs:
    """The parsed incidents of a time window, kept by this process between reads and brought up to
    date from the change stream: a threat tick at 250,000 live incidents parsed the 50,000 of its
    window again after every change (1.3 s of CPU); now it parses what changed. Which incidents are
    in the window always comes from the time index in Redis; only their parsed content is kept here,
    dropped the moment the change stream names the incident, or all of it when the stream no longer
    reaches back to what was read (trimmed, or a replica promoted behind it). Bounded by the window."""

    RELOAD_AFTER = 20_000  # changes since the last read past which reading the window again is cheaper

    def __init__(self) -> None:
        self.cursor: tuple[int, int] | None = None
        self.docs: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()

    def read(self, client: redis.Redis, ids: list[str]) -> list[dict[str, Any]]:
        """The stored incidents of ``ids`` (those still stored), each parsed at most once per change.
        The dicts are shared with later reads: callers copy, never change them."""
        with self.lock:
            pipe = client.pipeline(transaction=False)
            pipe.xrange(IncidentKeys.INCIDENT_CHANGES, count=1)
            if self.cursor is not None:
                pipe.xrange(IncidentKeys.INCIDENT_CHANGES, min="({}-{}".format(*self.cursor), max="+",
                            count=self.RELOAD_AFTER + 1)
            pipe.xrevrange(IncidentKeys.INCIDENT_CHANGES, count=1)
            oldest, *after, newest = pipe.execute()
            newest_id = _sid(newest[0][0].decode()) if newest else (0, 0)
            entries = after[0] if after else []
            behind = self.cursor is not None and (
                newest_id < self.cursor or (bool(oldest) and _sid(oldest[0][0].decode()) > self.cursor))
            if self.cursor is None or behind or len(entries) > self.RELOAD_AFTER:
                self.docs.clear()
            else:
                for _entry, fields in entries:
                    self.docs.pop(fields[b"id"].decode(), None)
            # Entries written after ``newest`` and before the read below are named again next time.
            self.cursor = max(newest_id, _sid(entries[-1][0].decode())) if entries else newest_id
            missing = [i for i in ids if i not in self.docs]
            for at in range(0, len(missing), 5000):
                chunk = missing[at:at + 5000]
                for incident_id, raw in zip(chunk, client.hmget(IncidentKeys.INCIDENTS, chunk), strict=True):
                    if raw:
                        self.docs[incident_id] = orjson.loads(raw)
            wanted = set(ids)
            if len(self.docs) > len(wanted):  # what left the window
                self.docs = {i: d for i, d in self.docs.items() if i in wanted}
            return [self.docs[i] for i in ids if i in self.docs]


_WINDOWS: dict[tuple[Any, ...], WindowDocs] = {}
_WINDOWS_LOCK = threading.Lock()


def _store_of(client: redis.Redis) -> tuple[Any, ...]:
    """Which store a client talks to (a process may hold clients of several: tests, a failover)."""
    pool = client.connection_pool
    kw = pool.connection_kwargs
    return (type(pool).__name__, getattr(pool, "service_name", None), kw.get("host"), kw.get("port"),
            kw.get("path"), kw.get("db"))


def window_docs(client: redis.Redis) -> WindowDocs:
    with _WINDOWS_LOCK:
        return _WINDOWS.setdefault(_store_of(client), WindowDocs())


def live_incidents_between(client: redis.Redis, since: float, until: float,
                           ceiling: TLP | Reader = TLP.RED) -> list[dict[str, Any]]:
    """:func:`live_incidents` whose time (epoch seconds) lies in [``since``, ``until``], read through
    the time index ``wf:incident-time``: what a threat tick costs grows with the window, not the
    history, and parses only what changed since the last tick (:class:`WindowDocs`)."""
    ids = [i.decode() for i in client.zrangebyscore(IncidentKeys.INCIDENT_TIME, since, until)]
    if not ids:
        return []
    reader = reader_for(ceiling)
    return [redact(i, reader) for i in window_docs(client).read(client, ids) if _live(i) and reader.sees(i)]


def live_incidents_with_areas(client: redis.Redis, ceiling: TLP | Reader = TLP.RED,
                              between: tuple[float, float] | None = None) -> list[dict[str, Any]]:
    """:func:`live_incidents` (only those timed ``between`` two epoch seconds, when given), each
    with its alert area (``area``, GeoJSON) when a report gives one: threat levels weigh an area by
    its nearest part, not by the point placed inside it."""
    indexed = between is not None and client.zcard(IncidentKeys.INCIDENT_TIME) >= client.hlen(IncidentKeys.INCIDENTS)
    # (the fuser indexes every incident it writes; a store it has not indexed yet is read whole)
    live = live_incidents_between(client, *between, ceiling) if indexed and between else live_incidents(client, ceiling)
    areas = _areas(client, live)
    return [{**i, "area": areas[i["id"]]} if i["id"] in areas else i for i in live]


def stored_incident(client: redis.Redis, incident_id: str) -> bytes | None:
    """The stored JSON of an incident by id: live (``wf:incidents``) or aged out of the live set
    (``wf:incidents:aged``, workers/retention.py), or None."""
    return client.hget(IncidentKeys.INCIDENTS, incident_id) or client.hget(IncidentKeys.INCIDENTS_AGED, incident_id)


def incident_with_reports(client: redis.Redis, incident_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    raw = stored_incident(client, incident_id)
    if not raw:
        return None, []
    incident = orjson.loads(raw)
    ids = [r["event_id"] for r in incident.get("reports") or []]
    events = [orjson.loads(e) for e in client.hmget(EventKeys.CURRENT, ids) if e] if ids else []
    return incident, events
