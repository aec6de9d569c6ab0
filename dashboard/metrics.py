"""``GET /metrics``: Prometheus text. The stack's numbers come from Redis (any app process answers
for all); request latency and open push streams are this process's own (Prometheus adds up the
processes it scrapes).

Who may read it: with ``metrics_token`` set, a request carrying ``Authorization: Bearer <token>``;
without it, only a direct request from this host (loopback, no proxy header). Numbers only: no
record content or marking is ever exposed.
"""

from __future__ import annotations

import bisect
import ipaddress
import secrets
import threading
import time
from collections.abc import Callable

import redis
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from domain.config.loader import Config
from domain.picture.metrics import store_metrics

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class RequestTimes:
    """This process's request latency histogram, by route family (never by raw path: bounded)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, list[int]] = {}
        self._sums: dict[str, float] = {}
        self.push_streams = 0

    @staticmethod
    def family(path: str) -> str:
        for prefix in ("/_dash-update-component", "/_dash-", "/api/alerts", "/api/incidents", "/api/rules",
                       "/api/audit", "/api/push", "/api/health", "/assets/", "/tiles/", "/login", "/metrics"):
            if path.startswith(prefix):
                return prefix.rstrip("/")
        return "page" if "." not in path.rsplit("/", 1)[-1] else "other"

    def observe(self, family: str, seconds: float) -> None:
        with self._lock:
            counts = self._counts.setdefault(family, [0] * (len(BUCKETS) + 1))
            counts[bisect.bisect_left(BUCKETS, seconds)] += 1
            self._sums[family] = self._sums.get(family, 0.0) + seconds

    def lines(self) -> list[str]:
        name = "watchfloor_http_request_duration_seconds"
        out = [f"# HELP {name} Time to answer HTTP requests in this process, by route family.",
               f"# TYPE {name} histogram"]
        with self._lock:
            for family, counts in sorted(self._counts.items()):
                running = 0
                for bound, count in zip((*BUCKETS, float("inf")), counts, strict=True):
                    running += count
                    le = "+Inf" if bound == float("inf") else f"{bound:g}"
                    out.append(f'{name}_bucket{{route="{family}",le="{le}"}} {running}')
                out.append(f'{name}_sum{{route="{family}"}} {self._sums[family]:.6f}')
                out.append(f'{name}_count{{route="{family}"}} {running}')
            out += ["# HELP watchfloor_screens_connected Screens holding a push stream open to this process.",
                    "# TYPE watchfloor_screens_connected gauge", f"watchfloor_screens_connected {self.push_streams}"]
        return out


class TimingMiddleware:
    """Times every HTTP request (from the first byte received to the last sent) and counts open
    push streams."""

    def __init__(self, app: ASGIApp, times: RequestTimes) -> None:
        self.app, self.times = app, times

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        family = RequestTimes.family(scope.get("path", ""))
        push = family == "/api/push"
        if push:
            self.times.push_streams += 1
        try:
            await self.app(scope, receive, send)
        finally:
            if push:
                self.times.push_streams -= 1
            else:  # a push stream lasts minutes by design: its time is not a latency
                self.times.observe(family, time.perf_counter() - started)


def allowed(request: Request, token: str) -> bool:
    if token:
        given = request.headers.get("authorization", "")
        return given.startswith("Bearer ") and secrets.compare_digest(given[7:].strip(), token)
    if request.headers.get("x-forwarded-for") or request.headers.get("forwarded"):
        return False  # came through a proxy: "this host" no longer means the caller
    try:
        return ipaddress.ip_address(request.client.host if request.client else "").is_loopback
    except ValueError:
        return False


def register_metrics(server: FastAPI, config: Config, get_client: Callable[[], redis.Redis | None]) -> RequestTimes:
    times = RequestTimes()
    token = str(config.metrics_token)
    server.add_middleware(TimingMiddleware, times=times)

    @server.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        if not allowed(request, token):
            return PlainTextResponse("metrics need the bearer token (metrics_token), or a direct request from "
                                     "this host\n", status_code=403)
        client = get_client()
        lines = [*times.lines()]
        up = 0.0
        if client is not None:
            try:
                lines += await run_in_threadpool(store_metrics, config, client)
                up = 1.0
            except (redis.RedisError, OSError):
                pass
        lines += ["# HELP watchfloor_store_up 1 when the data store answers.", "# TYPE watchfloor_store_up gauge",
                  f"watchfloor_store_up {up:g}"]
        return Response("\n".join(lines) + "\n", media_type=CONTENT_TYPE)

    return times
