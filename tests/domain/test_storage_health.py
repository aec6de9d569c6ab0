"""The data store's fill level and growth in the health report (domain/picture/health.py storage_status)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis

from dashboard.panels.status import feeds_panel, ticker_panel
from domain.picture.health import storage_status
from domain.store.streams import EventKeys
from watchfloor.redis_server import EmbeddedRedis

pytestmark = pytest.mark.redis


def store_with_limit(path, maxmemory: str):
    """A store of its own with a memory limit (the account may not CONFIG SET one)."""
    server = EmbeddedRedis(path, maxmemory=maxmemory).start()
    return server, redis.Redis.from_url(server.url)


def test_an_empty_store_reports_its_size_and_no_warning(redis_client) -> None:
    out = storage_status(redis_client)
    assert out["used_mb"] > 0 and out["limit_mb"] and out["limit_of"] in ("maxmemory", "host memory")
    assert out["reports_per_day"] is None and out["days_left"] is None and out["warning"] is None


def test_growth_is_measured_from_the_report_stream(redis_client) -> None:
    start = int(datetime(2026, 11, 28, tzinfo=UTC).timestamp() * 1000)
    for i in range(48):  # 48 reports over 47 hours: about 24.5 a day
        redis_client.xadd(EventKeys.EVENTS, {"id": f"r{i}"}, id=f"{start + i * 3_600_000}-0")
    out = storage_status(redis_client)
    assert out["reports_per_day"] == round(48 * 24 / 47)
    assert out["days_left"] is not None and out["days_left"] > 1000  # a few KB a day into gigabytes


def test_a_nearly_full_store_warns_in_one_line_on_every_screen(tmp_path) -> None:
    server, client = store_with_limit(tmp_path / "redis", "4mb")
    try:
        memory = client.info("memory")
        index = 0
        while int(memory["used_memory"]) < 0.85 * int(memory["maxmemory"]):  # about 85 % full
            client.xadd("filler", {"x": "y" * 2000}, id=f"{1 + index}-0")
            index += 1
            memory = client.info("memory")
        out = storage_status(client)
    finally:
        client.close()
        server.stop()
    assert out["limit_of"] == "maxmemory" and out["share"] >= 0.8
    assert out["warning"] and "full" in out["warning"] and "\n" not in out["warning"]
    panel = feeds_panel({}, None, out)
    assert "wf-storage-warn" in panel[0].className and out["warning"] in panel[0].children  # first, not under the table
    ticker = ticker_panel({"f": {"name": "F", "status": "ok"}}, datetime.now(UTC), out)  # the wall's band
    assert ticker[0].className == "wf-tick-bad" and out["warning"] in ticker[0].children


def test_a_fast_filling_store_warns_before_it_is_full(tmp_path) -> None:
    server, client = store_with_limit(tmp_path / "redis", "16mb")  # under half full, but 2,000 reports in two hours
    try:
        now = int(datetime.now(UTC).timestamp() * 1000)
        pipe = client.pipeline()
        for i in range(2000):
            pipe.xadd(EventKeys.EVENTS, {"id": f"r{i}", "e": "x" * 2000}, id=f"{now - 7_200_000 + i * 3600}-0")
        pipe.execute()
        out = storage_status(client)
    finally:
        client.close()
        server.stop()
    assert out["share"] < 0.8 and out["days_left"] is not None and out["days_left"] < 30
    assert out["warning"] and "days" in out["warning"]
