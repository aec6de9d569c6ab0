"""Connecting to the address that was checked, within the deadline, with TLS verified by name."""

from __future__ import annotations

import io
import socket
import ssl
import time

from feeds.fetch.limits import _READ_CHUNK, FetchError, _Deadline, _DeadlineExceeded, _os_reason, _Target


def _connect(family: int, sockaddr: tuple, timeout: float) -> socket.socket:
    """A TCP connection to exactly this checked address; a seam for tests."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(sockaddr)
    except BaseException:
        sock.close()
        raise
    return sock


def _connect_any(host: str, port: int, addresses: list[tuple[int, tuple]], clock: _Deadline) -> socket.socket:
    """Connect to the first of ``addresses`` that answers, within the deadline."""
    failure: OSError | None = None
    for family, sockaddr in addresses:
        try:
            return _connect(family, sockaddr, clock.remaining(host))
        except TimeoutError:
            clock.remaining(host)  # raises timeout when the whole deadline went
            failure = TimeoutError("connect timed out")
        except OSError as exc:
            failure = exc
    reason = _os_reason(failure) if failure else "no address"
    raise FetchError(f"cannot connect to {host} port {port} ({reason})", word="unreachable")


def _open(target: _Target, addresses: list[tuple[int, tuple]], clock: _Deadline) -> socket.socket:
    """Connect to the first checked address that answers; TLS-wrap for https."""
    sock = _connect_any(target.host, target.port, addresses, clock)
    return _tls(sock, target, clock) if target.scheme == "https" else sock


def _tls(sock: socket.socket, target: _Target, clock: _Deadline) -> socket.socket:
    try:
        sock.settimeout(clock.remaining(target.host))
        # The handshake's own timeout is total in CPython's ssl module, so the deadline holds.
        return ssl.create_default_context().wrap_socket(sock, server_hostname=target.host)
    except BaseException as exc:
        sock.close()
        if isinstance(exc, ssl.SSLCertVerificationError):
            detail = exc.verify_message or "verification failed"
            raise FetchError(f"TLS certificate of {target.host} not trusted ({detail})", word="unreachable") from None
        if isinstance(exc, TimeoutError):
            clock.remaining(target.host)
            raise FetchError(f"TLS handshake with {target.host} timed out", word="timeout") from None
        if isinstance(exc, OSError):
            raise FetchError(
                f"TLS handshake with {target.host} failed ({_os_reason(exc)})", word="unreachable"
            ) from None
        raise




class _DeadlineReader(io.RawIOBase):
    """Raw reads from the socket, each with the time remaining as its timeout, the clock checked
    before and after; so a server dripping a byte a second is cut at the total deadline."""

    def __init__(self, sock: socket.socket, clock: _Deadline) -> None:
        super().__init__()
        self._sock = sock
        self._clock = clock

    def readable(self) -> bool:
        return True

    def _left(self) -> float:
        left = self._clock.end - time.monotonic()
        if left <= 0:
            raise _DeadlineExceeded("deadline passed")
        return left

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        self._sock.settimeout(self._left())
        count = self._sock.recv_into(buffer)
        if count:
            self._left()
        return count


class _DeadlineSocket:
    """What http.client sees as its socket: sends and reads bounded by the one deadline."""

    def __init__(self, sock: socket.socket, clock: _Deadline) -> None:
        self._sock = sock
        self._clock = clock

    def sendall(self, data: bytes) -> None:
        left = self._clock.end - time.monotonic()
        if left <= 0:
            raise _DeadlineExceeded("deadline passed")
        self._sock.settimeout(left)
        self._sock.sendall(data)

    def makefile(self, mode: str = "rb", *args: object, **kwargs: object) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._clock), _READ_CHUNK)

    def close(self) -> None:
        # http.client closes "the connection" as soon as the headers say Connection: close, while
        # the body is still to be read; fetch() closes the real socket when it is done.
        return


# --- the body ---------------------------------------------------------------------------------------


