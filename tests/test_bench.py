"""The benchmark suite still runs (``python -m bench --quick``). Timing is never asserted here:
speed targets live in bench/, and a timed test would fail on a busy CI machine."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.documents import synth_firms_csv, synth_rss, synth_usgs_geojson
from feeds.contract import FeedConfig
from feeds.sources import detect

ROOT = Path(__file__).resolve().parent.parent
FEED = FeedConfig(id="bench-test", url="https://example.org/feed")


@pytest.mark.slow
@pytest.mark.redis
def test_quick_bench_runs_and_prints_ratios(tmp_path: Path) -> None:
    out_json = tmp_path / "quick.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", str(out_json)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    for name in (r"rss\[[^\]]+\]", r"usgs-geojson\[[^\]]+\]", r"firms-csv\[[^\]]+\]", "redis-append", "redis-repoll"):
        assert re.search(rf"^ratio {name}\s+\d+\.\d+ ", out, re.M), f"no ratio line for {name}:\n{out}"
    results = json.loads(out_json.read_text(encoding="utf-8"))
    assert results["mode"] == "quick"
    assert {row["format"] for row in results["parse"]} >= {"rss", "usgs-geojson", "firms-csv"}
    assert results["ingest"]["checks"]["ok"] is True
    assert results["reports"]["reports"] == 5000 and 0 < results["reports"]["entities"] < results["reports"]["mentions"]
    failover = results["failover"]  # a real primary killed under three sentinels (bench/failover.py)
    assert failover["acknowledged"] == failover["events"] and not failover["lost"] and not failover["duplicates"]
    assert results["push"]["stored"] == {"push_new": 300, "push_again": 300, "worker_new": 300, "worker_again": 300}
    replay = results["replay"]["server"]
    assert replay["frames"] > 100 and replay["patch_bytes_p50"] < replay["full_bytes_p50"]
    assert re.search(r"^  bytes per frame: patch p50 [\d,]+, whole figures p50 [\d,]+ \(ratio [\d.]+\)", out, re.M)


@pytest.mark.slow
@pytest.mark.redis
def test_push_bench_runs_and_prints_its_ratios() -> None:
    """bench/push.py on its own: POST /api/ingest over real HTTP against the worker's path."""
    proc = subprocess.run([sys.executable, "-m", "bench.push", "--quick"], cwd=ROOT, capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for phase in ("new", "again"):
        assert re.search(rf"^ratio push/worker {phase}\s+\d+\.\d+$", proc.stdout, re.M), proc.stdout


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.browser
def test_big_picture_bench_smoke_run_measures_every_figure(tmp_path: Path) -> None:
    """``python -m bench.big_picture --quick``: the whole stack, Chromium, two small aggregated pictures."""
    out_json = tmp_path / "big.json"
    proc = subprocess.run([sys.executable, "-m", "bench.big_picture", "--quick", "--json", str(out_json)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(out_json.read_text(encoding="utf-8"))
    assert [row["incidents"] >= size for row, size in zip(results["screens"], (600, 1500), strict=True)] == [True, True]
    for row in results["screens"]:
        assert row["dots"] == 500 and row["bins"] > 0, row  # aggregated: the limit's dots and some bins
        assert row["first_render_s"] > 0 and row["new_incident_p95_s"] > 0 and row["web_rss_mb"] > 0
        assert row["missed"] < 3 and not row["page_errors"], row
    assert {r["span_hours"] for r in results["fuser"]} == {24.0, 720.0}
    assert "first render" in proc.stdout and "B per stored incident" in proc.stdout


@pytest.mark.parametrize(
    ("make", "fmt", "count"),
    [(synth_rss, "rss", 200), (synth_usgs_geojson, "usgs-geojson", 2000), (synth_firms_csv, "firms-csv", 10000)],
)
def test_synthesised_documents_parse_fully(make, fmt: str, count: int) -> None:
    """The stand-ins used without the corpus are detected as their format and yield every item."""
    data = make()
    source = detect(data)
    assert source.name == fmt
    result = source.parse(data, FEED, datetime(2026, 4, 25, 13, tzinfo=UTC))
    assert len(result.events) == count


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.browser
def test_real_screens_bench_runs_in_smoke_mode(tmp_path: Path) -> None:
    """bench.screens_real: push streams (deltas on them), polls and the panels tick against the whole stack
    (5 and 10 screens)."""
    out_json = tmp_path / "screens-real.json"
    proc = subprocess.run([sys.executable, "-m", "bench.screens_real", "--quick", "--json", str(out_json)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(out_json.read_text(encoding="utf-8"))
    assert {row["reader"] for row in results["rows"]} == {"SHARED", "PER-STREAM"}
    assert results["panels_callbacks"] >= 1, "no panels-tick callback was captured from the desk"
    for row in results["rows"]:
        assert row["polls"] > 0 and row["updates"] > 0, row
        if row["reader"] == "SHARED":  # the change comes on the stream itself
            assert row["pushed_deltas"] > 0, row
        else:  # the former reader only wakes the screen, which polls
            assert row["wakes"] > 0 and row["pushed_deltas"] == 0, row
    assert re.search(r"^  SHARED\s+10 screens: update p50", proc.stdout, re.M), proc.stdout
