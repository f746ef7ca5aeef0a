"""Small helpers shared by the contenders: clocks, percentiles, memory readings."""

from __future__ import annotations

import gc
import math
import os
import statistics
import time
from collections.abc import Sequence

now = time.perf_counter


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), by the nearest-rank method."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def latency_summary(to_start: Sequence[float], to_result: Sequence[float]) -> dict[str, float]:
    """p50/p99 in microseconds."""
    return {
        "start_p50_us": percentile(to_start, 50) * 1e6,
        "start_p99_us": percentile(to_start, 99) * 1e6,
        "result_p50_us": percentile(to_result, 50) * 1e6,
        "result_p99_us": percentile(to_result, 99) * 1e6,
    }


def rss_bytes() -> int:
    """Resident set size of this process (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def settle() -> None:
    gc.collect()


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
