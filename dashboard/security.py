"""Access enforcement for the whole web server: one ASGI middleware in front of FastAPI and Dash.

``install_security(server, config, get_client)`` is called by ``create_app`` right after the FastAPI
server is created. From then on every request needs a live session (domain.access.sessions) except
the sign-in pages (``/login``, ``/logout``, ``/login.css``) and ``/api/health``, which answers
unauthenticated callers with a minimal report. Without a session a browser page is sent to
``/login?next=...``; anything else (``/_dash-*``, ``/api/*``, assets, WebSockets) gets 401 and an
audit record. Every response carries the security headers (CSP without inline script: Dash's
own inline renderer script is allowed by its hash; frame-ancestors; nosniff; Referrer-Policy;
HSTS under TLS).

Callbacks check roles on the server with the ``requires`` decorator::
    @app.callback(Output("note-status", "children"), Input("note-save", "n_clicks"), ...)
    @requires("operator")
    def save_note(...): ...

A caller below the role gets HTTP 403 (over a WebSocket: no update) and an audit record, and the
callback body never runs. ``current_user()`` gives the signed-in ``User`` inside callbacks and
routes.

Debug mode (``debug`` / ``DASH_DEBUG``) is refused unless ``environment = "development"``.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import inspect
import ipaddress
import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from http.cookies import SimpleCookie
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import orjson
import redis
from dash.exceptions import PreventUpdate
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from domain.access.accounts import AccountStore, Role, User
from domain.access.audit import RequestContext, audit, audit_refusal, request_context
from domain.access.sessions import Session, SessionKind, SessionLimits, SessionStore
from domain.config.loader import Config, ConfigError

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
F = TypeVar("F", bound=Callable[..., Any])

COOKIE = "wf_session"
COOKIE_TLS = "__Host-wf_session"  # the __Host- prefix: Secure, Path=/, no Domain, enforced by browsers
LOGIN_COOKIE = "wf_login"  # pre-session anti-forgery token of the sign-in form
LOGIN_COOKIE_TLS = "__Host-wf_login"
DISPLAY_TOKEN_PARAM = "display_token"
MAX_BODY = 32 * 1024 * 1024
MAX_FORM_BODY = 16 * 1024
WS_RECHECK_SECONDS = 10.0

PUBLIC_PATHS = {"/login", "/logout", "/login.css"}
METRICS_PATH = "/metrics"
PASSWORD_PATHS = {"/password"}  # what a session that must change its password may still reach
SCOPE_USER = "watchfloor.user"
SCOPE_SESSION = "watchfloor.session"
SCOPE_GUARD = "watchfloor.guard"


# -- public helpers for callbacks and routes --------------------------------------------------------
def current_user(request: Any = None) -> User | None:
    """The signed-in user of ``request`` (a Starlette Request or an ASGI scope), else of the
    request being served (callbacks: the context the middleware set); None when signed out."""
    if request is not None:
        scope = getattr(request, "scope", request)
        return scope.get(SCOPE_USER) if isinstance(scope, dict) else None
    ctx = request_context.get()
    return ctx.user if ctx is not None else None


def has_role(role: Role | str, user: User | None = None) -> bool:
    user = user if user is not None else current_user()
    return user is not None and not user.disabled and user.role.grants(role)


def requires(role: Role | str) -> Callable[[F], F]:
    """Refuse a callback to callers below ``role``: audit record, HTTP 403, body never runs.

    Put it under ``@app.callback``. Over HTTP the refusal is a 403 response (the middleware turns
    the PreventUpdate raised here into it, whatever error handler the app has); over a WebSocket
    the callback simply produces no update. PreventUpdate rather than an exception the app could
    catch: nothing is computed and nothing is sent, whichever transport carried the call."""
    needed = Role.parse(role) if not isinstance(role, Role) else role

    def decorate(func: F) -> F:
        def refuse() -> None:
            ctx = request_context.get()
            user = ctx.user if ctx is not None else None
            reason = f"needs role {needed.value}; has {user.role.value if user else 'no session'}"
            audit_refusal("callback", record=func.__qualname__, reason=reason, throttle=False)
            if ctx is not None:
                ctx.refused.append(reason)
            raise PreventUpdate

        if inspect.iscoroutinefunction(func):
            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                if not has_role(needed):
                    refuse()
                return await func(*args, **kwargs)

            async_wrapper.required_role = needed  # type: ignore[attr-defined]
            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not has_role(needed):
                refuse()
            return func(*args, **kwargs)

        wrapper.required_role = needed  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def safe_next(target: str | None) -> str:
    """A same-site relative path to return to after sign-in; "/" for anything else."""
    if not target or len(target) > 2000 or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ord(ch) < 0x20 or ch == "\\" for ch in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path in PUBLIC_PATHS | PASSWORD_PATHS:
        return "/"
    return target


def check_debug(config: Config) -> None:
    """ConfigError when debug is on outside development."""
    env_debug = os.environ.get("DASH_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")
    if (bool(config.values.get("debug")) or env_debug) and str(config.environment).lower() != "development":
        raise ConfigError(
            "debug mode (DASH_DEBUG) is refused in production: it shows tracebacks to anyone; "
            "unset DASH_DEBUG or set WATCHFLOOR_ENVIRONMENT=development on a development machine"
        )


# -- the guard ------------------------------------------------------------------------------------------
class AccessGuard:
    """Holds what the middleware and the sign-in routes share: settings, Redis, cookie rules, CSP."""

    def __init__(self, server: FastAPI, config: Config, get_client: Callable[[], redis.Redis | None],
                 passive_props: Iterable[str] = ()) -> None:
        self.server = server
        self.config = config
        self.get_client = get_client
        self.limits = SessionLimits.from_config(config)
        self.passive_props = frozenset(passive_props)
        self.retention_days = int(config.audit_retention_days)
        self.trusted = _parse_proxies(str(config.trusted_proxies))
        self._csp: tuple[int, str] | None = None

    # -- request facts ------------------------------------------------------------------------------
    def _peer(self, scope: Scope) -> str:
        client = scope.get("client")
        return str(client[0]) if client else "-"

    def _peer_trusted(self, scope: Scope) -> bool:
        return _in(self._peer(scope), self.trusted)

    def source(self, scope: Scope) -> str:
        """The caller's address: the peer, or the nearest untrusted X-Forwarded-For hop behind a
        trusted proxy."""
        peer = self._peer(scope)
        if not self._peer_trusted(scope):
            return peer
        hops = [h.strip() for h in _header(scope, b"x-forwarded-for").split(",") if h.strip()]
        for hop in reversed(hops):
            if not _in(hop, self.trusted):
                return hop[:64]
        return peer

    def is_tls(self, scope: Scope) -> bool:
        if scope.get("scheme") in ("https", "wss") or bool(self.config.secure_cookies):
            return True
        return self._peer_trusted(scope) and _header(scope, b"x-forwarded-proto").strip().lower() == "https"

    def sessions(self) -> SessionStore | None:
        client = self.get_client()
        return SessionStore(client, self.limits) if client is not None else None

    def cookie_value(self, scope: Scope, tls: bool) -> str:
        cookies = _cookies(scope)
        return cookies.get(COOKIE_TLS if tls else COOKIE, "") or cookies.get(COOKIE, "")

    def session_cookie(self, sid: str, tls: bool, kind: SessionKind) -> str:
        name = COOKIE_TLS if tls else COOKIE
        # SameSite=Strict: a cross-site link lands on the sign-in page rather than carrying the cookie.
        # Display screens keep theirs across browser restarts; people's end with the browser.
        max_age = f"; Max-Age={int(self.limits.display_max_seconds)}" if kind is SessionKind.DISPLAY else ""
        return f"{name}={sid}; Path=/; HttpOnly; SameSite=Strict{'; Secure' if tls else ''}{max_age}"

    def clear_cookies(self, tls: bool) -> list[str]:
        out = [f"{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{'; Secure' if tls else ''}"]
        if tls:
            out.append(f"{COOKIE_TLS}=; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age=0")
        return out

    def login_cookie_name(self, tls: bool) -> str:
        return LOGIN_COOKIE_TLS if tls else LOGIN_COOKIE

    # -- headers ------------------------------------------------------------------------------------
    def csp(self) -> str:
        hashes = self._dash_script_hashes()
        key = hash(tuple(hashes))
        if self._csp is None or self._csp[0] != key:
            script = " ".join(["'self'", *hashes])
            policy = (
                "default-src 'self'; "
                f"script-src {script}; "
                # Plotly and React set inline styles; styles cannot run code.
                "style-src 'self' 'unsafe-inline'; "
                "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
                # MapLibre (plotly map traces) starts its workers from blob: URLs.
                "worker-src 'self' blob:; child-src 'self' blob:; "
                "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
            )
            self._csp = (key, policy)
        return self._csp[1]

    def _dash_script_hashes(self) -> list[str]:
        """Hashes of Dash's inline scripts (the renderer start-up line, inline clientside callbacks)."""
        for middleware in getattr(self.server, "user_middleware", []):
            dash_app = getattr(middleware, "kwargs", {}).get("dash_app")
            if dash_app is not None:
                return list(dash_app.csp_hashes())
        return []

    def security_headers(self, tls: bool, content_type: str) -> list[tuple[bytes, bytes]]:
        headers = [
            (b"content-security-policy", self.csp().encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),  # no-referrer would make Chromium send "Origin: null" on our own forms
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"cross-origin-resource-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
        ]
        if tls:
            headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
        if content_type.startswith(("text/html", "application/json")):
            headers.append((b"cache-control", b"no-store"))
        return headers


# -- the middleware -------------------------------------------------------------------------------------
class AccessMiddleware:
    """Outermost ASGI layer: nothing reaches FastAPI or Dash without passing through here."""

    def __init__(self, app: ASGIApp, guard: AccessGuard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    # -- HTTP ---------------------------------------------------------------------------------------
    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        guard = self.guard
        tls = guard.is_tls(scope)
        ctx = RequestContext(guard.get_client, guard.source(scope), retention_days=guard.retention_days)
        token = request_context.set(ctx)
        scope[SCOPE_GUARD] = guard
        send = self._with_headers(send, tls, scope)
        try:
            await self._http_checked(scope, receive, send, ctx, tls)
        except (redis.RedisError, OSError) as exc:
            if scope.get("watchfloor.started"):
                raise
            log.warning("access check failed: Redis unreachable (%s)", type(exc).__name__)
            await _respond(send, 503, {"error": "unavailable", "reason": "sign-in service unreachable (Redis)"})
        finally:
            request_context.reset(token)

    async def _http_checked(self, scope: Scope, receive: Receive, send: Send, ctx: RequestContext, tls: bool) -> None:
        guard = self.guard
        path, method = scope["path"], scope["method"]
        length = _header(scope, b"content-length")
        if length.isdigit() and int(length) > (MAX_FORM_BODY if path in PUBLIC_PATHS | PASSWORD_PATHS else MAX_BODY):
            await _respond(send, 413, {"error": "request too large"})
            return
        if method not in ("GET", "HEAD", "OPTIONS") and not _same_origin(scope, behind_proxy=guard._peer_trusted(scope)):
            audit_refusal("access", record=f"{method} {path}", reason="cross-site request (Origin differs)", throttle=True)
            await _respond(send, 403, {"error": "cross-site request refused"})
            return
        if path in PUBLIC_PATHS or path == METRICS_PATH:  # /metrics checks its own token (dashboard/metrics.py)
            await self.app(scope, receive, send)
            return

        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        if method == "GET" and DISPLAY_TOKEN_PARAM in query:
            await self._exchange_display_token(scope, send, query, ctx, tls)
            return

        store = guard.sessions()
        if store is None:
            if path == "/api/health":
                await self.app(scope, receive, _minimal_health(send))  # the report says Redis is missing
                return
            await _respond(send, 503, {"error": "unavailable", "reason": "sign-in service unreachable (no Redis)"})
            return

        body: bytes | None = None
        active = False
        if path.endswith("/_dash-update-component") and method == "POST":
            body = await _read_body(receive, MAX_BODY)
            if body is None:
                await _respond(send, 413, {"error": "request too large"})
                return
            active = _is_interaction(body, guard.passive_props)
            receive = _replay(body)
        elif method == "GET" and _wants_html(scope) or path.startswith(("/_dash-layout", "/_dash-dependencies")):
            active = True
        elif path.startswith("/api/") and path not in ("/api/health", "/api/push"):
            active = True  # the push stream is the screen reconnecting by itself, not a person

        sid = guard.cookie_value(scope, tls)
        # In the thread pool: a slow store must not hold every other request on the event loop.
        session = await run_in_threadpool(store.get, sid, active=active) if sid else None
        if session is None:
            if path == "/api/health":
                await self.app(scope, receive, _minimal_health(send))
                return
            await self._refuse_unauthenticated(scope, send, path, method, had_cookie=bool(sid), tls=tls)
            return

        ctx.user = session.user
        scope[SCOPE_USER] = session.user
        scope[SCOPE_SESSION] = session
        if session.user.must_change_password and path not in PASSWORD_PATHS:
            if method == "GET" and _wants_html(scope):
                await _redirect(send, "/password")
            else:
                audit_refusal("access", record=f"{method} {path}", reason="password change required", throttle=False)
                await _respond(send, 403, {"error": "password change required", "location": "/password"})
            return
        await self.app(scope, receive, _refusal_to_403(send, ctx))

    async def _refuse_unauthenticated(self, scope: Scope, send: Send, path: str, method: str, *,
                                      had_cookie: bool, tls: bool) -> None:
        reason = "session ended or unknown" if had_cookie else "no session"
        audit_refusal("access", record=f"{method} {path}"[:200], reason=reason, throttle=True)
        extra = [(b"set-cookie", c.encode()) for c in self.guard.clear_cookies(tls)] if had_cookie else []
        if method == "GET" and _wants_html(scope) and not path.startswith(("/_dash-", "/api/")):
            target = path + ("?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else "")
            await _redirect(send, "/login?" + urlencode({"next": safe_next(target)}), extra)
            return
        await _respond(send, 401, {"error": "unauthenticated", "login": "/login"}, extra)

    async def _exchange_display_token(self, scope: Scope, send: Send, query: dict[str, str],
                                      ctx: RequestContext, tls: bool) -> None:
        """A display screen's URL token becomes a session cookie; the token leaves the address bar."""

        client = self.guard.get_client()
        if client is None:
            await _respond(send, 503, {"error": "unavailable", "reason": "sign-in service unreachable (no Redis)"})
            return
        user = AccountStore(client).display_for_token(query.pop(DISPLAY_TOKEN_PARAM, ""))
        rest = urlencode(query)
        target = safe_next(scope["path"] + ("?" + rest if rest else ""))
        if user is None:
            audit_refusal("login.display", record=scope["path"], reason="unknown, replaced or disabled display token",
                          throttle=True)
            await _redirect(send, "/login?" + urlencode({"next": target}))
            return
        store = SessionStore(client, self.guard.limits)
        old = self.guard.cookie_value(scope, tls)
        if old:
            store.revoke(old)
        sid, _ = store.create(user, SessionKind.DISPLAY, ctx.source)
        ctx.user = user
        audit("login.display", record=user.name, reason="display token exchanged for a session")
        await _redirect(send, target, [(b"set-cookie", self.guard.session_cookie(sid, tls, SessionKind.DISPLAY).encode())])

    def _with_headers(self, send: Send, tls: bool, scope: Scope) -> Send:
        guard = self.guard

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                scope["watchfloor.started"] = True
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                content_type = next((v.decode("latin-1") for k, v in headers if k.lower() == b"content-type"), "")
                for name, value in guard.security_headers(tls, content_type):
                    if name not in present:
                        headers.append((name, value))
                message = {**message, "headers": headers}
            await send(message)

        return wrapped

    # -- WebSocket -----------------------------------------------------------------------------------
    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        guard = self.guard
        tls = guard.is_tls(scope)
        ctx = RequestContext(guard.get_client, guard.source(scope), retention_days=guard.retention_days)
        token = request_context.set(ctx)
        try:
            store = guard.sessions()
            sid = guard.cookie_value(scope, tls)
            try:
                session = store.get(sid, active=True) if store is not None and sid else None
            except (redis.RedisError, OSError):
                session = None
            if session is None or session.user.must_change_password or not _same_origin(scope, True, guard._peer_trusted(scope)):
                await receive()  # websocket.connect
                reason = "no session" if session is None else "password change required or cross-site"
                audit_refusal("access", record=f"WS {scope['path']}"[:200], reason=reason, throttle=session is None)
                await send({"type": "websocket.close", "code": 4401})  # before accept: HTTP 403
                return
            ctx.user = session.user
            scope[SCOPE_USER] = session.user
            scope[SCOPE_SESSION] = session
            await self._websocket_watched(scope, receive, send, ctx, store, sid)  # type: ignore[arg-type]
        finally:
            request_context.reset(token)

    async def _websocket_watched(self, scope: Scope, receive: Receive, send: Send, ctx: RequestContext,
                                 store: SessionStore, sid: str) -> None:
        """Re-check the session while the socket is open: a revoked or idle session closes it."""
        ended = asyncio.Event()
        passive = self.guard.passive_props

        def still_valid(active: bool) -> bool:
            try:
                session = store.get(sid, active=active)
            except (redis.RedisError, OSError):
                return True  # Redis blip: keep the screen; the next check decides
            if session is None:
                return False
            ctx.user = session.user
            return True

        async def watch() -> None:
            while not ended.is_set():
                await asyncio.sleep(WS_RECHECK_SECONDS)
                if not still_valid(False):
                    ended.set()
                    audit("session.end", record="websocket", outcome="refused", reason="session ended; socket closed")
                    try:
                        await send({"type": "websocket.close", "code": 4401, "reason": "session ended"})
                    except Exception:  # noqa: BLE001 - the socket may already be gone
                        pass

        async def guarded_receive() -> Message:
            if ended.is_set():
                return {"type": "websocket.disconnect", "code": 4401}
            incoming = asyncio.ensure_future(receive())
            stop = asyncio.ensure_future(ended.wait())
            done, _ = await asyncio.wait({incoming, stop}, return_when=asyncio.FIRST_COMPLETED)
            if incoming not in done:
                incoming.cancel()
                return {"type": "websocket.disconnect", "code": 4401}
            stop.cancel()
            message = incoming.result()
            if message.get("type") == "websocket.receive" and message.get("text"):
                if _ws_is_interaction(message["text"], passive) and not still_valid(True):
                    ended.set()
                    return {"type": "websocket.disconnect", "code": 4401}
            return message

        watcher = asyncio.ensure_future(watch())
        try:
            await self.app(scope, guarded_receive, send)
        finally:
            ended.set()
            watcher.cancel()


# -- installing ---------------------------------------------------------------------------------------
def install_security(server: FastAPI, config: Config, get_client: Callable[[], redis.Redis | None], *,
                     passive_props: Iterable[str] = ()) -> AccessGuard:
    """Put access control in front of everything ``server`` serves; see the module docstring.

    ``passive_props``: "component.prop" inputs that timers drive besides ``*.n_intervals``; callbacks
    they trigger do not count as a person's interaction for the idle timeout. An entry starting with
    "*" matches by suffix (pattern-matching ids: '*"wf":"wake"}.data').

    The sign-in pages are the caller's to add (:func:`dashboard.login.register_login_routes`).
    Raises ConfigError when debug mode is on outside development."""
    check_debug(config)
    guard = AccessGuard(server, config, get_client, passive_props)
    build = server.build_middleware_stack

    # Outermost, whatever middleware Dash adds later: the check runs before Dash reads a body.
    def build_with_guard() -> ASGIApp:
        return AccessMiddleware(build(), guard)

    server.build_middleware_stack = build_with_guard  # type: ignore[method-assign]
    return guard


# -- small helpers ----------------------------------------------------------------------------------
def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def _cookies(scope: Scope) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(_header(scope, b"cookie"))
    except Exception:  # noqa: BLE001 - a malformed Cookie header is just no cookies
        return {}
    return {k: m.value for k, m in jar.items()}


def _wants_html(scope: Scope) -> bool:
    accept = _header(scope, b"accept")
    return "text/html" in accept or (not accept and scope["method"] == "GET")


def _same_origin(scope: Scope, required: bool = False, behind_proxy: bool = False) -> bool:
    """Origin (when sent) names this host. Browsers send Origin on every cross-site POST."""
    origin = _header(scope, b"origin")
    if not origin:
        return not required
    host = (_header(scope, b"x-forwarded-host") if behind_proxy else "") or _header(scope, b"host")
    return urlsplit(origin).netloc.lower() == host.split(",")[0].strip().lower()


def _parse_proxies(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    nets = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"trusted_proxies: {item!r} is not an IP address or network (example: 10.0.0.5)") from None
    return tuple(nets)


def _in(address: str, nets: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    if not nets:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in nets)


def _is_interaction(body: bytes, passive: frozenset[str]) -> bool:
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


def _ws_is_interaction(text: str, passive: frozenset[str]) -> bool:
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(message, dict) or message.get("type") != "callback_request":
        return False
    return _is_interaction(orjson.dumps(message.get("payload") or {}), passive)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
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


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # like a client that stays connected
        return {"type": "http.disconnect"}

    return receive


async def _respond(send: Send, status: int, payload: dict[str, Any],
                   extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = orjson.dumps(payload)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(extra or [])]})
    await send({"type": "http.response.body", "body": body})


async def _redirect(send: Send, location: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": 303,
                "headers": [(b"location", quote(location, safe="/?=&%:+-._~").encode("latin-1")),
                            (b"content-length", b"0"), (b"content-type", b"text/html; charset=utf-8"),
                            *(extra or [])]})
    await send({"type": "http.response.body", "body": b""})


def _refusal_to_403(send: Send, ctx: RequestContext) -> Send:
    """When ``requires`` refused the callback, answer 403 whatever the app was about to send."""
    swallowing = False

    async def wrapped(message: Message) -> None:
        nonlocal swallowing
        if message["type"] == "http.response.start" and ctx.refused:
            swallowing = True
            await _respond(send, 403, {"error": "forbidden", "reason": ctx.refused[0]})
            return
        if swallowing:
            return
        await send(message)

    return wrapped


HEALTH_FEED_KEYS = ("status", "reason")


def _minimal_health(send: Send) -> Send:
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


def session_of(scope_or_request: Any) -> Session | None:
    scope = getattr(scope_or_request, "scope", scope_or_request)
    return scope.get(SCOPE_SESSION) if isinstance(scope, dict) else None
