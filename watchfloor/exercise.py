"""The exercise feed server: a scripted scenario served as real-format feeds on loopback.

`watchfloor up` starts an :class:`ExerciseServer` so the live picture works with no internet
(air-gapped floors, training). A scenario (:mod:`domain.config.scenario`)
is a list of timed injects. An inject is published once the scenario clock passes its offset,
and from then on appears in the feed of its channel, in the format the real service uses::
    GET  /usgs/summary.geojson        USGS summary-feed GeoJSON (channel "usgs")
    GET  /usgs/detail/{id}.geojson    one quake as a GeoJSON Feature (the features' url/detail)
    GET  /cap/index.atom              Atom index linking to the CAP alerts, no inline CAP (channel "cap")
    GET  /cap/alerts/{key}.xml        one CAP 1.2 alert, status Exercise
    GET  /news/georss.xml             RSS 2.0 with GeoRSS simple points (channel "news")
    GET  /scenario                    JSON: the scenario, its clock and how much is published
    GET  /healthz                     200 "ok"
    POST /inject                      add an ad-hoc inject now (JSON body), 201 with the stored inject

Feeds answer conditional GET (ETag, Last-Modified, 304). The server binds to loopback only and
answers only requests whose Host header is loopback, so a web page cannot reach it by DNS rebinding.

Its errors are :class:`domain.config.scenario.ExerciseError` and ``ScenarioError``.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import logging
import math
import re
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from typing import Any

import orjson

from domain.config.scenario import (
    _CAP_CATEGORY,
    ATOM_NS,
    CAP_NS,
    CHANNELS,
    GEORSS_NS,
    MAX_ADHOC,
    SENDER,
    ExerciseError,
    Inject,
    Scenario,
    ScenarioError,
    load_scenario,
    validate_inject,
)
from domain.config.settings import BY_NAME
from watchfloor.exercise_http import NOT_FOUND, ExerciseHandler, LoopbackServer, LoopbackServer6, Reply, loopback_host

log = logging.getLogger(__name__)


def cap_time(epoch: float) -> str:
    """CAP 1.2 date-time: seconds precision, UTC written as -00:00 (the spec forbids 'Z')."""
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%S-00:00")


def atom_time(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def cap_identifier(key: str) -> str:
    return f"WATCHFLOOR-EX-{key}"


def usgs_id(key: str) -> str:
    """A USGS-looking event id (network "ex" + code), stable for a key."""
    return "ex" + hashlib.sha256(key.encode()).hexdigest()[:8]


def _xml(root: ET.Element) -> bytes:
    """Serialise; Atom and CAP roots carry their default namespace as a plain xmlns attribute."""
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    child = ET.SubElement(parent, tag, attrs)
    if text is not None:
        child.text = text
    return child


class ExerciseServer:
    """Serves a scenario's published injects as USGS GeoJSON, CAP (Atom index + alerts) and GeoRSS.

    The scenario clock starts at :meth:`start`; an inject is published once
    ``offset / speed <= elapsed`` and carries the wall-clock time ``start + offset / speed`` as its
    time, so the events look live. Binds to loopback only: any other host raises ExerciseError.
    Usable as a context manager (start on enter, stop on exit).
    """

    def __init__(
        self,
        scenario: Scenario,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.scenario = scenario
        self.host = loopback_host(host)
        self.port = port
        if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not math.isfinite(speed) or speed <= 0:
            raise ExerciseError(
                f"exercise speed {speed!r} must be a positive number (1: real time, 10: ten times faster)"
            )
        self.speed = float(speed)
        self.clock = clock
        self._lock = threading.Lock()
        self._injects: list[Inject] = list(scenario.injects)
        self._adhoc = itertools.count(1)
        self._started_at: float | None = None
        self._httpd: LoopbackServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle

    def start(self) -> ExerciseServer:
        """Bind, start serving in a daemon thread and start the scenario clock."""
        if self._httpd is not None:
            raise ExerciseError("the exercise server is already running")
        try:
            server_class = LoopbackServer6 if ":" in self.host else LoopbackServer
            httpd = server_class((self.host, self.port), ExerciseHandler)
        except OSError as exc:
            raise ExerciseError(
                f"exercise server cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
            ) from None
        httpd.exercise = self
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._started_at = self.clock()
        # A short poll interval so stop() returns promptly (tests start and stop many servers).
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="exercise-server", daemon=True
        )
        self._thread.start()
        log.info(
            "exercise server started", extra={"url": self.url, "scenario": self.scenario.name, "speed": self.speed}
        )
        return self

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ExerciseServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:40123``; the feed paths hang off it."""
        if self._httpd is None:
            raise ExerciseError("the exercise server is not running; call start() first")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # -- clock

    def elapsed(self) -> float:
        """Wall-clock seconds since start() (0 before)."""
        if self._started_at is None:
            return 0.0
        return max(0.0, self.clock() - self._started_at)

    def published_at(self, inject: Inject) -> float:
        """The wall-clock epoch time at which ``inject`` is (or will be) published."""
        start = self._started_at if self._started_at is not None else self.clock()
        return start + inject.offset / self.speed

    def published(self) -> list[Inject]:
        """Injects published by now, in publication order."""
        elapsed = self.elapsed()
        with self._lock:
            injects = list(self._injects)
        # A tiny tolerance so an ad-hoc inject stamped "now" is published at once despite float rounding.
        return [i for i in injects if i.offset / self.speed <= elapsed + 1e-6]

    # -- ad-hoc injects

    def inject(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Validate ``raw`` like a scenario inject and publish it now; return the stored inject.

        ``offset`` is set by the server (now, in scenario seconds) and must not be given; ``key``
        is optional (``adhoc-N``). Raises ScenarioError with a one-line reason.
        """
        if not isinstance(raw, dict):
            raise ScenarioError("inject: must be a JSON object of fields")
        if "offset" in raw:
            raise ScenarioError("inject.offset: ad-hoc injects are published now; leave offset out")
        with self._lock:
            if sum(1 for i in self._injects if i.adhoc) >= MAX_ADHOC:
                raise ScenarioError(f"inject: limit of {MAX_ADHOC} ad-hoc injects reached; restart the exercise")
            known = {i.key: i for i in self._injects}
            fields = dict(raw)
            if fields.get("key") is None:
                key = f"adhoc-{next(self._adhoc)}"
                while key in known:
                    key = f"adhoc-{next(self._adhoc)}"
                fields["key"] = key
            elif fields["key"] in known:
                raise ScenarioError(f"inject.{fields['key']}.key: already used; give a new key")
            fields["offset"] = round(self.elapsed() * self.speed, 3)
            stored = validate_inject(fields, known, "inject", adhoc=True)
            self._injects.append(stored)
        log.info("ad-hoc inject", extra={"key": stored.key, "channel": stored.channel})
        return stored.to_dict()

    # -- documents

    def _last_change(self, injects: Iterable[Inject]) -> float:
        times = [self.published_at(i) for i in injects]
        return max(times) if times else (self._started_at or self.clock())

    def usgs_summary(self) -> Reply:
        """USGS summary-feed GeoJSON of the published quakes; a revised quake replaces its original."""
        quakes = [i for i in self.published() if i.channel == "usgs"]
        latest: dict[str, tuple[Inject, Inject]] = {}  # root key -> (root, latest revision)
        for quake in quakes:
            root = self._root(quake)
            latest[root.key] = (root, quake)
        features = [self._feature(root, last) for root, last in latest.values()]
        features.sort(key=lambda f: f["properties"]["time"], reverse=True)  # USGS lists newest first
        changed = self._last_change(quakes)
        doc: dict[str, Any] = {
            "type": "FeatureCollection",
            "metadata": {
                "generated": int(changed * 1000),
                "url": f"{self.url}/usgs/summary.geojson",
                "title": f"EXERCISE {self.scenario.name}: USGS-style earthquakes",
                "status": 200,
                "api": "1.10.3",
                "count": len(features),
            },
            "features": features,
        }
        if features:
            coords = [f["geometry"]["coordinates"] for f in features]
            doc["bbox"] = [
                min(c[0] for c in coords),
                min(c[1] for c in coords),
                min(c[2] for c in coords),
                max(c[0] for c in coords),
                max(c[1] for c in coords),
                max(c[2] for c in coords),
            ]
        return Reply(200, "application/geo+json; charset=utf-8", orjson.dumps(doc), changed)

    def usgs_detail(self, event_id: str) -> Reply:
        summary = orjson.loads(self.usgs_summary().body)
        for feature in summary["features"]:
            if feature["id"] == event_id:
                changed = feature["properties"]["updated"] / 1000
                return Reply(200, "application/geo+json; charset=utf-8", orjson.dumps(feature), changed)
        return NOT_FOUND

    def _root(self, inject: Inject) -> Inject:
        with self._lock:
            by_key = {i.key: i for i in self._injects}
        while inject.refers_to and inject.refers_to in by_key:
            inject = by_key[inject.refers_to]
        return inject

    def _feature(self, root: Inject, last: Inject) -> dict[str, Any]:
        event_id = usgs_id(root.key)
        mag = round(float(last.magnitude or 0.0), 2)
        detail = f"{self.url}/usgs/detail/{event_id}.geojson"
        return {
            "type": "Feature",
            "properties": {
                "mag": mag,
                "place": last.place,
                "time": int(self.published_at(root) * 1000),
                "updated": int(self.published_at(last) * 1000),
                "tz": None,
                "url": detail,
                "detail": detail,
                "felt": None,
                "cdi": None,
                "mmi": None,
                "alert": None,
                "status": "reviewed",
                "tsunami": 0,
                "sig": max(0, round(mag * 100 * mag / 6.5)),  # close to USGS's sig for small quakes
                "net": "ex",
                "code": event_id[2:],
                "ids": f",{event_id},",
                "sources": ",ex,",
                "types": ",origin,phase-data,",
                "nst": None,
                "dmin": None,
                "rms": 0.2,
                "gap": None,
                "magType": "ml",
                "type": "earthquake",
                # The controller's title; scenario quakes write it the USGS way ("M 3.2 - 5 km W of Natick, ...").
                "title": last.title or f"M {mag:.1f} - {last.place}",
            },
            "geometry": {"type": "Point", "coordinates": [last.lon, last.lat, last.depth_km]},
            "id": event_id,
        }

    def cap_index(self) -> Reply:
        """Atom index like NWS's: one entry per published CAP message, linking to the alert document."""
        alerts = [i for i in self.published() if i.channel == "cap"]
        changed = self._last_change(alerts)
        # The cap prefix is declared, as NWS does, so format sniffing recognises a CAP index; no cap: elements.
        feed = ET.Element("feed", {"xmlns": ATOM_NS, "xmlns:cap": CAP_NS})
        _sub(feed, "id", f"{self.url}/cap/index.atom")
        _sub(feed, "title", f"EXERCISE {self.scenario.name}: CAP alerts")
        _sub(feed, "updated", atom_time(changed))
        _sub(_sub(feed, "author"), "name", SENDER)
        _sub(feed, "link", rel="self", href=f"{self.url}/cap/index.atom")
        for alert in reversed(alerts):  # newest first, as NWS lists them
            entry = _sub(feed, "entry")
            href = f"{self.url}/cap/alerts/{alert.key}.xml"
            _sub(entry, "id", href)
            _sub(entry, "title", alert.title)
            _sub(entry, "updated", atom_time(self.published_at(alert)))
            _sub(entry, "published", atom_time(self.published_at(alert)))
            _sub(entry, "link", rel="alternate", type="application/cap+xml", href=href)
            _sub(entry, "summary", alert.text or alert.title)
        return Reply(200, "application/atom+xml; charset=utf-8", _xml(feed), changed)

    def cap_alert(self, key: str) -> Reply:
        """One published CAP 1.2 alert (404 for unknown or not yet published keys)."""
        published = {i.key: i for i in self.published()}
        alert = published.get(key)
        if alert is None or alert.channel != "cap":
            return NOT_FOUND
        sent = self.published_at(alert)
        root = ET.Element("alert", xmlns=CAP_NS)

        _sub(root, "identifier", cap_identifier(alert.key))
        _sub(root, "sender", SENDER)
        _sub(root, "sent", cap_time(sent))
        _sub(root, "status", "Exercise")
        _sub(root, "msgType", alert.msg_type)
        _sub(root, "scope", "Public")
        _sub(root, "note", f"EXERCISE EXERCISE EXERCISE. Scenario {self.scenario.name}; not a real alert.")
        chain = self._references(alert, published)
        if chain:
            _sub(
                root,
                "references",
                " ".join(f"{SENDER},{cap_identifier(i.key)},{cap_time(self.published_at(i))}" for i in chain),
            )
        info = _sub(root, "info")
        _sub(info, "language", "en-US")
        _sub(info, "category", _CAP_CATEGORY.get(alert.kind, "Other"))
        _sub(info, "event", alert.event or alert.kind.capitalize())
        if alert.msg_type == "Cancel":
            _sub(info, "responseType", "AllClear")
        urgency = (
            "Past"
            if alert.msg_type == "Cancel"
            else ("Immediate" if alert.severity in ("extreme", "severe") else "Expected")
        )
        _sub(info, "urgency", urgency)
        _sub(info, "severity", alert.severity.capitalize())
        _sub(info, "certainty", "Likely" if alert.kind in ("weather", "flood", "cyclone") else "Observed")
        _sub(info, "effective", cap_time(sent))
        _sub(info, "expires", cap_time(sent + timedelta(minutes=alert.expires_minutes or 60).total_seconds()))
        _sub(info, "senderName", f"Watchfloor exercise control ({self.scenario.name})")
        _sub(info, "headline", alert.title)
        if alert.text:
            _sub(info, "description", alert.text)
        if alert.instruction:
            _sub(info, "instruction", alert.instruction)
        area = _sub(info, "area")
        _sub(area, "areaDesc", alert.place)
        if alert.polygon:
            _sub(area, "polygon", " ".join(f"{lat},{lon}" for lat, lon in alert.polygon))
        if alert.circle:
            lat, lon, radius = alert.circle
            _sub(area, "circle", f"{lat},{lon} {radius}")
        if not alert.polygon and not alert.circle and alert.lat is not None:
            _sub(area, "circle", f"{alert.lat},{alert.lon} 0.5")  # a bare point becomes a small circle
        return Reply(200, "application/cap+xml; charset=utf-8", _xml(root), sent)

    @staticmethod
    def _references(alert: Inject, published: dict[str, Inject]) -> list[Inject]:
        """Every earlier message of this alert's thread, oldest first (CAP references them all)."""
        chain: list[Inject] = []
        current = alert
        while current.refers_to and current.refers_to in published:
            current = published[current.refers_to]
            chain.append(current)
        return list(reversed(chain))

    def news(self) -> Reply:
        """RSS 2.0 with a GeoRSS point for each news item that has coordinates."""
        items = [i for i in self.published() if i.channel == "news"]
        changed = self._last_change(items)
        rss = ET.Element("rss", version="2.0")
        channel = _sub(rss, "channel")
        _sub(channel, "title", f"EXERCISE {self.scenario.name}: news")
        _sub(channel, "link", f"{self.url}/news/georss.xml")
        _sub(channel, "description", f"Exercise news for scenario {self.scenario.name}. Not real events.")
        _sub(channel, "lastBuildDate", formatdate(changed, usegmt=True))
        for item in reversed(items):
            node = _sub(channel, "item")
            _sub(node, "title", item.title)
            _sub(node, "description", item.text or item.title)
            _sub(node, "category", item.kind, domain="kind")
            if item.severity != "unknown":
                _sub(node, "category", item.severity, domain="severity")
            _sub(node, "pubDate", formatdate(self.published_at(item), usegmt=True))
            _sub(node, "guid", f"watchfloor-ex-{item.key}", isPermaLink="false")
            if item.lat is not None:
                _sub(node, f"{{{GEORSS_NS}}}point", f"{item.lat} {item.lon}")
        return Reply(200, "application/rss+xml; charset=utf-8", _xml(rss), changed)

    def status(self) -> Reply:
        """JSON: the scenario's metadata, clock and publication counts."""
        published = self.published()
        with self._lock:
            total = len(self._injects)
        doc = self.scenario.to_dict() | {
            "speed": self.speed,
            "started_at": atom_time(self._started_at) if self._started_at is not None else None,
            "elapsed_seconds": round(self.elapsed(), 3),
            "scenario_seconds": round(self.elapsed() * self.speed, 3),
            "published": len(published),
            "total": total,
            "by_channel": {c: sum(1 for i in published if i.channel == c) for c in CHANNELS},
        }
        return Reply(200, "application/json", orjson.dumps(doc))

    def route(self, path: str) -> Reply:
        """The response for a GET of ``path``."""
        if path == "/usgs/summary.geojson":
            return self.usgs_summary()
        if path == "/cap/index.atom":
            return self.cap_index()
        if path == "/news/georss.xml":
            return self.news()
        if path == "/scenario":
            return self.status()
        if path == "/healthz":
            return Reply(200, "text/plain; charset=utf-8", b"ok\n")
        match = re.fullmatch(r"/cap/alerts/([a-z0-9][a-z0-9_-]{0,63})\.xml", path)
        if match:
            return self.cap_alert(match.group(1))
        match = re.fullmatch(r"/usgs/detail/(ex[0-9a-f]{8})\.geojson", path)
        if match:
            return self.usgs_detail(match.group(1))
        return NOT_FOUND


def main(argv: list[str] | None = None) -> int:
    """``python -m watchfloor.exercise``: serve a scenario on loopback until interrupted."""

    parser = argparse.ArgumentParser(prog="python -m watchfloor.exercise", description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=BY_NAME["scenario"].default, help=BY_NAME["scenario"].help)
    parser.add_argument(
        "--port", type=int, default=BY_NAME["exercise_port"].default, help=BY_NAME["exercise_port"].help
    )
    parser.add_argument(
        "--speed", type=float, default=BY_NAME["scenario_speed"].default, help=BY_NAME["scenario_speed"].help
    )
    parser.add_argument("--host", default="127.0.0.1", help="Loopback address to bind (127.0.0.1 or ::1).")
    args = parser.parse_args(argv)
    try:
        server = ExerciseServer(load_scenario(args.scenario), host=args.host, port=args.port, speed=args.speed)
        server.start()
    except ExerciseError as exc:
        print(f"watchfloor.exercise: {exc}", file=sys.stderr)
        return 2
    print(server.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
