"""What one fetch may do and what it gives back: limits, the result, the one error type, the deadline."""

from __future__ import annotations

import ipaddress
import logging
import re
import ssl
import time
from dataclasses import dataclass

from feeds.contract import FeedError

log = logging.getLogger("feeds.fetch")  # one logger for the whole fetch package, as before the split

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
OK_STATUSES = frozenset({200, 203})
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/cap+xml, application/geo+json, "
    "application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
_READ_CHUNK = 64 * 1024
# Shared address space (RFC 6598); Python 3.11 reports it neither private nor global.
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
# NAT64 well-known prefix (RFC 6052): the last 32 bits are the IPv4 address actually reached.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]{1,40}/[A-Za-z0-9!#$&^_.+-]{1,60}")


@dataclass(frozen=True)
class FetchLimits:
    """Bounds on one fetch. ``deadline`` is TOTAL seconds, resolution to last byte, across all
    redirects; ``max_bytes`` caps the raw body and the decoded body; ``allow_local`` permits
    loopback (127.0.0.0/8, ::1) and nothing else, for exercise feeds Watchfloor serves itself."""

    deadline: float = 20.0
    max_bytes: int = 20_000_000
    max_redirects: int = 5
    allow_local: bool = False

    def __post_init__(self) -> None:
        if not self.deadline > 0:
            raise ValueError(f"FetchLimits.deadline must be > 0 seconds, got {self.deadline!r}")
        if self.max_bytes <= 0:
            raise ValueError(f"FetchLimits.max_bytes must be > 0, got {self.max_bytes!r}")
        if self.max_redirects < 0:
            raise ValueError(f"FetchLimits.max_redirects must be >= 0, got {self.max_redirects!r}")


@dataclass(frozen=True)
class FetchResult:
    """A fetched document. ``status`` is 200 (or 203), or 304 with ``not_modified`` and ``body == b""``.
    ``body`` is already decoded from gzip/deflate; ``url`` is the final URL after redirects."""

    url: str
    status: int
    body: bytes
    etag: str | None
    last_modified: str | None
    content_type: str | None
    not_modified: bool
    elapsed: float


class FetchError(FeedError):
    """A document could not be fetched. ``str(err)`` is one line a duty officer can act on;
    ``word`` is the short failure word for feed health; ``status`` the HTTP status or None."""

    WORDS = frozenset({"unreachable", "timeout", "too-large", "refused", "http-error", "redirects", "bad-response"})

    retry_after: float | None = None  # seconds the server asked us to wait (Retry-After on 429/503)

    def __init__(self, message: str, *, word: str, status: int | None = None) -> None:
        if word not in self.WORDS:
            raise ValueError(f"unknown FetchError word {word!r}")
        # One line, whatever went into it: it ends up in feed health and in logs.
        message = " ".join(str(message).split())
        super().__init__(message)
        self.word = word
        self.status = status

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # Keyword-only arguments: keep the error picklable for RQ's failed-job records.
        return (_rebuild_error, (str(self), self.word, self.status))


def _rebuild_error(message: str, word: str, status: int | None) -> FetchError:
    return FetchError(message, word=word, status=status)


# --- the clock --------------------------------------------------------------------------------


class _Deadline:
    """One total deadline; every blocking step asks it for the time remaining."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start = time.monotonic()
        self.end = self.start + seconds

    def remaining(self, host: str) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise FetchError(f"no complete answer from {host} within {self.seconds:g} s", word="timeout")
        return left

    def elapsed(self) -> float:
        return time.monotonic() - self.start


class _DeadlineExceeded(TimeoutError):
    """Raised from inside http.client's reads; turned into FetchError(word="timeout")."""


# --- the SSRF guard -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    url: str
    scheme: str
    host: str  # as in the URL, lower case, no brackets
    port: int
    request_target: str  # path and query, ASCII

def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__
