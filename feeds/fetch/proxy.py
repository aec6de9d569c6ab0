"""Feeds through an operator's HTTP proxy: CONNECT tunnels for https, absolute URLs for http."""

from __future__ import annotations

import base64
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from feeds.fetch.addresses import _resolve_within
from feeds.fetch.body import _header_token
from feeds.fetch.connection import _connect_any, _DeadlineSocket, _tls
from feeds.fetch.limits import FetchError, _Deadline, _Target


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


