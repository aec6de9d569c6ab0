"""Access enforcement for the whole web server: one ASGI middleware in front of FastAPI and Dash.

``install_security(server, config, get_client)`` (:mod:`dashboard.middleware`) is called by ``create_app`` after the FastAPI
server is created. From then on every request needs a live session (domain.access.sessions) except
the sign-in pages (``/login``, ``/logout``, ``/login.css``), the public tip page (``/tip``,
``/tip/more``, ``/tip.css``, ``/tip.js``), partner pushes to ``POST /api/ingest`` (their own Bearer
token, checked by dashboard/ingest.py) and ``/api/health``, which answers
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

import functools
import inspect
import logging
import os
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis
from dash.exceptions import PreventUpdate
from fastapi import FastAPI

from dashboard.asgi import (
    Scope,
    cookies,
    header,
    in_networks,
    parse_proxies,
)
from domain.access.accounts import Role, User
from domain.access.audit import audit_refusal, request_context
from domain.access.sessions import Session, SessionKind, SessionLimits, SessionStore
from domain.config.loader import Config, ConfigError

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

COOKIE = "wf_session"
COOKIE_TLS = "__Host-wf_session"  # the __Host- prefix: Secure, Path=/, no Domain, enforced by browsers
LOGIN_COOKIE = "wf_login"  # pre-session anti-forgery token of the sign-in form
LOGIN_COOKIE_TLS = "__Host-wf_login"
DISPLAY_TOKEN_PARAM = "display_token"
MAX_BODY = 32 * 1024 * 1024
MAX_FORM_BODY = 16 * 1024
MAX_TIP_BODY = 64 * 1024  # a tip's 8,000-character account, percent-encoded, with its people and vehicles
WS_RECHECK_SECONDS = 10.0
CSP_RECHECK_SECONDS = 1.0

PUBLIC_PATHS = {"/login", "/logout", "/login.css"}
TIP_PATHS = {"/tip", "/tip/more", "/tip.css", "/tip.js"}  # the public tip page (dashboard/tip.py)
PUBLIC_PATHS |= TIP_PATHS
SHARE_PREFIX = "/share/"  # GET /share/<token>: a read-only share link, its token the key (dashboard/share.py)
METRICS_PATH = "/metrics"
# POST /api/ingest: a partner's push, authenticated by its own Bearer token (dashboard/ingest.py), never a
# session cookie, so neither a session nor a same-origin check applies (nothing ambient to forge).
INGEST_PATH = "/api/ingest"
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
        self.trusted = parse_proxies(str(config.trusted_proxies))
        self._csp: tuple[int, str] | None = None
        self._csp_read = 0.0

    # -- request facts ------------------------------------------------------------------------------
    def _peer(self, scope: Scope) -> str:
        client = scope.get("client")
        return str(client[0]) if client else "-"

    def _peer_trusted(self, scope: Scope) -> bool:
        return in_networks(self._peer(scope), self.trusted)

    def source(self, scope: Scope) -> str:
        """The caller's address: the peer, or the nearest untrusted X-Forwarded-For hop behind a
        trusted proxy."""
        peer = self._peer(scope)
        if not self._peer_trusted(scope):
            return peer
        hops = [h.strip() for h in header(scope, b"x-forwarded-for").split(",") if h.strip()]
        for hop in reversed(hops):
            if not in_networks(hop, self.trusted):
                return hop[:64]
        return peer

    def is_tls(self, scope: Scope) -> bool:
        if scope.get("scheme") in ("https", "wss") or bool(self.config.secure_cookies):
            return True
        return self._peer_trusted(scope) and header(scope, b"x-forwarded-proto").strip().lower() == "https"

    def sessions(self) -> SessionStore | None:
        client = self.get_client()
        return SessionStore(client, self.limits) if client is not None else None

    def cookie_value(self, scope: Scope, tls: bool) -> str:
        jar = cookies(scope)
        return jar.get(COOKIE_TLS if tls else COOKIE, "") or jar.get(COOKIE, "")

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
        # Dash's inline scripts are set when the app is made: their hashes are read again once a
        # second, not on each of the hundreds of requests a second a floor of screens sends.
        if self._csp is not None and time.monotonic() - self._csp_read < CSP_RECHECK_SECONDS:
            return self._csp[1]
        self._csp_read = time.monotonic()
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


def session_of(scope_or_request: Any) -> Session | None:
    scope = getattr(scope_or_request, "scope", scope_or_request)
    return scope.get(SCOPE_SESSION) if isinstance(scope, dict) else None
