"""What the floor's health looks like to Prometheus: counts and lags read from Redis (shared by
every process, so any app process answers for the whole stack). No record content, no marking:
numbers only."""

from __future__ import annotations

import time
from typing import Any

import redis

from domain.config.loader import Config
from domain.picture.health import feed_status
from domain.picture.keys import IncidentKeys
from domain.picture.processes import FEED_QUEUE, process_status
from domain.store.streams import EventKeys
from feeds.model import epoch_seconds

OUTBOUND_QUEUE = "watchfloor-outbound"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def _stream_ms(stream_id: Any) -> int:
    text = stream_id.decode() if isinstance(stream_id, bytes) else str(stream_id)
    return int(text.split("-", 1)[0] or 0)


def store_metrics(config: Config, client: redis.Redis, now: float | None = None) -> list[str]:
    """Prometheus text lines (HELP, TYPE, samples) for everything kept in Redis."""
    now = time.time() if now is None else now
    lines: list[str] = []

    def metric(name: str, kind: str, text: str, samples: list[tuple[str, float]]) -> None:
        lines.extend([f"# HELP {name} {text}", f"# TYPE {name} {kind}"])
        lines.extend(f"{name}{labels} {value:g}" for labels, value in samples)

    ingested = {k.decode(): int(v) for k, v in client.hgetall(EventKeys.METRICS_INGESTED).items()}
    feeds = feed_status(config, client, now)
    metric("watchfloor_feed_reports_ingested_total", "counter", "Reports a feed added or revised.",
           [(f'{{feed="{_label(fid)}"}}', ingested.get(fid, 0)) for fid in feeds])
    metric("watchfloor_feed_up", "gauge", "1 when the feed's last poll succeeded and it is not stale.",
           [(f'{{feed="{_label(fid)}"}}', float(f["status"] == "ok" and not f["stale"])) for fid, f in feeds.items()])
    lag = []
    for fid, f in feeds.items():  # feed_status already read each feed's health: no second read
        last = epoch_seconds(f["last_success"])
        if last:
            lag.append((f'{{feed="{_label(fid)}"}}', round(now - last, 3)))
    metric("watchfloor_feed_lag_seconds", "gauge", "Seconds since the feed's last successful poll.", lag)
    metric("watchfloor_reports_total", "counter", "Reports in the report stream.", [("", client.xlen(EventKeys.EVENTS))])
    newest = client.xrevrange(EventKeys.EVENTS, count=1)
    cursor = client.hget(IncidentKeys.FUSION_STATE, "cursor") or b"0-0"
    behind = max(0, _stream_ms(newest[0][0]) - _stream_ms(cursor)) / 1000 if newest else 0.0
    metric("watchfloor_fuser_lag_seconds", "gauge", "How far the fuser's cursor is behind the newest report.",
           [("", behind)])
    metric("watchfloor_incidents", "gauge", "Incidents stored.", [("", client.hlen(IncidentKeys.INCIDENTS))])
    metric("watchfloor_queue_depth", "gauge", "Jobs waiting on an RQ queue.",
           [(f'{{queue="{q}"}}', client.llen(f"rq:queue:{q}")) for q in (FEED_QUEUE, OUTBOUND_QUEUE)])
    status = process_status(client, now)
    metric("watchfloor_process_up", "gauge", "1 when the fuser, a worker and the scheduler are running.",
           [(f'{{process="{part}"}}', float(status[part]["status"] == "ok")) for part in ("fuser", "workers", "scheduler")])
    metric("watchfloor_workers", "gauge", "RQ workers alive.", [("", status["workers"]["count"])])
    try:
        memory = client.info("memory")
        metric("watchfloor_store_used_bytes", "gauge", "Memory the data store uses.",
               [("", float(memory.get("used_memory", 0)))])
        metric("watchfloor_store_limit_bytes", "gauge", "The data store's maxmemory (0: none).",
               [("", float(memory.get("maxmemory", 0)))])
    except redis.ResponseError:  # a managed Redis may refuse INFO
        pass
    return lines
