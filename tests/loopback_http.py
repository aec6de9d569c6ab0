"""A real HTTP server on 127.0.0.1 for network tests: routes are plain functions that write raw
bytes, so a test can serve anything a hostile or broken feed would (lying lengths, drips, bombs)."""

from __future__ import annotations

import socket
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

Route = Callable[["Handler"], None]

# Self-signed test certificate (names feed.test, localhost, IP 127.0.0.1; valid until 2126).
# Trusted only by tests that load it explicitly; the key protects nothing.
TEST_CERT_PEM = """\
-----BEGIN CERTIFICATE-----
MIIBozCCAUmgAwIBAgIUW+LzDHX4Osp468gWhKywPsJIUfIwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJZmVlZC50ZXN0MCAXDTI2MTEyMjAzMDAzNloYDzIxMjYxMDI5
MDMwMDM2WjAUMRIwEAYDVQQDDAlmZWVkLnRlc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAASeGu23WIhumXMeAT0zK/ThG+q7+2EQE0pe21Amemhw2Sz2ijFuHl75
GeALA+3XDkKOEeuOT814sYd5nXJ6yPexo3cwdTAdBgNVHQ4EFgQU5+5KGygsiqD2
QHzsAMaeupAPbcUwHwYDVR0jBBgwFoAU5+5KGygsiqD2QHzsAMaeupAPbcUwJQYD
VR0RBB4wHIIJZmVlZC50ZXN0gglsb2NhbGhvc3SHBH8AAAEwDAYDVR0TAQH/BAIw
ADAKBggqhkjOPQQDAgNIADBFAiEAz4q4+FgwK2PkN5U9UN683BwwQulO2ufFZDrS
13ccGSECIGWWWi8kiapGGBIRHn2UjK1xRooQ88owPINySTpGz4i5
-----END CERTIFICATE-----
"""
TEST_KEY_PEM = """\
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg84ffWYyX0i1mrk/L
a0G3VMjY+1JEcbZ0bZdtyQU+ysWhRANCAASeGu23WIhumXMeAT0zK/ThG+q7+2EQ
E0pe21Amemhw2Sz2ijFuHl75GeALA+3XDkKOEeuOT814sYd5nXJ6yPex
-----END PRIVATE KEY-----
"""


class Handler(BaseHTTPRequestHandler):
    """Dispatches GET to the server's route for the path; records every request's headers."""

    server: LoopbackHTTPServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - the name http.server looks for
        path = self.path.split("?", 1)[0]
        self.server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        route = self.server.routes.get(path)
        if route is None:
            self.raw(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        route(self)

    def raw(self, data: bytes) -> None:
        """Write bytes as they are, no framing added."""
        self.wfile.write(data)
        self.wfile.flush()

    def reply(
        self,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        *,
        length: int | None = -1,
    ) -> None:
        """A response with ``Content-Length: len(body)``; ``length`` overrides it (None: no header)."""
        head = [f"HTTP/1.1 {status} X"]
        for name, value in (headers or {}).items():
            head.append(f"{name}: {value}")
        if length is not None:
            head.append(f"Content-Length: {len(body) if length == -1 else length}")
        head.append("Connection: close")
        self.raw(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        self.close_connection = True

    def stream(self, status: int, chunks: Iterable[bytes], headers: dict[str, str] | None = None) -> None:
        """Headers, then the chunks one by one until the client goes away (BrokenPipe ends it)."""
        self.reply(status, b"", headers, length=None)
        try:
            for chunk in chunks:
                if self.server.stopping.is_set():
                    return
                self.raw(chunk)
        except OSError:
            return

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature of the base class
        return  # quiet: test output is for failures


class LoopbackHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.stopping = threading.Event()
        self.scheme = "http"

    @property
    def port(self) -> int:
        return self.server_address[1]

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def route(self, path: str) -> Callable[[Route], Route]:
        def register(func: Route) -> Route:
            self.routes[path] = func
            return func

        return register

    def handle_error(self, request: object, client_address: object) -> None:
        return  # clients hang up on purpose in these tests (caps, deadlines)

    def start_tls(self) -> None:
        """Serve https with the test certificate."""
        with tempfile.TemporaryDirectory() as folder:
            cert, key = Path(folder, "cert.pem"), Path(folder, "key.pem")
            cert.write_text(TEST_CERT_PEM)
            key.write_text(TEST_KEY_PEM)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.scheme = "https"

    def __enter__(self) -> LoopbackHTTPServer:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()
        self._thread.join(5)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
