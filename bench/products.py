"""Products (#16): briefing generation for a workspace with 1,000 incidents (HTML and PDF), and the
export rate of each format at 100,000 incidents against a raw baseline measured in the same run
(orjson.dumps of the same incident dicts: the floor under any export).

    python -m bench.products [--incidents N]     bench/results/products.json
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import redis

from domain.access.tlp import TLP
from domain.picture.keys import IncidentKeys
from domain.products import briefing, exports
from layers.zones import Venue, Workspace
from watchfloor.redis_server import EmbeddedRedis

RESULTS = Path(__file__).resolve().parent / "results"
SQUARE = Workspace("nye", "New Year's Eve", venues=(Venue("Senate Square", 60.1693, 24.9526, 0.5),), near_km=5.0)


def incidents(count: int, *, near: bool, seed: int = 3) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    out = []
    for n in range(count):
        lat, lon = (60.16 + rng.random() / 50, 24.93 + rng.random() / 25) if near else \
            (rng.uniform(-60, 70), rng.uniform(-180, 180))
        out.append({"id": f"inc:{n}", "kind": rng.choice(("fire", "security", "flood", "earthquake")),
                    "title": f"Incident {n} reported by several sources", "lat": lat, "lon": lon,
                    "severity": rng.choice(("minor", "moderate", "severe", "extreme")),
                    "time": (now - timedelta(seconds=rng.randint(0, 20 * 3600))).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "reports": [{"event_id": f"e{n}a", "source": "rss"}, {"event_id": f"e{n}b", "source": "cap"}]})
    return out


def _seed(client: redis.Redis, rows: list[dict[str, Any]]) -> None:
    client.delete(IncidentKeys.INCIDENTS)
    for i in range(0, len(rows), 5000):
        client.hset(IncidentKeys.INCIDENTS, mapping={r["id"]: orjson.dumps(r) for r in rows[i:i + 5000]})


def run(count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="wf-bench-products-") as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis").start()
        try:
            client = redis.Redis.from_url(server.url)
            _seed(client, incidents(1000, near=True))
            since = datetime.now(UTC) - timedelta(hours=24)
            began = time.perf_counter()
            brief = briefing.gather(client, ceiling=TLP.AMBER, by="bench", workspaces=[SQUARE], workspace=SQUARE,
                                    since=since)
            document = briefing.html(brief)
            html_s = time.perf_counter() - began
            began = time.perf_counter()
            pdf = briefing.pdf(document)
            pdf_s = time.perf_counter() - began
            rows = incidents(count, near=False)
            _seed(client, rows)
            began = time.perf_counter()
            selected = exports.select(client, TLP.AMBER)
            select_s = time.perf_counter() - began
            began = time.perf_counter()
            orjson.dumps(selected)
            raw_s = time.perf_counter() - began
            rates = {}
            for fmt in exports.FORMATS:
                began = time.perf_counter()
                body = exports.render(fmt, selected, TLP.CLEAR)
                spent = time.perf_counter() - began
                rates[fmt] = {"per_s": round(count / spent), "seconds": round(spent, 2), "bytes": len(body),
                              "ratio_to_raw_json": round(raw_s / spent, 3)}
            return {"briefing_incidents": 1000, "briefing_html_s": round(html_s, 2), "briefing_pdf_s": round(pdf_s, 2),
                    "briefing_pdf_bytes": len(pdf), "export_incidents": count, "select_s": round(select_s, 2),
                    "raw_json_per_s": round(count / raw_s), "exports": rates}
        finally:
            server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.products", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    args = parser.parse_args(argv)
    r = run(args.incidents)
    print(f"Briefing of a workspace with {r['briefing_incidents']:,} incidents: HTML {r['briefing_html_s']} s "
          f"(map, timeline, tables), PDF {r['briefing_pdf_s']} s more ({r['briefing_pdf_bytes'] // 1024} KB)")
    print(f"Exports of {r['export_incidents']:,} incidents (reading them {r['select_s']} s; raw orjson.dumps "
          f"{r['raw_json_per_s']:,}/s):")
    for fmt, row in r["exports"].items():
        print(f"  {fmt:<8} {row['per_s']:>9,} incidents/s  {row['bytes'] / 1e6:7.1f} MB  ratio to raw JSON "
              f"{row['ratio_to_raw_json']}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "products.json").write_text(json.dumps({"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                                       **r}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
