"""The printed table, the ``ratio`` lines (one per comparison, stable enough to grep) and the JSON."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import feedparser
import redis

from bench.ingest import IngestResult
from bench.parsing import ParseRow

RESULTS = Path(__file__).resolve().parent / "results"


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _status(met: bool) -> str:
    return "met" if met else "MISSED"


def parse_table(rows: list[ParseRow]) -> list[str]:
    header = (
        f"{'format [folder]':<36} {'docs':>4} {'events':>6} {'ours ev/s':>11} {'spread':>6}  "
        f"{'baseline':<16} {'base ev/s':>11} {'ratio':>6}  target"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        target = row.target
        goal = f"{target.describe()} {_status(target.met(row.rate, row.ratio))}" if target else ""
        lines.append(
            f"{row.group.key:<36} {len(row.group.documents):>4} {row.events:>6} {_n(row.rate):>11} "
            f"{row.spread * 100:>5.0f}%  {row.baseline:<16} {_n(row.baseline_rate):>11} {row.ratio:>6.2f}  {goal}"
        )
    return lines


def ingest_table(result: IngestResult) -> list[str]:
    names = {
        "append-new": "EventStore.append, new events (Lua)",
        "append-repoll": "EventStore.append, re-poll (all seen)",
        "raw-xadd": "raw redis-py pipelined XADD (baseline)",
        "serialise": "fingerprint()+to_json() only, no Redis",
    }
    base = result.rate("raw-xadd")
    header = f"{'path (batch ' + str(result.batch) + ')':<42} {'events/s':>10} {'spread':>6} {'vs raw':>7}"
    lines = [header, "-" * len(header)]
    for key, label in names.items():
        rate = result.rate(key)
        lines.append(f"{label:<42} {_n(rate):>10} {result.timings[key].spread * 100:>5.0f}% {rate / base:>7.2f}")
    return lines


def ratio_lines(rows: list[ParseRow], ingest: IngestResult | None) -> list[str]:
    """``ratio <name> <value> ...``: one line per comparison made in this run."""
    lines = []
    for row in rows:
        target = row.target
        note = ""
        if target is not None:
            note = f"  target {target.describe()}: {_status(target.met(row.rate, row.ratio))}"
        lines.append(
            f"ratio {row.group.key:<36} {row.ratio:6.3f}  ours {_n(row.rate)} ev/s / {row.baseline} "
            f"{_n(row.baseline_rate)} ev/s{note}"
        )
    if ingest is not None:
        raw = ingest.rate("raw-xadd")
        for key, name in (("append-new", "redis-append"), ("append-repoll", "redis-repoll")):
            lines.append(
                f"ratio {name:<36} {ingest.rate(key) / raw:6.3f}  EventStore {_n(ingest.rate(key))} ev/s / "
                f"raw XADD {_n(raw)} ev/s"
            )
    return lines


def targets_summary(rows: list[ParseRow]) -> list[tuple[str, str, bool]]:
    out = []
    for row in rows:
        if row.target is not None:
            value = f"{row.ratio:.2f} x" if row.target.kind == "ratio" else f"{_n(row.rate)} ev/s"
            out.append((row.group.key, f"{value} ({row.target.describe()})", row.target.met(row.rate, row.ratio)))
    return out


def machine() -> dict[str, object]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "feedparser": feedparser.__version__,
        "redis_py": redis.__version__,
        "commit": commit,
    }
