"""The embedded store on a shared host: another local account reaches nothing, the store answers no
one without its password and refuses administrative commands even with it, its files are private,
and queued jobs are plain data (issue 12, item 1)."""

from __future__ import annotations

import json
import os
import pickle
import stat
import subprocess
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from rq import Queue, SimpleWorker

from domain.config.loader import load_config
from domain.store.connection import job_queue, job_worker
from watchfloor.redis_server import (
    ACL_USER,
    EmbeddedRedis,
    ServerBinary,
    find_redis_server,
    maxmemory_for,
    secret_file,
    url_file,
)
from workers.schedule import QUEUE, build_cron

pytestmark = pytest.mark.redis

NOBODY = 65534


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory every local account can walk into, as /srv or /opt would be (pytest's own tmp
    directories are 0700, which would hide the store's permissions behind them)."""
    base = Path(tempfile.mkdtemp(prefix="wf-shared-"))
    os.chmod(base, 0o755)
    yield base
    subprocess.run(["rm", "-rf", str(base)], check=False)


@pytest.fixture
def store(shared_dir: Path) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(shared_dir / "data" / "redis").start()
    yield server
    server.stop()


def as_other_account(attempt) -> str:
    """Run ``attempt()`` in a child process that is another local account (nobody), as a second
    user on the host would be; its answer as text."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to nobody, try, report, never return into pytest
        code = 1
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            os.write(write, str(attempt()).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        answer = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the other account's attempt crashed"
    return answer


def test_files_are_private_and_the_password_is_never_on_a_command_line(store: EmbeddedRedis) -> None:
    redis.Redis.from_url(store.url).xadd("wf:events", {"id": "r1"})
    assert stat.S_IMODE(store.data_dir.stat().st_mode) == 0o700
    names = {path.name for path in store.data_dir.iterdir()}
    assert {"watchfloor.aof", "redis.secret", "redis.url", "redis.conf", "redis.log"} <= names
    for path in store.data_dir.iterdir():
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path.name} is readable by others: {oct(mode)}"
    secret = secret_file(store.data_dir).read_text().strip()
    assert secret in url_file(store.data_dir).read_text()
    cmdline = Path(f"/proc/{store.process.pid}/cmdline").read_bytes()
    assert secret.encode() not in cmdline


def test_the_store_answers_no_one_without_the_password(shared_dir: Path) -> None:
    server = EmbeddedRedis(shared_dir / "redis", tcp=True).start()  # TCP: the socket would stop them sooner
    try:
        for client in (redis.Redis(port=server.port), redis.Redis(port=server.port, username="default"),
                       redis.Redis(port=server.port, username=ACL_USER, password="guess")):
            with pytest.raises((redis.AuthenticationError, redis.ResponseError)):
                client.set("wf:user:mallory", "admin")
        assert redis.Redis.from_url(server.url).get("wf:user:mallory") is None
    finally:
        server.stop()


@pytest.mark.parametrize("command", [("CONFIG", "SET", "dir", "/tmp"), ("CONFIG", "GET", "*"),
                                     ("MODULE", "LOAD", "/tmp/x.so"), ("DEBUG", "SLEEP", "0"), ("SHUTDOWN",),
                                     ("ACL", "SETUSER", "mallory", "on", ">x", "+@all"), ("MONITOR",),
                                     ("REPLICAOF", "10.0.0.1", "6379"), ("BGSAVE",)])
def test_administrative_commands_are_refused_even_with_the_password(store: EmbeddedRedis, command) -> None:
    client = redis.Redis.from_url(store.url)
    with pytest.raises(redis.ResponseError, match="no permissions"):
        client.execute_command(*command)
    assert client.ping()  # and the store is still serving


def test_another_local_account_can_neither_read_the_data_nor_reach_the_store(store: EmbeddedRedis) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to act as a second local account (CI runs as root)")

    def attempt() -> str:
        got = []
        for name in ("watchfloor.aof", "redis.secret", "redis.url", "redis.conf"):
            try:
                (store.data_dir / name).read_bytes()
                got.append("read " + name)
            except PermissionError:
                pass
        try:
            redis.Redis(unix_socket_path=str(store.socket_path), socket_connect_timeout=1).ping()
            got.append("connected")
        except redis.ConnectionError as exc:
            if "Permission denied" not in str(exc) and "Errno 13" not in str(exc):
                got.append(f"refused for another reason: {exc}")
        return ",".join(got) or "nothing"

    assert as_other_account(attempt) == "nothing"
    assert as_other_account(lambda: os.getuid()) == str(NOBODY)  # it really was another account


def test_files_left_world_readable_by_an_older_version_are_tightened_on_start(shared_dir: Path) -> None:
    data = shared_dir / "redis"
    data.mkdir(mode=0o755)
    old = data / "watchfloor.aof"
    old.write_text("")
    os.chmod(old, 0o644)
    server = EmbeddedRedis(data).start()
    try:
        assert stat.S_IMODE(data.stat().st_mode) == 0o700 and stat.S_IMODE(old.stat().st_mode) == 0o600
    finally:
        server.stop()


def test_the_password_is_generated_once_and_kept_across_restarts(shared_dir: Path) -> None:
    server = EmbeddedRedis(shared_dir / "redis").start()
    first = server.url
    redis.Redis.from_url(first).set("k", "v")
    server.stop()
    again = EmbeddedRedis(shared_dir / "redis").start()
    try:
        assert again.url == first and redis.Redis.from_url(again.url).get("k") == b"v"
    finally:
        again.stop()


class Planted:
    """What an attacker with queue access writes: a pickle that runs a command when loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def plant(client: redis.Redis, marker: Path) -> None:
    job = Queue(QUEUE, connection=client).enqueue(print, "harmless")  # RQ's default (pickle) format
    client.hset(job.key, "data", zlib.compress(pickle.dumps(Planted(marker))))


def test_a_planted_pickle_job_runs_nothing_in_a_worker(store: EmbeddedRedis, tmp_path: Path) -> None:
    client = redis.Redis.from_url(store.url)
    marker = tmp_path / "pwned"
    plant(client, marker)
    job_worker([job_queue(QUEUE, client)], client, SimpleWorker).work(burst=True)
    assert not marker.exists()
    # The same planted job in a pickle-reading worker (RQ's default) runs the attacker's command:
    # the check above can fail.
    plant(client, marker)
    SimpleWorker([Queue(QUEUE, connection=client)], connection=client).work(burst=True)
    assert marker.exists()


def test_scheduled_polls_are_queued_as_plain_json(store: EmbeddedRedis) -> None:
    client = redis.Redis.from_url(store.url)
    config = load_config(env={"REDIS_URL": store.url})
    cron = build_cron(config, client)
    jobs = [job.enqueue(client) for job in cron.get_jobs()]
    assert jobs
    for job in jobs:
        raw = zlib.decompress(client.hget(job.key, "data"))
        func, _instance, args, _kwargs = json.loads(raw)
        assert func.startswith("workers.jobs.")
        assert all(isinstance(arg, str) for arg in args)


def test_the_maintained_server_is_preferred_when_the_system_has_one(tmp_path: Path) -> None:
    bundled = find_redis_server(path_env="")  # no system server on this path: the venv's
    assert bundled.version >= (6, 2)
    fake = tmp_path / "valkey-server"  # what `valkey-server --version` prints, nothing more
    fake.write_text("#!/bin/sh\necho 'Valkey server v=8.0.2 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64'\n")
    fake.chmod(0o755)
    chosen = find_redis_server(path_env=str(tmp_path))
    assert chosen == ServerBinary(str(fake), "Valkey", (8, 0, 2))
    assert chosen.label.startswith("Valkey 8.0.2")
    old = tmp_path / "old" / "redis-server"
    old.parent.mkdir()
    old.write_text("#!/bin/sh\necho 'Redis server v=5.0.7 sha=00000000:0'\n")
    old.chmod(0o755)
    assert find_redis_server(path_env=str(old.parent)) == bundled  # a 5.x never wins over the bundled 6.2


def test_the_embedded_store_has_a_memory_limit_and_refuses_writes_at_it(shared_dir: Path) -> None:
    assert maxmemory_for(512) == "512mb"
    assert int(maxmemory_for(0)[:-2]) >= 256  # half the host's memory
    server = EmbeddedRedis(shared_dir / "redis", maxmemory=maxmemory_for(3)).start()
    client = redis.Redis.from_url(server.url)
    try:
        memory = client.info("memory")
        assert int(memory["maxmemory"]) == 3 * 1024 * 1024 and memory["maxmemory_policy"] == "noeviction"
        client.xadd("wf:events", {"id": "first"})
        with pytest.raises(redis.ResponseError, match="maxmemory"):
            for i in range(100_000):
                client.set(f"filler:{i}", "x" * 4096)
        assert client.xlen("wf:events") == 1  # refused, and nothing it held was evicted
    finally:
        client.close()
        server.stop()
