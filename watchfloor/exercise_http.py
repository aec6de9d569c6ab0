"""The exercise feed server's HTTP side: loopback-only sockets, Host-header checks against DNS
rebinding, conditional GET, and the request handler that asks the :class:`ExerciseServer` for documents."""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import socket
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import orjson

from domain.config.scenario import (
    MAX_BODY,
    ExerciseError,
    ScenarioError,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    content_type: str
    body: bytes
    last_modified: float | None = None  # set for feed documents: they answer conditional GET


NOT_FOUND = Reply(404, "text/plain; charset=utf-8", b"not found\n")


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    exercise: Any  # the ExerciseServer that owns it


class LoopbackServer6(LoopbackServer):
    address_family = socket.AF_INET6


def loopback_host(host: str) -> str:
    """The literal loopback address to bind for ``host``; ExerciseError for anything else."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise ExerciseError(
        f"the exercise server only binds to loopback; {host!r} is not a loopback address (use 127.0.0.1)"
    )


def _host_header_ok(value: str | None) -> bool:
    """True for a missing Host header or one naming loopback (blocks DNS-rebinding pages)."""
    if not value:
        return True
    host = value.strip().lower()
    if host.startswith("["):
        host = host[1 : host.find("]")]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ExerciseHandler(BaseHTTPRequestHandler):
    server: LoopbackServer
    server_version = "WatchfloorExercise/1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        log.debug("exercise %s", format % args)

    def do_GET(self) -> None:
        self._get(head=False)

    def do_HEAD(self) -> None:
        self._get(head=True)

    def _get(self, head: bool) -> None:
        if not _host_header_ok(self.headers.get("Host")):
            self._send(Reply(403, "text/plain; charset=utf-8", b"Host header is not loopback\n"))
            return
        try:
            response = self.server.exercise.route(urlsplit(self.path).path)
        except Exception:  # one bad request must not kill the server; the log has the traceback
            log.exception("exercise server failed to answer", extra={"path": self.path[:200]})
            response = Reply(500, "text/plain; charset=utf-8", b"internal error\n")
        self._send(response, head=head, conditional=True)

    def do_POST(self) -> None:
        if not _host_header_ok(self.headers.get("Host")):
            self._error(403, "Host header is not loopback")
            return
        if urlsplit(self.path).path != "/inject":
            self._send(NOT_FOUND)
            return
        # Requiring JSON makes a cross-site form post impossible: browsers preflight it and we never allow it.
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            self._error(415, "Content-Type must be application/json")
            return
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            self._error(411, "Content-Length is required")
            return
        try:
            length = int(length_header)
        except ValueError:
            self._error(400, "Content-Length is not a number")
            return
        if length < 0 or length > MAX_BODY:
            self._error(413, f"body larger than {MAX_BODY} bytes")
            return
        try:
            raw = orjson.loads(self.rfile.read(length))
        except orjson.JSONDecodeError as exc:
            self._error(400, f"body is not valid JSON: {str(exc).splitlines()[0]}")
            return
        try:
            stored = self.server.exercise.inject(raw)
        except ScenarioError as exc:
            self._error(400, str(exc))
            return
        self._send(Reply(201, "application/json", orjson.dumps(stored)))

    def _error(self, status: int, reason: str) -> None:
        self._send(Reply(status, "application/json", orjson.dumps({"error": reason.splitlines()[0]})))

    def _send(self, response: Reply, head: bool = False, conditional: bool = False) -> None:
        headers = {"Content-Type": response.content_type, "X-Content-Type-Options": "nosniff"}
        status = response.status
        if conditional and status == 200 and response.last_modified is not None:
            etag = '"' + hashlib.sha256(response.body).hexdigest()[:32] + '"'
            headers["ETag"] = etag
            headers["Last-Modified"] = formatdate(response.last_modified, usegmt=True)
            headers["Cache-Control"] = "no-cache"
            if _not_modified(
                self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since"), etag, response.last_modified
            ):
                status = 304
        else:
            headers["Cache-Control"] = "no-store"
        body = b"" if status == 304 else response.body
        self.send_response(status)
        for name, value in headers.items():
            if status == 304 and name in ("Content-Type",):
                continue
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and body:
            self.wfile.write(body)


def _not_modified(if_none_match: str | None, if_modified_since: str | None, etag: str, last_modified: float) -> bool:
    """RFC 9110: If-None-Match decides when present (weak comparison); else If-Modified-Since."""
    if if_none_match:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or etag in tags
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since).timestamp()
        except (TypeError, ValueError):
            return False
        return int(last_modified) <= since
    return False
