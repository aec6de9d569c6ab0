"""Size of the aggregated picture's bin rows (no stack, no browser): a BinnedPicture of N synthetic
incidents past ``map_max_points``, the JSON (and gzip) size of every bin row (what a snapshot
carries besides its markers) and of one update (the bin row one new incident changes).

    python -m bench.bin_payload [--incidents 100000] [--limit 5000] [--bin-degrees 3.0]

Two pictures: "bench", as bench/screens.py's aggregation section loads (moderate quakes all over
the world, 0.5 s apart, so about 14 hours); "varied", the worst case for the per-cell counts (13
kinds, 5 severities, a tenth exercise, times spread over 7 days).
"""

from __future__ import annotations

import argparse
import gzip
import random
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from domain.picture.bins import BinnedPicture

KINDS = ["earthquake", "tsunami", "weather", "flood", "fire", "cyclone", "volcano", "security", "medical",
         "traffic", "incident", "news", "other"]
SEVERITIES = ["unknown", "minor", "moderate", "severe", "extreme"]


def _incident(picture: str, i: int, rng: random.Random, now: datetime) -> dict[str, Any]:
    if picture == "bench":
        when, kind, severity, exercise = now - timedelta(seconds=0.5 * i), "earthquake", "moderate", True
    else:
        when = now - timedelta(seconds=rng.uniform(0, 7 * 86400))
        kind, severity, exercise = rng.choice(KINDS), rng.choice(SEVERITIES), rng.random() < 0.1
    return {"id": f"inc:{picture}:{i}", "lat": round(rng.uniform(-60, 70), 5), "lon": round(rng.uniform(-179, 179), 5),
            "kind": kind, "severity": severity, "exercise": exercise,
            "time": when.strftime("%Y-%m-%dT%H:%M:%SZ")}


def measure(picture: str, incidents: int, limit: int, size_deg: float) -> dict[str, Any]:
    rng = random.Random(4)
    now = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
    model = BinnedPicture(limit, size_deg)
    for i in range(incidents):
        row = _incident(picture, i, rng, now)
        model.apply(row["id"], row)
    rows = model.bin_rows()
    raw = orjson.dumps(rows)
    probe = {**_incident(picture, incidents, rng, now), "severity": "unknown", "time": "2026-11-30T11:59:00Z"}
    touched = model.apply(probe["id"], probe)
    update = orjson.dumps([model.bin_row(k[2:]) for k in sorted(touched) if k.startswith("b:")])
    cells = sum(len(r.get("cells") or []) for r in rows)
    return {"picture": picture, "bins": len(rows), "cells": cells, "bytes": len(raw),
            "gzip": len(gzip.compress(raw, 6)), "update_bytes": len(update)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--limit", type=int, default=5000)
    parser.add_argument("--bin-degrees", type=float, default=3.0)
    args = parser.parse_args(argv)
    for picture in ("bench", "varied"):
        m = measure(picture, args.incidents, args.limit, args.bin_degrees)
        print(f"{picture:>6}: {args.incidents:,} incidents, {m['bins']:,} bins, {m['cells']:,} cells: "
              f"bin rows {m['bytes']:,} B ({m['gzip']:,} B gzip); one update's bin row {m['update_bytes']:,} B")
    return 0


if __name__ == "__main__":
    sys.exit(main())
