"""Threat levels logged by the back end with no screen open (#16): the cron's job assesses every
level and logs each change with its cause; two runs at once log a change once; an RQ worker runs it
from the cron's registration. Nothing here calls threat_summary (what the screens call)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from domain.access.accounts import Role, User
from domain.access.tlp import TLP
from domain.config.loader import load_config
from domain.operations import annotations
from domain.picture.keys import ThreatKeys
from domain.picture.threat import level_changes
from domain.store.connection import job_queue, job_worker
from domain.store.streams import EventKeys
from feeds.model import Event, Kind, Severity
from workers.fusion import Fuser
from workers.jobs import _config, record_threat_levels
from workers.schedule import QUEUE, build_cron

pytestmark = pytest.mark.redis


def fuse_fires(client, count: int) -> None:
    now = datetime.now(UTC)
    for n in range(count):
        raw, _ = Event(id=f"t:{n}", source="test", kind=Kind.FIRE, time=now, title=f"fire {n}", lat=40.0 + n,
                       lon=-70.0, severity=Severity.EXTREME, feed="test").encoded()
        client.xadd(EventKeys.EVENTS, {"id": f"t:{n}", "op": "new", "e": raw, "sup": ""})
    fuser = Fuser(client, window_hours=72, lock_ttl=30)
    assert fuser.acquire()
    fuser.rebuild()
    fuser.release()


@pytest.fixture
def config(tmp_path: Path):
    return load_config(env={"WATCHFLOOR_DATA_DIR": str(tmp_path)})


def test_a_change_of_level_is_logged_with_its_cause_with_no_screen_open(redis_client, config) -> None:
    fuse_fires(redis_client, 2)  # two extreme fires: 16, HIGH
    assert record_threat_levels(config, redis_client)["logged"] > 0
    first = [c for c in level_changes(redis_client, datetime(2026, 1, 1, tzinfo=UTC)) if c["scope"] == "global"]
    assert [c["to"] for c in first] == ["HIGH"] and {c["why"] for c in first[0]["cause"]} == {"new"}
    assert record_threat_levels(config, redis_client)["logged"] == 0, "no change, nothing logged"
    annotations.save(redis_client, "inc:t:0", {"status": "resolved", "version": 0},
                     User(name="olga", role=Role.OPERATOR))
    record_threat_levels(config, redis_client)
    # (the note is TLP:GREEN: readers of that marking and above learn the incident was resolved)
    moved = [c for c in level_changes(redis_client, datetime(2026, 1, 1, tzinfo=UTC), ceiling=TLP.GREEN)
             if c["scope"] == "global"]
    assert [c["to"] for c in moved] == ["HIGH", "ELEVATED"]
    assert moved[-1]["cause"][0]["why"] == "resolved by olga"


def test_two_runs_at_once_log_each_change_once(redis_client, config) -> None:
    fuse_fires(redis_client, 1)
    threads = [threading.Thread(target=record_threat_levels, args=(config, redis_client)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entries = [e for _, e in redis_client.xrange(ThreatKeys.THREAT_CHANGES)]
    fields = [(e[b"tlp"], e[b"scope"]) for e in entries]
    assert len(fields) == len(set(fields)), "each marking and scope logged once"


def test_the_cron_registers_it_and_a_worker_runs_it(redis_server, redis_client, config, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("REDIS_URL", redis_server.url)  # what the worker's job reads, as in `watchfloor up`
    monkeypatch.setenv("WATCHFLOOR_DATA_DIR", str(tmp_path))
    _config.cache_clear()
    names = [job.name for job in build_cron(config, redis_client).get_jobs()]
    assert "threat:levels" in names
    fuse_fires(redis_client, 2)
    job = job_queue(QUEUE, redis_client).enqueue(record_threat_levels)
    job_worker([job_queue(QUEUE, redis_client)], redis_client).work(burst=True)
    job.refresh()
    assert job.get_status() == "finished", job.exc_info
    assert redis_client.xlen(ThreatKeys.THREAT_CHANGES) > 0
    _config.cache_clear()


def test_each_agency_s_levels_are_logged_too_with_its_own_items(redis_client, config) -> None:
    from domain.agencies.access import Reader
    from domain.agencies.store import AgencyStore

    AgencyStore(redis_client).add("BPD", "Boston Police Department")
    now = datetime.now(UTC)
    raw, _ = Event(id="t:own", source="test", kind=Kind.FIRE, time=now, title="own fire", lat=41.0, lon=-70.0,
                   severity=Severity.EXTREME, feed="test", agency="BPD", sharing="own").encoded()
    redis_client.xadd(EventKeys.EVENTS, {"id": "t:own", "op": "new", "e": raw, "sup": ""})
    fuse_fires(redis_client, 1)  # one public fire, then the fuser (it fuses the own one too)
    record_threat_levels(config, redis_client)
    since = datetime(2026, 1, 1, tzinfo=UTC)
    theirs = [c for c in level_changes(redis_client, since, ceiling=Reader(TLP.CLEAR, "BPD")) if c["scope"] == "global"]
    hosts = [c for c in level_changes(redis_client, since, ceiling=TLP.CLEAR) if c["scope"] == "global"]
    assert [c["to"] for c in hosts] == ["ELEVATED"] and [c["to"] for c in theirs] == ["HIGH"]
    assert "inc:t:own" in [c["id"] for c in theirs[0]["cause"]]
    assert "inc:t:own" not in [c["id"] for c in hosts[0]["cause"]]
