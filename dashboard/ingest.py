"""``POST /api/ingest``: partner agencies push their reports (workers/push.py runs the pipeline).

The request carries ``Authorization: Bearer <token>`` (``watchfloor agency token create CODE``); no
session, no cookie. In order: the token (401: missing, unknown, revoked, or its agency removed), the
agency's rate (429 with Retry-After, counted in Redis), the size (413 over ``fetch_max_bytes``, the
limit every fetched document has; 408 when the body takes longer than ``fetch_timeout``), the query (``source``, ``map``, ``tlp``, ``interval``), then the
document itself (400/415, one line, nothing stored). Every push is audited (agency, token id,
accepted, unchanged, refused, bytes) and kept on the agency's page (domain/agencies/pushes.py); a
refused token is audited with the source address (summarised under a flood).

    200 {"feed", "format", "accepted", "new", "updated", "unchanged", "refused", "refusals": [...],
         "unplaced", "warnings": [...]}
    400/413/415/429 {"error", "reason"}     401 {"error": "unauthenticated", "reason"}
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import orjson
import redis
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from dashboard.agency_page import register_agency_page
from dashboard.security import INGEST_PATH
from domain.access.audit import audit, audit_refusal
from domain.agencies import pushes, tokens
from domain.agencies.pushes import PushRecord, PushThrottle
from domain.config.loader import Config
from domain.errors import Invalid
from workers.push import Push, PushRefused, ingest_push, note_refusal

log = logging.getLogger(__name__)

ACTION = "ingest.push"
_WORDS = {400: "bad request", 401: "unauthenticated", 408: "timeout", 413: "too large", 415: "unsupported media type",
          429: "too many requests"}


def _answer(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def _refusal(status: int, reason: str, headers: dict[str, str] | None = None) -> Response:
    return _answer(status, {"error": _WORDS.get(status, "refused"), "reason": reason}, headers)


def _bearer(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


async def _read_capped(request: Request, limit: int) -> bytes | None:
    """The body, or None once it passes ``limit`` bytes (a lying or missing Content-Length too)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _interval(value: str | None) -> int | None:
    if value in (None, ""):
        return None
    if not value.isdigit() or not 10 <= int(value) <= 7 * 86_400:
        raise Invalid(f"interval: {value[:20]!r} is not a number of seconds from 10 to 604800")
    return int(value)


class Intake:
    def __init__(self, config: Config, get_client: Callable[[], redis.Redis | None]) -> None:
        self.config = config
        self.get_client = get_client
        self.limit = int(config.fetch_max_bytes)
        self.per_minute = int(config.push_per_minute)
        self.deadline = float(config.fetch_timeout)  # the whole body within a fetch's deadline: no drip-feeding

    async def post(self, request: Request) -> Response:
        client = self.get_client()
        if client is None:
            return _answer(503, {"error": "unavailable", "reason": "Redis unreachable"})
        try:
            who = await run_in_threadpool(tokens.resolve, client, _bearer(request))
            if who is None:
                await run_in_threadpool(audit_refusal, ACTION, record="-", throttle=True,
                                        reason="401: missing, unknown or revoked push token")
                return _refusal(401, "missing, unknown or revoked push token (Authorization: Bearer <token>)",
                                {"WWW-Authenticate": 'Bearer realm="watchfloor"'})
            code, token_id = who
            verdict = await run_in_threadpool(PushThrottle(client, self.per_minute).attempt, code)
            source = request.query_params.get("source") or "default"
            if verdict.retry_after is not None:
                reason = f"more than {self.per_minute} pushes this minute; retry after {verdict.retry_after} s"
                if verdict.first_refusal:  # one record per window, whatever the flood
                    await run_in_threadpool(self._refused, client, code, token_id, source, 429, reason, 0)
                return _refusal(429, reason, {"Retry-After": str(verdict.retry_after)})
            try:
                body = await asyncio.wait_for(_read_capped(request, self.limit), self.deadline)
            except TimeoutError:
                reason = f"body not received within {self.deadline:g} s (fetch_timeout)"
                await run_in_threadpool(self._refused, client, code, token_id, source, 408, reason, 0)
                return _refusal(408, reason)
            if body is None:
                reason = f"body over {self.limit} bytes (fetch_max_bytes)"
                await run_in_threadpool(self._refused, client, code, token_id, source, 413, reason, self.limit)
                return _refusal(413, reason)
            return await run_in_threadpool(self._ingest, client, request, code, token_id, source, body)
        except (redis.RedisError, OSError):
            return _answer(503, {"error": "unavailable", "reason": "Redis unreachable"})

    def _ingest(self, client: redis.Redis, request: Request, code: str, token_id: str, source: str,
                body: bytes) -> Response:
        query = request.query_params
        try:
            push = Push(code=code, token_id=token_id, body=body, content_type=request.headers.get("content-type", ""),
                        source=source, mapping=query.get("map"), tlp=query.get("tlp") or None,
                        interval=_interval(query.get("interval")))
            outcome = ingest_push(client, self.config, push)
        except Invalid as exc:
            return self._refused(client, code, token_id, source, 400, str(exc), len(body))
        except PushRefused as exc:
            return self._refused(client, code, token_id, source, exc.status, str(exc), len(body))
        except (redis.RedisError, OSError):
            raise
        except Exception:  # a bug must cost this push (logged with its trace), never a bare error page
            log.exception("push from %s failed", code, extra={"agency": code, "token": token_id})
            audit(ACTION, record=pushes.feed_id(code, source[:40]), outcome="failed", user=f"agency:{code}",
                  reason=f"500: token {token_id}: internal error; {len(body)} bytes")
            return _answer(500, {"error": "internal", "reason": "the push failed inside Watchfloor and was logged; "
                                                                  "sending it again is safe"})
        tokens.mark_used(client, code, token_id)
        record = PushRecord(source=pushes.check_source(source), token=token_id, status=200, accepted=outcome.accepted,
                            unchanged=outcome.unchanged, refused=len(outcome.refused), reasons=outcome.refused,
                            bytes=len(body), format=outcome.format)
        pushes.record(client, code, record, interval=push.interval)
        audit(ACTION, record=outcome.feed, user=f"agency:{code}",
              reason=f"token {token_id}: accepted {outcome.accepted}, unchanged {outcome.unchanged}, refused "
                     f"{len(outcome.refused)}, {len(body)} bytes ({outcome.format})")
        return _answer(200, outcome.answer())

    def _refused(self, client: redis.Redis, code: str, token_id: str, source: str, status: int, reason: str,
                 size: int) -> Response:
        """Audit, keep on the agency's page, mark the source's health; the one-line answer."""
        audit(ACTION, record=pushes.feed_id(code, source[:40]), outcome="refused", user=f"agency:{code}",
              reason=f"{status}: token {token_id}: {reason}; {size} bytes")
        try:
            name = pushes.check_source(source)
        except Invalid:
            name = ""
        if name and status != 401:
            pushes.record(client, code, PushRecord(source=name, token=token_id, status=status, reasons=[reason],
                                                   bytes=size))
            note_refusal(client, pushes.feed_id(code, name), status, reason)
        if status == 401:
            return _refusal(401, reason, {"WWW-Authenticate": 'Bearer realm="watchfloor"'})
        return _refusal(status, reason)


def register_partner_intake(server: FastAPI, config: Config, get_client: Callable[[], redis.Redis | None]) -> None:
    """``POST /api/ingest`` and the agencies' page ``/agency`` (dashboard/agency_page.py)."""
    server.add_api_route(INGEST_PATH, Intake(config, get_client).post, methods=["POST"])
    register_agency_page(server, get_client)
