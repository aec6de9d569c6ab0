"""Timing that survives a noisy 2-core machine.

A measurement calls the workload until at least ``min_time`` seconds of its own time have passed
(small documents are replicated this way), and the result is the median of several such runs.
Candidates that are compared (ours and a baseline) are interleaved run by run, in rotating order,
so a slow patch of the machine hits both alike. Garbage collection stays on (workers run with it
on) but is collected before each measurement so one candidate does not pay for another's garbage.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    """Seconds per call of one workload: the median over ``runs`` and every run's value."""

    per_call: float
    runs: tuple[float, ...]
    calls: int

    @property
    def spread(self) -> float:
        """(slowest - fastest) / median: how much the runs disagreed."""
        return (max(self.runs) - min(self.runs)) / self.per_call if self.per_call else 0.0


@dataclass(frozen=True)
class Candidate:
    """A workload to time; ``setup`` runs before every call and is not timed."""

    name: str
    run: Callable[[], object]
    setup: Callable[[], object] | None = None


def time_calls(candidate: Candidate, min_time: float) -> tuple[float, int]:
    """Seconds per call, calling until ``min_time`` seconds of timed work have accumulated."""
    gc.collect()
    total = 0.0
    calls = 0
    clock = time.perf_counter
    while total < min_time or calls == 0:
        if candidate.setup is not None:
            candidate.setup()
        start = clock()
        candidate.run()
        total += clock() - start
        calls += 1
    return total / calls, calls


def compare(candidates: list[Candidate], *, min_time: float, runs: int) -> dict[str, Timing]:
    """Time every candidate ``runs`` times, interleaved, rotating which goes first."""
    samples: dict[str, list[float]] = {c.name: [] for c in candidates}
    calls: dict[str, int] = {c.name: 0 for c in candidates}
    for run in range(runs):
        shift = run % len(candidates)
        for candidate in candidates[shift:] + candidates[:shift]:
            per_call, n = time_calls(candidate, min_time)
            samples[candidate.name].append(per_call)
            calls[candidate.name] += n
    return {
        name: Timing(per_call=statistics.median(values), runs=tuple(values), calls=calls[name])
        for name, values in samples.items()
    }
