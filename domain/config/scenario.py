"""Exercise scenarios: their schema, loading and validation (a scenario is a list of timed injects,
each published once the scenario clock passes its offset). The domain reads a scenario to know the
exercise's workspace; the loopback feed server (:mod:`watchfloor.exercise`) serves it.

Built-in scenarios live in ``domain/config/scenarios/NAME.toml``; any TOML file will do.

Exceptions::
    ExerciseError          the exercise server cannot do what was asked
    └── ScenarioError      a scenario or inject is invalid (one line naming the inject key and field)
"""


from __future__ import annotations

import dataclasses
import importlib.resources
import logging
import math
import re
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    """Names of the scenarios shipped in ``domain/config/scenarios``."""
    folder = importlib.resources.files("domain.config").joinpath("scenarios")
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
        resource = importlib.resources.files("domain.config").joinpath("scenarios", f"{text}.toml")
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
    key, at = _inject_key(raw, where)
    offset = _number(raw.get("offset"), f"{at}.offset", 0, 7 * 86_400, missing="seconds from the scenario start")
    kind, channel, severity = _inject_class(raw, at)
    title, text, place, event, instruction = _inject_texts(raw, at)
    lat, lon, polygon, circle, expires = _inject_area(raw, at)
    magnitude, depth = _inject_quake(raw, at, kind, channel, lat, place)
    _inject_references(raw, at, key, offset, channel, known, all_keys, adhoc)
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


def _inject_key(raw: Any, where: str) -> tuple[str, str]:
    """The inject's key and the ``where.key`` its errors name, after the shape and field-name checks."""
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: an inject must be a table/object of fields")
    key = raw.get("key")
    if not isinstance(key, str) or not _KEY.match(key):
        raise ScenarioError(f"{where}.key: {key!r} must be lower-case letters, digits, '-' or '_' (max 64)")
    at = f"{where}.{key}"
    unknown = set(raw) - _FIELDS
    if unknown:
        raise ScenarioError(f"{at}.{sorted(unknown)[0]}: unknown field; allowed: {', '.join(sorted(_FIELDS))}")
    return key, at


def _inject_class(raw: dict[str, Any], at: str) -> tuple[str, str, str]:
    """Kind, channel and severity, and the fields allowed only on some channels."""
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
    return kind, channel, severity


def _inject_texts(raw: dict[str, Any], at: str) -> tuple[str, str, str, str | None, str | None]:
    """Title, text, place, event and instruction, each within its length."""
    title = _text(raw.get("title"), f"{at}.title", 300, required=True)
    text = _text(raw.get("text", ""), f"{at}.text", 4000)
    place = _text(raw.get("place", ""), f"{at}.place", 200)
    event = _text(raw.get("event"), f"{at}.event", 100) if raw.get("event") is not None else None
    instruction = (
        _text(raw.get("instruction"), f"{at}.instruction", 2000) if raw.get("instruction") is not None else None
    )
    return title, text, place, event, instruction


def _inject_area(raw: dict[str, Any], at: str) -> tuple[
    float | None, float | None, tuple[tuple[float, float], ...] | None, tuple[float, float, float] | None, float | None
]:
    """Lat/lon, polygon, circle and expiry: where the inject is and for how long."""
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
    return lat, lon, polygon, circle, expires


def _inject_quake(
    raw: dict[str, Any], at: str, kind: str, channel: str, lat: float | None, place: str
) -> tuple[float | None, float | None]:
    """Magnitude and depth of a quake (channel usgs), and the place a channel needs."""
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
    return magnitude, depth


def _inject_references(
    raw: dict[str, Any],
    at: str,
    key: str,
    offset: float,
    channel: str,
    known: dict[str, Inject],
    all_keys: dict[str, float] | None,
    adhoc: bool,
) -> None:
    """``updates``/``cancels``: one of them, naming an earlier inject on the same channel."""
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


