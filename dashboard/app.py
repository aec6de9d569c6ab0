"""The Dash app factory: the live picture on the FastAPI backend, plus ``GET /api/health``.

The server keeps no per-screen state: each screen holds its own stream cursor, so any number of
app processes behind a load balancer can answer any request.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import orjson
import redis
from dash import ClientsideFunction, Dash, Input, Output, State, dcc, html
from fastapi import FastAPI
from fastapi.responses import Response

from dashboard.health import feed_status, health_report
from dashboard.panels.figures import ASSETS, map_figure, timeline_figure
from dashboard.panels.status import feeds_panel, latest_panel, threat_panel
from dashboard.picture import assess_threat, delta_rows
from watchfloor.config import Config, load_config
from workers.connection import connect, redis_url
from workers.streams import EventStore

log = logging.getLogger(__name__)

DELTA_BATCH = 2000  # stream entries per refresh; a screen far behind catches up over a few ticks


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


def create_app(config: Config | None = None) -> Dash:
    config = config or load_config()
    handle = RedisHandle(config)
    server = FastAPI(title="Watchfloor", docs_url=None, redoc_url=None, openapi_url=None)

    @server.get("/api/health")
    def api_health() -> Response:
        report = health_report(config, handle.get())
        return Response(
            orjson.dumps(report), status_code=200 if report["redis"] else 503, media_type="application/json"
        )

    app = Dash(
        __name__,
        server=server,
        title="Watchfloor",
        assets_folder=str(ASSETS),
        suppress_callback_exceptions=False,
        update_title=None,
        serve_locally=True,
    )
    app.layout = lambda: desk_layout(config, handle)
    register_callbacks(app, config, handle)
    return app


def _snapshot(handle: RedisHandle) -> tuple[list[dict[str, Any]], str, bool]:
    """Current events and the stream cursor they correspond to (cursor read first: any entry
    appended meanwhile is delivered again by the first delta, and applying it twice is harmless)."""
    client = handle.get()
    if client is None:
        return [], "0-0", False
    try:
        store = EventStore(client)
        cursor = store.last_id()
        return store.current(), cursor, True
    except (redis.RedisError, OSError) as exc:
        log.warning("snapshot failed: %s", exc)
        return [], "0-0", False


def desk_layout(config: Config, handle: RedisHandle) -> html.Div:
    events, cursor, ok = _snapshot(handle)
    exercise = any(f.exercise for f in config.feeds if f.enabled)
    return html.Div(
        [
            html.Header(
                [
                    html.Div([html.Span("WATCHFLOOR", className="wf-brand"),
                              html.Span("EXERCISE", className="wf-exercise-badge", hidden=not exercise,
                                        title="Exercise data is on this screen")]),
                    html.Div(id="wf-clock", className="wf-clock"),
                    html.Div("connecting…", id="wf-connection", className="wf-conn"),
                ],
                className="wf-header",
            ),
            html.Main(
                [
                    html.Section(
                        [dcc.Graph(id="wf-map", figure=map_figure(events, center=(40.0, -40.0), zoom=1.3),
                                   config={"displaylogo": False, "scrollZoom": True}, className="wf-map-graph")],
                        className="wf-map",
                    ),
                    html.Aside(
                        [
                            html.H2("Threat level"),
                            html.Div(threat_panel(assess_threat(events)), id="wf-threat"),
                            html.H2("Latest"),
                            html.Div(latest_panel(events), id="wf-latest"),
                            html.H2("Feed health"),
                            html.Div(id="wf-feeds"),
                        ],
                        className="wf-side",
                    ),
                ],
                className="wf-main",
            ),
            html.Section([dcc.Graph(id="wf-timeline", figure=timeline_figure(events),
                                    config={"displaylogo": False})], className="wf-timeline"),
            dcc.Store(id="wf-cursor", data=cursor if ok else "0-0"),
            dcc.Store(id="wf-delta"),
            dcc.Store(id="wf-stale-seconds", data=int(config.stale_seconds)),
            dcc.Interval(id="wf-tick", interval=int(config.refresh_ms)),
            dcc.Interval(id="wf-panels-tick", interval=5000),
            dcc.Interval(id="wf-second", interval=1000),
        ],
        className="wf-root wf-theme-dark",
    )


def register_callbacks(app: Dash, config: Config, handle: RedisHandle) -> None:
    @app.callback(
        Output("wf-delta", "data"),
        Output("wf-cursor", "data"),
        Input("wf-tick", "n_intervals"),
        State("wf-cursor", "data"),
    )
    def poll(_n: int | None, cursor: str | None) -> tuple[dict[str, Any], str]:
        """Everything after the screen's cursor: nothing lost, nothing shown twice."""
        cursor = cursor or "0-0"
        client = handle.get()
        if client is None:
            return {"rows": [], "redis": False, "t": time.time()}, cursor
        try:
            entries = EventStore(client).read_after(cursor, count=DELTA_BATCH)
        except (redis.RedisError, OSError):
            return {"rows": [], "redis": False, "t": time.time()}, cursor
        if entries:
            cursor = entries[-1].stream_id
        return {"rows": delta_rows(entries), "redis": True, "t": time.time()}, cursor

    app.clientside_callback(
        ClientsideFunction(namespace="watchfloor", function_name="applyDelta"),
        Output("wf-map", "figure"),
        Output("wf-timeline", "figure"),
        Input("wf-delta", "data"),
        State("wf-map", "figure"),
    )
    app.clientside_callback(
        ClientsideFunction(namespace="watchfloor", function_name="connection"),
        Output("wf-connection", "children"),
        Output("wf-connection", "className"),
        Input("wf-second", "n_intervals"),
        State("wf-stale-seconds", "data"),
    )
    app.clientside_callback(
        ClientsideFunction(namespace="watchfloor", function_name="clock"),
        Output("wf-clock", "children"),
        Input("wf-second", "n_intervals"),
    )

    @app.callback(
        Output("wf-feeds", "children"),
        Output("wf-threat", "children"),
        Output("wf-latest", "children"),
        Input("wf-panels-tick", "n_intervals"),
    )
    def panels(_n: int | None) -> tuple[Any, Any, Any]:
        client = handle.get()
        now = datetime.now(UTC)
        if client is None:
            report = health_report(config, None)
            return feeds_panel(report["feeds"], now), [], []
        try:
            events = EventStore(client).current()
            return feeds_panel(feed_status(config, client), now), threat_panel(assess_threat(events, now)), latest_panel(events)
        except (redis.RedisError, OSError):
            report = health_report(config, None)
            return feeds_panel(report["feeds"], now), [], []
