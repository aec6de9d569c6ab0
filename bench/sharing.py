"""The cost of the one visibility check (domain/agencies/access.py) on a big picture.

``python -m bench.sharing [--incidents N] [--runs R]`` builds a snapshot of N incidents (100,000 by
default) in memory and times, in the same run:

    tlp-only        what the picture paid before agencies: the TLP half alone
    sees-public     the whole check on the same snapshot with no owners (today's public feeds)
    sees-owned      the whole check with agency rules: 30 % of incidents owned (own, listed, all),
                    a tenth of those fused with a public report, read by a member of another agency
    sees+redact     the check and the trimming of partly visible incidents (what a screen pays)

and prints each as a ratio to ``tlp-only``. Results in bench/results/sharing.json.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench.report import RESULTS, machine
from domain.access.tlp import TLP, incident_marking
from domain.agencies.access import Reader, redact

RULES = ("own", "agencies:BFD,BPD", "all", "agencies:BPD")
AGENCIES = ("MBTA", "BPD", "BFD", "MEMA")


def snapshot(count: int, owned_share: float = 0.3, seed: int = 7) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(incidents with owners, the same without): stored incident dicts as the fuser writes them."""
    rng = random.Random(seed)
    owned, public = [], []
    for n in range(count):
        reports = [{"event_id": f"e{n}", "source": "cad", "feed": "cad", "time": "2026-12-04T12:00:00Z"}]
        base = {"id": f"inc:{n}", "title": f"Incident {n}", "tlp": ("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER")[n % 3],
                "lat": 42.3, "lon": -71.0, "reports": reports}
        public.append(base)
        if rng.random() < owned_share:
            fused = rng.random() < 0.1
            item = dict(base, reports=reports + ([{"event_id": f"p{n}", "source": "usgs"}] if fused else []),
                        owners=[{"agency": rng.choice(AGENCIES), "sharing": rng.choice(RULES), "event_id": f"e{n}"}],
                        open_title="Public title" if fused else None)
            owned.append(item)
        else:
            owned.append(base)
    return owned, public


def _best(fn: Callable[[], int], runs: int) -> tuple[float, int]:
    best, kept = float("inf"), 0
    for _ in range(runs):
        start = time.perf_counter()
        kept = fn()
        best = min(best, time.perf_counter() - start)
    return best, kept


def measure(count: int, runs: int) -> dict[str, Any]:
    owned, public = snapshot(count)
    ceiling, reader = TLP.AMBER, Reader(TLP.AMBER, "BFD")
    cases = {
        "tlp-only": lambda: sum(1 for i in public if ceiling.allows(incident_marking(i))),
        "sees-public": lambda: sum(1 for i in public if reader.sees(i)),
        "sees-owned": lambda: sum(1 for i in owned if reader.sees(i)),
        "sees+redact": lambda: len([redact(i, reader) for i in owned if reader.sees(i)]),
    }
    out: dict[str, Any] = {}
    for name, fn in cases.items():
        seconds, kept = _best(fn, runs)
        out[name] = {"seconds": seconds, "per_incident_us": seconds / count * 1e6, "kept": kept}
    base = out["tlp-only"]["seconds"]
    for row in out.values():
        row["ratio"] = row["seconds"] / base if base else 0.0
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.sharing", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    rows = measure(args.incidents, args.runs)
    print(f"Sharing check on {args.incidents:,} incidents (best of {args.runs}; reader of another agency)")
    for name, row in rows.items():
        print(f"  {name:<12} {row['seconds'] * 1000:8.1f} ms  {row['per_incident_us']:6.2f} us/incident  "
              f"kept {row['kept']:>7,}")
    for name, row in rows.items():
        if name != "tlp-only":
            print(f"ratio sharing-{name:<12} {row['ratio']:.2f} (over the TLP check alone, same run)")
    result = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "incidents": args.incidents, "runs": args.runs,
              "machine": machine(), "rows": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sharing.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
