"""Partner push intake (#17): reports per second through ``POST /api/ingest`` (real HTTP on loopback,
uvicorn, the whole app's middleware and token check) against the same documents ingested by a
worker's path (workers.ingest: parse -> prepare -> append, as ``poll_feed`` does after its fetch), in
the same run, on the same real Redis. Both first store new reports, then take the same document
again (nothing changes). The ratio is push / worker: what HTTP, the token, the rate limit, the
all-or-nothing check and the push records cost on top of the pipeline itself.

    python -m bench.push [--quick] [--features N] [--runs N]     bench/results/push.json
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
import uvicorn

from bench.documents import synth_usgs_geojson
from domain.agencies import tokens
from domain.agencies.store import AgencyStore
from domain.config.loader import Config, load_config
from domain.config.workspaces import workspaces_for
from domain.operations.rules import evaluate_rules
from domain.store.streams import EventStore
from feeds.contract import FeedConfig
from watchfloor.redis_server import EmbeddedRedis
from workers import places
from workers.ingest import parse_document, prepare

RESULTS = Path(__file__).resolve().parent / "results"
FEED = FeedConfig(id="usgs-bench", url="https://earthquake.usgs.gov/x.geojson", format="usgs-geojson")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(redis_url: str) -> tuple[uvicorn.Server, threading.Thread, int]:
    import dashboard.app  # lazy: only this bench needs the web app

    env = {"REDIS_URL": redis_url, "WATCHFLOOR_EXERCISE": "false", "WATCHFLOOR_PUSH_PER_MINUTE": "100000",
           "WATCHFLOOR_FETCH_MAX_BYTES": "100000000"}
    saved = {k: os.environ.get(k) for k in (*env, "WATCHFLOOR_CONFIG")}
    os.environ.update(env)
    os.environ.pop("WATCHFLOOR_CONFIG", None)
    try:
        app = dashboard.app.create_app(load_config()).server
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    return server, thread, port


def _push(port: int, token: str, body: bytes) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request("POST", "/api/ingest?source=bench", body=body,
                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/geo+json"})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    if resp.status != 200:
        raise RuntimeError(f"push answered {resp.status}: {data[:200]!r}")
    return json.loads(data)


def _worker(client: redis.Redis, body: bytes, config: Config) -> tuple[int, int]:
    """What poll_feed does with a fetched document (workers/jobs.py _poll): refresh learned places,
    parse, prepare, append, alert rules."""
    fetched = datetime.now(UTC)
    places.refresh(client)
    store = EventStore(client)
    prepared = prepare(parse_document(body, FEED, fetched), FEED, fetched, unchanged=store.unchanged_rows)
    counts = store.append(prepared.events, feed_id=FEED.id, rows=prepared.rows)
    evaluate_rules(client, prepared.events + [e for e in prepared.unchanged if e.placed], workspaces_for(config),
                   config=config)
    return counts.new + counts.updated, counts.seen + len(prepared.unchanged)


def _clear(client: redis.Redis) -> None:
    keep = {b"wf:agencies"}
    for key in client.scan_iter(match="wf:*", count=5000):
        if key not in keep and not key.startswith(b"wf:agency"):
            client.delete(key)


def measure(features: int, runs: int) -> dict[str, Any]:
    body = synth_usgs_geojson(features)
    with tempfile.TemporaryDirectory(prefix="wf-bench-push-") as tmp:
        redis_server = EmbeddedRedis(Path(tmp) / "redis").start()
        web = None
        try:
            client = redis.Redis.from_url(redis_server.url)
            AgencyStore(client).add("BENCH", "Bench agency")
            token, _ = tokens.create(client, "BENCH")
            web = _serve(redis_server.url)
            config = load_config(env={"REDIS_URL": redis_server.url, "WATCHFLOOR_EXERCISE": "false"})
            warm = synth_usgs_geojson(50, seed=9)  # both paths load the geocoder and adapters first, unmeasured
            _push(web[2], token, warm)
            _worker(client, warm, config)
            times: dict[str, list[float]] = {"push_new": [], "push_again": [], "worker_new": [], "worker_again": []}
            stored: dict[str, int] = {}
            for _ in range(runs):  # interleaved: each run does both paths on a cleared store
                for path in ("push", "worker"):
                    _clear(client)
                    for phase in ("new", "again"):
                        began = time.perf_counter()
                        if path == "push":
                            answer = _push(web[2], token, body)
                            done = (answer["accepted"], answer["unchanged"])
                        else:
                            done = _worker(client, body, config)
                        times[f"{path}_{phase}"].append(time.perf_counter() - began)
                        stored[f"{path}_{phase}"] = done[0] if phase == "new" else done[1]
        finally:
            if web is not None:
                web[0].should_exit = True
                web[1].join(10)
            redis_server.stop()
    rates = {name: features / statistics.median(spent) for name, spent in times.items()}
    return {"features": features, "runs": runs, "bytes": len(body), "events_per_s": rates, "stored": stored,
            "ratio_new": rates["push_new"] / rates["worker_new"],
            "ratio_again": rates["push_again"] / rates["worker_again"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.push", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 300 features, 2 runs")
    parser.add_argument("--features", type=int, default=None, help="features per document (default 5,000)")
    parser.add_argument("--runs", type=int, default=None, help="runs, median taken (default 5)")
    args = parser.parse_args(argv)
    features = args.features or (300 if args.quick else 5000)
    runs = args.runs or (2 if args.quick else 5)
    print(f"Push intake: a {features:,}-feature USGS GeoJSON, POST /api/ingest (real HTTP) vs the worker's path, "
          f"median of {runs} interleaved runs")
    result = measure(features, runs)
    rates = result["events_per_s"]
    for phase, label in (("new", "new reports"), ("again", "same document again")):
        print(f"  {label:<22} push {rates[f'push_{phase}']:>10,.0f} ev/s   worker {rates[f'worker_{phase}']:>10,.0f} ev/s")
    print(f"ratio push/worker new     {result['ratio_new']:.2f}")
    print(f"ratio push/worker again   {result['ratio_again']:.2f}")
    if result["stored"]["push_new"] != features or result["stored"]["push_again"] != features:
        print(f"stored counts wrong: {result['stored']}")
        return 1
    RESULTS.mkdir(parents=True, exist_ok=True)
    result["when"] = datetime.now(UTC).isoformat()
    (RESULTS / "push.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
