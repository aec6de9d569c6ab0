"""``python -m bench``: parse throughput per format and Redis ingest, each as a ratio to a baseline.

python -m bench              full run (about 2 minutes on 2 cores, plus fusion, plus the screens section:
                             about 20 more minutes with aggregation at 10k and 100k incidents);
                             bench/results/latest.json and screens.json
python -m bench --quick      smoke run (< 30 s, no screens section); bench/results/latest-quick.json
python -m bench --no-screens full run without the screens section (it needs Chromium and starts the stack)
python -m bench --profile    cProfile hot spots of the same workloads instead of timings
python -m bench --strict     exit 1 when a target is missed (targets are reported either way)

Screens on their own (the whole stack, headless Chromium; see bench/screens.py):
python -m bench.screens [--quick] [--only latency|bytes|capacity|aggregation]   bench/results/screens.json
python -m bench.screens_real [--quick] [--screens 500] [--readers SHARED,PER-STREAM]   real screens per web process
                                   (push stream, polls, 5 s panels tick): update p95, late %, CPU; bench/results/screens-real.json
python -m bench.tiles [--quick]    street tiles: import, serving p50/p95 under 50 clients, bytes   bench/results/tiles.json
python -m bench.sharing [--incidents N]   the sharing check at 100,000 incidents, with and without agency rules
                                   bench/results/sharing.json
python -m bench.products [--incidents N]   briefing time at 1,000 incidents, export rates   bench/results/products.json
python -m bench.push [--quick]      partner push intake: POST /api/ingest vs the worker's path   bench/results/push.json
python -m bench.replay [--quick]   replay of 24 h at 60x: server ms and bytes per frame, Chromium frame time (patch vs
                                   whole figures)   bench/results/replay.json
python -m bench.reports [--reports N]   report intake with entity resolution, memory, link queries   bench/results/reports.json
python -m bench.links [--quick]    link analysis: a 2-hop neighbourhood of ~500 nodes, first draw and expand in Chromium
                                   bench/results/links.json
Big feeds and history on their own (also a section of the full run, the history at 10k and 100k):
python -m bench.worker_path [--quick]   worker's whole path for FIRMS/USGS vs raw XADD, 100,000-row re-poll
python -m bench.history [--sizes 10000,100000,1000000]   fuser restart and threat tick against the history
python -m bench.failover [--quick]   kill the Redis primary under Sentinel: DEGRADED, LIVE, nothing acknowledged lost
python -m bench.big_picture [--quick] [--sizes 10000,100000,250000]   the desk at a quarter of a million live
                                   incidents: first render, pan, new incident p95, idle CPU, RSS; fuser bytes/incident
Not in `make bench` (they run as long as asked):
python -m bench.wall_soak --minutes 60     wall memory soak; bench/results/wall-soak.json, MB/hour
python -m bench.alert_latency --alerts 20 --one-screen   operator alert to banner; bench/results/alert-latency.json
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import documents, report
from bench.ingest import run_ingest
from bench.parsing import ParseRow, measure_group, select_documents


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n", 1)[0],
                                     epilog="Also: python -m bench.screens (screens only) and python -m "
                                            "bench.wall_soak --minutes 60 (wall memory soak, not part of make bench).")
    parser.add_argument("--quick", action="store_true", help="reduced run for a smoke test (< 30 s)")
    parser.add_argument("--profile", action="store_true", help="print cProfile hot spots instead of timings")
    parser.add_argument("--synthetic", action="store_true", help="use synthesised documents even if the corpus exists")
    parser.add_argument("--no-redis", action="store_true", help="skip the Redis ingest benchmark")
    parser.add_argument("--no-screens", action="store_true", help="skip the screens section (full run only)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--json", type=Path, default=None, help="where to write the results (default bench/results/)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()
    min_time, runs, max_docs, ingest_events = (0.05, 3, 3, 2_000) if args.quick else (0.5, 5, None, 10_000)
    fetched_at = datetime.now(UTC)

    corpus, looked_at = documents.corpus_dir()
    if args.synthetic:
        corpus = None
    if corpus is None:
        why = "--synthetic given" if args.synthetic else f"feed corpus not found at {looked_at} (set WATCHFLOOR_CORPUS)"
        print(
            f"{why}; using documents synthesised in memory: 200-item RSS, 2,000-feature USGS GeoJSON, "
            "10,000-row FIRMS CSV"
        )
    else:
        print(f"corpus: {corpus}")
    selection = select_documents(corpus, max_docs=max_docs, fetched_at=fetched_at)
    if not selection.groups:
        print("no usable documents; nothing to measure", file=sys.stderr)
        return 1

    if args.profile:
        return _profile(selection, args, ingest_events)

    mode = "quick" if args.quick else "full"
    print(
        f"mode: {mode}; each measurement repeated until >= {min_time:g} s, median of {runs} runs; "
        f"ours and baseline interleaved; single process (one core)"
    )
    print()
    print("Parse + normalise (events/s, one core; baseline on the same bytes, in our events per second)")
    rows: list[ParseRow] = []
    for group in selection.groups:
        events = len(selection.events[group.key])
        rows.append(measure_group(group, events, min_time=min_time, runs=runs, fetched_at=fetched_at))
    for line in report.parse_table(rows):
        print(line)
    print(f"({len(selection.skipped)} documents not measured: refused, not detected or no events; see the JSON)")

    ingest = None
    if not args.no_redis:
        print()
        print(f"Redis ingest ({ingest_events:,} events of mixed formats, pipelined, real redis-server, AOF always)")
        ingest = run_ingest(selection.events, count=ingest_events, min_time=min_time, runs=runs)
        for line in report.ingest_table(ingest):
            print(line)
        print(
            f"redis-server {ingest.redis_version}, hiredis {'on' if ingest.hiredis else 'off'}; "
            f"EventStore writes 3 keys per new event (fp, current, stream), raw XADD 1; "
            f"idempotence check: {'ok' if ingest.checks.get('ok') else 'FAILED ' + str(ingest.checks)}"
        )

    print()
    fusion = _fusion_section(args)

    print()
    geocoding = _geocode_section(args)

    print()
    screens = _screens_section(args)

    print()
    screens_real = _screens_real_section(args)

    print()
    tiles = _tiles_section(args)

    print()
    reports = _reports_section(args)

    print()
    links = _links_section(args)

    print()
    products = _products_section(args)
    bounded = _bounded_section(args)
    big_picture = _big_picture_section(args)

    print()
    failover = _failover_section(args)

    print()
    push = _push_section(args)

    print()
    replay = _replay_section(args)

    print()
    from bench.sharing import main as run_sharing  # the sharing check at 100,000 incidents (pure: no Redis)

    sharing = run_sharing(["--incidents", "5000" if args.quick else "100000", "--runs", "2" if args.quick else "5"])

    print()
    print("Ratios (ours / baseline, measured in this run)")
    for line in report.ratio_lines(rows, ingest):
        print(line)
    targets = report.targets_summary(rows)
    print()
    print("Targets" + (" (quick run: indicative only)" if args.quick else ""))
    for name, value, met in targets:
        print(f"  {'met   ' if met else 'MISSED'}  {name:<28} {value}")
    elapsed = time.perf_counter() - started
    print(f"\nbench took {elapsed:.1f} s")

    results = {
        "mode": mode,
        "when": fetched_at.isoformat(),
        "seconds": elapsed,
        "method": {"min_time_s": min_time, "runs": runs, "statistic": "median", "interleaved": True},
        "machine": report.machine(),
        "corpus": str(corpus) if corpus else None,
        "synthetic": selection.synthetic,
        "parse": [row.to_json() for row in rows],
        "ingest": ingest.to_json() if ingest else None,
        "fusion": fusion,
        "geocoding": geocoding,
        "screens": screens,
        "screens_real": screens_real,
        "tiles": tiles,
        "reports": reports,
        "links": links,
        "products": products,
        "replay": replay,
        "sharing": sharing,
        "bounded": bounded,
        "failover": failover,
        "push": push,
        "big_picture": big_picture,
        "targets": [{"name": n, "value": v, "met": m} for n, v, m in targets],
        "skipped_documents": [{"document": d, "reason": r} for d, r in selection.skipped],
    }
    out = args.json or report.RESULTS / ("latest-quick.json" if args.quick else "latest.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {out}")

    failed = [name for name, _, met in targets if not met]
    if ingest is not None and not ingest.checks.get("ok"):
        print("EventStore idempotence check failed", file=sys.stderr)
        return 1
    return 1 if args.strict and failed else 0


def _fusion_section(args: argparse.Namespace) -> dict[str, object]:
    """Cross-source fusion: quality on the labelled pairs, Correlator and live-fuser throughput."""
    from bench.fusion_bench import run_fusion_bench

    result = run_fusion_bench(args.quick, redis=not args.no_redis)
    print("Fusion (feeds.fuse.Correlator; workers.fusion.Fuser on a real redis-server)")
    pairs = result["pairs"]
    if "skipped" in pairs:
        print(f"  labelled pairs: skipped ({pairs['skipped']})")
    else:
        o, inc = pairs["overall"], pairs["incidents"]
        print(f"  labelled pairs ({o['pairs']:,}, {o['positives']:,} same): should_merge precision "
              f"{o['precision']:.4f}, recall {o['recall']:.3f} (fp {o['fp']}, fn {o['fn']})")
        ov = inc["overall"]
        print(f"  as incidents ({inc['reports']:,} reports -> {inc['incidents']:,} incidents): precision "
              f"{ov['precision']:.4f}, recall {ov['recall']:.3f}")
        sweep = ", ".join(f"{t}: {v['precision']:.4f}/{v['recall']:.3f}" for t, v in pairs["sweep"].items())
        print(f"  threshold sweep (precision/recall): {sweep}")
    t = result["throughput"]
    print(f"  Correlator: {t['events_per_s']:,} events/s adding {t['events']:,} events to {t['incidents_before']:,} "
          f"incidents in a {t['window_hours']:g} h window; of {t['events'] // 2:,} second reports "
          f"{t['second_reports_joined']:,} joined their own quake ({t['second_reports_missed']:,} missed), "
          f"{t['new_quakes_joined_wrongly']:,} of the new quakes joined a wrong one; "
          f"{t['quakes_preloaded']:,} random quakes preloaded into {t['incidents_before']:,} incidents at "
          f"{t['preload_events_per_s']:,} events/s")
    fuser = result.get("fuser")
    if not fuser:
        print("  Fuser rebuild from wf:events: full run only (not with --quick or --no-redis)")
    else:
        print(f"  Fuser rebuild from wf:events ({fuser['events']:,} events -> {fuser['incidents']:,} incidents): "
              f"first start {fuser['first_rebuild_events_per_s']:,} events/s ({fuser['first_rebuild_changes']:,} "
              f"changes), restart {fuser['restart_rebuild_events_per_s']:,} events/s "
              f"({fuser['restart_rebuild_changes']} changes: must be 0)")
    return result


def _screens_section(args: argparse.Namespace) -> dict[str, object] | None:
    """Latency to the marker, bytes per update and screens per machine, against the whole stack."""
    import os

    from bench.live_stack import CHROMIUM

    if args.quick or args.no_screens or args.no_redis:
        print("Screens: skipped (full run only; python -m bench.screens --quick for a smoke run)")
        return None
    if not os.path.exists(CHROMIUM):
        print(f"Screens: skipped ({CHROMIUM} missing: `make browser` installs it)")
        return None
    from bench.screens import run_screens

    print("Screens (the whole stack as `watchfloor up` runs it; headless Chromium; bench/results/screens.json)")
    return run_screens()


def _screens_real_section(args: argparse.Namespace) -> dict[str, object] | None:
    """#19: real screens per web process (push stream, polls, panels tick), shared reader against per-stream."""
    import os

    from bench.live_stack import CHROMIUM

    if args.quick or args.no_screens or args.no_redis or not os.path.exists(CHROMIUM):
        print("Real screens: skipped (full run with Chromium only; python -m bench.screens_real --quick for a smoke run)")
        return None
    from bench.screens_real import run_screens_real

    return run_screens_real()


def _tiles_section(args: argparse.Namespace) -> dict[str, object] | None:
    """Street tiles: import of the exercise extract, serving under 50 clients, bytes per view and pan."""
    if args.quick or args.no_screens or args.no_redis:
        print("Street tiles: skipped (full run only; python -m bench.tiles --quick for a smoke run)")
        return None
    from bench.tiles import main as run_tiles

    print("Street tiles (the whole stack; bench/results/tiles.json)")
    run_tiles([])
    return json.loads((report.RESULTS / "tiles.json").read_text())


def _products_section(args: argparse.Namespace) -> dict[str, object] | None:
    """Briefing generation at 1,000 incidents and the export rate of each format at 100,000."""
    if args.no_redis:
        print("Products: skipped (--no-redis)")
        return None
    from bench.products import main as run_products

    print("Products: briefings and exports (a real Redis; bench/results/products.json)")
    run_products(["--incidents", "5000" if args.quick else "100000"])
    return json.loads((report.RESULTS / "products.json").read_text())


def _push_section(args: argparse.Namespace) -> dict[str, object] | None:
    """Partner push intake: POST /api/ingest (real HTTP) against the worker's path on the same documents."""
    if args.no_redis:
        print("Push intake: skipped (--no-redis)")
        return None
    from bench.push import main as run_push

    run_push(["--quick"] if args.quick else [])
    return json.loads((report.RESULTS / "push.json").read_text())
def _replay_section(args: argparse.Namespace) -> dict[str, object] | None:
    """Replay of 24 hours at 60x: build, server cost and bytes per frame (patch vs whole figures);
    the full run adds the frame time in Chromium (the whole stack)."""
    if args.no_redis:
        print("Replay: skipped (--no-redis)")
        return None
    from bench.replay import main as run_replay

    quick = args.quick or args.no_screens
    print("Replay (a real Redis" + ("" if quick else "; the whole stack and headless Chromium") +
          "; bench/results/replay" + ("-quick" if quick else "") + ".json)")
    run_replay(["--quick"] if quick else [])
    return json.loads((report.RESULTS / ("replay-quick.json" if quick else "replay.json")).read_text())


def _reports_section(args: argparse.Namespace) -> dict[str, object] | None:
    """Suspicious-activity reports: intake of 100,000 with entity resolution against raw SETs, memory, queries."""
    if args.no_redis:
        print("Reports: skipped (--no-redis)")
        return None
    from bench.reports import main as run_reports

    print("Reports and entities (a real Redis; bench/results/reports.json)")
    run_reports(["--reports", "5000" if args.quick else "100000"])
    return json.loads((report.RESULTS / "reports.json").read_text())
def _links_section(args: argparse.Namespace) -> dict[str, object] | None:
    """The link-analysis page: the server's neighbourhood, first draw and one expansion in Chromium."""
    import os

    from bench.live_stack import CHROMIUM

    if args.quick or args.no_screens or args.no_redis:
        print("Link analysis: skipped (full run only; python -m bench.links --quick for a smoke run)")
        return None
    if not os.path.exists(CHROMIUM):
        print(f"Link analysis: skipped ({CHROMIUM} missing: `make browser` installs it)")
        return None
    from bench.links import print_report, run_links

    print("Link analysis (the whole stack; headless Chromium; bench/results/links.json)")
    result = run_links()
    print_report(result)
    return result
def _bounded_section(args: argparse.Namespace) -> dict[str, object] | None:
    """#19: the worker's whole path for big feeds against raw XADD, a 100,000-row re-poll, and the
    fuser's restart and the threat tick at 10k and 100k events (1M: python -m bench.history)."""
    if args.quick or args.no_redis:
        print("Big feeds and history: skipped (full run only; python -m bench.worker_path --quick for a smoke run)")
        return None
    from bench.history import print_report as print_history
    from bench.history import run_history
    from bench.worker_path import print_report as print_worker_path
    from bench.worker_path import run_worker_path

    worker_path = run_worker_path(quick=False)
    print_worker_path(worker_path)
    history = run_history([10_000, 100_000], whole_max=100_000)
    print_history(history)
    return {"worker_path": worker_path, "history": history}


def _failover_section(args: argparse.Namespace) -> dict[str, object] | None:
    """#19: kill the Redis primary under Sentinel: time to DEGRADED and back to LIVE, nothing acknowledged lost."""
    if args.no_redis:
        print("Sentinel failover: skipped (--no-redis)")
        return None
    from bench.failover import main as run_failover

    run_failover(["--quick"] if args.quick else [])
    return json.loads((report.RESULTS / ("failover-quick.json" if args.quick else "failover.json")).read_text())
def _big_picture_section(args: argparse.Namespace) -> dict[str, object] | None:
    """#19 item 4: the desk at 10k, 100k and 250k live incidents in Chromium, and the fuser's memory."""
    import os

    from bench.live_stack import CHROMIUM

    if args.quick or args.no_screens or args.no_redis:
        print("Big picture: skipped (full run only; python -m bench.big_picture --quick for a smoke run)")
        return None
    if not os.path.exists(CHROMIUM):
        print(f"Big picture: skipped ({CHROMIUM} missing: `make browser` installs it)")
        return None
    from bench.big_picture import main as run_big_picture

    print()
    run_big_picture([])
    return json.loads((report.RESULTS / "big-picture.json").read_text())


def _geocode_section(args: argparse.Namespace) -> dict[str, object]:
    """Geocoding accuracy on texts from the corpus with true positions, geotext as the baseline."""
    from bench.geocode_bench import print_report, run_geocode_bench

    result = run_geocode_bench(args.quick)
    print_report(result)
    return result


def _profile(selection: object, args: argparse.Namespace, ingest_events: int) -> int:
    from bench.profiling import profile_group, profile_ingest

    seconds = 0.3 if args.quick else 1.5
    print(f"cProfile, top functions by own time ({seconds:g} s per group; shares, not absolute times)")
    for group in selection.groups:  # type: ignore[attr-defined]
        for line in profile_group(group, seconds, limit=12):
            print(line)
    if not args.no_redis:
        for line in profile_ingest(selection.events, ingest_events, limit=12):  # type: ignore[attr-defined]
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
