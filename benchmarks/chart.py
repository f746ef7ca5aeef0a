"""The PNG chart of a benchmark run (needs matplotlib: ``pip install -e '.[bench]'``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

COLOURS = {
    "bare-queue": "#888888",
    "gather": "#bbbbbb",
    "asyncjobs": "#1f77b4",
    "asyncjobs-trio": "#6baed6",
    "asyncjobs-shared": "#9467bd",
    "aiojobs": "#ff7f0e",
    "taskiq": "#2ca02c",
    "apscheduler": "#d62728",
}


def _first_group(results: dict[str, Any], workload: str) -> list[dict[str, Any]]:
    rows = [r for r in results["rows"] if r["workload"] == workload]
    if not rows:
        return []
    first = rows[0]["params"]
    return [r for r in rows if r["params"] == first]


def _bars(ax: Any, rows: list[dict[str, Any]], metric: str, title: str, log: bool) -> None:
    names = [r["contender"] for r in rows]
    values = [r["median"][metric] for r in rows]
    ax.bar(names, values, color=[COLOURS.get(n, "#444444") for n in names])
    ax.set_title(title, fontsize=10)
    if log:
        ax.set_yscale("log")
    ax.tick_params(axis="x", rotation=35, labelsize=8)
    for index, value in enumerate(values):
        ax.annotate(
            f"{value:,.0f}" if value >= 10 else f"{value:.2f}",
            (index, value),
            ha="center",
            va="bottom",
            fontsize=7,
        )


def draw(results: dict[str, Any], path: Path) -> Path:
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    throughput = _first_group(results, "throughput")
    if throughput:
        jobs = throughput[0]["params"]
        _bars(axes[0][0], throughput, "jobs_per_second", f"no-op jobs/s ({jobs}), log", True)
    latency = _first_group(results, "latency")
    if latency:
        ax = axes[0][1]
        names = [r["contender"] for r in latency]
        width = 0.4
        xs = range(len(names))
        ax.bar(
            [x - width / 2 for x in xs],
            [r["median"]["result_p50_us"] for r in latency],
            width,
            label="p50",
            color="#1f77b4",
        )
        ax.bar(
            [x + width / 2 for x in xs],
            [r["median"]["result_p99_us"] for r in latency],
            width,
            label="p99",
            color="#ff7f0e",
        )
        ax.set_xticks(list(xs), names, rotation=35, fontsize=8)
        ax.set_yscale("log")
        ax.set_title("submit-to-result latency at 1,000 jobs/s (µs), log", fontsize=10)
        ax.legend(fontsize=8)
    io = _first_group(results, "io")
    if io:
        _bars(axes[1][0], io, "efficiency", "io-bound efficiency (ideal / actual)", False)
    memory = _first_group(results, "memory")
    if memory:
        _bars(axes[1][1], memory, "bytes_per_job", "bytes per queued job", False)
    fig.suptitle(f"asyncjobs benchmarks, {results['machine']}, {results['date']}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
