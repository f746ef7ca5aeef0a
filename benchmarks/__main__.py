"""Run the benchmarks and report jobs/s and the ratio to the bare-queue baseline.

Usage: ``python -m benchmarks [--quick] [--jobs N] [--repeat R] [--output DIR]``.
No thresholds are asserted: machines are noisy. Figures are medians of R fresh processes.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from .contenders import CONTENDERS


def measure(name: str, jobs: int) -> float:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.contenders", name, str(jobs)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    return float(json.loads(done.stdout)["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="small and fast: a smoke run")
    parser.add_argument("--jobs", type=int, default=None, help="jobs per run (default 20000)")
    parser.add_argument("--repeat", type=int, default=None, help="runs per contender (default 5)")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    jobs = args.jobs or (2_000 if args.quick else 20_000)
    repeat = args.repeat or (1 if args.quick else 5)

    results: dict[str, dict[str, float]] = {}
    for name in CONTENDERS:
        runs = []
        for index in range(repeat):
            print(f"\r{name:<20} run {index + 1}/{repeat}", end="", file=sys.stderr, flush=True)
            runs.append(jobs / measure(name, jobs))
        median = statistics.median(runs)
        spread = (max(runs) - min(runs)) / median if median else 0.0
        results[name] = {"jobs_per_second": median, "spread": spread}
    print("\r" + " " * 40 + "\r", end="", file=sys.stderr)

    baseline = results["bare_queue"]["jobs_per_second"]
    print(f"no-op throughput, {jobs} jobs submitted then awaited, median of {repeat}")
    print(f"{'contender':<20}{'jobs/s':>12}{'vs bare queue':>15}{'spread':>9}")
    for name, figures in results.items():
        rate = figures["jobs_per_second"]
        print(f"{name:<20}{rate:>12,.0f}{rate / baseline:>15.2f}{figures['spread']:>9.0%}")

    args.output.mkdir(parents=True, exist_ok=True)
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.system()}",
        "jobs": jobs,
        "repeat": repeat,
        "results": results,
    }
    path = args.output / "throughput.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written: {path}")


if __name__ == "__main__":
    main()
