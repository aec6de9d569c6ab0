"""The only network code in Watchfloor: fetch one feed document, bounded and SSRF-checked.

:func:`fetch` promises:

- only ``http`` and ``https`` URLs, never with credentials in them;
- every host, on the first URL and on every redirect hop, is resolved once and EVERY resolved
  address is checked (:func:`check_url`); the connection goes to an address that was checked,
  never to the name again, so DNS rebinding cannot swap in an internal address;
- one total deadline, from name resolution to the last byte, across all redirects;
- a cap on the raw body and on the body after gzip/deflate decoding (decoded incrementally with
  ``max_length``, so a gzip bomb never expands in memory);
- conditional GET (``If-None-Match`` / ``If-Modified-Since``), a 304 is ``not_modified``;
- nothing but :class:`FetchError` for network and protocol problems, with a one-line reason a
  duty officer can act on and a short ``word`` for feed health.

Exceptions (see :mod:`feeds.contract`)::

    FeedError
    └── FetchError      .word: unreachable | timeout | too-large | refused | http-error
                               | redirects | bad-response
                        .status: the HTTP status, or None

Response bodies are never logged; messages name the host, never the full URL (query strings
often carry API keys).
"""

from __future__ import annotations

import base64
import http.client
import io
import ipaddress
import logging
import re
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from urllib.parse import SplitResult, quote, unquote, urljoin, urlsplit

from feeds.contract import FeedError

__all__ = ["FetchError", "FetchLimits", "FetchResult", "check_url", "fetch"]

log = logging.getLogger(__name__)

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


def _refuse(message: str) -> FetchError:
    return FetchError(message, word="refused")


def _parse_url(url: str) -> _Target:
    """Split and vet a URL's form (scheme, host, port, characters); no resolution yet."""
    if not isinstance(url, str) or not url.strip():
        raise _refuse("no URL given")
    url = url.strip()
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise _refuse("URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _refuse(f"malformed URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = scheme[:20] or "no scheme"
        raise _refuse(f"URL scheme {shown!r} refused; only http and https feeds are fetched")
    host = parts.hostname
    if not host:
        raise _refuse("URL has no host")
    if parts.username is not None or parts.password is not None:
        raise _refuse(f"URL for {host} carries credentials; put them in the feed settings, not the URL")
    if "%" in host:
        raise _refuse(f"host {host[:60]!r} has a zone index or escapes; refused")
    try:
        host.encode("idna")
    except UnicodeError:
        raise _refuse(f"host name {host[:60]!r} is not a valid domain name") from None
    if _literal_ip(host) is None and _is_unusual_numeric(host):
        raise _refuse(f"host {host[:60]!r} is a numeric address in an unusual form; write it as a plain IP")
    path = parts.path or "/"
    target = path + (f"?{parts.query}" if parts.query else "")
    # Non-ASCII in the path would break the request line; percent-encode it, keep existing escapes.
    target = quote(target, safe="/%:@!$&'()*+,;=-._~?")
    clean = SplitResult(parts.scheme, parts.netloc, parts.path, parts.query, "").geturl()
    return _Target(clean, scheme, host, port or (443 if scheme == "https" else 80), target)


def _literal_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_unusual_numeric(host: str) -> bool:
    """True for forms inet_aton accepts but no one writes: 2130706433, 0x7f000001, 127.1, 0177.0.0.1."""
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    return True


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[list[ipaddress.IPv4Address], bool]:
    """IPv4 addresses carried inside an IPv6 one, and whether the IPv4 one is all that is reached
    (mapped, compatible, NAT64) rather than merely embedded (6to4, Teredo)."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped], True
    if ip in _NAT64:
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)], True
    if int(ip) >> 32 == 0 and int(ip) > 1:
        # Deprecated IPv4-compatible ::a.b.c.d (:: and ::1 are judged as themselves).
        return [ipaddress.IPv4Address(int(ip))], True
    if ip.sixtofour is not None:
        return [ip.sixtofour], False
    if ip.teredo is not None:
        return list(ip.teredo), False
    return [], False


def _address_refusal(ip: IPAddress, allow_local: bool) -> str | None:
    """Why this address may not be fetched from, or None when it may."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded, replaces = _embedded_ipv4(ip)
        for inner in embedded:
            reason = _address_refusal(inner, allow_local)
            if reason:
                return f"{reason} (IPv4 {inner} inside IPv6)"
        if replaces:
            return None
    if ip.is_loopback:
        return None if allow_local else "loopback"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "shared (carrier-grade NAT)"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "site-local"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "not globally routable"
    return None


def _resolve(host: str, port: int) -> list[tuple[int, tuple]]:
    """Every (family, sockaddr) the name resolves to; a seam for tests."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [(family, sockaddr) for family, _type, _proto, _canon, sockaddr in infos]


def _resolve_within(host: str, port: int, clock: _Deadline) -> list[tuple[int, tuple]]:
    """Resolve under the deadline: getaddrinfo itself cannot be timed out, so it runs in a thread."""
    literal = _literal_ip(host)
    if literal is not None:
        family = socket.AF_INET6 if literal.version == 6 else socket.AF_INET
        return [(family, (host, port, 0, 0) if family == socket.AF_INET6 else (host, port))]
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            outcome["addresses"] = _resolve(host, port)
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="watchfloor-resolve", daemon=True)
    worker.start()
    worker.join(clock.remaining(host))
    if worker.is_alive():
        raise FetchError(f"cannot resolve {host} within {clock.seconds:g} s", word="timeout")
    error = outcome.get("error")
    if isinstance(error, socket.gaierror):
        raise FetchError(f"cannot resolve host {host} ({error.strerror or error})", word="unreachable")
    if isinstance(error, (UnicodeError, ValueError)):
        raise _refuse(f"host name {host[:60]!r} is not a valid domain name")
    if isinstance(error, OSError):
        raise FetchError(f"cannot resolve host {host} ({_os_reason(error)})", word="unreachable")
    if isinstance(error, BaseException):
        raise error
    addresses = outcome.get("addresses")
    if not addresses:
        raise FetchError(f"host {host} resolves to no address", word="unreachable")
    return addresses  # type: ignore[return-value]


def _vet(url: str, allow_local: bool, clock: _Deadline) -> tuple[_Target, list[tuple[int, tuple]]]:
    """Parse the URL, resolve its host once, refuse it if ANY resolved address is refused."""
    target = _parse_url(url)
    addresses = _resolve_within(target.host, target.port, clock)
    seen: set[str] = set()
    usable: list[tuple[int, tuple]] = []
    for family, sockaddr in addresses:
        try:
            ip = ipaddress.ip_address(sockaddr[0])
        except ValueError:
            raise _refuse(f"host {target.host} resolves to an unreadable address") from None
        reason = _address_refusal(ip, allow_local)
        if reason:
            shown = target.host if str(ip) == target.host else f"{target.host} ({ip})"
            raise _refuse(f"address of {shown} is {reason}; refused to fetch from it")
        if str(ip) not in seen:
            seen.add(str(ip))
            usable.append((family, sockaddr))
    return target, usable


def check_url(url: str, *, allow_local: bool = False) -> None:
    """Raise FetchError(word="refused") unless ``url`` may be fetched: an http(s) URL without
    credentials whose host resolves only to allowed addresses (public ones; loopback too when
    ``allow_local``). Resolves the name; a name that does not resolve raises word="unreachable"."""
    _vet(url, allow_local, _Deadline(FetchLimits.deadline))


# --- the connection -------------------------------------------------------------------------------


def _connect(family: int, sockaddr: tuple, timeout: float) -> socket.socket:
    """A TCP connection to exactly this checked address; a seam for tests."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(sockaddr)
    except BaseException:
        sock.close()
        raise
    return sock


def _connect_any(host: str, port: int, addresses: list[tuple[int, tuple]], clock: _Deadline) -> socket.socket:
    """Connect to the first of ``addresses`` that answers, within the deadline."""
    failure: OSError | None = None
    for family, sockaddr in addresses:
        try:
            return _connect(family, sockaddr, clock.remaining(host))
        except TimeoutError:
            clock.remaining(host)  # raises timeout when the whole deadline went
            failure = TimeoutError("connect timed out")
        except OSError as exc:
            failure = exc
    reason = _os_reason(failure) if failure else "no address"
    raise FetchError(f"cannot connect to {host} port {port} ({reason})", word="unreachable")


def _open(target: _Target, addresses: list[tuple[int, tuple]], clock: _Deadline) -> socket.socket:
    """Connect to the first checked address that answers; TLS-wrap for https."""
    sock = _connect_any(target.host, target.port, addresses, clock)
    return _tls(sock, target, clock) if target.scheme == "https" else sock


def _tls(sock: socket.socket, target: _Target, clock: _Deadline) -> socket.socket:
    try:
        sock.settimeout(clock.remaining(target.host))
        # The handshake's own timeout is total in CPython's ssl module, so the deadline holds.
        return ssl.create_default_context().wrap_socket(sock, server_hostname=target.host)
    except BaseException as exc:
        sock.close()
        if isinstance(exc, ssl.SSLCertVerificationError):
            detail = exc.verify_message or "verification failed"
            raise FetchError(f"TLS certificate of {target.host} not trusted ({detail})", word="unreachable") from None
        if isinstance(exc, TimeoutError):
            clock.remaining(target.host)
            raise FetchError(f"TLS handshake with {target.host} timed out", word="timeout") from None
        if isinstance(exc, OSError):
            raise FetchError(
                f"TLS handshake with {target.host} failed ({_os_reason(exc)})", word="unreachable"
            ) from None
        raise


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__


class _DeadlineReader(io.RawIOBase):
    """Raw reads from the socket, each with the time remaining as its timeout, the clock checked
    before and after; so a server dripping a byte a second is cut at the total deadline."""

    def __init__(self, sock: socket.socket, clock: _Deadline) -> None:
        super().__init__()
        self._sock = sock
        self._clock = clock

    def readable(self) -> bool:
        return True

    def _left(self) -> float:
        left = self._clock.end - time.monotonic()
        if left <= 0:
            raise _DeadlineExceeded("deadline passed")
        return left

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        self._sock.settimeout(self._left())
        count = self._sock.recv_into(buffer)
        if count:
            self._left()
        return count


class _DeadlineSocket:
    """What http.client sees as its socket: sends and reads bounded by the one deadline."""

    def __init__(self, sock: socket.socket, clock: _Deadline) -> None:
        self._sock = sock
        self._clock = clock

    def sendall(self, data: bytes) -> None:
        left = self._clock.end - time.monotonic()
        if left <= 0:
            raise _DeadlineExceeded("deadline passed")
        self._sock.settimeout(left)
        self._sock.sendall(data)

    def makefile(self, mode: str = "rb", *args: object, **kwargs: object) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._clock), _READ_CHUNK)

    def close(self) -> None:
        # http.client closes "the connection" as soon as the headers say Connection: close, while
        # the body is still to be read; fetch() closes the real socket when it is done.
        return


# --- the body ---------------------------------------------------------------------------------------


class _Body:
    """Collects the body under the cap, decoding gzip/deflate incrementally."""

    def __init__(self, encoding: str, cap: int, host: str) -> None:
        self.cap = cap
        self.host = host
        self.raw_bytes = 0
        self.parts: list[bytes] = []
        self.size = 0
        self.encoding = encoding
        self._decoder: zlib._Decompress | None = None
        self._pending = b""  # deflate: the first bytes, until zlib-wrapped vs raw can be told
        if encoding == "gzip":
            self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def _too_large(self, what: str) -> FetchError:
        return FetchError(f"{what} from {self.host} exceeds the {_size(self.cap)} cap; stopped", word="too-large")

    def _keep(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.cap:
            raise self._too_large("decoded body" if self.encoding else "body")
        if data:
            self.parts.append(data)

    def feed(self, data: bytes) -> None:
        self.raw_bytes += len(data)
        if self.raw_bytes > self.cap:
            raise self._too_large("body")
        if not self.encoding:
            self._keep(data)
            return
        if self._decoder is None:  # deflate, not yet started
            self._pending += data
            if len(self._pending) < 2:
                return
            data, self._pending = self._pending, b""
            first = (data[0] << 8) | data[1]
            # RFC 9110 "deflate" is zlib-wrapped, but many servers send raw deflate.
            zlib_wrapped = data[0] & 0x0F == 8 and first % 31 == 0
            self._decoder = zlib.decompressobj(zlib.MAX_WBITS if zlib_wrapped else -zlib.MAX_WBITS)
        self._decode(data)

    def _decode(self, data: bytes) -> None:
        decoder = self._decoder
        assert decoder is not None
        while data:
            if decoder.eof:
                if self.encoding != "gzip" or not decoder.unused_data.lstrip(b"\0"):
                    return  # trailing padding after the stream: ignored
                # A gzip file may hold several members; each is decoded under the same cap.
                data = decoder.unused_data
                decoder = self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                # max_length: never more than one byte past the cap is ever produced.
                out = decoder.decompress(data, self.cap - self.size + 1)
            except zlib.error as exc:
                raise FetchError(
                    f"{self.encoding} body from {self.host} is corrupt ({exc})", word="bad-response"
                ) from None
            self._keep(out)
            data = decoder.unconsumed_tail if not decoder.eof else decoder.unused_data

    def finish(self) -> bytes:
        if self.encoding:
            if self._decoder is None:
                if self._pending:
                    raise FetchError(f"{self.encoding} body from {self.host} is truncated", word="bad-response")
                return b""  # an empty body carries no stream at all
            if not self._decoder.eof:
                try:
                    self._keep(self._decoder.flush())
                except zlib.error:
                    pass
                if not self._decoder.eof:
                    raise FetchError(f"{self.encoding} body from {self.host} is truncated", word="bad-response")
        return b"".join(self.parts)


def _size(count: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if count >= scale:
            return f"{count / scale:g} {unit}"
    return f"{count} bytes"


def _content_encoding(response: http.client.HTTPResponse, host: str) -> str:
    value = (response.getheader("Content-Encoding") or "").strip().lower()
    if value in ("", "identity"):
        return ""
    if value in ("gzip", "x-gzip"):
        return "gzip"
    if value == "deflate":
        return "deflate"
    shown = _header_token(value) or "unreadable"
    raise FetchError(f"{host} answered with unsupported Content-Encoding {shown!r}", word="bad-response")


def _header_token(value: str | None) -> str | None:
    """A header value reduced to something safe to show: printable ASCII, short."""
    if not value:
        return None
    cleaned = "".join(ch for ch in value if 32 < ord(ch) < 127)[:60]
    return cleaned or None


def _media_type(value: str | None) -> str | None:
    if not value:
        return None
    match = _MEDIA_TYPE.match(value.strip())
    return match.group(0).lower() if match else None


def _read_body(response: http.client.HTTPResponse, cap: int, host: str) -> bytes:
    declared_text = response.getheader("Content-Length")
    declared: int | None = None
    if declared_text is not None and not response.chunked:
        if not declared_text.strip().isdigit():
            # Unreadable or conflicting lengths are how responses get smuggled; refuse them.
            raise FetchError(f"{host} sent an invalid Content-Length", word="bad-response")
        declared = int(declared_text)
        if declared > cap:
            raise FetchError(
                f"body from {host} is {_size(declared)} by Content-Length, over the {_size(cap)} cap; not read",
                word="too-large",
            )
    body = _Body(_content_encoding(response, host), cap, host)
    while True:
        chunk = response.read(_READ_CHUNK)
        if not chunk:
            break
        body.feed(chunk)
    if declared is not None and body.raw_bytes < declared:
        # http.client does not raise here: a body cut short must not pass for a whole document.
        raise FetchError(
            f"{host} closed the connection after {body.raw_bytes} of {declared} bytes", word="bad-response"
        )
    return body.finish()


# --- one request, then the redirect loop ----------------------------------------------------------


@dataclass(frozen=True)
class Proxy:
    """An HTTP proxy the operator configured (``HTTPS_PROXY``/``HTTP_PROXY``): trusted by
    configuration, so it is not refused for being on a private address."""

    host: str
    port: int
    authorization: str | None = None  # "Basic ..." from user:password in its URL

    @classmethod
    def from_url(cls, url: str) -> Proxy:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"proxy {url[:80]!r}: only http://host:port proxies are supported")
        auth = None
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            auth = "Basic " + base64.b64encode(pair).decode()
        return cls(parts.hostname, parts.port or 8080, auth)


def proxy_for(url: str, proxies: Mapping[str, str] | None) -> Proxy | None:
    """The proxy ``url`` goes through: ``proxies`` as ``urllib.request.getproxies_environment()``
    returns them ({"https": ..., "http": ..., "no": ...}), ``no`` listing hosts that go direct."""
    if not proxies:
        return None
    parts = urlsplit(url)
    chosen = proxies.get(parts.scheme)
    if not chosen or _bypassed(parts.hostname or "", proxies.get("no", "")):
        return None
    return Proxy.from_url(chosen)


def _bypassed(host: str, no_proxy: str) -> bool:
    host = host.lower().rstrip(".")
    for raw in no_proxy.split(","):
        entry = raw.strip().lower().rstrip(".")
        if not entry:
            continue
        if entry == "*":
            return True
        entry = entry.lstrip("*").lstrip(".")
        if host == entry or host.endswith("." + entry):
            return True
    return False


def _through_proxy(target: _Target, proxy: Proxy, clock: _Deadline) -> socket.socket:
    """A socket to ``target`` through ``proxy``: a CONNECT tunnel, TLS inside it, for https; for
    http the proxy connection itself (the request then names the absolute URL)."""
    addresses = _resolve_within(proxy.host, proxy.port, clock)
    sock = _connect_any(f"proxy {proxy.host}", proxy.port, addresses, clock)
    if target.scheme != "https":
        return sock
    try:
        authority = f"{target.host}:{target.port}" if ":" not in target.host else f"[{target.host}]:{target.port}"
        head = f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n"
        if proxy.authorization:
            head += f"Proxy-Authorization: {proxy.authorization}\r\n"
        _DeadlineSocket(sock, clock).sendall((head + "\r\n").encode("ascii"))
        reply = b""
        while b"\r\n\r\n" not in reply:
            sock.settimeout(clock.remaining(target.host))
            chunk = sock.recv(1024)
            if not chunk or len(reply) > 16_384:
                raise FetchError(f"proxy {proxy.host} closed the tunnel to {target.host}", word="unreachable")
            reply += chunk
        status_line = reply.split(b"\r\n", 1)[0].decode("latin-1")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or parts[1] != "200":
            raise FetchError(f"proxy {proxy.host} refused the tunnel to {target.host} "
                             f"({_header_token(status_line) or 'no answer'})", word="unreachable")
        return _tls(sock, target, clock)
    except BaseException:
        sock.close()
        raise


def _request(
    target: _Target, addresses: list[tuple[int, tuple]], headers: dict[str, str], clock: _Deadline,
    proxy: Proxy | None = None,
) -> tuple[http.client.HTTPResponse, http.client.HTTPConnection, socket.socket]:
    """Send the GET on a fresh connection to a checked address (or through ``proxy``); the
    response headers are read."""
    sock = _through_proxy(target, proxy, clock) if proxy else _open(target, addresses, clock)
    request_target = target.request_target
    if proxy and target.scheme == "http":  # a plain-http proxy takes the absolute URL
        request_target = target.url
        headers = {**headers, **({"Proxy-Authorization": proxy.authorization} if proxy.authorization else {})}
    connection = http.client.HTTPConnection(target.host, target.port)
    if target.scheme == "https":
        connection.default_port = 443  # so the Host header omits the default port
    # A connected socket given to http.client: it never resolves or connects by itself.
    connection.sock = _DeadlineSocket(sock, clock)  # type: ignore[assignment]
    try:
        connection.request("GET", request_target, headers=headers)
        response = connection.getresponse()
    except BaseException:
        connection.close()
        sock.close()
        raise
    return response, connection, sock


def _wrap_errors(host: str, clock: _Deadline, exc: BaseException) -> FetchError:
    """One FetchError, with a one-line reason, for anything the network or the server did."""
    if isinstance(exc, FetchError):
        return exc
    if isinstance(exc, TimeoutError):
        return FetchError(f"no complete answer from {host} within {clock.seconds:g} s", word="timeout")
    if isinstance(exc, http.client.RemoteDisconnected):
        return FetchError(f"{host} closed the connection without answering", word="bad-response")
    if isinstance(exc, http.client.IncompleteRead):
        return FetchError(f"{host} closed the connection in the middle of the body", word="bad-response")
    if isinstance(exc, http.client.LineTooLong):
        return FetchError(f"{host} sent an over-long status or header line", word="bad-response")
    if isinstance(exc, http.client.HTTPException):
        return FetchError(f"{host} sent a response that is not valid HTTP ({type(exc).__name__})", word="bad-response")
    if isinstance(exc, OSError):
        return FetchError(f"connection to {host} failed while talking ({_os_reason(exc)})", word="bad-response")
    return FetchError(f"{host} sent a response that could not be read ({type(exc).__name__})", word="bad-response")


def _http_error(status: int, host: str, response: http.client.HTTPResponse) -> FetchError:
    try:
        phrase = f" {HTTPStatus(status).phrase}"
    except ValueError:
        phrase = ""
    content_type = _media_type(response.getheader("Content-Type"))
    body_note = f"{content_type} body ignored" if content_type else "body ignored"
    retry = _header_token(response.getheader("Retry-After"))
    retry_note = f"; Retry-After {retry}" if retry and status in (429, 503) else ""
    error = FetchError(f"HTTP {status}{phrase} from {host} ({body_note}){retry_note}", word="http-error", status=status)
    if status in (429, 503):
        error.retry_after = retry_after_seconds(retry)
    return error


MAX_RETRY_AFTER = 86_400.0  # a server asking for more than a day is asked again after a day


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    wait = when.timestamp() - (time.time() if now is None else now)
    return min(max(wait, 0.0), MAX_RETRY_AFTER)


def _sendable(value: str) -> bool:
    return len(value) <= 1024 and all(32 <= ord(ch) <= 126 for ch in value)


def fetch(
    url: str,
    *,
    limits: FetchLimits = FetchLimits(),  # noqa: B008 - frozen, so one shared default is safe
    etag: str | None = None,
    last_modified: str | None = None,
    user_agent: str = "Watchfloor/0.1 (+feed poller)",
    proxies: Mapping[str, str] | None = None,
) -> FetchResult:
    """GET ``url`` within ``limits`` and return the document, or raise FetchError.

    Sends ``If-None-Match``/``If-Modified-Since`` when ``etag``/``last_modified`` are given; a 304
    returns ``not_modified=True`` and an empty body (with the validators kept). Follows up to
    ``limits.max_redirects`` redirects, each hop vetted like the first URL. 4xx/5xx raise
    word="http-error" with the status; their bodies are never read.

    ``proxies`` ({"https": url, "http": url, "no": hosts}) sends requests through an HTTP proxy. The
    SSRF check still runs on every hop (the target's name is resolved and refused here if it
    names a private address), but the proxy resolves it again by itself: a name that changes its
    answer between the two lookups is the proxy's to catch.
    """
    clock = _Deadline(limits.deadline)
    headers = {
        "User-Agent": user_agent,
        "Accept": ACCEPT,
        "Accept-Encoding": "gzip, deflate",
        "Connection": "close",
    }
    if not _sendable(user_agent):
        raise ValueError(f"user_agent carries characters that cannot be sent: {user_agent[:40]!r}")
    # Validators were chosen by a server earlier; one that cannot be sent just means a full GET.
    if etag and _sendable(etag):
        headers["If-None-Match"] = etag
    if last_modified and _sendable(last_modified):
        headers["If-Modified-Since"] = last_modified

    visited: list[str] = []
    current = url
    while True:
        target, addresses = _vet(current, limits.allow_local, clock)
        visited.append(target.url)
        host = target.host
        connection: http.client.HTTPConnection | None = None
        sock: socket.socket | None = None
        try:
            response, connection, sock = _request(target, addresses, headers, clock, proxy_for(target.url, proxies))
            status, location = response.status, response.getheader("Location")
            log.debug("fetch hop", extra={"host": host, "status": status, "hop": len(visited)})
            if status in REDIRECT_STATUSES:
                if not location:
                    raise FetchError(f"HTTP {status} redirect from {host} names no Location", word="bad-response")
                next_url = urljoin(target.url, location.strip())
            elif status == 304:
                result = FetchResult(
                    url=target.url,
                    status=304,
                    body=b"",
                    etag=response.getheader("ETag") or etag,
                    last_modified=response.getheader("Last-Modified") or last_modified,
                    content_type=_media_type(response.getheader("Content-Type")),
                    not_modified=True,
                    elapsed=clock.elapsed(),
                )
                return result
            elif status >= 400:
                raise _http_error(status, host, response)
            elif status not in OK_STATUSES:
                raise FetchError(
                    f"HTTP {status} from {host} carries no feed document", word="bad-response", status=status
                )
            else:
                body = _read_body(response, limits.max_bytes, host)
                result = FetchResult(
                    url=target.url,
                    status=status,
                    body=body,
                    etag=response.getheader("ETag"),
                    last_modified=response.getheader("Last-Modified"),
                    content_type=_media_type(response.getheader("Content-Type")),
                    not_modified=False,
                    elapsed=clock.elapsed(),
                )
                log.debug("fetched", extra={"host": host, "status": status, "bytes": len(body)})
                return result
        except (OSError, http.client.HTTPException, ValueError, FetchError) as exc:
            raise _wrap_errors(host, clock, exc) from None
        finally:
            if connection is not None:
                connection.close()
            if sock is not None:
                sock.close()

        # A redirect: vet the next hop like the first URL, within the same deadline.
        if len(visited) > limits.max_redirects:
            raise FetchError(
                f"more than {limits.max_redirects} redirects starting at {urlsplit(url).hostname}; stopped",
                word="redirects",
            )
        parsed = _parse_url(next_url)
        if parsed.url in visited:
            raise FetchError(f"redirect loop at {parsed.host} after {len(visited)} hops; stopped", word="redirects")
        current = parsed.url
