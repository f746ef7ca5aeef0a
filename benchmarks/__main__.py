"""Run the benchmark suite: ``python -m benchmarks [--quick] [--only W,...] [--output DIR]``.

Every (contender, workload) pair runs in a fresh subprocess, ``--repeat`` times; tables show
medians, and "spread" is (max - min) / median of the headline figure. Ratios are to the bare
asyncio.Queue measured in the same run. No thresholds are asserted: machines are noisy.
Writes ``results.json`` and, when matplotlib is installed (``pip install -e '.[bench]'``),
``benchmarks.png`` to the output directory.
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
from typing import Any

from .contenders import CONTENDERS

ROOT = Path(__file__).resolve().parent.parent

# workload -> (headline metric, higher is better, full params, quick params)
VARIANTS = ("plain", "priorities", "retries", "progress", "listener", "subscriber")

WORKLOADS: dict[str, tuple[str, bool, list[dict[str, Any]], list[dict[str, Any]]]] = {
    "throughput": (
        "jobs_per_second",
        True,
        [{"jobs": 20_000}, {"jobs": 200_000}],
        [{"jobs": 5_000}],
    ),
    "latency": (
        "result_p50_us",
        False,
        [{"jobs": 2_000, "rate": 1_000}],
        [{"jobs": 300, "rate": 1_000}],
    ),
    "io": ("efficiency", True, [{"jobs": 5_000}], [{"jobs": 1_000}]),
    "memory": ("bytes_per_job", False, [{"jobs": 100_000}], [{"jobs": 10_000}]),
    "soak": ("rss_end_mb", False, [{"jobs": 1_000_000}], [{"jobs": 50_000}]),
    "overload": (
        "completed",
        True,
        [
            {"policy": p, "seconds": 1.0}
            for p in ("raise", "block", "drop_oldest", "drop_newest", "caller_runs")
        ],
        [{"policy": p, "seconds": 0.2} for p in ("raise", "drop_oldest", "caller_runs")],
    ),
    "features": (
        "jobs_per_second",
        True,
        [{"jobs": 20_000, "variant": v} for v in VARIANTS],
        [{"jobs": 5_000, "variant": v} for v in VARIANTS],
    ),
    "progress": (
        "updates_per_second",
        True,
        [{"updates": 200_000, "followers": f} for f in (0, 1)],
        [{"updates": 20_000, "followers": f} for f in (0, 1)],
    ),
}

# Peers too slow for the large runs: (contender, workload) -> largest "jobs" to give it.
# APScheduler 4.0.0a6 slows down as its backlog grows (about 2,500 jobs/s with 2,000 jobs
# waiting, under 200/s with 20,000), so it runs once per workload, at the cap.
CAPS = {("apscheduler", "throughput"): 2_000, ("apscheduler", "io"): 1_000}

NOT_YET: dict[str, str] = {}


def label(params: dict[str, Any]) -> str:
    parts = [f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in params.items()]
    return " ".join(parts)


def run_once(contender: str, workload: str, params: dict[str, Any]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks._run", contender, workload, json.dumps(params)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["(no output)"]
        raise RuntimeError(f"{contender}/{workload} failed: {tail[0]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


class Progress:
    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.started = time.monotonic()

    def show(self, text: str) -> None:
        width = 30
        filled = int(width * self.done / max(1, self.total))
        elapsed = time.monotonic() - self.started
        bar = "#" * filled + "." * (width - filled)
        line = f"\r[{bar}] {self.done}/{self.total} {elapsed:5.0f}s {text:<48.48}"
        print(line, end="", file=sys.stderr, flush=True)

    def step(self) -> None:
        self.done += 1

    def close(self) -> None:
        print("\r" + " " * 100 + "\r", end="", file=sys.stderr, flush=True)


def plan(quick: bool, only: set[str] | None) -> list[tuple[str, dict[str, Any], str]]:
    tasks = []
    for workload, (_, _, full, fast) in WORKLOADS.items():
        if only and workload not in only:
            continue
        for index, params in enumerate(fast if quick else full):
            for name, contender in CONTENDERS.items():
                if workload not in contender.workloads or not contender.available():
                    continue
                cap = CAPS.get((name, workload))
                if cap is not None and params.get("jobs", 0) > cap:
                    if index > 0:
                        continue  # one capped run per workload is enough
                    tasks.append((workload, {**params, "jobs": cap}, name))
                    continue
                tasks.append((workload, params, name))
    return tasks


def summarise(runs: list[dict[str, float]], headline: str) -> dict[str, Any]:
    keys = runs[0].keys()
    med = {k: statistics.median(r[k] for r in runs) for k in keys}
    values = [r[headline] for r in runs]
    centre = statistics.median(values)
    spread = (max(values) - min(values)) / abs(centre) if centre else 0.0
    return {"median": med, "spread": spread, "runs": runs}


def print_tables(results: dict[str, Any]) -> None:
    for workload, (headline, higher, _, _) in WORKLOADS.items():
        rows = [r for r in results["rows"] if r["workload"] == workload]
        if not rows:
            continue
        print(f"\n== {workload} ({headline}, {'higher' if higher else 'lower'} is better)")
        for params_label in dict.fromkeys(r["params"] for r in rows):
            group = [r for r in rows if r["params"] == params_label]
            base = next((r for r in group if r["contender"] == "bare-queue"), None)
            print(f"   {params_label}")
            metric_keys = list(group[0]["median"].keys())
            header = "".join(f"{k:>22}" for k in metric_keys)
            print(f"   {'contender':<16}{header}{'vs bare':>9}{'spread':>8}")
            for row in group:
                values = "".join(
                    f"{row['median'][k]:>22,.2f}"
                    if abs(row["median"][k]) < 100
                    else f"{row['median'][k]:>22,.0f}"
                    for k in metric_keys
                )
                ratio = ""
                if base is not None and base["median"].get(headline):
                    ratio = f"{row['median'][headline] / base['median'][headline]:>9.2f}"
                print(f"   {row['contender']:<16}{values}{ratio:>9}{row['spread']:>8.0%}")
    for contender, why in results["cannot"]:
        print(f"   n/a: {contender}")
        print(f"        {why}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, one run each")
    parser.add_argument("--repeat", type=int, default=None, help="runs per pair (default 3)")
    parser.add_argument("--only", default=None, help="comma-separated workloads to run")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    unknown = (only or set()) - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workloads: {', '.join(sorted(unknown))}")
    repeat = args.repeat or (1 if args.quick else 3)
    tasks = plan(args.quick, only)
    progress = Progress(len(tasks) * repeat)
    rows = []
    for workload, params, name in tasks:
        headline = WORKLOADS[workload][0]
        runs = []
        for index in range(repeat):
            progress.show(f"{workload} {name} {label(params)} ({index + 1}/{repeat})")
            runs.append(run_once(name, workload, params))
            progress.step()
        rows.append(
            {
                "workload": workload,
                "params": label(params),
                "contender": name,
                **summarise(runs, headline),
            }
        )
    progress.close()
    cannot = [
        (f"{name} / {workload}", why)
        for name, contender in CONTENDERS.items()
        for workload, why in contender.cannot.items()
        if not only or workload in only
    ] + [(f"asyncjobs / {w}", why) for w, why in NOT_YET.items() if not only or w in only]
    cannot += [
        (name, f"not installed (pip install -e '.[bench]'): needs {contender.needs}")
        for name, contender in CONTENDERS.items()
        if not contender.available()
    ]
    results = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.system()}",
        "mode": "quick" if args.quick else "full",
        "repeat": repeat,
        "setups": {name: c.setup for name, c in CONTENDERS.items()},
        "rows": rows,
        "cannot": cannot,
    }
    print(
        f"asyncjobs benchmarks, {results['mode']} mode, {repeat} run(s) each, "
        f"{results['machine']}, {results['date']}"
    )
    print_tables(results)
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten: {args.output / 'results.json'}")
    try:
        from .chart import draw
    except ImportError:
        print("no chart: matplotlib is not installed (pip install -e '.[bench]')")
        return
    chart = draw(results, args.output / "benchmarks.png")
    print(f"written: {chart}")


if __name__ == "__main__":
    main()
