"""ASGI plumbing the access guard is built from: request facts (headers, cookies, origin, proxies),
whether a Dash request is a person's, bodies read once and replayed, small responses, and the
minimal health report strangers get."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote, urlsplit

import orjson

from domain.access.audit import RequestContext
from domain.config.loader import ConfigError

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def cookies(scope: Scope) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header(scope, b"cookie"))
    except Exception:  # noqa: BLE001 - a malformed Cookie header is just no cookies
        return {}
    return {k: m.value for k, m in jar.items()}


def wants_html(scope: Scope) -> bool:
    accept = header(scope, b"accept")
    return "text/html" in accept or (not accept and scope["method"] == "GET")


def same_origin(scope: Scope, required: bool = False, behind_proxy: bool = False) -> bool:
    """Origin (when sent) names this host. Browsers send Origin on every cross-site POST."""
    origin = header(scope, b"origin")
    if not origin:
        return not required
    host = (header(scope, b"x-forwarded-host") if behind_proxy else "") or header(scope, b"host")
    return urlsplit(origin).netloc.lower() == host.split(",")[0].strip().lower()


def parse_proxies(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    nets = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"trusted_proxies: {item!r} is not an IP address or network (example: 10.0.0.5)") from None
    return tuple(nets)


def in_networks(address: str, nets: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    if not nets:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in nets)


def is_interaction(body: bytes, passive: frozenset[str]) -> bool:
    """A Dash callback request caused by a person, not by a timer (``*.n_intervals``)."""
    try:
        changed = orjson.loads(body).get("changedPropIds") or []
    except (orjson.JSONDecodeError, AttributeError):
        return False
    if not changed:
        return True  # initial call when a page loads
    suffixes = tuple(entry[1:] for entry in passive if entry.startswith("*"))
    return not all(str(p).endswith(".n_intervals") or str(p) in passive or (suffixes and str(p).endswith(suffixes))
                   for p in changed)


def ws_is_interaction(text: str, passive: frozenset[str]) -> bool:
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(message, dict) or message.get("type") != "callback_request":
        return False
    return is_interaction(orjson.dumps(message.get("payload") or {}), passive)


async def read_body(receive: Receive, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # like a client that stays connected
        return {"type": "http.disconnect"}

    return receive


async def respond(send: Send, status: int, payload: dict[str, Any],
                   extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = orjson.dumps(payload)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(extra or [])]})
    await send({"type": "http.response.body", "body": body})


async def redirect(send: Send, location: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": 303,
                "headers": [(b"location", quote(location, safe="/?=&%:+-._~").encode("latin-1")),
                            (b"content-length", b"0"), (b"content-type", b"text/html; charset=utf-8"),
                            *(extra or [])]})
    await send({"type": "http.response.body", "body": b""})


def refusal_to_403(send: Send, ctx: RequestContext) -> Send:
    """When ``requires`` refused the callback, answer 403 whatever the app was about to send."""
    swallowing = False

    async def wrapped(message: Message) -> None:
        nonlocal swallowing
        if message["type"] == "http.response.start" and ctx.refused:
            swallowing = True
            await respond(send, 403, {"error": "forbidden", "reason": ctx.refused[0]})
            return
        if swallowing:
            return
        await send(message)

    return wrapped


HEALTH_FEED_KEYS = ("status", "reason")


def minimal_health(send: Send) -> Send:
    """Unauthenticated /api/health: whether Redis answers, the event count, each feed's status."""
    start: Message | None = None
    chunks: list[bytes] = []

    async def wrapped(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if message["type"] != "http.response.body" or start is None:
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body"):
            return
        try:
            raw = b"".join(chunks)
            if (b"content-encoding", b"gzip") in [(k.lower(), v.lower()) for k, v in start.get("headers", [])]:
                raw = gzip.decompress(raw)  # compressed below us: read it, then answer uncompressed
            full = orjson.loads(raw)
            feeds = full.get("feeds") or {}
            body = orjson.dumps({
                "redis": bool(full.get("redis")),
                "events": int(full.get("events") or 0),
                "feeds": {str(fid): {k: f.get(k) for k in HEALTH_FEED_KEYS if k in f} for fid, f in feeds.items()},
                # whether each process runs, without its host and pid names
                "processes": {part: (full.get("processes") or {}).get(part, {}).get("status")
                              for part in ("fuser", "workers", "scheduler") if full.get("processes")},
            })
        except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError, OSError, EOFError):
            body = orjson.dumps({"redis": False, "events": 0, "feeds": {}})
        # The body is rebuilt here, uncompressed: a Content-Encoding from below would describe other bytes.
        headers = [(k, v) for k, v in start.get("headers", [])
                   if k.lower() not in (b"content-length", b"content-type", b"content-encoding")]
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return wrapped


