"""feeds.fetch against a real HTTP server on 127.0.0.1: limits, conditional GET, SSRF guard.

Safety: this machine flags traffic to anything but loopback. The autouse ``network_guard`` fails
any test that tries to connect to a non-loopback address or to resolve a name through DNS;
names are faked with the ``resolver`` fixture.
"""

from __future__ import annotations

import functools
import gzip
import ipaddress
import pickle
import socket
import ssl
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from feeds.contract import FeedError
from feeds.fetch import FetchError, FetchLimits, FetchResult, check_url, fetch
from tests.loopback_http import TEST_CERT_PEM, Handler, LoopbackHTTPServer, closed_port

LOCAL = FetchLimits(deadline=5.0, allow_local=True)
RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
MB = 1_000_000


# --- the guard: nothing but loopback, no DNS ------------------------------------------------------


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class Guard:
    def __init__(self) -> None:
        self.connects: list[str] = []
        self.violations: list[str] = []
        self.fake_names: dict[str, list[str]] = {}
        self.lookups: list[str] = []


@pytest.fixture(autouse=True)
def network_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[Guard]:
    """Every connect is recorded; a non-loopback one fails the test before any packet is sent.
    Names resolve only through ``fake_names`` (or as numeric literals): no DNS query ever leaves."""
    guard = Guard()
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(address: object) -> None:
        host = address[0] if isinstance(address, tuple) else str(address)
        guard.connects.append(host)
        if not _is_loopback(host):
            guard.violations.append(f"connect to {host}")
            raise AssertionError(f"test tried to connect to non-loopback {host}")

    def connect(self: socket.socket, address: object) -> None:
        check(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: object) -> int:
        check(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        name = host.decode() if isinstance(host, bytes) else str(host)
        guard.lookups.append(name)
        if name in guard.fake_names:
            results = []
            for text in guard.fake_names[name]:
                ip = ipaddress.ip_address(text)
                if ip.version == 6:
                    results.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (text, port, 0, 0)))
                else:
                    results.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (text, port)))
            return results
        try:
            socket.inet_aton(name)
            numeric = True
        except OSError:
            numeric = _is_loopback(name) or ":" in name
        if not numeric:
            guard.violations.append(f"DNS lookup of {name}")
            raise AssertionError(f"test tried a real DNS lookup of {name!r}")
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield guard
    assert not guard.violations, guard.violations


def test_the_guard_itself_stops_non_loopback_connections(network_guard: Guard) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe, pytest.raises(AssertionError):
        probe.connect(("10.0.0.1", 80))
    with pytest.raises(AssertionError):
        socket.getaddrinfo("feeds.example.org", 80)
    assert network_guard.violations == ["connect to 10.0.0.1", "DNS lookup of feeds.example.org"]
    network_guard.violations.clear()  # expected here; any other test with a violation fails


@pytest.fixture
def server() -> Iterator[LoopbackHTTPServer]:
    with LoopbackHTTPServer() as running:
        yield running


def refused(exc: pytest.ExceptionInfo[FetchError]) -> None:
    assert exc.value.word == "refused", str(exc.value)
    assert exc.value.status is None


# --- plain fetches ----------------------------------------------------------------------------------


def test_fetch_returns_body_validators_and_sends_polite_headers(server: LoopbackHTTPServer) -> None:
    @server.route("/feed.xml")
    def feed(req: Handler) -> None:
        req.reply(
            200,
            RSS,
            {
                "Content-Type": "application/rss+xml; charset=utf-8",
                "ETag": '"v1"',
                "Last-Modified": "Sat, 21 Nov 2026 10:00:00 GMT",
            },
        )

    result = fetch(server.url("/feed.xml?key=1"), limits=LOCAL)

    assert isinstance(result, FetchResult)
    assert (result.status, result.body, result.not_modified) == (200, RSS, False)
    assert result.url == server.url("/feed.xml?key=1")
    assert result.etag == '"v1"'
    assert result.last_modified == "Sat, 21 Nov 2026 10:00:00 GMT"
    assert result.content_type == "application/rss+xml"
    assert 0 <= result.elapsed < 5
    path, headers = server.requests[-1]
    assert path == "/feed.xml?key=1"
    assert headers["host"] == f"127.0.0.1:{server.port}"
    assert headers["user-agent"] == "Watchfloor/0.1 (+feed poller)"
    assert headers["accept-encoding"] == "gzip, deflate"
    assert "if-none-match" not in headers


def test_large_body_within_the_cap_is_read_whole(server: LoopbackHTTPServer) -> None:
    body = bytes(range(256)) * (3 * MB // 256)
    server.routes["/big"] = lambda req: req.reply(200, body, {"Content-Type": "application/octet-stream"})
    server.routes["/big-no-length"] = lambda req: req.stream(200, [body[:MB], body[MB:]])
    assert fetch(server.url("/big"), limits=LOCAL).body == body
    assert fetch(server.url("/big-no-length"), limits=LOCAL).body == body


def test_chunked_body_is_assembled(server: LoopbackHTTPServer) -> None:
    @server.route("/chunked")
    def chunked(req: Handler) -> None:
        req.reply(200, b"", {"Transfer-Encoding": "chunked", "Content-Type": "application/json"}, length=None)
        req.raw(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")

    assert fetch(server.url("/chunked"), limits=LOCAL).body == b"hello world"


def test_html_login_page_served_as_200_is_returned_for_the_parser_to_refuse(server: LoopbackHTTPServer) -> None:
    @server.route("/rss")
    def login(req: Handler) -> None:
        req.reply(200, b"<html><body><form action=/login>Password</form></body></html>", {"Content-Type": "text/html"})

    result = fetch(server.url("/rss"), limits=LOCAL)
    assert result.status == 200
    assert result.content_type == "text/html"


# --- conditional GET --------------------------------------------------------------------------------


def test_etag_and_last_modified_round_trip_to_304(server: LoopbackHTTPServer) -> None:
    stamp = "Sat, 21 Nov 2026 10:00:00 GMT"

    @server.route("/feed")
    def feed(req: Handler) -> None:
        if req.headers.get("If-None-Match") == '"abc"' or req.headers.get("If-Modified-Since") == stamp:
            req.reply(304, b"", {"ETag": '"abc"'}, length=None)
        else:
            req.reply(200, RSS, {"ETag": '"abc"', "Last-Modified": stamp, "Content-Type": "application/xml"})

    first = fetch(server.url("/feed"), limits=LOCAL)
    assert first.status == 200 and first.etag == '"abc"'

    again = fetch(server.url("/feed"), limits=LOCAL, etag=first.etag, last_modified=first.last_modified)
    assert again.status == 304
    assert again.not_modified is True
    assert again.body == b""
    assert again.etag == '"abc"'
    assert again.last_modified == stamp  # kept from the request when the 304 omits it
    sent = server.requests[-1][1]
    assert sent["if-none-match"] == '"abc"'
    assert sent["if-modified-since"] == stamp

    by_date = fetch(server.url("/feed"), limits=LOCAL, last_modified=stamp)
    assert by_date.not_modified


def test_unsendable_validator_from_a_hostile_server_means_a_full_get(server: LoopbackHTTPServer) -> None:
    server.routes["/feed"] = lambda req: req.reply(200, RSS, {"ETag": '"\xe9t\xe9"'})
    first = fetch(server.url("/feed"), limits=LOCAL)
    again = fetch(server.url("/feed"), limits=LOCAL, etag=first.etag + "\r\nX-Injected: 1")
    assert again.body == RSS
    assert "if-none-match" not in server.requests[-1][1]
    assert "x-injected" not in server.requests[-1][1]


# --- HTTP errors ------------------------------------------------------------------------------------


def test_500_with_html_body_is_an_http_error_naming_status_host_and_type(server: LoopbackHTTPServer) -> None:
    @server.route("/feed")
    def broken(req: Handler) -> None:
        req.reply(
            500,
            b"<html><h1>Internal Server Error SECRET-STACKTRACE</h1></html>",
            {"Content-Type": "text/html; charset=utf-8"},
        )

    with pytest.raises(FetchError) as exc:
        fetch(server.url("/feed"), limits=LOCAL)
    message = str(exc.value)
    assert exc.value.word == "http-error"
    assert exc.value.status == 500
    assert isinstance(exc.value, FeedError)
    assert "500" in message and "127.0.0.1" in message and "text/html" in message
    assert "\n" not in message
    assert "SECRET" not in message  # the body is never read into the message


def test_503_is_an_http_error_with_retry_after(server: LoopbackHTTPServer) -> None:
    @server.route("/feed")
    def busy(req: Handler) -> None:
        req.reply(503, b"busy", {"Content-Type": "text/plain", "Retry-After": "120"})

    with pytest.raises(FetchError) as exc:
        fetch(server.url("/feed"), limits=LOCAL)
    assert (exc.value.word, exc.value.status) == ("http-error", 503)
    assert str(exc.value) == "HTTP 503 Service Unavailable from 127.0.0.1 (text/plain body ignored); Retry-After 120"


def test_404_for_a_missing_path(server: LoopbackHTTPServer) -> None:
    with pytest.raises(FetchError) as exc:
        fetch(server.url("/nope"), limits=LOCAL)
    assert (exc.value.word, exc.value.status) == ("http-error", 404)


def test_fetch_error_survives_pickling_for_rq() -> None:
    err = FetchError("HTTP 503 from example.org", word="http-error", status=503)
    copy = pickle.loads(pickle.dumps(err))
    assert (str(copy), copy.word, copy.status) == (str(err), "http-error", 503)


# --- schemes and the SSRF guard ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.org/feed.xml",
        "gopher://example.org:70/_GET",
        "data:text/xml,<rss/>",
        "javascript:alert(1)",
        "dict://127.0.0.1:6379/info",
        "//example.org/feed",
        "",
        "http:///no-host",
        "http://user:secret@example.org/feed",
        "http://example.org:99999/",
        "http://exa mple.org/",
        "http://example.org/\r\nX-Injected: 1",
    ],
)
def test_only_plain_http_and_https_urls_are_fetched(url: str, network_guard: Guard) -> None:
    with pytest.raises(FetchError) as exc:
        fetch(url, limits=LOCAL)
    refused(exc)
    assert "\n" not in str(exc.value)
    assert network_guard.connects == [] and network_guard.lookups == []


def test_loopback_server_itself_is_refused_without_allow_local(
    server: LoopbackHTTPServer, network_guard: Guard
) -> None:
    server.routes["/feed"] = lambda req: req.reply(200, RSS)
    with pytest.raises(FetchError) as exc:
        fetch(server.url("/feed"), limits=FetchLimits(deadline=5.0))
    refused(exc)
    assert "loopback" in str(exc.value)
    assert network_guard.connects == []
    assert server.requests == []
    with pytest.raises(FetchError):
        check_url(server.url("/feed"))
    check_url(server.url("/feed"), allow_local=True)


@pytest.mark.parametrize(
    "host",
    ["2130706433", "0x7f000001", "017700000001", "127.1", "0177.0.0.1", "127.000.000.001", "0x7f.1"],
)
def test_numeric_tricks_for_loopback_are_refused_even_with_allow_local(host: str, network_guard: Guard) -> None:
    # Proof the trick is real: the C library reads these as 127.0.0.1 (a numeric parse, no DNS).
    assert socket.getaddrinfo(host, 80, type=socket.SOCK_STREAM)[0][4][0] == "127.0.0.1"
    for allow_local in (False, True):
        with pytest.raises(FetchError) as exc:
            fetch(f"http://{host}/latest/meta-data", limits=FetchLimits(deadline=5.0, allow_local=allow_local))
        refused(exc)
    assert network_guard.connects == []


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("[::1]", "loopback"),
        ("[::ffff:127.0.0.1]", "loopback"),
        ("[::ffff:7f00:1]", "loopback"),
        ("[::127.0.0.1]", "loopback"),
        ("169.254.169.254", "link-local"),
        ("[fe80::1]", "link-local"),
        ("[::ffff:169.254.169.254]", "link-local"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("[fc00::1]", "private"),
        ("[fd12:3456::1]", "private"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("224.0.0.251", "multicast"),
        ("[ff02::1]", "multicast"),
        ("240.0.0.1", ""),
        ("255.255.255.255", ""),
        ("0.0.0.0", ""),
        ("[::]", "unspecified"),
        ("[2002:a00:1::1]", "private"),  # 6to4 carrying 10.0.0.1
        ("[2002:7f00:1::1]", "loopback"),  # 6to4 carrying 127.0.0.1
        ("[2001:0:4136:e378:8000:63bf:f5ff:fffe]", ""),  # Teredo carrying 10.0.0.1 (obfuscated)
        ("[64:ff9b::a9fe:a9fe]", "link-local"),  # NAT64 to 169.254.169.254
        ("192.0.2.1", ""),  # documentation range
    ],
)
def test_non_public_addresses_are_refused_without_connecting(host: str, reason: str, network_guard: Guard) -> None:
    with pytest.raises(FetchError) as exc:
        fetch(f"http://{host}/latest/meta-data", limits=FetchLimits(deadline=5.0))
    refused(exc)
    assert reason in str(exc.value)
    with pytest.raises(FetchError):
        check_url(f"https://{host}/")
    assert network_guard.connects == []


@pytest.mark.parametrize("host", ["169.254.169.254", "10.0.0.1", "[fe80::1]", "[::ffff:10.0.0.1]", "0.0.0.0"])
def test_allow_local_opens_loopback_only(host: str, network_guard: Guard) -> None:
    with pytest.raises(FetchError) as exc:
        check_url(f"http://{host}/", allow_local=True)
    refused(exc)
    check_url("http://127.0.0.1:8050/exercise.xml", allow_local=True)
    check_url("http://[::1]:8050/exercise.xml", allow_local=True)
    assert network_guard.connects == []


@pytest.mark.parametrize(
    "addresses",
    [
        ["10.1.2.3"],
        ["93.184.216.34", "192.168.0.7"],  # one good, one private: the name is refused
        ["192.168.0.7", "93.184.216.34"],
        ["2606:2800:220:1:248:1893:25c8:1946", "fe80::1"],
        ["::ffff:169.254.169.254"],
        ["127.0.0.1"],
    ],
)
def test_name_resolving_to_any_internal_address_is_refused(addresses: list[str], network_guard: Guard) -> None:
    network_guard.fake_names["feeds.example.org"] = addresses
    with pytest.raises(FetchError) as exc:
        fetch("http://feeds.example.org/rss", limits=FetchLimits(deadline=5.0))
    refused(exc)
    assert "feeds.example.org" in str(exc.value)
    assert network_guard.connects == []


def test_name_resolving_to_public_addresses_passes_the_check(network_guard: Guard) -> None:
    network_guard.fake_names["feeds.example.org"] = ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]
    check_url("https://feeds.example.org/rss")
    check_url("http://93.184.216.34/rss")
    check_url("http://[2606:2800:220:1:248:1893:25c8:1946]/rss")
    assert network_guard.connects == []


def test_unresolvable_name_is_unreachable(network_guard: Guard) -> None:
    network_guard.fake_names["gone.example.org"] = []
    with pytest.raises(FetchError) as exc:
        fetch("http://gone.example.org/rss", limits=FetchLimits(deadline=5.0))
    assert exc.value.word == "unreachable"


def test_connects_to_the_checked_address_not_the_name_again(
    server: LoopbackHTTPServer, network_guard: Guard, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the first answer is checked; a second lookup would say 10.0.0.1."""
    answers = iter([["127.0.0.1"], ["10.0.0.1"], ["10.0.0.1"]])
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host == "rebind.test":
            network_guard.fake_names["rebind.test"] = next(answers)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    server.routes["/feed"] = lambda req: req.reply(200, RSS)

    result = fetch(f"http://rebind.test:{server.port}/feed", limits=LOCAL)

    assert result.body == RSS
    assert network_guard.lookups == ["rebind.test"]
    assert network_guard.connects == ["127.0.0.1"]
    assert server.requests[-1][1]["host"] == f"rebind.test:{server.port}"


# --- redirects --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/",
        "http://[::ffff:169.254.169.254]/",
        "http://2130706433/",
        "file:///etc/passwd",
        "http://internal.example.org/admin",
    ],
)
def test_redirect_to_internal_address_is_refused_without_connecting(
    location: str, server: LoopbackHTTPServer, network_guard: Guard
) -> None:
    network_guard.fake_names["internal.example.org"] = ["10.20.30.40"]

    @server.route("/feed")
    def bounce(req: Handler) -> None:
        req.reply(302, b"", {"Location": location})

    with pytest.raises(FetchError) as exc:
        fetch(server.url("/feed"), limits=LOCAL)
    refused(exc)
    assert network_guard.connects == ["127.0.0.1"]  # the allowed first hop, nothing after it


def test_redirects_are_followed_relative_and_absolute(server: LoopbackHTTPServer) -> None:
    server.routes["/old"] = lambda req: req.reply(301, b"", {"Location": "/moved"})
    server.routes["/moved"] = lambda req: req.reply(307, b"", {"Location": server.url("/final?x=1")})
    server.routes["/final"] = lambda req: req.reply(200, RSS, {"Content-Type": "application/rss+xml"})

    result = fetch(server.url("/old"), limits=LOCAL)

    assert result.body == RSS
    assert result.url == server.url("/final?x=1")
    assert [path for path, _ in server.requests] == ["/old", "/moved", "/final?x=1"]


def test_redirect_loop_is_stopped(server: LoopbackHTTPServer) -> None:
    server.routes["/a"] = lambda req: req.reply(302, b"", {"Location": "/b"})
    server.routes["/b"] = lambda req: req.reply(302, b"", {"Location": "/a"})
    with pytest.raises(FetchError) as exc:
        fetch(server.url("/a"), limits=LOCAL)
    assert exc.value.word == "redirects"
    assert len(server.requests) == 2


def test_redirect_limit(server: LoopbackHTTPServer) -> None:
    for hop in range(8):
        server.routes[f"/{hop}"] = functools.partial(
            lambda req, n: req.reply(308, b"", {"Location": f"/{n + 1}"}), n=hop
        )
    server.routes["/8"] = lambda req: req.reply(200, RSS)

    with pytest.raises(FetchError) as exc:
        fetch(server.url("/0"), limits=FetchLimits(deadline=5.0, allow_local=True, max_redirects=5))
    assert exc.value.word == "redirects"
    assert len(server.requests) == 6  # the first URL and five redirects, the sixth never requested

    server.requests.clear()
    assert fetch(server.url("/3"), limits=FetchLimits(deadline=5.0, allow_local=True, max_redirects=5)).body == RSS


def test_redirect_without_location_is_a_bad_response(server: LoopbackHTTPServer) -> None:
    server.routes["/feed"] = lambda req: req.reply(302, b"")
    with pytest.raises(FetchError) as exc:
        fetch(server.url("/feed"), limits=LOCAL)
    assert exc.value.word == "bad-response"


# --- size caps and compression ----------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def gzip_bomb() -> bytes:
    """About 300 KB of gzip that expands to 300 MB of zeros, built a megabyte at a time."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(MB)
    return b"".join([packer.compress(zeros) for _ in range(300)] + [packer.flush()])


def test_gzip_and_deflate_bodies_are_decoded(server: LoopbackHTTPServer) -> None:
    raw_deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    bodies = {
        "/gzip": (gzip.compress(RSS), "gzip"),
        "/gzip-two-members": (gzip.compress(RSS[:20]) + gzip.compress(RSS[20:]), "gzip"),
        "/zlib": (zlib.compress(RSS), "deflate"),
        "/raw-deflate": (raw_deflate.compress(RSS) + raw_deflate.flush(), "deflate"),
        "/identity": (RSS, "identity"),
    }
    for path, (body, encoding) in bodies.items():
        server.routes[path] = functools.partial(
            lambda req, b, e: req.reply(200, b, {"Content-Encoding": e}), b=body, e=encoding
        )
    for path in bodies:
        assert fetch(server.url(path), limits=LOCAL).body == RSS, path


def test_gzip_bomb_stops_at_the_cap_without_expanding(server: LoopbackHTTPServer) -> None:
    bomb = gzip_bomb()
    assert len(bomb) < 400_000
    server.routes["/bomb"] = lambda req: req.reply(
        200, bomb, {"Content-Encoding": "gzip", "Content-Type": "application/xml"}
    )

    tracemalloc.start()
    try:
        started = time.monotonic()
        with pytest.raises(FetchError) as exc:
            fetch(server.url("/bomb"), limits=FetchLimits(deadline=10.0, allow_local=True, max_bytes=MB))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert exc.value.word == "too-large"
    assert "1 MB" in str(exc.value)
    assert peak < 16 * MB  # 300 MB of zeros were never allocated
    assert time.monotonic() - started < 5


def test_gzip_bomb_stops_at_the_default_cap(server: LoopbackHTTPServer) -> None:
    server.routes["/bomb"] = lambda req: req.reply(200, gzip_bomb(), {"Content-Encoding": "gzip"})
    with pytest.raises(FetchError) as exc:
        fetch(server.url("/bomb"), limits=LOCAL)
    assert exc.value.word == "too-large"
    assert "20 MB" in str(exc.value)


def test_corrupt_gzip_and_unknown_encoding_are_bad_responses(server: LoopbackHTTPServer) -> None:
    server.routes["/corrupt"] = lambda req: req.reply(
        200, b"\x1f\x8b\x08\x00garbage-garbage", {"Content-Encoding": "gzip"}
    )
    server.routes["/truncated"] = lambda req: req.reply(
        200, gzip.compress(RSS * 50)[:-30], {"Content-Encoding": "gzip"}
    )
    server.routes["/brotli"] = lambda req: req.reply(200, b"\x0b\x02\x80", {"Content-Encoding": "br"})
    for path in ("/corrupt", "/truncated", "/brotli"):
        with pytest.raises(FetchError) as exc:
            fetch(server.url(path), limits=LOCAL)
        assert exc.value.word == "bad-response", path


def _fifty_megabytes() -> Iterator[bytes]:
    chunk = b"<item>" + b"x" * (64 * 1024 - 13) + b"</item>"
    for _ in range(50 * MB // len(chunk) + 1):
        yield chunk


def test_50_mb_body_without_length_stops_at_the_cap(server: LoopbackHTTPServer) -> None:
    server.routes["/big"] = lambda req: req.stream(200, _fifty_megabytes(), {"Content-Type": "application/xml"})
    started = time.monotonic()
    with pytest.raises(FetchError) as exc:
        fetch(server.url("/big"), limits=FetchLimits(deadline=10.0, allow_local=True, max_bytes=MB))
    assert exc.value.word == "too-large"
    assert time.monotonic() - started < 5


def test_50_mb_chunked_body_stops_at_the_cap(server: LoopbackHTTPServer) -> None:
    def chunked(req: Handler) -> None:
        framed = (b"%x\r\n%s\r\n" % (len(c), c) for c in _fifty_megabytes())
        req.stream(200, framed, {"Transfer-Encoding": "chunked"})

    server.routes["/big"] = chunked
    with pytest.raises(FetchError) as exc:
        fetch(server.url("/big"), limits=FetchLimits(deadline=10.0, allow_local=True, max_bytes=MB))
    assert exc.value.word == "too-large"


def test_declared_50_mb_is_refused_before_reading(server: LoopbackHTTPServer) -> None:
    def declared(req: Handler) -> None:
        req.reply(200, b"", {"Content-Type": "application/xml"}, length=50 * MB)
        req.server.stopping.wait(5)  # nothing follows: the client must not wait for it

    server.routes["/big"] = declared
    started = time.monotonic()
    with pytest.raises(FetchError) as exc:
        fetch(server.url("/big"), limits=FetchLimits(deadline=10.0, allow_local=True, max_bytes=MB))
    assert exc.value.word == "too-large"
    assert "Content-Length" in str(exc.value)
    assert time.monotonic() - started < 1


def test_content_length_claiming_less_reads_only_what_was_declared(server: LoopbackHTTPServer) -> None:
    server.routes["/lie"] = lambda req: req.reply(200, b"0123456789" + b"X" * 5 * MB, length=10)
    result = fetch(server.url("/lie"), limits=FetchLimits(deadline=5.0, allow_local=True, max_bytes=MB))
    assert result.body == b"0123456789"


def test_content_length_claiming_more_then_closing_is_a_bad_response(server: LoopbackHTTPServer) -> None:
    server.routes["/lie"] = lambda req: req.reply(200, RSS, length=len(RSS) + 500)
    with pytest.raises(FetchError) as exc:
        fetch(server.url("/lie"), limits=LOCAL)
    assert exc.value.word == "bad-response"
    assert f"{len(RSS)} of {len(RSS) + 500} bytes" in str(exc.value)


def test_chunked_body_cut_short_is_a_bad_response(server: LoopbackHTTPServer) -> None:
    def cut(req: Handler) -> None:
        req.reply(200, b"", {"Transfer-Encoding": "chunked"}, length=None)
        req.raw(b"100\r\nonly a little")

    server.routes["/cut"] = cut
    with pytest.raises(FetchError) as exc:
        fetch(server.url("/cut"), limits=LOCAL)
    assert exc.value.word == "bad-response"


# --- deadlines --------------------------------------------------------------------------------------


def _drip(req: Handler, data: bytes, every: float) -> None:
    try:
        for byte in data:
            if req.server.stopping.wait(every):
                return
            req.raw(bytes([byte]))
    except OSError:
        return  # the client gave up: that is the point


def test_server_dripping_headers_a_byte_a_second_is_stopped_at_the_total_deadline(server: LoopbackHTTPServer) -> None:
    server.routes["/drip"] = lambda req: _drip(req, b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", 1.0)
    started = time.monotonic()
    with pytest.raises(FetchError) as exc:
        fetch(server.url("/drip"), limits=FetchLimits(deadline=2.0, allow_local=True))
    took = time.monotonic() - started
    assert exc.value.word == "timeout"
    assert 1.9 <= took < 3.0


def test_server_dripping_the_body_is_stopped_at_the_total_deadline(server: LoopbackHTTPServer) -> None:
    def drip_body(req: Handler) -> None:
        req.reply(200, b"", length=None)
        _drip(req, RSS, 0.2)

    server.routes["/drip"] = drip_body
    started = time.monotonic()
    with pytest.raises(FetchError) as exc:
        fetch(server.url("/drip"), limits=FetchLimits(deadline=1.5, allow_local=True))
    assert exc.value.word == "timeout"
    assert time.monotonic() - started < 2.5


def test_silent_server_is_stopped_at_the_deadline(server: LoopbackHTTPServer) -> None:
    server.routes["/silent"] = lambda req: req.server.stopping.wait(30)
    started = time.monotonic()
    with pytest.raises(FetchError) as exc:
        fetch(server.url("/silent"), limits=FetchLimits(deadline=1.5, allow_local=True))
    assert exc.value.word == "timeout"
    assert "1.5 s" in str(exc.value)
    assert time.monotonic() - started < 2.5


def test_deadline_covers_all_redirect_hops(server: LoopbackHTTPServer) -> None:
    def slow_redirect(req: Handler, hop: int) -> None:
        req.server.stopping.wait(0.6)
        req.reply(302, b"", {"Location": f"/hop{hop + 1}"})

    for hop in range(10):
        server.routes[f"/hop{hop}"] = functools.partial(slow_redirect, hop=hop)
    started = time.monotonic()
    with pytest.raises(FetchError) as exc:
        fetch(server.url("/hop0"), limits=FetchLimits(deadline=1.5, allow_local=True, max_redirects=50))
    assert exc.value.word == "timeout"
    assert 1.4 <= time.monotonic() - started < 2.5
    assert len(server.requests) == 3  # each hop well inside a per-read timeout, the total is not


# --- broken servers ---------------------------------------------------------------------------------


def test_nothing_listening_is_unreachable() -> None:
    with pytest.raises(FetchError) as exc:
        fetch(f"http://127.0.0.1:{closed_port()}/feed", limits=LOCAL)
    assert exc.value.word == "unreachable"
    assert "refused" in str(exc.value)


@pytest.mark.parametrize(
    "reply",
    [
        b"",  # accepts, then closes
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        b"HTTP/1.1 abc Nope\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"X-Long: " + b"a" * 70_000 + b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(200)) + b"\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n0123456789",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n0123456",
        b"HTTP/1.1 204 No Content\r\n\r\n",
    ],
)
def test_garbage_answers_are_bad_responses_never_other_exceptions(reply: bytes, server: LoopbackHTTPServer) -> None:
    server.routes["/feed"] = lambda req: req.raw(reply)
    with pytest.raises(FetchError) as exc:
        fetch(server.url("/feed"), limits=LOCAL)
    assert exc.value.word == "bad-response", str(exc.value)
    assert "\n" not in str(exc.value)


def test_https_to_a_plain_http_server_is_a_fetch_error(server: LoopbackHTTPServer) -> None:
    server.routes["/feed"] = lambda req: req.reply(200, RSS)
    with pytest.raises(FetchError) as exc:
        fetch(f"https://127.0.0.1:{server.port}/feed", limits=LOCAL)
    assert exc.value.word in ("unreachable", "bad-response")


# --- TLS --------------------------------------------------------------------------------------------


@pytest.fixture
def tls_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackHTTPServer]:
    """https on loopback with the test certificate, trusted for this test only."""
    real = ssl.create_default_context

    def trusting_test_cert(*args, **kwargs):  # type: ignore[no-untyped-def]
        context = real(*args, **kwargs)
        context.load_verify_locations(cadata=TEST_CERT_PEM)
        return context

    monkeypatch.setattr(ssl, "create_default_context", trusting_test_cert)
    with LoopbackHTTPServer() as running:
        running.start_tls()
        yield running


def test_https_verifies_the_certificate_for_the_host_name(tls_server: LoopbackHTTPServer, network_guard: Guard) -> None:
    tls_server.routes["/feed"] = lambda req: req.reply(200, RSS)
    network_guard.fake_names["feed.test"] = ["127.0.0.1"]
    network_guard.fake_names["other.test"] = ["127.0.0.1"]

    result = fetch(f"https://feed.test:{tls_server.port}/feed", limits=LOCAL)
    assert result.body == RSS
    assert tls_server.requests[-1][1]["host"] == f"feed.test:{tls_server.port}"

    with pytest.raises(FetchError) as exc:
        fetch(f"https://other.test:{tls_server.port}/feed", limits=LOCAL)
    assert exc.value.word == "unreachable"
    assert "certificate" in str(exc.value)


# --- limits -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [{"deadline": 0}, {"deadline": -1}, {"max_bytes": 0}, {"max_redirects": -1}])
def test_nonsense_limits_are_refused_when_set(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        FetchLimits(**bad)  # type: ignore[arg-type]


# --- through an HTTP proxy (HTTPS_PROXY / HTTP_PROXY / NO_PROXY) -------------------------------------


class LoopbackProxy:
    """A small forward proxy on loopback: CONNECT tunnels and absolute-URL GETs, each relayed to
    127.0.0.1 at the port asked for; ``answer`` replaces the CONNECT reply (a refusing proxy)."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.answer: bytes | None = None
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                client.close()
                return
            head += chunk
        line = head.split(b"\r\n", 1)[0].decode()
        self.seen.append(line)
        method, target, _ = line.split(" ", 2)
        if method == "CONNECT":
            if self.answer is not None:
                client.sendall(self.answer)
                client.close()
                return
            port = int(target.rsplit(":", 1)[1])
            upstream = socket.create_connection(("127.0.0.1", port))
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            rest = head.split(b"\r\n\r\n", 1)[1]
        else:
            port = urlsplit(target).port or 80
            upstream = socket.create_connection(("127.0.0.1", port))
            path = urlsplit(target).path or "/"
            rest = head.replace(target.encode(), path.encode(), 1)
        if rest:
            upstream.sendall(rest)
        pipes = [threading.Thread(target=self._pipe, args=(a, b), daemon=True)
                 for a, b in ((client, upstream), (upstream, client))]
        for pipe in pipes:
            pipe.start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def proxy() -> Iterator[LoopbackProxy]:
    running = LoopbackProxy()
    yield running
    running.close()


def test_http_feeds_go_through_the_proxy_with_the_absolute_url(server: LoopbackHTTPServer, proxy) -> None:
    server.routes["/feed"] = lambda req: req.reply(200, RSS)
    result = fetch(server.url("/feed"), limits=LOCAL, proxies={"http": proxy.url})
    assert result.body == RSS
    assert proxy.seen == [f"GET {server.url('/feed')} HTTP/1.1"]


def test_https_feeds_tunnel_through_the_proxy_and_still_verify_the_certificate(
        tls_server: LoopbackHTTPServer, proxy, network_guard: Guard) -> None:
    tls_server.routes["/feed"] = lambda req: req.reply(200, RSS)
    network_guard.fake_names["feed.test"] = ["127.0.0.1"]
    network_guard.fake_names["other.test"] = ["127.0.0.1"]
    result = fetch(f"https://feed.test:{tls_server.port}/feed", limits=LOCAL, proxies={"https": proxy.url})
    assert result.body == RSS and proxy.seen == [f"CONNECT feed.test:{tls_server.port} HTTP/1.1"]
    with pytest.raises(FetchError) as exc:  # through the tunnel, the name must still match the certificate
        fetch(f"https://other.test:{tls_server.port}/feed", limits=LOCAL, proxies={"https": proxy.url})
    assert "certificate" in str(exc.value)


def test_no_proxy_hosts_go_direct_and_a_refusing_proxy_is_one_line(
        tls_server: LoopbackHTTPServer, proxy, network_guard: Guard) -> None:
    tls_server.routes["/feed"] = lambda req: req.reply(200, RSS)
    network_guard.fake_names["feed.test"] = ["127.0.0.1"]
    url = f"https://feed.test:{tls_server.port}/feed"
    assert fetch(url, limits=LOCAL, proxies={"https": proxy.url, "no": "localhost,.test"}).body == RSS
    assert proxy.seen == []
    proxy.answer = b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"
    with pytest.raises(FetchError) as exc:
        fetch(url, limits=LOCAL, proxies={"https": proxy.url})
    assert exc.value.word == "unreachable" and "refused the tunnel" in str(exc.value) and "407" in str(exc.value)
    assert "\n" not in str(exc.value)


def test_the_ssrf_guard_holds_through_a_proxy(proxy, network_guard: Guard) -> None:
    network_guard.fake_names["intranet.test"] = ["10.1.2.3"]
    with pytest.raises(FetchError) as exc:
        fetch("http://intranet.test/admin", limits=FetchLimits(deadline=5.0), proxies={"http": proxy.url})
    assert exc.value.word == "refused" and proxy.seen == []  # refused here, before the proxy hears of it
