"""The exercise feed server: a scripted scenario served as real-format feeds on loopback.

`watchfloor up` starts an :class:`ExerciseServer` so the live picture works with no internet
(air-gapped floors, training). A scenario (``watchfloor/scenarios/NAME.toml`` or any TOML file)
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

Exceptions::
    ExerciseError          the exercise server cannot do what was asked
    └── ScenarioError      a scenario or inject is invalid (one line naming the inject key and field)
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib.resources
import ipaddress
import itertools
import logging
import math
import re
import socket
import sys
import threading
import time
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from feeds.model import Kind, Severity

log = logging.getLogger(__name__)

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"
GEORSS_NS = "http://www.georss.org/georss"
SENDER = "exercise@watchfloor.invalid"
MAX_BODY = 64 * 1024
MAX_ADHOC = 1000
CHANNELS = ("usgs", "cap", "news")
KINDS = tuple(k.value for k in Kind)
SEVERITIES = tuple(s.value for s in Severity)

# Qualified names only need a prefix for GeoRSS; Atom and CAP are written as default namespaces.
ET.register_namespace("georss", GEORSS_NS)

_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
# Characters XML 1.0 cannot carry; ElementTree would write them and produce an ill-formed document.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CAP_CATEGORY = {
    "earthquake": "Geo",
    "tsunami": "Geo",
    "volcano": "Geo",
    "weather": "Met",
    "flood": "Met",
    "cyclone": "Met",
    "drought": "Env",
    "fire": "Fire",
    "epidemic": "Health",
    "medical": "Health",
    "security": "Security",
    "traffic": "Transport",
    "incident": "Safety",
}
_FIELDS = {
    "key",
    "offset",
    "kind",
    "channel",
    "place",
    "lat",
    "lon",
    "title",
    "text",
    "severity",
    "magnitude",
    "depth_km",
    "polygon",
    "circle",
    "expires_minutes",
    "updates",
    "cancels",
    "event",
    "instruction",
}
_ONLY_ON = {
    "magnitude": ("usgs",),
    "depth_km": ("usgs",),
    "polygon": ("cap",),
    "circle": ("cap",),
    "expires_minutes": ("cap",),
    "cancels": ("cap",),
    "event": ("cap",),
    "instruction": ("cap",),
    "updates": ("cap", "usgs"),
}


class ExerciseError(Exception):
    """The exercise server cannot do what was asked; the message says why in one line."""


class ScenarioError(ExerciseError, ValueError):
    """A scenario file or an inject is invalid; the message names the inject key and the field."""


@dataclass(frozen=True, slots=True)
class Inject:
    """One timed item of a scenario. ``offset`` is seconds of scenario time from its start."""

    key: str
    offset: float
    kind: str
    channel: str
    title: str
    place: str = ""
    text: str = ""
    severity: str = "unknown"
    lat: float | None = None
    lon: float | None = None
    magnitude: float | None = None
    depth_km: float | None = None
    polygon: tuple[tuple[float, float], ...] | None = None
    circle: tuple[float, float, float] | None = None
    expires_minutes: float | None = None
    updates: str | None = None
    cancels: str | None = None
    event: str | None = None
    instruction: str | None = None
    adhoc: bool = False

    @property
    def refers_to(self) -> str | None:
        """The key of the inject this one updates or cancels."""
        return self.updates or self.cancels

    @property
    def msg_type(self) -> str:
        """The CAP msgType this inject is published as."""
        return "Cancel" if self.cancels else "Update" if self.updates else "Alert"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields; unset optional fields are left out."""
        out: dict[str, Any] = {}
        for spec in dataclasses.fields(self):
            name, value = spec.name, getattr(self, spec.name)
            if value is None or (name == "adhoc" and not value):
                continue
            if name == "polygon":
                value = [list(p) for p in value]
            elif name == "circle":
                value = list(value)
            out[name] = value
        return out


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: metadata and its injects in publication order."""

    name: str
    description: str
    center: tuple[float, float]
    zoom: float
    injects: tuple[Inject, ...]
    event: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    @property
    def duration(self) -> float:
        """Scenario seconds from start to the last inject."""
        return max((i.offset for i in self.injects), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "center": list(self.center),
            "zoom": self.zoom,
            "event": self.event,
            "duration_seconds": self.duration,
            "inject_count": len(self.injects),
        }


# --- Loading and validation -----------------------------------------------------------------


def builtin_scenarios() -> list[str]:
    """Names of the scenarios shipped in ``watchfloor/scenarios``."""
    folder = importlib.resources.files("watchfloor").joinpath("scenarios")
    if not folder.is_dir():
        return []
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a built-in scenario by name (``marathon``) or a scenario TOML file by path.

    Every inject is validated; the first problem raises :class:`ScenarioError` with one line
    naming the file, the inject key and the field.
    """
    text = str(name_or_path)
    if _NAME.match(text):
        resource = importlib.resources.files("watchfloor").joinpath("scenarios", f"{text}.toml")
        if not resource.is_file():
            known = ", ".join(builtin_scenarios()) or "none"
            raise ScenarioError(f"no built-in scenario {text!r} (built-in: {known}); or give the path of a .toml file")
        where = f"scenario {text}"
        data = resource.read_text(encoding="utf-8")
    else:
        where = text
        try:
            data = Path(text).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ScenarioError(f"scenario file {text} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ScenarioError(f"scenario file {text} cannot be read: {exc}") from None
    try:
        raw = tomllib.loads(data)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{where}: not valid TOML: {exc}") from None
    return parse_scenario(raw, where)


def parse_scenario(raw: dict[str, Any], where: str = "scenario") -> Scenario:
    """Validate a scenario already read from TOML (``[scenario]`` and ``[[injects]]``)."""
    unknown = set(raw) - {"scenario", "injects"}
    if unknown:
        raise ScenarioError(f"{where}: unknown top-level key {sorted(unknown)[0]!r}; allowed: [scenario], [[injects]]")
    meta = raw.get("scenario")
    if not isinstance(meta, dict):
        raise ScenarioError(f"{where}: missing the [scenario] table (name, description, center, zoom)")
    extra = set(meta) - {"name", "description", "center", "zoom", "event"}
    if extra:
        raise ScenarioError(f"{where}: scenario.{sorted(extra)[0]}: unknown key")
    name = meta.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ScenarioError(f"{where}: scenario.name: missing; give the scenario a name")
    description = _text(meta.get("description", ""), f"{where}: scenario.description", 2000)
    center = _point(meta.get("center", [0.0, 0.0]), f"{where}: scenario.center")
    zoom = _number(meta.get("zoom", 9), f"{where}: scenario.zoom", 0, 22)
    event = _event(meta.get("event", {}), f"{where}: scenario.event")

    items = raw.get("injects")
    if not isinstance(items, list) or not items:
        raise ScenarioError(f"{where}: injects: a scenario needs at least one [[injects]] table")
    offsets: dict[str, float] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ScenarioError(f"{where}: injects[{index}]: must be a table")
        key = item.get("key")
        if not isinstance(key, str) or not _KEY.match(key):
            raise ScenarioError(
                f"{where}: injects[{index}].key: {key!r} must be lower-case letters, digits, '-' or '_' (max 64)"
            )
        if key in offsets:
            raise ScenarioError(f"{where}: injects.{key}.key: used twice; give each inject its own key")
        offset = item.get("offset")
        offsets[key] = offset if isinstance(offset, (int, float)) and not isinstance(offset, bool) else math.inf
    validated: dict[str, Inject] = {}
    # In publication order (ties keep file order), so a reference is checked against the full earlier inject.
    for item in sorted(items, key=lambda i: offsets[i["key"]]):
        inject = validate_inject(item, validated, f"{where}: injects", all_keys=offsets)
        validated[inject.key] = inject
    ordered = list(validated.values())
    return Scenario(
        name=name.strip(),
        description=description,
        center=center,
        zoom=zoom,
        injects=tuple(ordered),
        event=event,
        source=where,
    )


def validate_inject(
    raw: Any,
    known: dict[str, Inject],
    where: str = "inject",
    *,
    all_keys: dict[str, float] | None = None,
    adhoc: bool = False,
) -> Inject:
    """Check one inject and return it; ScenarioError names ``where``, the key and the field.

    ``known`` holds the injects validated so far; ``updates`` and ``cancels`` must name one of
    them with an earlier offset on a compatible channel. ``all_keys`` (every key of the file)
    tells a reference to a later inject from one to an unknown key.
    """
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: an inject must be a table/object of fields")
    key = raw.get("key")
    if not isinstance(key, str) or not _KEY.match(key):
        raise ScenarioError(f"{where}.key: {key!r} must be lower-case letters, digits, '-' or '_' (max 64)")
    at = f"{where}.{key}"
    unknown = set(raw) - _FIELDS
    if unknown:
        raise ScenarioError(f"{at}.{sorted(unknown)[0]}: unknown field; allowed: {', '.join(sorted(_FIELDS))}")

    offset = _number(raw.get("offset"), f"{at}.offset", 0, 7 * 86_400, missing="seconds from the scenario start")
    kind = str(raw.get("kind", "")).strip().lower()
    if kind not in KINDS:
        raise ScenarioError(f"{at}.kind: {raw.get('kind')!r} is not one of {', '.join(KINDS)}")
    channel = str(raw.get("channel", "")).strip().lower()
    if channel not in CHANNELS:
        raise ScenarioError(f"{at}.channel: {raw.get('channel')!r} is not one of {', '.join(CHANNELS)}")
    severity = str(raw.get("severity", "unknown")).strip().lower()
    if severity not in SEVERITIES:
        raise ScenarioError(f"{at}.severity: {raw.get('severity')!r} is not one of {', '.join(SEVERITIES)}")
    for name, channels in _ONLY_ON.items():
        if raw.get(name) is not None and channel not in channels:
            raise ScenarioError(f"{at}.{name}: only allowed on channel {' or '.join(channels)}, not {channel}")

    title = _text(raw.get("title"), f"{at}.title", 300, required=True)
    text = _text(raw.get("text", ""), f"{at}.text", 4000)
    place = _text(raw.get("place", ""), f"{at}.place", 200)
    event = _text(raw.get("event"), f"{at}.event", 100) if raw.get("event") is not None else None
    instruction = (
        _text(raw.get("instruction"), f"{at}.instruction", 2000) if raw.get("instruction") is not None else None
    )

    lat = lon = None
    if raw.get("lat") is not None or raw.get("lon") is not None:
        lat = _number(raw.get("lat"), f"{at}.lat", -90, 90, missing="give lat and lon together")
        lon = _number(raw.get("lon"), f"{at}.lon", -180, 180, missing="give lat and lon together")
        if lat == 0 and lon == 0:
            raise ScenarioError(f"{at}.lat: 0,0 is a missing coordinate, not a place")
    polygon = _polygon(raw["polygon"], f"{at}.polygon") if raw.get("polygon") is not None else None
    circle = _circle(raw["circle"], f"{at}.circle") if raw.get("circle") is not None else None
    expires = (
        _number(raw["expires_minutes"], f"{at}.expires_minutes", 1, 30 * 1440)
        if raw.get("expires_minutes") is not None
        else None
    )

    magnitude = depth = None
    if channel == "usgs":
        if kind != "earthquake":
            raise ScenarioError(f"{at}.kind: channel usgs carries earthquakes only, not {kind}")
        if lat is None:
            raise ScenarioError(f"{at}.lat: a quake needs lat and lon")
        if not place:
            raise ScenarioError(f"{at}.place: a quake needs a place, e.g. '5 km W of Natick, Massachusetts'")
        magnitude = _number(raw.get("magnitude"), f"{at}.magnitude", -2, 10, missing="a quake needs a magnitude")
        depth = _number(raw.get("depth_km"), f"{at}.depth_km", -10, 800, missing="a quake needs depth_km")
    if channel == "cap" and not place:
        raise ScenarioError(f"{at}.place: a CAP alert needs a place (its areaDesc)")

    if raw.get("updates") is not None and raw.get("cancels") is not None:
        raise ScenarioError(f"{at}.cancels: give updates or cancels, not both")
    for ref_field in ("updates", "cancels"):
        ref = raw.get(ref_field)
        if ref is None:
            continue
        if not isinstance(ref, str) or (ref not in known and ref not in (all_keys or {})):
            raise ScenarioError(f"{at}.{ref_field}: {ref!r} is not the key of an earlier inject")
        target = known.get(ref)
        target_offset = target.offset if target else (all_keys or {}).get(ref, math.inf)
        if ref == key or target_offset >= offset:
            state = "not yet published" if adhoc else f"at offset {target_offset:g}, not before {offset:g}"
            raise ScenarioError(f"{at}.{ref_field}: {ref!r} is a later inject ({state}); it must come earlier")
        if target is not None and target.channel != channel:
            raise ScenarioError(f"{at}.{ref_field}: {ref!r} is on channel {target.channel}, this inject on {channel}")

    return Inject(
        key=key,
        offset=offset,
        kind=kind,
        channel=channel,
        title=title,
        place=place,
        text=text,
        severity=severity,
        lat=lat,
        lon=lon,
        magnitude=magnitude,
        depth_km=depth,
        polygon=polygon,
        circle=circle,
        expires_minutes=expires,
        updates=raw.get("updates"),
        cancels=raw.get("cancels"),
        event=event,
        instruction=instruction,
        adhoc=adhoc,
    )


def _number(value: Any, where: str, low: float, high: float, missing: str = "") -> float:
    if value is None:
        raise ScenarioError(f"{where}: missing" + (f"; {missing}" if missing else ""))
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScenarioError(f"{where}: {value!r} is not a number")
    if not math.isfinite(value) or not low <= value <= high:
        raise ScenarioError(f"{where}: {value!r} is out of range ({low:g} to {high:g})")
    return value


def _text(value: Any, where: str, limit: int, required: bool = False) -> str:
    if value is None or value == "":
        if required:
            raise ScenarioError(f"{where}: missing")
        return ""
    if not isinstance(value, str):
        raise ScenarioError(f"{where}: must be text")
    if _NOT_XML.search(value):
        raise ScenarioError(f"{where}: contains control characters that no feed format can carry")
    if len(value) > limit:
        raise ScenarioError(f"{where}: longer than {limit} characters")
    return value.strip()


def _point(value: Any, where: str) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        raise ScenarioError(f"{where}: must be [lat, lon]")
    return (_number(value[0], f"{where}[0] (lat)", -90, 90), _number(value[1], f"{where}[1] (lon)", -180, 180))


def _polygon(value: Any, where: str) -> tuple[tuple[float, float], ...]:
    if not isinstance(value, list) or len(value) < 3 or len(value) > 500:
        raise ScenarioError(f"{where}: must be a list of 3 to 500 [lat, lon] points")
    points = [_point(p, f"{where}[{i}]") for i, p in enumerate(value)]
    if points[0] != points[-1]:
        points.append(points[0])  # CAP polygons are closed rings
    if len(set(points)) < 3:
        raise ScenarioError(f"{where}: needs at least 3 distinct points")
    return tuple(points)


def _circle(value: Any, where: str) -> tuple[float, float, float]:
    if not isinstance(value, list) or len(value) != 3:
        raise ScenarioError(f"{where}: must be [lat, lon, radius_km]")
    lat, lon = _point(value[:2], where)
    return (lat, lon, _number(value[2], f"{where}[2] (radius_km)", 0.001, 2000))


def _event(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: must be a table")
    extra = set(value) - {"name", "start_offset", "end_offset", "venues", "route"}
    if extra:
        raise ScenarioError(f"{where}.{sorted(extra)[0]}: unknown key")
    out: dict[str, Any] = {"name": _text(value.get("name", ""), f"{where}.name", 200)}
    out["start_offset"] = _number(value.get("start_offset", 0), f"{where}.start_offset", 0, 7 * 86_400)
    out["end_offset"] = _number(
        value.get("end_offset", out["start_offset"]), f"{where}.end_offset", out["start_offset"], 7 * 86_400
    )
    venues = []
    for i, venue in enumerate(value.get("venues", [])):
        at = f"{where}.venues[{i}]"
        if not isinstance(venue, dict):
            raise ScenarioError(f"{at}: must be a table")
        lat, lon = _point([venue.get("lat"), venue.get("lon")], at)
        venues.append(
            {
                "name": _text(venue.get("name"), f"{at}.name", 200, required=True),
                "lat": lat,
                "lon": lon,
                "radius_km": _number(venue.get("radius_km"), f"{at}.radius_km", 0.001, 500),
            }
        )
    out["venues"] = venues
    out["route"] = [list(_point(p, f"{where}.route[{i}]")) for i, p in enumerate(value.get("route", []))]
    return out


# --- Rendering the feeds ------------------------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class _Response:
    status: int
    content_type: str
    body: bytes
    last_modified: float | None = None  # set for feed documents: they answer conditional GET


_NOT_FOUND = _Response(404, "text/plain; charset=utf-8", b"not found\n")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    exercise: ExerciseServer


class _HTTPServer6(_HTTPServer):
    address_family = socket.AF_INET6


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
        self.host = _loopback_host(host)
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
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle

    def start(self) -> ExerciseServer:
        """Bind, start serving in a daemon thread and start the scenario clock."""
        if self._httpd is not None:
            raise ExerciseError("the exercise server is already running")
        try:
            server_class = _HTTPServer6 if ":" in self.host else _HTTPServer
            httpd = server_class((self.host, self.port), _Handler)
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

    def usgs_summary(self) -> _Response:
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
        return _Response(200, "application/geo+json; charset=utf-8", orjson.dumps(doc), changed)

    def usgs_detail(self, event_id: str) -> _Response:
        summary = orjson.loads(self.usgs_summary().body)
        for feature in summary["features"]:
            if feature["id"] == event_id:
                changed = feature["properties"]["updated"] / 1000
                return _Response(200, "application/geo+json; charset=utf-8", orjson.dumps(feature), changed)
        return _NOT_FOUND

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

    def cap_index(self) -> _Response:
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
        return _Response(200, "application/atom+xml; charset=utf-8", _xml(feed), changed)

    def cap_alert(self, key: str) -> _Response:
        """One published CAP 1.2 alert (404 for unknown or not yet published keys)."""
        published = {i.key: i for i in self.published()}
        alert = published.get(key)
        if alert is None or alert.channel != "cap":
            return _NOT_FOUND
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
        return _Response(200, "application/cap+xml; charset=utf-8", _xml(root), sent)

    @staticmethod
    def _references(alert: Inject, published: dict[str, Inject]) -> list[Inject]:
        """Every earlier message of this alert's thread, oldest first (CAP references them all)."""
        chain: list[Inject] = []
        current = alert
        while current.refers_to and current.refers_to in published:
            current = published[current.refers_to]
            chain.append(current)
        return list(reversed(chain))

    def news(self) -> _Response:
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
            _sub(node, "category", item.kind)
            _sub(node, "pubDate", formatdate(self.published_at(item), usegmt=True))
            _sub(node, "guid", f"watchfloor-ex-{item.key}", isPermaLink="false")
            if item.lat is not None:
                _sub(node, f"{{{GEORSS_NS}}}point", f"{item.lat} {item.lon}")
        return _Response(200, "application/rss+xml; charset=utf-8", _xml(rss), changed)

    def status(self) -> _Response:
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
        return _Response(200, "application/json", orjson.dumps(doc))

    def route(self, path: str) -> _Response:
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
            return _Response(200, "text/plain; charset=utf-8", b"ok\n")
        match = re.fullmatch(r"/cap/alerts/([a-z0-9][a-z0-9_-]{0,63})\.xml", path)
        if match:
            return self.cap_alert(match.group(1))
        match = re.fullmatch(r"/usgs/detail/(ex[0-9a-f]{8})\.geojson", path)
        if match:
            return self.usgs_detail(match.group(1))
        return _NOT_FOUND


def _loopback_host(host: str) -> str:
    """The literal loopback address to bind for ``host``; ExerciseError for anything else."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise ExerciseError(
        f"the exercise server only binds to loopback; {host!r} is not a loopback address (use 127.0.0.1)"
    )


def _host_header_ok(value: str | None) -> bool:
    """True for a missing Host header or one naming loopback (blocks DNS-rebinding pages)."""
    if not value:
        return True
    host = value.strip().lower()
    if host.startswith("["):
        host = host[1 : host.find("]")]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = "WatchfloorExercise/1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        log.debug("exercise %s", format % args)

    def do_GET(self) -> None:
        self._get(head=False)

    def do_HEAD(self) -> None:
        self._get(head=True)

    def _get(self, head: bool) -> None:
        if not _host_header_ok(self.headers.get("Host")):
            self._send(_Response(403, "text/plain; charset=utf-8", b"Host header is not loopback\n"))
            return
        try:
            response = self.server.exercise.route(urlsplit(self.path).path)
        except Exception:  # one bad request must not kill the server; the log has the traceback
            log.exception("exercise server failed to answer", extra={"path": self.path[:200]})
            response = _Response(500, "text/plain; charset=utf-8", b"internal error\n")
        self._send(response, head=head, conditional=True)

    def do_POST(self) -> None:
        if not _host_header_ok(self.headers.get("Host")):
            self._error(403, "Host header is not loopback")
            return
        if urlsplit(self.path).path != "/inject":
            self._send(_NOT_FOUND)
            return
        # Requiring JSON makes a cross-site form post impossible: browsers preflight it and we never allow it.
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            self._error(415, "Content-Type must be application/json")
            return
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            self._error(411, "Content-Length is required")
            return
        try:
            length = int(length_header)
        except ValueError:
            self._error(400, "Content-Length is not a number")
            return
        if length < 0 or length > MAX_BODY:
            self._error(413, f"body larger than {MAX_BODY} bytes")
            return
        try:
            raw = orjson.loads(self.rfile.read(length))
        except orjson.JSONDecodeError as exc:
            self._error(400, f"body is not valid JSON: {str(exc).splitlines()[0]}")
            return
        try:
            stored = self.server.exercise.inject(raw)
        except ScenarioError as exc:
            self._error(400, str(exc))
            return
        self._send(_Response(201, "application/json", orjson.dumps(stored)))

    def _error(self, status: int, reason: str) -> None:
        self._send(_Response(status, "application/json", orjson.dumps({"error": reason.splitlines()[0]})))

    def _send(self, response: _Response, head: bool = False, conditional: bool = False) -> None:
        headers = {"Content-Type": response.content_type, "X-Content-Type-Options": "nosniff"}
        status = response.status
        if conditional and status == 200 and response.last_modified is not None:
            etag = '"' + hashlib.sha256(response.body).hexdigest()[:32] + '"'
            headers["ETag"] = etag
            headers["Last-Modified"] = formatdate(response.last_modified, usegmt=True)
            headers["Cache-Control"] = "no-cache"
            if _not_modified(
                self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since"), etag, response.last_modified
            ):
                status = 304
        else:
            headers["Cache-Control"] = "no-store"
        body = b"" if status == 304 else response.body
        self.send_response(status)
        for name, value in headers.items():
            if status == 304 and name in ("Content-Type",):
                continue
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and body:
            self.wfile.write(body)


def _not_modified(if_none_match: str | None, if_modified_since: str | None, etag: str, last_modified: float) -> bool:
    """RFC 9110: If-None-Match decides when present (weak comparison); else If-Modified-Since."""
    if if_none_match:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or etag in tags
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since).timestamp()
        except (TypeError, ValueError):
            return False
        return int(last_modified) <= since
    return False


def main(argv: list[str] | None = None) -> int:
    """``python -m watchfloor.exercise``: serve a scenario on loopback until interrupted."""
    from domain.config.settings import BY_NAME

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
