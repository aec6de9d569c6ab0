"""``watchfloor up``: the whole live picture as one process tree that Ctrl-C stops cleanly.

Starts, in order: Redis (embedded unless REDIS_URL is set), the exercise feed server (loopback),
RQ workers, the RQ cron scheduler, and the web app. A child that dies is restarted with back-off
(so a Redis outage never turns into a crash loop); on Ctrl-C or SIGTERM children are stopped in
reverse order and the embedded Redis is shut down with its append-only file flushed.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import orjson
import redis

from domain.access.accounts import AccountStore, ensure_first_admin
from domain.config.loader import Config, ConfigError
from domain.config.scenario import load_scenario
from domain.store import sentinel
from domain.store.connection import connect, running_url, status_paths
from watchfloor.exercise import ExerciseServer
from watchfloor.redis_ha import SentinelSet, store_mode_problem
from watchfloor.redis_server import (
    EmbeddedRedis,
    die_with_parent,
    exit_reason,
    maxmemory_for,
    secure_dir,
    write_private,
)
from watchfloor.stacks import clear_running, record_running

FIRST_ADMIN_FILE = "first-admin-password"
STORE_STEADY = 60.0  # seconds a restarted store must run before its trouble is called over

log = logging.getLogger("watchfloor.up")


WEB_FD_ENV = "WATCHFLOOR_WEB_FD"  # a web child serves the listening socket the supervisor holds


@dataclass
class Child:
    name: str
    argv: list[str]
    pass_fds: tuple[int, ...] = ()
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = 0.0


def listen_web(host: str, port: int) -> socket.socket:
    """The web app's listening socket, held by the supervisor and served by every web child: one can
    die and restart while the others keep answering, and no connection is refused meanwhile."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise ConfigError(
            f"web app: port {port} on {host} is in use; set PORT to a free port or stop the other process"
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def check_port_free(host: str, port: int, what: str, key: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            raise ConfigError(
                f"{what}: port {port} on {host} is in use; set {key} to a free port or stop the other process"
            ) from None


class Supervisor:
    def __init__(self, config: Config, config_file: str) -> None:
        self.config = config
        self.config_file = str(Path(config_file).resolve())
        self.redis: EmbeddedRedis | None = None
        self.redis_set: SentinelSet | None = None  # `up --ha`: primary, replica, three sentinels
        self.exercise = None
        self.children: list[Child] = []
        self.stopping = False
        self.redis_url = ""
        self.store_down_since = 0.0  # when the embedded store stopped (0: running)
        self.store_up_at = 0.0
        self.store_restarts = 0
        self.store_reason = ""
        self._admin_check: redis.Redis | None = None
        self.web_socket: socket.socket | None = None

    # -- start -------------------------------------------------------------------------------
    def start(self) -> None:
        cfg = self.config
        self.web_socket = listen_web(str(cfg.host), int(cfg.port))
        data = secure_dir(cfg.data_path)  # 0700: it holds the store, its password and exports
        if cfg.redis_url:
            self.redis_url = str(cfg.redis_url)
            log.info("using Redis at %s", _redact(self.redis_url))
        else:
            other = running_url(data / "redis") or running_url(data / "redis-ha")
            if other:
                raise ConfigError(
                    f"data_dir: another Watchfloor is already running on {data} (Redis {_redact(other)}); "
                    "stop it or set WATCHFLOOR_DATA_DIR to another directory"
                )
            problem = store_mode_problem(data, bool(cfg.redis_ha))
            if problem:
                raise ConfigError(problem)
        if not cfg.redis_url and cfg.redis_ha:
            self.redis_set = SentinelSet(data / "redis-ha", maxmemory=maxmemory_for(int(cfg.redis_maxmemory_mb))).start(
                seed_from=data / "redis")
            self.redis_url = self.redis_set.url
        elif not cfg.redis_url:
            self.redis = EmbeddedRedis(data / "redis", maxmemory=maxmemory_for(int(cfg.redis_maxmemory_mb))).start()
            for path in status_paths(data):  # trouble of an earlier run is over
                path.unlink(missing_ok=True)
            self.redis_url = self.redis.url
        self.first_admin_password = self._first_admin()
        exercise_url = ""
        if cfg.exercise:
            self.exercise = ExerciseServer(
                load_scenario(str(cfg.scenario)),
                port=int(cfg.exercise_port),
                speed=float(cfg.scenario_speed),
            )
            self.exercise.start()
            exercise_url = self.exercise.url
            log.info("exercise feeds on %s (scenario %s)", exercise_url, cfg.scenario)
        self.env = {
            **os.environ,
            "REDIS_URL": self.redis_url,
            "WATCHFLOOR_CONFIG": self.config_file,
            "WATCHFLOOR_EXERCISE_URL": exercise_url,
            "PYTHONUNBUFFERED": "1",
        }
        cli = [sys.executable, "-m", "watchfloor.cli"]
        for index in range(int(cfg.workers)):
            self.children.append(Child(f"worker-{index + 1}", [*cli, "worker"]))
        self.children.append(Child("cron", [*cli, "cron"]))
        self.children.append(Child("fuser", [*cli, "fuse"]))
        fd = self.web_socket.fileno()
        count = int(cfg.web_processes)
        for index in range(count):
            self.children.append(Child("web" if count == 1 else f"web-{index + 1}", [*cli, "web"], (fd,)))
        for child in self.children:
            self._spawn(child)

    def _first_admin(self) -> str | None:
        """On a fresh data store, an ``admin`` account with a one-time password (printed once)."""

        try:
            client = connect(self.redis_url, timeout=3)
            return ensure_first_admin(client)
        except Exception as exc:  # Redis down at start-up: the app starts degraded; try next time
            log.warning("could not check for a first admin account: %s", exc)
            return None

    def _restart_store(self, now: float, next_start: float) -> float:
        """The embedded store stopped: say why (log, and a status file every screen and health read
        while it is down), then restart it with a growing back-off, so a full disk is not retried
        forty times a minute. Same address and data: the append-only file replays, clients reconnect."""
        if now < next_start:
            return next_start
        assert self.redis is not None
        if self.store_down_since == 0.0:
            self.store_down_since = time.time()
            self.store_restarts = 0
            reason = exit_reason(self.redis.data_dir)
            self.store_reason = reason
            log.error("embedded Redis stopped (exit code %s): %s", self.redis.process.returncode if self.redis.process
                      else "?", reason, extra={"reason": reason})
            self._write_store_status()
        self.store_restarts += 1
        delay = min(60.0, 2.0 ** self.store_restarts)
        try:
            self.redis.start()
            self.store_up_at = now
            log.warning("embedded Redis restarted (attempt %d)", self.store_restarts)
            return now
        except Exception as exc:  # keep supervising; the status file says why, the back-off grows
            reason = exit_reason(self.redis.data_dir)
            if "exited at start-up" not in str(exc):
                reason += f"; restarting failed: {' '.join(str(exc).split())[:160]}"
            self.store_reason = reason
            self._write_store_status()
            log.error("embedded Redis did not restart: %s; next attempt in %.0fs", reason, delay,
                      extra={"reason": reason, "attempt": self.store_restarts})
            return now + delay

    def _write_store_status(self) -> None:
        assert self.redis is not None
        since = time.strftime("%H:%M:%S UTC", time.gmtime(self.store_down_since))
        status = {"reason": f"data store stopped at {since}: {self.store_reason}; restarting (attempt "
                            f"{self.store_restarts})", "since": self.store_down_since, "restarts": self.store_restarts}
        for path in status_paths(self.config.data_path):  # the run-time directory first: the data's disk may be full
            try:
                write_private(path, orjson.dumps(status).decode())
                return
            except OSError as exc:
                log.error("could not record the store's status in %s: %s", path, exc)

    def _store_recovered(self) -> None:
        assert self.redis is not None
        log.warning("embedded Redis has run %.0fs since it stopped (%s); all clear", STORE_STEADY, self.store_reason)
        for path in status_paths(self.config.data_path):
            path.unlink(missing_ok=True)
        self.store_down_since = 0.0

    def _forget_first_password(self) -> None:
        """Delete the one-time admin password's file once the admin has chosen a new password."""
        path = self.config.data_path / FIRST_ADMIN_FILE
        if not path.exists():
            return
        try:
            if self._admin_check is None:  # one client for these checks, not a new pool every 5 s
                self._admin_check = connect(self.redis_url, timeout=2)
            admin = AccountStore(self._admin_check).get("admin")
        except Exception:  # Redis down for a moment: look again on the next round
            return
        if admin is None or not admin.must_change_password:
            path.unlink(missing_ok=True)

    def _spawn(self, child: Child) -> None:
        env = {**self.env, WEB_FD_ENV: str(child.pass_fds[0])} if child.pass_fds else self.env
        child.process = subprocess.Popen(child.argv, env=env, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent,
                                         pass_fds=child.pass_fds)
        child.started_at = time.monotonic()
        log.debug("started %s (pid %s)", child.name, child.process.pid)

    # -- run ---------------------------------------------------------------------------------
    def watch(self) -> None:
        """Restart children that exit, with back-off, until asked to stop."""
        redis_next_start = ha_next_check = 0.0
        next_password_check = 0.0
        while not self.stopping:
            now = time.monotonic()
            if now >= next_password_check:
                next_password_check = now + 5.0
                self._forget_first_password()
            if self.redis is not None and self.redis.process is not None and self.redis.process.poll() is not None:
                redis_next_start = self._restart_store(now, redis_next_start)
            elif self.redis is not None and self.store_down_since and now - self.store_up_at > STORE_STEADY:
                self._store_recovered()
            if self.redis_set is not None and now >= ha_next_check:
                ha_next_check = now + 1.0
                for what in self.redis_set.keep_alive():  # a dead node returns as a replica once failed over
                    log.warning("Sentinel set: %s", what)
            for child in self.children:
                proc = child.process
                if proc is not None and proc.poll() is not None and not self.stopping:
                    code = proc.returncode
                    child.process = None
                    ran = now - child.started_at
                    child.restarts = 0 if ran > 60 else child.restarts + 1
                    delay = min(30.0, 0.5 * 2 ** child.restarts)
                    child.next_start = now + delay
                    log.warning("%s exited with code %s; restarting in %.1fs", child.name, code, delay)
                elif proc is None and not self.stopping and now >= child.next_start:
                    self._spawn(child)
            time.sleep(0.2)

    # -- stop --------------------------------------------------------------------------------
    def stop(self) -> None:
        self.stopping = True
        for child in reversed(self.children):
            if child.process is not None and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in reversed(self.children):
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in time; killing it", child.name)
                child.process.kill()
                child.process.wait(timeout=5)
        if self.web_socket is not None:
            self.web_socket.close()
        if self.exercise is not None:
            self.exercise.stop()
        if self.redis is not None:
            self.redis.stop()
        if self.redis_set is not None:
            self.redis_set.stop()
        log.info("Watchfloor stopped; data kept in %s", self.config.data_path)


def run_up(config: Config, config_file: str) -> int:
    sup = Supervisor(config, config_file)

    def _stop(signum: int, _frame: object) -> None:
        sup.stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        sup.start()
        url = f"http://{'127.0.0.1' if config.host in ('0.0.0.0', '') else config.host}:{config.port}/"
        record_running(config.data_path, url.rstrip("/"))  # `display add` prints this port; other CLIs find us
        store = (f"embedded {sup.redis.binary.label} on {sup.redis.address}" if sup.redis and sup.redis.binary
                 else sup.redis_set.address if sup.redis_set else f"Redis {_redact(sup.redis_url)}")
        print(f"Watchfloor is starting at {url}  ({store}; Ctrl-C stops everything)", flush=True)
        if sup.first_admin_password:
            print(first_admin_block(sup.first_admin_password, config.data_path), flush=True)
        sup.watch()
    finally:
        sup.stop()
        clear_running(config.data_path)
    return 0


def first_admin_block(password: str, data_dir: Path) -> str:
    """The one-time admin password, framed apart from the log lines that follow it, and kept (0600)
    in the data directory until the admin has chosen a new one."""
    write_private(data_dir / FIRST_ADMIN_FILE, password + "\n")
    lines = ["FIRST RUN: sign in as   admin   with the one-time password", f"    {password}",
             "You will be asked to choose a new one. Until then it is also in",
             f"    {data_dir / FIRST_ADMIN_FILE}  (readable by this account only)",
             "Add people with:  watchfloor user add NAME --role operator"]
    width = max(len(line) for line in lines) + 4
    rule = "=" * width
    return "\n".join(["", rule, *(f"  {line}" for line in lines), rule, ""])


def _redact(url: str) -> str:
    """Never print a Redis password (nor a sentinel's, in a Sentinel URL's query)."""
    return sentinel.redact(url)
