"""The event model: one frozen type that every source produces and every consumer reads.

An :class:`Event` is one report from one source about one happening. Times are timezone-aware UTC,
coordinates are WGS84 lon/lat, strings are plain text (never markup). ``id`` is stable: the same
report re-polled, or retried by a worker, always yields the same id, which is what makes ingest
idempotent. ``fingerprint`` changes when the report's content changes (a revised magnitude, a CAP
Update), which is how an update is told from a re-poll.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import orjson


class Severity(str, Enum):
    """CAP 1.2 severity words; the value survives the trip through Redis."""

    EXTREME = "extreme"
    SEVERE = "severe"
    MODERATE = "moderate"
    MINOR = "minor"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: object) -> Severity:
        text = str(value or "").strip().lower()
        for member in cls:
            if member.value == text:
                return member
        return cls.UNKNOWN

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.UNKNOWN: 0,
    Severity.MINOR: 1,
    Severity.MODERATE: 2,
    Severity.SEVERE: 3,
    Severity.EXTREME: 4,
}


class Kind(str, Enum):
    """What happened, coarse enough to filter and colour the map by."""

    EARTHQUAKE = "earthquake"
    TSUNAMI = "tsunami"
    WEATHER = "weather"
    FLOOD = "flood"
    FIRE = "fire"
    CYCLONE = "cyclone"
    VOLCANO = "volcano"
    DROUGHT = "drought"
    EPIDEMIC = "epidemic"
    SECURITY = "security"
    MEDICAL = "medical"
    TRAFFIC = "traffic"
    INCIDENT = "incident"
    NEWS = "news"
    OTHER = "other"

    @classmethod
    def parse(cls, value: object) -> Kind:
        text = str(value or "").strip().lower()
        for member in cls:
            if member.value == text:
                return member
        return cls.OTHER


class InvalidEvent(ValueError):
    """An event that cannot exist: the message says which field and why."""


def utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime; naive values are taken to be UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, second precision or better."""
    if value is None:
        return None
    text = utc(value).isoformat()
    return text.replace("+00:00", "Z")


def parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    return utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


def epoch_seconds(value: Any) -> float | None:
    """Seconds since the epoch of an ISO 8601 text (naive: UTC); None for anything else or a bad
    text (stored JSON read back: never raises)."""
    if not isinstance(value, str):
        return None
    try:
        when = parse_iso(value)
    except ValueError:
        return None
    return when.timestamp() if when else None


# TLP 2.0 labels, least to most restrictive, spelled exactly as FIRST spells them. The checks live in
# domain/access/tlp.py; the ingest path only needs the spelling and the order to mark reports.
TLP_LABELS: tuple[str, ...] = ("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED")


def tlp_highest(*labels: str | None) -> str:
    """The most restrictive of ``labels`` (None ignored; an unknown label counts as TLP:RED)."""
    rank = max((TLP_LABELS.index(x) if x in TLP_LABELS else len(TLP_LABELS) - 1 for x in labels if x), default=0)
    return TLP_LABELS[rank]


def stable_hash(*parts: object) -> str:
    """A short, stable content hash for sources that give no identifier."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8", "replace"))
    return digest.hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class Event:
    """One normalised report.

    ``extra`` holds source-specific values an operator needs (CAP fields, alert level, fire
    confidence...); ``provenance`` says where each value came from: ``feed``, ``raw_id``,
    ``fetched_at`` and ``fields`` (our field name -> the document's field path).
    """

    id: str
    source: str
    kind: Kind
    title: str
    time: datetime
    text: str = ""
    severity: Severity = Severity.UNKNOWN
    lat: float | None = None
    lon: float | None = None
    geometry: dict[str, Any] | None = None
    link: str | None = None
    feed: str = ""
    magnitude: float | None = None
    depth_km: float | None = None
    exercise: bool = False
    place: str | None = None
    placed_by: str | None = None
    updated: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    tlp: str | None = None  # sharing marking from the feed's configuration; None is TLP:CLEAR
    agency: str | None = None  # the agency that owns the report (a pushed or claimed source); None: public
    sharing: str | None = None  # the owner's sharing rule (all, own, agencies:A,B); None: all

    def __post_init__(self) -> None:
        if not self.id:
            raise InvalidEvent("event has no id")
        if self.time.tzinfo is None:
            raise InvalidEvent(f"event {self.id}: time has no timezone")
        if (self.lat is None) != (self.lon is None):
            raise InvalidEvent(f"event {self.id}: lat and lon must both be set or both be empty")
        if self.lat is not None and self.lon is not None:
            check_lonlat(self.lon, self.lat, what=f"event {self.id}")

    @property
    def placed(self) -> bool:
        return self.lat is not None

    def replace(self, **changes: Any) -> Event:
        """A copy with ``changes``; validated again only when they touch what :meth:`__post_init__`
        checks (id, time, position): stamping and naming a 100,000-row file must be cheap."""
        touched = _CHECKED.intersection(changes)
        if touched == {"id"} and isinstance(changes["id"], str) and changes["id"]:
            touched = set()  # a non-empty id is all that is checked of it (a pushed report's id is renamed)
        if touched or not _FIELD_SET.issuperset(changes):
            return dataclasses.replace(self, **changes)
        new = object.__new__(Event)
        for name in _FIELD_NAMES:
            object.__setattr__(new, name, changes[name] if name in changes else getattr(self, name))
        return new

    def fingerprint(self) -> str:
        """Changes whenever what an operator would see changes; ignores fetch time."""
        return _fingerprint(self.to_dict())

    def encoded(self) -> tuple[bytes, str]:
        """``(to_json(), fingerprint())`` from one ``to_dict()``: the ingest path needs both."""
        body = self.to_dict()
        return orjson.dumps(body, option=orjson.OPT_SORT_KEYS), _fingerprint(body)

    def to_dict(self) -> dict[str, Any]:
        body = {
            "id": self.id,
            "source": self.source,
            "kind": self.kind.value,
            "title": self.title,
            "text": self.text,
            "severity": self.severity.value,
            "time": iso(self.time),
            "updated": iso(self.updated),
            "lat": self.lat,
            "lon": self.lon,
            "geometry": self.geometry,
            "link": self.link,
            "feed": self.feed,
            "magnitude": self.magnitude,
            "depth_km": self.depth_km,
            "exercise": self.exercise,
            "place": self.place,
            "placed_by": self.placed_by,
            "extra": dict(self.extra),
            "provenance": dict(self.provenance),
            "warnings": list(self.warnings),
        }
        if self.tlp is not None:  # absent when unmarked, so unmarked reports keep their fingerprints
            body["tlp"] = self.tlp
        if self.agency is not None:  # the same: absent for public reports
            body["agency"] = self.agency
        if self.sharing is not None:
            body["sharing"] = self.sharing
        return body

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict(), option=orjson.OPT_SORT_KEYS)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        time = parse_iso(data["time"])
        if time is None:
            raise InvalidEvent(f"event {data.get('id')}: no time")
        return cls(
            id=data["id"],
            source=data["source"],
            kind=Kind.parse(data.get("kind")),
            title=data.get("title", ""),
            text=data.get("text", ""),
            severity=Severity.parse(data.get("severity")),
            time=time,
            updated=parse_iso(data.get("updated")),
            lat=data.get("lat"),
            lon=data.get("lon"),
            geometry=data.get("geometry"),
            link=data.get("link"),
            feed=data.get("feed", ""),
            magnitude=data.get("magnitude"),
            depth_km=data.get("depth_km"),
            exercise=bool(data.get("exercise", False)),
            place=data.get("place"),
            placed_by=data.get("placed_by"),
            extra=data.get("extra") or {},
            provenance=data.get("provenance") or {},
            warnings=tuple(data.get("warnings") or ()),
            tlp=data.get("tlp") or None,
            agency=data.get("agency") or None,
            sharing=data.get("sharing") or None,
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> Event:
        return cls.from_dict(orjson.loads(raw))


_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Event))
_FIELD_SET = frozenset(_FIELD_NAMES)
_CHECKED = frozenset({"id", "time", "lat", "lon"})  # what Event.__post_init__ validates


def _fingerprint(body: dict[str, Any]) -> str:
    """The content hash of an event's dict, fetch time left out (``body`` is not changed)."""
    provenance = body.get("provenance")
    if isinstance(provenance, dict) and "fetched_at" in provenance:
        body = {**body, "provenance": {k: v for k, v in provenance.items() if k != "fetched_at"}}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()[:24]


def check_lonlat(lon: float, lat: float, *, what: str = "point") -> None:
    """Raise :class:`InvalidEvent` unless lon/lat is a real, plausible position.

    NaN, infinities and out-of-range values are refused, and so is exactly (0, 0): "Null Island"
    is what a missing coordinate looks like after a careless default, never a real report.
    """
    for name, value, limit in (("lon", lon, 180.0), ("lat", lat, 90.0)):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise InvalidEvent(f"{what}: {name} is not a number")
        if math.isnan(value) or math.isinf(value):
            raise InvalidEvent(f"{what}: {name} is not finite")
        if abs(value) > limit:
            raise InvalidEvent(f"{what}: {name} {value} is out of range")
    if lon == 0 and lat == 0:
        raise InvalidEvent(f"{what}: position 0,0 is a missing coordinate, not a place")
