"""The Dash app factory: three screens on the FastAPI backend, plus ``GET /api/health``.

The server keeps no per-screen state: each screen holds its own stream cursor, so any number of
app processes behind a load balancer can answer any request.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

import dash
import orjson
import redis
from dash import Dash, html
from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware

from dashboard.api import is_partner, register_operator_api
from dashboard.audit_view import audit_layout, register_audit_page
from dashboard.links import register_links
from dashboard.login import register_login_routes
from dashboard.metrics import register_metrics
from dashboard.middleware import install_security
from dashboard.panels.figures import ASSETS
from dashboard.panels.live import push_message, reader_ceiling, register_live_callbacks, rows_text
from dashboard.push import register_push
from dashboard.reports.page import register_reports
from dashboard.screens import DESK, SCREENS, TABLET, Screen, screen_layout
from dashboard.security import current_user
from dashboard.share import register_share_routes
from dashboard.tiles import register_tiles
from dashboard.tip import register_tip_routes
from domain.access.accounts import Role
from domain.access.audit import audit
from domain.config.loader import Config, load_config
from domain.config.workspaces import workspaces_for
from domain.picture import incidents
from domain.picture.health import health_report
from domain.store.connection import connect, redis_url
from layers.zones import Workspace

log = logging.getLogger(__name__)


class RedisHandle:
    """Finds Redis lazily and again after a failure, so the app starts and recovers without it."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._client: redis.Redis | None = None
        self._url: str | None = None

    def get(self) -> redis.Redis | None:
        url = redis_url(self.config)
        if url is None:
            return None
        if self._client is None or url != self._url:
            # Short timeouts: callbacks run on the server's event loop and must not stall it.
            self._client = connect(url, timeout=1.0)
            self._url = url
        return self._client


def snapshot(handle: RedisHandle) -> dict[str, Any]:
    """Rows of the current picture (fused incidents) and the change-stream cursor they correspond
    to. The cursor is read first: a change made meanwhile comes again in the first delta, and
    applying it twice is harmless (rows are applied by incident id). Only incidents the signed-in
    reader's TLP maximum allows are in it: a page's stores are readable by whoever holds the page."""
    client = handle.get()
    if client is None:
        return {"rows": [], "cursor": "0-0", "ok": False}
    try:
        rows, cursor = incidents.snapshot(client, reader_ceiling(client))
        # The rows travel as JSON text (the page parses it, assets/wf-40-render.js): Dash serialises a
        # layout by walking every value in Python, 1.9 s of a 250,000-incident desk's first render
        # for its 5 MB of rows; orjson writes the same text in 30 ms.
        return {"rows": rows_text(rows), "cursor": cursor, "ok": True}
    except (redis.RedisError, OSError) as exc:
        log.warning("snapshot failed: %s", exc)
        return {"rows": [], "cursor": "0-0", "ok": False}


def person_active() -> Response:
    """``POST /api/activity``: a person used the screen (a key, a tap, the map) without a server
    round trip; the access guard has renewed the idle clock by the time this answers."""
    return Response(status_code=204)


def register_public_pages(server: FastAPI, guard: Any, config: Config) -> None:
    """The pages that answer without a session: sign-in, the public tip page (security.TIP_PATHS) and
    read-only share links (the token is the key)."""
    register_login_routes(server, guard)
    register_tip_routes(server, guard)
    register_share_routes(server, guard, config)


# zlib's own default. Dash's compression uses Starlette's level 9: a second of CPU for the 5 MB first
# picture of a 250,000-incident desk, where 6 takes 0.16 s for a reply 14 % larger.
GZIP_LEVEL = 6


def _gzip_level(server: FastAPI, level: int) -> None:
    """Dash's gzip middleware, in its place in the stack, at ``level``."""
    for i, entry in enumerate(server.user_middleware):
        if entry.cls is GZipMiddleware:
            server.user_middleware[i] = Middleware(GZipMiddleware, minimum_size=entry.kwargs.get("minimum_size", 500),
                                                   compresslevel=level)


def _dash_app(server: FastAPI) -> Dash:
    """The Dash app on ``server``: pages, local assets, compressed replies."""
    app = Dash(
        __name__,
        server=server,
        title="Watchfloor",
        assets_folder=str(ASSETS),
        use_pages=True,
        pages_folder="",
        suppress_callback_exceptions=False,
        update_title=None,
        serve_locally=True,
        assets_path_ignore=["^public$"],  # assets/public/: the tip page's own files, not the screens'
        compress=True,  # a page's snapshot is ~0.4 KB per incident as JSON and compresses ~10x
    )
    _gzip_level(server, GZIP_LEVEL)
    return app


def create_app(config: Config | None = None) -> Dash:
    config = config or load_config()
    handle = RedisHandle(config)
    # FastAPI's own OpenTelemetry hooks off: nothing here exports traces, and asking on every request
    # whether something does (it reads the environment) was 7 % of the event loop with 500 screens.
    server = FastAPI(title="Watchfloor", docs_url=None, redoc_url=None, openapi_url=None,
                     telemetry={"tracing": False, "metrics": False, "logs": False})
    # The push stream's wake-ups and the polls they and the timers ask for through the clientside gate
    # are the screen's own requests, not a person's activity: they must not defeat the idle timeout.
    guard = install_security(server, config, handle.get,
                             passive_props={'*"wf":"wake"}.data', '*"wf":"poll-req"}.data',
                                            '*"wf":"reports-tick"}.data'})
    register_public_pages(server, guard, config)
    register_operator_api(server, config, handle.get)
    register_push(server, config, push_message(config, handle.get))  # deltas on the open push streams
    register_metrics(server, config, handle.get)
    register_tiles(server, config)

    server.add_api_route("/api/activity", person_active, methods=["POST"])
    @server.get("/api/session")
    def api_session() -> Response:
        """Who is signed in (401 when nobody: screens go back to sign-in instead of going stale)."""
        user = current_user()
        body = {"user": user.name, "role": str(user.role.value)} if user else {}
        return Response(orjson.dumps(body), status_code=200 if user else 401, media_type="application/json")

    @server.get("/api/health")
    def api_health() -> Response:
        report = health_report(config, handle.get())
        return Response(orjson.dumps(report), status_code=200 if report["redis"] else 503, media_type="application/json")

    app = _dash_app(server)
    workspaces = workspaces_for(config)

    def page(screen: Screen):
        def layout(view: str | None = None, event: str | None = None, **_query: Any) -> html.Div:
            focus = _pick_workspace(workspaces, event) if screen is TABLET else (workspaces[0] if workspaces and screen is DESK else None)
            return screen_layout(screen, config, snapshot(handle), focus, workspaces, view=view)

        return layout

    for screen in SCREENS:
        dash.register_page(f"watchfloor.{screen.name}", path=screen.path, title=f"Watchfloor · {screen.title}",
                           name=screen.title, layout=page(screen))
    dash.register_page("watchfloor.audit", path="/audit", title="Watchfloor · Audit trail", name="Audit trail",
                       layout=audit_layout)
    app.layout = html.Div([dash.page_container])
    register_live_callbacks(app, config, handle.get, workspaces)
    register_audit_page(app, handle.get)
    register_reports(app, config, handle.get)
    register_links(app, config, handle.get)  # /links: the link-analysis page and its callbacks

    server.add_middleware(BeforeAnyPage, dash_app=app, handle=handle)
    return app


PARTNER_PATHS = ("/api/alerts.atom", "/logout", "/login")


class BeforeAnyPage:
    """Per request, before the app: partner accounts are refused everything but their feed, and Dash's
    before-request hooks run for every page. Dash's FastAPI backend runs them (set-up that collects
    assets/, the pages router and its inline scripts) only for "/" and "/_dash-*": a kiosk whose first
    request after a restart is /wall got a page with no CSS and no clientside code, stuck on
    "connecting". Each hook runs once (its own flag), so calling them here is cheap.

    Plain ASGI, not ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware costs a task and two
    streams per request, a tenth of a web process's CPU with 300 screens open, and the partner check
    leaves the event loop (a Redis read) only for a display account, the only kind a partner is."""

    def __init__(self, app: Any, dash_app: Dash, handle: RedisHandle) -> None:
        self.app, self.dash_app, self.handle = app, dash_app, handle

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path, user = scope["path"], current_user(scope)
            if (user is not None and user.role is Role.DISPLAY
                    and await run_in_threadpool(_partner_refused, scope, self.handle, path)):
                audit("page.read", record=path, outcome="refused", reason="partner accounts read the alert feed only")
                refused = Response(orjson.dumps({"error": "partner accounts read /api/alerts.atom and the CAP "
                                                          "documents it links to"}),
                                   status_code=403, media_type="application/json")
                await refused(scope, receive, send)
                return
            if not path.startswith(("/_dash-", "/assets/")):
                for hook in self.dash_app.backend._before_request_funcs:
                    result = hook()
                    if inspect.isawaitable(result):
                        await result
        await self.app(scope, receive, send)


def _partner_refused(request: Any, handle: RedisHandle, path: str) -> bool:
    """Partners (outside agencies) get the alert feed, never the floor's screens or their data."""

    user = current_user(request)
    if user is None or path.startswith(PARTNER_PATHS) or (path.startswith("/api/alerts/") and path.endswith(".cap")):
        return False
    client = handle.get()
    try:
        return client is not None and is_partner(client, user)
    except (redis.RedisError, OSError):
        return True  # cannot tell: refuse (fail closed)


def _pick_workspace(workspaces: list[Workspace], wanted: str | None) -> Workspace | None:
    for space in workspaces:
        if space.id == wanted:
            return space
    return workspaces[0] if workspaces else None


__all__ = ["create_app", "RedisHandle"]
