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


@pytest.mark.slow
@pytest.mark.browser
def test_up_ha_screens_say_degraded_then_live_and_new_reports_arrive_without_reload(tmp_path: Path) -> None:
    """``watchfloor up --ha`` (the setting): kill the primary under a signed-in desk in Chromium."""
    import signal
    import time

    import psutil
    from playwright.sync_api import sync_playwright

    from tests.stack import ROOT, start_stack
    from tests.watchfloor.test_stack import CHROMIUM, CHROMIUM_ARGS

    stack = start_stack(tmp_path, env={"WATCHFLOOR_REDIS_HA": "1"})
    shots = ROOT / "test-artifacts"
    shots.mkdir(exist_ok=True)
    try:
        ha = stack.data_dir / "redis-ha"
        assert (ha / "sentinel-3" / "sentinel.conf").exists() and stat.S_IMODE(os.stat(ha).st_mode) == 0o700
        stack.add_user("probe", "viewer", "a long enough passphrase 1")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            stack.sign_in(page, "probe", "a long enough passphrase 1")
            page.wait_for_selector(".wf-desk .wf-conn-live", timeout=30_000)
            page.wait_for_function(  # a picture on the screen first: the one it keeps while DEGRADED
                """() => { const gd = document.querySelector('.wf-desk .wf-map-graph .js-plotly-plot');
                           return !!(gd && gd.data && gd.data[0] && (gd.data[0].lat || []).length >= 3); }""",
                timeout=90_000)
            import json

            layout = json.loads((ha / "ha.json").read_text())
            node = ha / f"node-{layout['primary'] + 1}"
            os.kill(int((node / "redis.pid").read_text()), signal.SIGKILL)
            page.wait_for_selector(".wf-desk .wf-conn-degraded", timeout=30_000)
            degraded = page.locator(".wf-desk .wf-conn").inner_text()
            page.screenshot(path=str(shots / "failover-degraded.png"))
            assert "DEGRADED" in degraded and "Traceback" not in degraded, degraded
            kept = page.evaluate("() => document.querySelector('.wf-desk .wf-map-graph .js-plotly-plot').data[0].lat.length")
            assert kept >= 3  # the last known picture stays on the screen
            page.wait_for_selector(".wf-desk .wf-conn-live", timeout=60_000)  # the new primary, no reload
            title = f"EXERCISE after failover {int(time.time())}"
            stack.inject({"channel": "usgs", "kind": "earthquake", "title": title, "place": "Natick",
                          "lat": 42.2834, "lon": -71.3495, "magnitude": 4.1, "depth_km": 7.0, "severity": "moderate"})
            # The next poll of the feed (its interval), on workers that reconnected to the new primary:
            # about 15 s here, given two minutes for a loaded two-core CI runner. The stack's log says
            # where the time went when it is not enough. Read from the incident list: the map can keep
            # its last picture when its WebGL context was lost during the outage (a known gap, in the
            # README: MapLibre refetches the basemap, which answers 503 until the store is back, and
            # plotly then stops drawing that map until the page is reloaded).
            try:
                page.wait_for_selector(f".wf-desk .wf-incidents li:has-text('{title}')", timeout=120_000)
            except Exception:
                raise AssertionError("the report injected after the failover never reached the desk; "
                                     "the stack's log ends:\n" + stack.log()) from None
            page.screenshot(path=str(shots / "failover-live-again.png"))
            assert json.loads((ha / "ha.json").read_text())["primary"] != layout["primary"]  # the replica was promoted
            # (plotly's "Map error." is that known gap's rejected map update, not a fault of the page)
            assert not [e for e in errors if e != "Map error."], errors
            browser.close()
        children = psutil.Process(stack.process.pid).children(recursive=True)
        assert sum(c.name() == "redis-server" for c in children) == 5, [c.cmdline() for c in children]
    finally:
        code = stack.stop()
    assert code == 0, stack.log()
    assert not (ha / "redis.url").exists()


@pytest.mark.slow
def test_the_async_client_of_the_push_stream_follows_the_failover_too(ha: SentinelSet) -> None:
    """``connect_async`` (redis.asyncio.sentinel): what the push stream's XREAD needs."""
    import asyncio
    import time

    from domain.store.connection import connect_async

    async def scenario() -> list[bytes]:
        client = connect_async(ha.url, timeout=2)
        try:
            await client.xadd("wf:test:push", {"n": "1"})
            assert await client.execute_command("WAIT", 1, 2000) == 1  # on the replica before the kill
            old = ha.primary_index
            ha.kill_node(old)
            deadline = time.monotonic() + 30
            while True:  # the caller's loop (the push stream ends with "degraded"; the browser reconnects)
                try:
                    await client.xadd("wf:test:push", {"n": "2"})
                    break
                except (redis.RedisError, OSError):
                    assert time.monotonic() < deadline, "no new primary within 30 s"
                    await asyncio.sleep(0.2)
            assert ha.current_primary() != old
            return [fields[b"n"] for _, fields in await client.xrange("wf:test:push")]
        finally:
            await client.aclose()

    assert asyncio.run(scenario()) == [b"1", b"2"]  # the confirmed write survived the failover


@pytest.mark.slow
def test_the_first_up_ha_takes_the_single_stores_data_and_the_single_store_then_refuses_to_start_empty(
        tmp_path: Path) -> None:
    from watchfloor.redis_ha import store_mode_problem
    from watchfloor.redis_server import EmbeddedRedis

    data = tmp_path / "var"
    with EmbeddedRedis(data / "redis") as single:
        redis.Redis.from_url(single.url).set("wf:test:kept", "yes")
    assert store_mode_problem(data, ha=True) is None
    ha = SentinelSet(data / "redis-ha", down_after_ms=1000, failover_ms=3000).start(seed_from=data / "redis")
    try:
        assert ha.client(ha.primary_index).get("wf:test:kept") == b"yes"
        assert ha.client(1 - ha.primary_index).get("wf:test:kept") == b"yes"  # the replica copied it
    finally:
        ha.stop()
    assert not (data / "redis" / "watchfloor.aof").exists()
    problem = store_mode_problem(data, ha=False)  # `watchfloor up` without --ha would start empty: refused
    assert problem is not None and "up --ha" in problem and "\n" not in problem
    again = SentinelSet(data / "redis-ha").start(seed_from=data / "redis")  # the next start keeps the data
    try:
        assert again.client(again.primary_index).get("wf:test:kept") == b"yes"
    finally:
        again.stop()
