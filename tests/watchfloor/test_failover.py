"""High availability on Redis Sentinel, with real processes: a primary, a replica, three sentinels
(``watchfloor up --ha``'s set), the web app on loopback and a writer on the workers' path."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import redis

from bench.failover import report, run_failover
from domain.config.loader import ConfigError
from domain.store.connection import connect
from domain.store.durability import NotReplicated
from domain.store.streams import EventKeys, EventStore
from tests.domain.test_access import make_config
from watchfloor.redis_ha import SentinelSet

pytestmark = pytest.mark.redis


@pytest.mark.slow
def test_killing_the_primary_loses_nothing_acknowledged_and_health_goes_degraded_then_live(tmp_path: Path) -> None:
    result = run_failover(tmp_path, events=150, kill_after=50, timeout=40)
    assert result["acknowledged_before_kill"] >= 50
    assert result["acknowledged"] == 150, result  # the writer went on after the failover
    assert result["lost"] == [], result  # every acknowledged report is on the new primary
    assert result["duplicates"] == 0, result  # a retried append never appends twice
    assert result["new_primary"] != result["old_primary"], result  # the sentinels promoted the replica
    assert result["to_degraded_s"] is not None, result  # health said DEGRADED (503, redis false) ...
    assert result["to_live_s"] is not None and result["to_live_s"] > result["to_degraded_s"], result  # ... then LIVE


@pytest.fixture
def ha(tmp_path: Path):
    with SentinelSet(tmp_path / "ha", down_after_ms=1000, failover_ms=3000, wait_ms=300) as ha:
        yield ha


@pytest.mark.slow
def test_nothing_answers_without_the_password_and_files_are_private(ha: SentinelSet) -> None:
    for port in [n.port for n in ha.nodes] + [s.port for s in ha.sentinels]:
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port, socket_timeout=2).ping()
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port, password="wrong", socket_timeout=2).ping()
    assert stat.S_IMODE(os.stat(ha.data_dir).st_mode) == 0o700
    for path in [ha.data_dir / "redis.secret", *(s.conf for s in ha.sentinels), *(n.data_dir / "redis.conf" for n in ha.nodes)]:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    with pytest.raises(redis.ResponseError):  # the stack's account still may not administer the store
        ha.client(ha.primary_index).config_get("dir")


@pytest.mark.slow
def test_a_write_no_replica_confirms_is_not_acknowledged_and_its_retry_appends_once(ha: SentinelSet) -> None:
    client = connect(ha.url)
    store = EventStore(client)
    assert store.append([report(1)]).new == 1
    replica = 1 - ha.primary_index
    ha.nodes[replica].stop()
    with pytest.raises(NotReplicated):
        store.append([report(2)])
    ha.restart_node(replica)
    ha.wait_ready(20)
    counts = store.append([report(2)])  # the poll runs again: already stored, now confirmed
    assert (counts.new, counts.seen) == (0, 1)
    ids = [f[b"id"] for _, f in client.xrange(EventKeys.EVENTS)]
    assert ids == [b"failover:1", b"failover:2"]


def test_a_malformed_sentinel_url_gets_one_line_naming_the_setting_and_the_form() -> None:
    for url, why in [("redis+sentinel://:pw@127.0.0.1/watchfloor", "not HOST:PORT"),
                     ("redis+sentinel://:pw@127.0.0.1:26379/", "service name"),
                     ("redis+sentinel://:pw@127.0.0.1:26379/wf?db=x", "db="),
                     ("redis+sentinel://:pw@127.0.0.1:26379/wf?nope=1", "unknown parameter"),
                     ("redis://127.0.0.1:6379/0?wait_replicas=many", "wait_replicas")]:
        with pytest.raises(ConfigError) as caught:
            make_config(url)
        message = str(caught.value)
        assert "REDIS_URL" in message and why in message and "\n" not in message, message
        assert ":pw@" not in message  # never the password
    assert make_config("redis+sentinel://u:p@h1:26379,h2:26380/watchfloor?db=1&wait_replicas=1").redis_url
