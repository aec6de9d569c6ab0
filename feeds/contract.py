"""The contract every feed adapter implements: bytes and the feed's configuration in, events out.

Built-in adapters (USGS, CAP, GeoRSS...) use exactly this contract and register themselves the
same way an agency's own adapter does (see :mod:`feeds.sources`).

Exceptions::

    FeedError                  anything wrong with one feed; never stops the others
    ├── DocumentRefused        the document is unsafe or unreadable (one-line reason)
    └── FetchError             the document could not be fetched (see feeds.fetch)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from feeds.model import Event


class FeedError(Exception):
    """A problem with one feed. ``str(err)`` is a one-line reason a duty officer can act on."""


class DocumentRefused(FeedError):
    """The document was refused: hostile (entities, DTD), malformed, or of no known format."""


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """One configured feed. ``allow_local`` is the explicit exception to the SSRF guard,
    for exercise feeds that Watchfloor serves itself on loopback."""

    id: str
    url: str
    format: str = "auto"
    interval: int = 60
    name: str = ""
    exercise: bool = False
    allow_local: bool = False
    enabled: bool = True
    kind: str | None = None
    country: str | None = None
    stale_after: int = 3
    tlp: str | None = None  # TLP 2.0 label every report of this feed carries (partner feeds); None: TLP:CLEAR
    teaches_places: bool = True  # its reports' positions may teach the geocoder places (workers/places.py)
    agency: str | None = None  # the agency that owns this feed's reports (None: public)
    sharing: str | None = None  # its rule (all, own, agencies:A,B); None: the agency's per-source or default rule

    @property
    def label(self) -> str:
        return self.name or self.id


@dataclass(slots=True)
class ParseResult:
    """What an adapter returns. ``follow`` lists documents this one points to that must be read
    to complete it (a CAP Atom index names the CAP alerts); the worker fetches them with the same
    limits and parses each with ``follow_format``."""

    events: list[Event] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    follow: list[str] = field(default_factory=list)
    follow_format: str | None = None


@runtime_checkable
class Source(Protocol):
    """A feed adapter. ``name`` is what a feed's ``format`` setting names.

    ``sniff`` returns how sure it is (0-100) that ``head`` (the first 4 KiB, decoded leniently)
    is its format; ``parse`` turns a whole document into events or raises DocumentRefused.
    """

    name: str

    def sniff(self, head: str) -> int: ...

    def parse(self, data: bytes, feed: FeedConfig, fetched_at: datetime) -> ParseResult: ...
