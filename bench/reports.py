"""Suspicious-activity reports at scale (#15): intake of 100,000 reports and tips with about 300,000
entity mentions into a real Redis (the embedded server, AOF fsync always, as `watchfloor up` runs it).

    python -m bench.reports [--reports N]      bench/results/reports.json

Measured in the same run:
* build: the form checks, privacy checks and mention normalisation (E.164, plates, names), per report;
* intake: build + store with entity resolution (domain.reports.store.save_many, 200 a transaction),
  against a raw baseline of pipelined SETs of the same report JSON in transactions of the same size;
* resolution: what each mention resolved to (new entity, exact key, fuzzy name + date of birth);
* memory: Redis used memory per report and per entity, and this process's peak RSS;
* queries on the full store: an entity's 2-hop neighbourhood and a shortest path, median of 20.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from domain.reports import entities, graph, store
from watchfloor.redis_server import EmbeddedRedis

RESULTS = Path(__file__).resolve().parent / "results"
STATES = ("MA", "NY", "NH", "RI", "CT", "ME", "VT")
FIRST = ("John", "Ann", "Maria", "Ahmed", "Li", "Olga", "Pekka", "Sara", "David", "Emma", "Omar", "Chen", "Ivan")
LAST = ("Smith", "Doe", "Garcia", "Khan", "Wang", "Virtanen", "Brown", "Nguyen", "Silva", "Kowalski", "Murphy")
CATEGORIES = ("PHOTO", "SURVL", "TESTSEC", "ELICIT", "THREAT", "INTRSN", "SECTOR")


def synthesise(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Reports with about three mentions each, drawn from pools small enough that values repeat."""
    rng = random.Random(seed)
    pool = max(1000, count // 3)
    plates = [f"{rng.choice('ABCDEFGHJK')}{rng.choice('LMNPRSTUVW')}{rng.choice('XYZ')} {rng.randint(100, 999)}"
              for _ in range(pool)]
    phones = [f"617-555-{rng.randint(0, 9999):04d}" if i % 2 else f"+1 508 {rng.randint(200, 999)} {rng.randint(0, 9999):04d}"
              for i in range(pool)]
    people = [(f"{rng.choice(FIRST)} {rng.choice(LAST)}", f"19{rng.randint(50, 99)}-{rng.randint(1, 12):02d}-"
               f"{rng.randint(1, 28):02d}") for _ in range(pool)]
    out = []
    for n in range(count):
        report: dict[str, Any] = {
            "category": rng.choice(CATEGORIES),
            "narrative": f"Observed person {n} photographing the entrance and noting guard rotation times.",
            "time": f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00Z",
            "location": {"lat": 42.3 + rng.random() / 10, "lon": -71.1 + rng.random() / 10},
            "vehicles": [{"plate": rng.choice(plates).replace(" ", rng.choice(("", " ", "-"))),
                          "state": rng.choice(STATES)}],
            "phones": [rng.choice(phones)],
        }
        name, dob = rng.choice(people)
        if rng.random() < 0.15:  # a spelling variant of the same person
            name = name.replace("John", "Jon").replace("Ann ", "Anne ").replace("Ahmed", "Ahmad")
        report["subjects"] = [{"name": name, "dob": dob}]
        out.append(report)
    return out


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _baseline(client: redis.Redis, reports: list[dict[str, Any]], batch: int) -> float:
    import orjson

    blobs = [orjson.dumps(r) for r in reports]
    began = time.perf_counter()
    for i in range(0, len(blobs), batch):
        with client.pipeline() as pipe:
            for j, blob in enumerate(blobs[i:i + batch]):
                pipe.set(f"bench:raw:{i + j}", blob)
            pipe.execute()
    return time.perf_counter() - began


def run(count: int) -> dict[str, Any]:
    data = synthesise(count)
    with tempfile.TemporaryDirectory(prefix="wf-bench-reports-") as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis").start()
        try:
            client = redis.Redis.from_url(server.url)
            began = time.perf_counter()
            built = [store.build(d, kind="sar", by="bench", channel="bench") for d in data]
            build_s = time.perf_counter() - began
            mentions = sum(len(entities.mentions_of(r)) for r in built)
            base_memory = client.info("memory")["used_memory"]
            began = time.perf_counter()
            store.save_many(client, built)
            store_s = time.perf_counter() - began
            used = client.info("memory")["used_memory"] - base_memory
            entity_count = store.count_entities(client)
            baseline_s = _baseline(client, built, 200)
            return {"reports": count, "mentions": mentions, "entities": entity_count, "build_s": round(build_s, 2),
                    "store_s": round(store_s, 2), "intake_per_s": round(count / (build_s + store_s)),
                    "store_per_s": round(count / store_s), "raw_set_per_s": round(count / baseline_s),
                    "ratio_store_to_raw": round(baseline_s / store_s, 3),
                    "redis_bytes_per_report": round(used / count), "peak_rss_mb": round(_rss_mb()),
                    **_queries(client)}
        finally:
            server.stop()


def _queries(client: redis.Redis) -> dict[str, Any]:
    vehicles = [i.decode() for i in client.zrange("wf:entities", 0, 2000) if i.startswith(b"EVE-")][:20]
    hood, paths, sizes = [], [], []
    for i, vehicle in enumerate(vehicles):
        began = time.perf_counter()
        view = graph.neighbourhood(client, f"E:{vehicle}", None, depth=2, limit=500)
        hood.append(time.perf_counter() - began)
        sizes.append(len(view["nodes"]))
        other = vehicles[(i + 1) % len(vehicles)]
        began = time.perf_counter()
        graph.path(client, f"E:{vehicle}", f"E:{other}", None, max_depth=6)
        paths.append(time.perf_counter() - began)
    return {"neighbourhood_2hop_ms_median": round(statistics.median(hood) * 1000, 1),
            "neighbourhood_nodes_median": statistics.median(sizes),
            "path_ms_median": round(statistics.median(paths) * 1000, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reports", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--reports", type=int, default=100_000)
    args = parser.parse_args(argv)
    result = run(args.reports)
    print(f"Reports: {result['reports']:,} with {result['mentions']:,} mentions -> {result['entities']:,} entities")
    print(f"  build (form + privacy + normalise)  {result['build_s']} s")
    print(f"  store with resolution               {result['store_s']} s = {result['store_per_s']:,}/s; raw pipelined "
          f"SET of the same JSON {result['raw_set_per_s']:,}/s (ratio {result['ratio_store_to_raw']})")
    print(f"  intake end to end                   {result['intake_per_s']:,} reports/s")
    print(f"  Redis memory                        {result['redis_bytes_per_report']:,} bytes/report; "
          f"peak RSS {result['peak_rss_mb']} MB")
    print(f"  2-hop neighbourhood (limit 500)     median {result['neighbourhood_2hop_ms_median']} ms, "
          f"{result['neighbourhood_nodes_median']} nodes; shortest path median {result['path_ms_median']} ms")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "reports.json").write_text(json.dumps({"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                                      **result}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
