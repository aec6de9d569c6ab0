"""A Sentinel-watched store on one machine, for trying high availability: ``watchfloor up --ha``.

Five real ``redis-server`` processes (the same binary as the embedded store): a primary, a replica
and three sentinels, all on 127.0.0.1, all in ``<data_dir>/redis-ha/`` (0700), all behind one
random password kept in ``<data_dir>/redis-ha/redis.secret`` (0600):

- the data nodes have no default user; ``watchfloor`` (the stack: every data command, no admin
  one), ``wf-replica`` (PSYNC/REPLCONF only, what a replica needs) and ``wf-sentinel`` (the
  commands a sentinel needs: INFO, ROLE, REPLICAOF, CONFIG REWRITE, pub/sub...);
- the sentinels answer only with the password (``requirepass``, which they also use among
  themselves) and log in to the data nodes as ``wf-sentinel`` (``auth-user``/``auth-pass``).

Clients get a ``redis+sentinel://`` URL naming the three sentinels and the service ``watchfloor``,
with ``wait_replicas=1``: a report is acknowledged once the replica has it
(:mod:`domain.store.durability`). A data node that dies is started again as a replica of whichever
node the sentinels call primary now; a sentinel that dies is started again with its last state.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

import orjson
import redis

from domain.store.connection import url_file
from watchfloor.redis_server import (
    ACL_USER,
    EmbeddedRedis,
    RedisServerError,
    _private_child,
    _tail,
    find_redis_server,
    free_port,
    secret_file,
    secure_dir,
    store_secret,
    write_private,
)

log = logging.getLogger(__name__)

SERVICE = "watchfloor"
REPLICA_USER = "wf-replica"
SENTINEL_USER = "wf-sentinel"
SENTINEL_RULES = ("allchannels +multi +slaveof +replicaof +ping +exec +subscribe +config|rewrite +role +publish "
                  "+info +client|setname +client|kill +script|kill")
LAYOUT = "ha.json"  # ports and which node was primary last, so a restart keeps the data's history


def _quoted(value: object) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


AOF = "watchfloor.aof"
MOVED = "watchfloor.aof.moved-to-ha"  # the single store's file once its data went to the Sentinel set


def store_mode_problem(data_dir: Path, ha: bool) -> str | None:
    """Why starting the other kind of store on ``data_dir`` would show an empty picture, or None.

    The single store keeps its data in ``<data_dir>/redis``, the Sentinel set in ``redis-ha``; the
    first ``up --ha`` moves the single store's data into the set (:meth:`SentinelSet.start`). Going
    back without the data would silently start empty: refused, with what to do."""
    single, ha_dir = data_dir / "redis", data_dir / "redis-ha"
    if ha or (single / AOF).exists() or not (ha_dir / LAYOUT).exists():
        return None
    layout = SentinelSet(ha_dir)._layout()
    node = f"node-{int(layout.get('primary') or 0) + 1}"  # type: ignore[call-overload]
    return (f"data_dir: the data is in the Sentinel set of an earlier `watchfloor up --ha` ({ha_dir}); run "
            f"`watchfloor up --ha`, or, to go back to the single store, stop it and copy {ha_dir / node / AOF} "
            f"to {single / AOF}")


class HaNode(EmbeddedRedis):
    """A data node: the embedded store's configuration, plus the replication and sentinel accounts
    and, for a replica, whom it follows."""

    def __init__(self, data_dir: Path, port: int, *, follows: int = 0, **options: object) -> None:
        super().__init__(data_dir, port, tcp=True, **options)  # type: ignore[arg-type]
        self.follows = follows

    def config_text(self) -> str:
        lines = [super().config_text().rstrip("\n"),
                 f"user {REPLICA_USER} reset on >{self._secret} +psync +replconf +ping",
                 f"user {SENTINEL_USER} reset on >{self._secret} {SENTINEL_RULES}",
                 f"masteruser {REPLICA_USER}", f"masterauth {self._secret}",
                 "replica-read-only yes", "repl-diskless-sync no",
                 f"pidfile {_quoted(self.data_dir / 'redis.pid')}"]
        if self.follows:
            lines.append(f"replicaof 127.0.0.1 {self.follows}")
        return "\n".join(lines) + "\n"


class SentinelProcess:
    """One ``redis-server --sentinel``; its configuration file is its memory (Sentinel rewrites it)."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port = folder, port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def conf(self) -> Path:
        return self.folder / "sentinel.conf"

    def write(self, secret: str, primary_port: int, down_after_ms: int, failover_ms: int) -> None:
        secure_dir(self.folder)
        write_private(self.conf, "\n".join([
            f"port {self.port}", "bind 127.0.0.1", "protected-mode yes", "daemonize no",
            f"dir {_quoted(self.folder)}", f"logfile {_quoted(self.folder / 'sentinel.log')}",
            f"requirepass {secret}",
            f"sentinel monitor {SERVICE} 127.0.0.1 {primary_port} 2",
            f"sentinel auth-user {SERVICE} {SENTINEL_USER}", f"sentinel auth-pass {SERVICE} {secret}",
            f"sentinel down-after-milliseconds {SERVICE} {down_after_ms}",
            f"sentinel failover-timeout {SERVICE} {failover_ms}",
            f"sentinel parallel-syncs {SERVICE} 1",
        ]) + "\n")

    def start(self, binary: str) -> None:
        self.process = subprocess.Popen([binary, str(self.conf), "--sentinel"], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        preexec_fn=_private_child)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, sig_kill: bool = False) -> None:
        if self.alive():
            assert self.process is not None
            self.process.kill() if sig_kill else self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


class SentinelSet:
    """A primary, a replica and three sentinels under ``data_dir`` (see the module's docstring)."""

    def __init__(self, data_dir: Path, *, down_after_ms: int = 5000, failover_ms: int = 10_000,
                 wait_ms: int = 2000, maxmemory: str | None = None) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.down_after_ms, self.failover_ms, self.wait_ms = down_after_ms, failover_ms, wait_ms
        self.maxmemory = maxmemory
        self.nodes: list[HaNode] = []
        self.sentinels: list[SentinelProcess] = []
        self.secret = ""
        self.primary_index = 0
        self._dead_since: dict[int, float] = {}

    # -- layout ----------------------------------------------------------------------------------
    def _layout(self) -> dict[str, object]:
        try:
            layout = orjson.loads((self.data_dir / LAYOUT).read_bytes())
            return layout if isinstance(layout, dict) else {}
        except (OSError, ValueError):
            return {}

    def _save_layout(self) -> None:
        write_private(self.data_dir / LAYOUT, orjson.dumps({
            "nodes": [n.port for n in self.nodes], "sentinels": [s.port for s in self.sentinels],
            "primary": self.primary_index}).decode())

    @staticmethod
    def _port(wanted: object) -> int:
        """The port used last time when it is still free, else a new one."""
        if isinstance(wanted, int) and 0 < wanted < 65536:
            import socket

            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", wanted))
                    return wanted
                except OSError:
                    pass
        return free_port()

    # -- start -----------------------------------------------------------------------------------
    def start(self, timeout: float = 30.0, *, seed_from: Path | None = None) -> SentinelSet:
        """Start the set; on its first start, with the data of the single store in ``seed_from``
        (stopped) when it has any: the primary starts from it and the replica copies it."""
        secure_dir(self.data_dir)
        self.secret = store_secret(self.data_dir)
        layout = self._layout()
        old_nodes = layout.get("nodes") if isinstance(layout.get("nodes"), list) else []
        old_sentinels = layout.get("sentinels") if isinstance(layout.get("sentinels"), list) else []
        primary = layout.get("primary")
        self.primary_index = primary if primary in (0, 1) else 0
        binary = find_redis_server()
        if not layout and seed_from is not None:
            self._seed(seed_from)
        ports = [self._port(old_nodes[i] if i < len(old_nodes) else 0) for i in range(2)]
        for i in range(2):
            folder = secure_dir(self.data_dir / f"node-{i + 1}")
            write_private(secret_file(folder), self.secret + "\n")
            follows = 0 if i == self.primary_index else ports[self.primary_index]
            node = HaNode(folder, ports[i], follows=follows, maxmemory=self.maxmemory)
            node.binary = binary
            self.nodes.append(node)
        self.nodes[self.primary_index].start()
        self.nodes[1 - self.primary_index].start()
        for i in range(3):
            port = self._port(old_sentinels[i] if i < len(old_sentinels) else 0)
            sentinel = SentinelProcess(self.data_dir / f"sentinel-{i + 1}", port)
            sentinel.write(self.secret, ports[self.primary_index], self.down_after_ms, self.failover_ms)
            sentinel.start(binary.path)
            self.sentinels.append(sentinel)
        self._save_layout()
        self.wait_ready(timeout)
        write_private(url_file(self.data_dir), self.url + "\n")
        log.info("Sentinel set: primary 127.0.0.1:%d, replica 127.0.0.1:%d, sentinels %s", ports[self.primary_index],
                 ports[1 - self.primary_index], ", ".join(str(s.port) for s in self.sentinels))
        return self

    def _seed(self, single: Path) -> None:
        """Move the single store's append-only file to the first primary (the single store then
        refuses to start empty: :func:`store_mode_problem`)."""
        source = Path(single) / AOF
        target = secure_dir(self.data_dir / "node-1") / AOF
        if not source.exists() or target.exists():
            return
        shutil.copy2(source, target)
        os.chmod(target, 0o600)
        os.replace(source, source.with_name(MOVED))
        log.warning("the single store's data (%s) moved to the Sentinel set's first primary (%s)", source, target)

    def wait_ready(self, timeout: float) -> None:
        """Until the replica is in sync and every sentinel sees the primary, the replica and the others."""
        deadline = time.monotonic() + timeout
        problem = "not checked"
        while time.monotonic() < deadline:
            problem = self._not_ready()
            if not problem:
                return
            time.sleep(0.1)
        self.stop()
        raise RedisServerError(f"the Sentinel set did not come up within {timeout:.0f}s: {problem}")

    def _not_ready(self) -> str:
        try:
            info = self.client(self.primary_index).info("replication")
            if not any(str(k).startswith("slave") and v.get("state") == "online" for k, v in info.items()
                       if isinstance(v, dict)):
                return "the replica is not in sync yet"
            for sentinel in self.sentinels:
                master = self.sentinel_client(sentinel).sentinel_master(SERVICE)
                if int(master.get("num-other-sentinels", 0)) < 2 or int(master.get("num-slaves", 0)) < 1:
                    return f"sentinel {sentinel.port} does not see the others yet"
        except (redis.RedisError, OSError) as exc:
            for node in self.nodes:
                if node.process is not None and node.process.poll() is not None:
                    return f"a data node exited: {_tail(node.data_dir / 'redis.log').strip()[-200:]}"
            return f"{type(exc).__name__}: {exc}"[:200]
        return ""

    # -- clients ---------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{ACL_USER}:{self.secret}@{hosts}/{SERVICE}?db=0&wait_replicas=1&wait_ms={self.wait_ms}"

    @property
    def address(self) -> str:
        return f"Sentinel service {SERVICE} on 127.0.0.1:{','.join(str(s.port) for s in self.sentinels)}"

    def client(self, index: int) -> redis.Redis:
        """A direct client of data node ``index`` (no failover: for checks)."""
        return redis.Redis(port=self.nodes[index].port, username=ACL_USER, password=self.secret,
                           socket_connect_timeout=0.5, socket_timeout=1)

    def sentinel_client(self, sentinel: SentinelProcess) -> redis.Redis:
        return redis.Redis(port=sentinel.port, password=self.secret, socket_connect_timeout=0.5, socket_timeout=1,
                           decode_responses=True)

    def _named(self) -> list[int | None]:
        """Which node each sentinel that answers calls primary (None: a port that is no node of ours)."""
        named = []
        for sentinel in self.sentinels:
            try:
                _, port = self.sentinel_client(sentinel).sentinel_get_master_addr_by_name(SERVICE)
            except (redis.RedisError, OSError, TypeError, ValueError):
                continue
            named.append(next((i for i, node in enumerate(self.nodes) if node.port == int(port)), None))
        return named

    def current_primary(self) -> int | None:
        """Which node the sentinels call primary now (the first that answers; None when none does)."""
        return next(iter(self._named()), None)

    def agreed_primary(self) -> int | None:
        """The primary every answering sentinel names, or None while they disagree (mid-failover)."""
        named = set(self._named())
        return named.pop() if len(named) == 1 else None

    # -- supervision -----------------------------------------------------------------------------
    def kill_node(self, index: int) -> None:
        self.nodes[index].kill()

    def restart_node(self, index: int) -> None:
        """Start a stopped data node again, as a replica of the current primary (a sentinel would
        turn a returning old primary into one anyway; starting it that way avoids a moment with
        two primaries)."""
        primary = self.current_primary()
        node = self.nodes[index]
        node.follows = self.nodes[primary].port if primary is not None and primary != index else 0
        node.start()

    def keep_alive(self) -> list[str]:
        """Restart whatever died; what was restarted, for the log. Also records a failover.

        A dead primary is left dead until every sentinel names the promoted replica (restarted at
        once, it would come back as the primary and no failover would happen; restarted while a
        sentinel still names it, clients sent there would meet a replica), or until a failover had
        all the time it needs and did not happen (the replica is down too)."""
        done = []
        now = time.monotonic()
        primary = self.agreed_primary()
        for index, node in enumerate(self.nodes):
            if node.process is not None and node.process.poll() is not None:
                dead_since = self._dead_since.setdefault(index, now)
                waited = now - dead_since > (self.down_after_ms + 2 * self.failover_ms) / 1000
                if primary in (index, None) and not waited:
                    continue
                self._dead_since.pop(index, None)
                try:
                    self.restart_node(index)
                    done.append(f"restarted data node 127.0.0.1:{node.port}")
                except RedisServerError as exc:
                    log.error("data node %d did not restart: %s", node.port, exc)
        for sentinel in self.sentinels:
            if sentinel.process is not None and not sentinel.alive():
                sentinel.start(self.nodes[0].binary.path if self.nodes[0].binary else find_redis_server().path)
                done.append(f"restarted sentinel 127.0.0.1:{sentinel.port}")
        if primary is not None and primary != self.primary_index:
            self.primary_index = primary
            self._save_layout()
            done.append(f"primary is now 127.0.0.1:{self.nodes[primary].port} (failover)")
        return done

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        for node in self.nodes:
            node.stop()
        path = url_file(self.data_dir)
        try:
            if path.read_text(encoding="utf-8").strip() == self.url:
                path.unlink()
        except OSError:
            pass

    def __enter__(self) -> SentinelSet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
