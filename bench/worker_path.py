"""The worker's whole path for big feeds (#19): parse -> stamp -> skip unchanged rows -> place ->
append, against a raw pipelined XADD of the same rows, and the re-poll of a 100,000-row fire file.

``python -m bench.worker_path [--quick]``; also a section of ``python -m bench`` (full runs).
Against a real ``redis-server`` (EmbeddedRedis: AOF on, ``appendfsync always``, as in production)
in a temporary directory:

- ``whole-new``: what :func:`workers.jobs.poll_feed` does with a fetched document, from an empty
  store: :func:`workers.ingest.parse_document`, :func:`workers.ingest.prepare` (with the store's
  row memory) and :meth:`EventStore.append` with the rows. Every row comes back new.
- ``whole-repoll``: the same document again (a new copy of an unchanged file): every row is
  skipped before placing; nothing is appended.
- ``repoll-unskipped``: the same re-poll without the row memory (every row placed again, in bulk,
  and found "seen" by the append): what the skip saves.
- ``raw-xadd``: pipelined XADD (100 a pipeline) of the same rows as stored, serialised beforehand.

Each document is measured twice: with ``appendfsync always`` (production: the disk's fsync per
pipeline weighs on the raw baseline, which sends more round trips than our batched script) and
with ``everysec`` (the CPU cost of each path, what the 0.5 goal is about).

Documents: the corpus's FIRMS CSV files and USGS GeoJSON summaries (read in place), else
synthesised ones; and a synthesised 100,000-row VIIRS-shaped file (a global 24-hour file has
about that many) with hotspots scattered around the gazetteer's towns. Ratios are rows/s ours
over rows/s raw, measured in the same run (goal for the whole path: 0.5).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from bench.documents import corpus_dir, synth_firms_csv, synth_usgs_geojson
from bench.ingest import reset
from bench.report import RESULTS, machine
from bench.timing import Candidate, compare
from domain.store.streams import EventStore
from feeds.contract import FeedConfig
from feeds.geocode import gazetteer
from watchfloor.redis_server import EmbeddedRedis
from workers.ingest import parse_document, prepare

RAW_STREAM = "bench:raw-xadd"
BATCH = 100


def documents(quick: bool) -> list[tuple[str, str, bytes]]:
    """(format, name, bytes): the corpus's FIRMS and USGS GeoJSON files, else synthesised ones."""
    corpus, _ = corpus_dir()
    out: list[tuple[str, str, bytes]] = []
    if corpus is not None:
        firms = sorted((corpus / "csv").glob("firms_*.csv"))
        usgs = sorted((corpus / "usgs-geojson").glob("*.json"))
        pick = [firms[-1]] if quick else firms
        out += [("firms-csv", str(p.relative_to(corpus)), p.read_bytes()) for p in pick]
        biggest = max(usgs, key=lambda p: p.stat().st_size) if usgs else None
        if biggest is not None:
            out.append(("usgs-geojson", str(biggest.relative_to(corpus)), biggest.read_bytes()))
    if not any(f == "firms-csv" for f, _, _ in out):
        out.append(("firms-csv", "synthetic:firms-10000-rows", synth_firms_csv(2000 if quick else 10_000)))
    if not any(f == "usgs-geojson" for f, _, _ in out):
        out.append(("usgs-geojson", "synthetic:usgs-2000-features", synth_usgs_geojson(2000)))
    return out


def synth_viirs(rows: int, seed: int = 19) -> bytes:
    """A VIIRS 375 m global 24 h CSV (FIRMS columns) with ``rows`` hotspots within a degree and a
    half of the gazetteer's towns (fires burn on land, mostly away from cities)."""
    rng = random.Random(seed)
    towns = gazetteer().city_table().cities
    lines = ["latitude,longitude,bright_ti4,scan,track,acq_date,acq_time,satellite,instrument,confidence,"
             "version,bright_ti5,frp,daynight"]
    for _ in range(rows):
        town = rng.choice(towns)
        lat = max(-89.0, min(89.0, town.lat + rng.uniform(-1.5, 1.5)))
        lon = ((town.lon + rng.uniform(-1.5, 1.5) + 180.0) % 360.0) - 180.0
        lines.append(f"{lat:.5f},{lon:.5f},{rng.uniform(300, 367):.2f},{rng.uniform(0.3, 0.8):.2f},"
                     f"{rng.uniform(0.3, 0.8):.2f},2026-12-03,{rng.randint(0, 23):02d}{rng.randint(0, 59):02d},{rng.choice('N1')},VIIRS,"
                     f"{rng.choice(['l', 'n', 'h'])},2.0NRT,{rng.uniform(270, 300):.2f},{rng.uniform(0.5, 60):.2f},"
                     f"{rng.choice('DN')}")
    return ("\n".join(lines) + "\n").encode()


class Worker:
    """The worker's path for one feed's document, as poll_feed runs it after the fetch."""

    def __init__(self, client: redis.Redis, fmt: str, data: bytes) -> None:
        self.client, self.data = client, data
        self.store = EventStore(client)
        self.feed = FeedConfig(id=f"bench-{fmt}", url="https://example.org/feed", format=fmt)
        self.fetched_at = datetime.now(UTC)
        self.last: Any = None

    def poll(self, *, skip: bool = True) -> None:
        parsed = parse_document(self.data, self.feed, self.fetched_at)
        prepared = prepare(parsed, self.feed, self.fetched_at, unchanged=self.store.unchanged_rows if skip else None)
        self.last = (prepared, self.store.append(prepared.events, feed_id=self.feed.id,
                                                 rows=prepared.rows if skip else None))

    def raw_rows(self) -> list[dict[str, bytes | str]]:
        """The rows as stored (placed), serialised before any clock starts."""
        reset(self.client)
        self.poll()
        prepared, _ = self.last
        return [{"id": e.id, "op": "new", "e": e.to_json(), "sup": ""} for e in prepared.events]


def raw_xadd(client: redis.Redis, rows: list[dict[str, bytes | str]]) -> Callable[[], None]:
    def run() -> None:
        for start in range(0, len(rows), BATCH):
            pipe = client.pipeline(transaction=False)
            for fields in rows[start : start + BATCH]:
                pipe.xadd(RAW_STREAM, fields)  # type: ignore[arg-type]
            pipe.execute()
    return run


def measure_document(client: redis.Redis, fmt: str, name: str, data: bytes, *, min_time: float,
                     runs: int) -> dict[str, Any]:
    worker = Worker(client, fmt, data)
    rows = worker.raw_rows()
    prepared, counts = worker.last
    checks = {"rows": len(rows), "first_new": counts.new}
    worker.poll()
    checks["repoll_skipped"] = len(worker.last[0].unchanged)
    checks["repoll_appended"] = worker.last[1].new + worker.last[1].updated

    def stored() -> None:
        if EventStore(client).count() != len(rows):
            reset(client)
            worker.poll()

    timings = compare([
        Candidate("whole-new", worker.poll, lambda: reset(client)),
        Candidate("whole-repoll", worker.poll, stored),
        Candidate("repoll-unskipped", lambda: worker.poll(skip=False), stored),
        Candidate("raw-xadd", raw_xadd(client, rows), lambda: client.delete(RAW_STREAM)),
    ], min_time=min_time, runs=runs)
    rates = {k: len(rows) / t.per_call for k, t in timings.items()}
    return {
        "format": fmt, "document": name, "rows": len(rows), "checks": checks,
        "seconds": {k: t.per_call for k, t in timings.items()},
        "spread": {k: round(t.spread, 3) for k, t in timings.items()},
        "rows_per_s": {k: round(v) for k, v in rates.items()},
        "ratios": {f"{k}/raw-xadd": round(rates[k] / rates["raw-xadd"], 3) for k in rates if k != "raw-xadd"},
    }


def measure_big_repoll(client: redis.Redis, rows: int, runs: int) -> dict[str, Any]:
    """The first ingest and the re-poll of a ``rows``-row fire file, each ``runs`` times (median)."""
    data = synth_viirs(rows)
    worker = Worker(client, "firms-csv", data)
    raw = worker.raw_rows()
    first, again, raw_s, unskipped = [], [], [], []
    for _ in range(runs):
        reset(client)
        began = time.perf_counter()
        worker.poll()
        first.append(time.perf_counter() - began)
        began = time.perf_counter()
        worker.poll()
        again.append(time.perf_counter() - began)
        skipped = len(worker.last[0].unchanged)
        began = time.perf_counter()
        worker.poll(skip=False)
        unskipped.append(time.perf_counter() - began)
        client.delete(RAW_STREAM)
        began = time.perf_counter()
        raw_xadd(client, raw)()
        raw_s.append(time.perf_counter() - began)
    med = {k: sorted(v)[len(v) // 2] for k, v in
           (("first", first), ("repoll", again), ("repoll_unskipped", unskipped), ("raw_xadd", raw_s))}
    return {
        "rows": len(raw), "bytes": len(data), "repoll_skipped": skipped, "seconds": med, "runs": runs,
        "ratios": {"repoll/first": round(med["repoll"] / med["first"], 3),
                   "repoll/repoll_unskipped": round(med["repoll"] / med["repoll_unskipped"], 3),
                   "first rows/s / raw-xadd rows/s": round(med["raw_xadd"] / med["first"], 3)},
    }


def run_worker_path(quick: bool = False) -> dict[str, Any]:
    min_time, runs, big = (0.05, 3, 10_000) if quick else (0.5, 5, 100_000)
    gazetteer()  # built once per worker process: not part of any measurement
    out: dict[str, Any] = {}
    for fsync in ("always", "everysec"):
        with tempfile.TemporaryDirectory(prefix="wf-bench-worker-") as tmp:
            server = EmbeddedRedis(Path(tmp) / "redis", fsync=fsync).start()
            client = redis.Redis.from_url(server.url)
            try:
                docs = [measure_document(client, fmt, name, data, min_time=min_time, runs=runs)
                        for fmt, name, data in documents(quick)]
                if fsync == "always":
                    out["big_repoll"] = measure_big_repoll(client, big, 1 if quick else 3)
            finally:
                client.close()
                server.stop()
        out[f"documents_fsync_{fsync}"] = docs
    return out


def print_report(result: dict[str, Any]) -> None:
    print("Worker whole path (parse, skip unchanged, place, append) against raw pipelined XADD of the same rows")
    for fsync in ("always", "everysec"):
        print(f"  appendfsync {fsync}")
        print(f"  {'document':<58} {'rows':>6} {'new r/s':>8} {'raw r/s':>8} {'new/raw':>7} {'repoll/raw':>10}"
              f" {'unskipped/raw':>13}")
        for d in result[f"documents_fsync_{fsync}"]:
            r, q = d["rows_per_s"], d["ratios"]
            print(f"  {d['document'][:58]:<58} {d['rows']:>6} {r['whole-new']:>8,} {r['raw-xadd']:>8,} "
                  f"{q['whole-new/raw-xadd']:>7.2f} {q['whole-repoll/raw-xadd']:>10.2f} "
                  f"{q['repoll-unskipped/raw-xadd']:>13.2f}")
            if d["checks"]["first_new"] != d["rows"] or d["checks"]["repoll_appended"]:
                print(f"  CHECK FAILED: {d['checks']}")
    b = result["big_repoll"]
    s = b["seconds"]
    print(f"  {b['rows']:,}-row fire file ({b['bytes'] / 1e6:.1f} MB): first ingest {s['first']:.2f} s, re-poll "
          f"{s['repoll']:.2f} s ({b['ratios']['repoll/first']:.2f} of the first; {b['repoll_skipped']:,} rows skipped), "
          f"re-poll placing every row {s['repoll_unskipped']:.2f} s, raw XADD {s['raw_xadd']:.2f} s "
          f"(first ingest at {b['ratios']['first rows/s / raw-xadd rows/s']:.2f} x raw)")
    for fsync in ("always", "everysec"):
        for d in result[f"documents_fsync_{fsync}"]:
            print(f"ratio worker-whole-path[{d['document']}, fsync {fsync}] {d['ratios']['whole-new/raw-xadd']:.3f}"
                  " (goal 0.5)")
    print(f"ratio repoll-100k/first-ingest {b['ratios']['repoll/first']:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.worker_path", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small documents, few runs (a smoke run)")
    args = parser.parse_args(argv)
    result = run_worker_path(args.quick)
    print_report(result)
    out = RESULTS / ("worker-path-quick.json" if args.quick else "worker-path.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"when": datetime.now(UTC).isoformat(), "machine": machine(), **result}, indent=1) + "\n")
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
