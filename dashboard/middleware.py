"""The access middleware: the outermost ASGI layer, through which every request and WebSocket passes
(see :mod:`dashboard.security` for what it enforces), and :func:`install_security`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl, urlencode

import redis
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request as StarletteRequest

from dashboard.asgi import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    header,
    is_interaction,
    minimal_health,
    read_body,
    redirect,
    refusal_to_403,
    replay,
    respond,
    same_origin,
    wants_html,
    ws_is_interaction,
)
from dashboard.security import (
    DISPLAY_TOKEN_PARAM,
    INGEST_PATH,
    MAX_BODY,
    MAX_FORM_BODY,
    MAX_TIP_BODY,
    METRICS_PATH,
    PASSWORD_PATHS,
    PUBLIC_PATHS,
    SCOPE_GUARD,
    SCOPE_SESSION,
    SCOPE_USER,
    SHARE_PREFIX,
    TIP_PATHS,
    WS_RECHECK_SECONDS,
    AccessGuard,
    check_debug,
    safe_next,
)
from domain.access.accounts import AccountStore
from domain.access.audit import RequestContext, audit, audit_refusal, request_context
from domain.access.sessions import SessionKind, SessionStore
from domain.config.loader import Config

# What an open screen asks for by itself (its push stream, its session check): never a person's
# activity, so never a renewal of the idle clock.
PASSIVE_PATHS = {"/api/push", "/api/session"}
BACKGROUND_HEADER = b"x-watchfloor-background"

log = logging.getLogger(__name__)



# -- the middleware -------------------------------------------------------------------------------------

def origin_of(scope: Scope) -> str:
    """Where the request came to, as an http(s) origin with a trailing slash (a WebSocket's too):
    what Starlette's ``base_url`` says for the app's own routes (dashboard/tiles.py)."""
    try:  # (base_url reads the scope alone: a Request over a WebSocket's scope, its type made http)
        url = str(StarletteRequest(scope if scope["type"] == "http" else {**scope, "type": "http"}).base_url)
    except (KeyError, ValueError, AssertionError):
        return ""
    return "http" + url[2:] if url.startswith("ws") else url

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
        ctx = RequestContext(guard.get_client, guard.source(scope), retention_days=guard.retention_days,
                             origin=origin_of(scope))
        token = request_context.set(ctx)
        scope[SCOPE_GUARD] = guard
        send = self._with_headers(send, tls, scope)
        try:
            await self._http_checked(scope, receive, send, ctx, tls)
        except (redis.RedisError, OSError) as exc:
            if scope.get("watchfloor.started"):
                raise
            log.warning("access check failed: Redis unreachable (%s)", type(exc).__name__)
            await respond(send, 503, {"error": "unavailable", "reason": "sign-in service unreachable (Redis)"})
        finally:
            request_context.reset(token)

    async def _http_checked(self, scope: Scope, receive: Receive, send: Send, ctx: RequestContext, tls: bool) -> None:
        guard = self.guard
        path, method = scope["path"], scope["method"]
        length = header(scope, b"content-length")
        cap = MAX_TIP_BODY if path in TIP_PATHS else MAX_FORM_BODY if path in PUBLIC_PATHS | PASSWORD_PATHS else MAX_BODY
        if length.isdigit() and int(length) > cap:
            await respond(send, 413, {"error": "request too large"})
            return
        if path == INGEST_PATH and method == "POST":
            await self.app(scope, receive, send)  # its Bearer token is checked by the route (dashboard/ingest.py)
            return
        if method not in ("GET", "HEAD", "OPTIONS") and not same_origin(scope, behind_proxy=guard._peer_trusted(scope)):
            audit_refusal("access", record=f"{method} {path}", reason="cross-site request (Origin differs)", throttle=True)
            await respond(send, 403, {"error": "cross-site request refused"})
            return
        if path in PUBLIC_PATHS or path == METRICS_PATH or (path.startswith(SHARE_PREFIX) and method == "GET"):
            # /metrics checks its own token (dashboard/metrics.py); a share link is its own key (dashboard/share.py)
            await self.app(scope, receive, send)
            return

        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        if method == "GET" and DISPLAY_TOKEN_PARAM in query:
            await self._exchange_display_token(scope, send, query, ctx, tls)
            return

        store = guard.sessions()
        if store is None:
            if path == "/api/health":
                await self.app(scope, receive, minimal_health(send))  # the report says Redis is missing
                return
            await respond(send, 503, {"error": "unavailable", "reason": "sign-in service unreachable (no Redis)"})
            return

        body: bytes | None = None
        active = False
        if path.endswith("/_dash-update-component") and method == "POST":
            body = await read_body(receive, MAX_BODY)
            if body is None:
                await respond(send, 413, {"error": "request too large"})
                return
            active = is_interaction(body, guard.passive_props)
            receive = replay(body)
        elif method == "GET" and wants_html(scope) or path.startswith(("/_dash-layout", "/_dash-dependencies")):
            active = True
        elif path.startswith("/api/") and path != "/api/health":
            active = path not in PASSIVE_PATHS  # a screen's push stream and session check: not a person
        if header(scope, BACKGROUND_HEADER):
            active = False  # the page's own request says so; believed only to NOT renew the idle clock

        sid = guard.cookie_value(scope, tls)
        # In the thread pool: a slow store must not hold every other request on the event loop.
        session = await run_in_threadpool(store.get, sid, active=active) if sid else None
        if session is None:
            if path == "/api/health":
                await self.app(scope, receive, minimal_health(send))
                return
            await self._refuse_unauthenticated(scope, send, path, method, had_cookie=bool(sid), tls=tls)
            return

        ctx.user = session.user
        scope[SCOPE_USER] = session.user
        scope[SCOPE_SESSION] = session
        if session.user.must_change_password and path not in PASSWORD_PATHS:
            if method == "GET" and wants_html(scope):
                await redirect(send, "/password")
            else:
                audit_refusal("access", record=f"{method} {path}", reason="password change required", throttle=False)
                await respond(send, 403, {"error": "password change required", "location": "/password"})
            return
        await self.app(scope, receive, refusal_to_403(send, ctx))

    async def _refuse_unauthenticated(self, scope: Scope, send: Send, path: str, method: str, *,
                                      had_cookie: bool, tls: bool) -> None:
        reason = "session ended or unknown" if had_cookie else "no session"
        audit_refusal("access", record=f"{method} {path}"[:200], reason=reason, throttle=True)
        extra = [(b"set-cookie", c.encode()) for c in self.guard.clear_cookies(tls)] if had_cookie else []
        if method == "GET" and wants_html(scope) and not path.startswith(("/_dash-", "/api/")):
            target = path + ("?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else "")
            await redirect(send, "/login?" + urlencode({"next": safe_next(target)}), extra)
            return
        await respond(send, 401, {"error": "unauthenticated", "login": "/login"}, extra)

    async def _exchange_display_token(self, scope: Scope, send: Send, query: dict[str, str],
                                      ctx: RequestContext, tls: bool) -> None:
        """A display screen's URL token becomes a session cookie; the token leaves the address bar."""

        client = self.guard.get_client()
        if client is None:
            await respond(send, 503, {"error": "unavailable", "reason": "sign-in service unreachable (no Redis)"})
            return
        user = AccountStore(client).display_for_token(query.pop(DISPLAY_TOKEN_PARAM, ""))
        rest = urlencode(query)
        target = safe_next(scope["path"] + ("?" + rest if rest else ""))
        if user is None:
            audit_refusal("login.display", record=scope["path"], reason="unknown, replaced or disabled display token",
                          throttle=True)
            await redirect(send, "/login?" + urlencode({"next": target}))
            return
        store = SessionStore(client, self.guard.limits)
        old = self.guard.cookie_value(scope, tls)
        if old:
            store.revoke(old)
        sid, _ = store.create(user, SessionKind.DISPLAY, ctx.source)
        ctx.user = user
        audit("login.display", record=user.name, reason="display token exchanged for a session")
        await redirect(send, target, [(b"set-cookie", self.guard.session_cookie(sid, tls, SessionKind.DISPLAY).encode())])

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
        ctx = RequestContext(guard.get_client, guard.source(scope), retention_days=guard.retention_days,
                             origin=origin_of(scope))
        token = request_context.set(ctx)
        try:
            store = guard.sessions()
            sid = guard.cookie_value(scope, tls)
            try:
                session = store.get(sid, active=True) if store is not None and sid else None
            except (redis.RedisError, OSError):
                session = None
            if session is None or session.user.must_change_password or not same_origin(scope, True, guard._peer_trusted(scope)):
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
                if ws_is_interaction(message["text"], passive) and not still_valid(True):
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


