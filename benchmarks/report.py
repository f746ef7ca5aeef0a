"""Markdown tables for the README from a run: ``python -m benchmarks.report RESULTS_JSON``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .__main__ import WORKLOADS

COLUMNS = {
    "throughput": [("jobs_per_second", "jobs/s", "{:,.0f}")],
    "latency": [
        ("start_p50_us", "start p50 µs", "{:,.0f}"),
        ("start_p99_us", "start p99 µs", "{:,.0f}"),
        ("result_p50_us", "result p50 µs", "{:,.0f}"),
        ("result_p99_us", "result p99 µs", "{:,.0f}"),
    ],
    "io": [("efficiency", "efficiency", "{:.2f}")],
    "memory": [("bytes_per_job", "bytes/job", "{:,.0f}")],
    "soak": [
        ("rss_start_mb", "RSS start MB", "{:.1f}"),
        ("rss_middle_mb", "RSS middle MB", "{:.1f}"),
        ("rss_end_mb", "RSS end MB", "{:.1f}"),
        ("growth_middle_to_end", "middle→end", "{:+.1%}"),
    ],
    "overload": [
        ("offered_per_second", "offered/s", "{:,.0f}"),
        ("completed", "completed", "{:,.0f}"),
        ("rejected", "rejected", "{:,.0f}"),
        ("latency_p50_ms", "p50 ms", "{:.1f}"),
        ("latency_p99_ms", "p99 ms", "{:.1f}"),
    ],
    "features": [("jobs_per_second", "jobs/s", "{:,.0f}")],
    "progress": [("updates_per_second", "updates/s", "{:,.0f}")],
}


def tables(results: dict[str, Any]) -> str:
    out: list[str] = []
    for workload, (headline, _, _, _) in WORKLOADS.items():
        rows = [r for r in results["rows"] if r["workload"] == workload]
        if not rows:
            continue
        columns = COLUMNS[workload]
        with_ratio = any(r["contender"] == "bare-queue" for r in rows)
        out.append(f"**{workload}**\n")
        head = ["params", "contender"] + [c[1] for c in columns]
        head += ["vs bare queue"] if with_ratio else []
        head += ["spread"]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "---|" * 2 + "---:|" * (len(head) - 2))
        for params in dict.fromkeys(r["params"] for r in rows):
            group = [r for r in rows if r["params"] == params]
            base = next((r for r in group if r["contender"] == "bare-queue"), None)
            for row in group:
                cells = [params, row["contender"]]
                cells += [fmt.format(row["median"][key]) for key, _, fmt in columns]
                if with_ratio:
                    ratio = (
                        f"{row['median'][headline] / base['median'][headline]:.2f}"
                        if base is not None and base["median"][headline]
                        else ""
                    )
                    cells.append(ratio)
                cells.append(f"{row['spread']:.0%}")
                out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(tables(json.loads(Path(sys.argv[1]).read_text())))
