"""Watchfloor benchmarks: ``make bench`` (``python -m bench``).

Every number is printed next to a baseline measured in the same run on the same bytes (raw
feedparser, json.loads, csv.reader, ElementTree, raw redis-py XADD), so the ratios compare across
machines even when the absolute rates do not. Speed targets live here, never in timed tests.

Modules::

    timing      repeat-until-min-time, median of runs, candidates interleaved
    documents   the feed corpus (../shared/corpus or $WATCHFLOOR_CORPUS), or synthesised documents
    parsing     parse+normalise throughput per format against a raw baseline
    ingest      EventStore.append (idempotent Lua path) against raw pipelined XADD, on a real Redis
    profiling   ``--profile``: cProfile hot spots of the same workloads
    report      the table, the ratio lines and bench/results/*.json
"""
