"""One GET on a fresh connection, redirects each vetted again, errors in one line: :func:`fetch`."""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from urllib.parse import urljoin, urlsplit

from feeds.fetch.addresses import _parse_url, _vet
from feeds.fetch.body import _header_token, _media_type, _read_body
from feeds.fetch.connection import _DeadlineSocket, _open
from feeds.fetch.limits import (
    ACCEPT,
    OK_STATUSES,
    REDIRECT_STATUSES,
    FetchError,
    FetchLimits,
    FetchResult,
    _Deadline,
    _os_reason,
    _Target,
    log,
)
from feeds.fetch.proxy import Proxy, _through_proxy, proxy_for


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
    headers = _headers(user_agent, etag, last_modified)
    visited: list[str] = []
    current = url
    while True:
        target, addresses = _vet(current, limits.allow_local, clock)
        visited.append(target.url)
        hop = _hop(target, addresses, headers, clock, limits, proxies, len(visited), etag, last_modified)
        if isinstance(hop, FetchResult):
            return hop
        current = _redirect(url, hop, visited, limits)


def _headers(user_agent: str, etag: str | None, last_modified: str | None) -> dict[str, str]:
    """The request headers, with the validators that can be sent; ValueError for an unsendable user agent."""
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
    return headers


def _hop(
    target: _Target,
    addresses: list[tuple[int, tuple]],
    headers: dict[str, str],
    clock: _Deadline,
    limits: FetchLimits,
    proxies: Mapping[str, str] | None,
    hop: int,
    etag: str | None,
    last_modified: str | None,
) -> FetchResult | str:
    """One GET to a vetted target: the result, or the absolute URL a redirect names."""
    host = target.host
    connection: http.client.HTTPConnection | None = None
    sock: socket.socket | None = None
    try:
        response, connection, sock = _request(target, addresses, headers, clock, proxy_for(target.url, proxies))
        status, location = response.status, response.getheader("Location")
        log.debug("fetch hop", extra={"host": host, "status": status, "hop": hop})
        if status in REDIRECT_STATUSES:
            if not location:
                raise FetchError(f"HTTP {status} redirect from {host} names no Location", word="bad-response")
            return urljoin(target.url, location.strip())
        return _result(target, response, clock, limits, etag, last_modified)
    except (OSError, http.client.HTTPException, ValueError, FetchError) as exc:
        raise _wrap_errors(host, clock, exc) from None
    finally:
        if connection is not None:
            connection.close()
        if sock is not None:
            sock.close()


def _result(
    target: _Target,
    response: http.client.HTTPResponse,
    clock: _Deadline,
    limits: FetchLimits,
    etag: str | None,
    last_modified: str | None,
) -> FetchResult:
    """The FetchResult of a response that is no redirect (a 304 keeps the validators); FetchError for the rest."""
    host, status = target.host, response.status
    if status == 304:
        return FetchResult(
            url=target.url,
            status=304,
            body=b"",
            etag=response.getheader("ETag") or etag,
            last_modified=response.getheader("Last-Modified") or last_modified,
            content_type=_media_type(response.getheader("Content-Type")),
            not_modified=True,
            elapsed=clock.elapsed(),
        )
    if status >= 400:
        raise _http_error(status, host, response)
    if status not in OK_STATUSES:
        raise FetchError(f"HTTP {status} from {host} carries no feed document", word="bad-response", status=status)
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


def _redirect(url: str, next_url: str, visited: list[str], limits: FetchLimits) -> str:
    """The redirect decision: the next hop's URL, or FetchError past the limit or in a loop."""
    # A redirect: vet the next hop like the first URL, within the same deadline.
    if len(visited) > limits.max_redirects:
        raise FetchError(
            f"more than {limits.max_redirects} redirects starting at {urlsplit(url).hostname}; stopped",
            word="redirects",
        )
    parsed = _parse_url(next_url)
    if parsed.url in visited:
        raise FetchError(f"redirect loop at {parsed.host} after {len(visited)} hops; stopped", word="redirects")
    return parsed.url
