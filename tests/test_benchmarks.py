"""The benchmark harness's own logic (the measurements themselves are never asserted)."""

from __future__ import annotations

import math

import pytest

from benchmarks.__main__ import WORKLOADS, plan, summarise
from benchmarks._common import latency_summary, percentile
from benchmarks.contenders import CONTENDERS


def test_percentile_nearest_rank() -> None:
    values = list(range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([5.0], 99) == 5.0
    assert math.isnan(percentile([], 50))
    assert percentile([3, 1, 2], 50) == 2


def test_latency_summary_is_in_microseconds() -> None:
    summary = latency_summary([0.000_010] * 10, [0.000_020] * 10)
    assert summary == pytest.approx(
        {"start_p50_us": 10, "start_p99_us": 10, "result_p50_us": 20, "result_p99_us": 20}
    )


def test_summarise_takes_medians_and_spread() -> None:
    runs = [{"jobs_per_second": v, "x": 1.0} for v in (90.0, 100.0, 120.0)]
    summary = summarise(runs, "jobs_per_second")
    assert summary["median"] == {"jobs_per_second": 100.0, "x": 1.0}
    assert summary["spread"] == pytest.approx(0.3)


def test_quick_plan_covers_every_workload_and_only_filters() -> None:
    tasks = plan(quick=True, only=None)
    assert {workload for workload, _, _ in tasks} == set(WORKLOADS)
    for workload, _, name in tasks:
        assert workload in CONTENDERS[name].workloads
    only = plan(quick=True, only={"latency"})
    assert {workload for workload, _, _ in only} == {"latency"}


def test_full_plan_caps_slow_peers() -> None:
    tasks = plan(quick=False, only={"throughput"})
    aps = [params["jobs"] for _, params, name in tasks if name == "apscheduler"]
    assert aps in ([], [2_000])  # once, capped


@pytest.mark.anyio
async def test_the_retries_variant_fails_one_job_in_ten_once() -> None:
    from benchmarks import contenders

    contenders._failed_once.clear()
    metrics = await contenders.aj_throughput({"jobs": 100, "variant": "retries"})
    assert metrics["jobs_per_second"] > 0  # every handle resolved: the variant completed
    assert contenders._failed_once == set(range(0, 100, 10))


def test_breakdown_table_gives_costs_against_the_defaults() -> None:
    from benchmarks.breakdown import table

    jobs = 1_000
    timings = {  # seconds submitting, seconds running, per round
        "bare-queue": [(0.0005, 0.0005)] * 3,
        "defaults": [(0.002, 0.004), (0.003, 0.004), (0.002, 0.005)],
        "no-records": [(0.002, 0.003)] * 3,
    }
    rows = {line.split(" | ")[0].strip("| "): line for line in table(timings, jobs).splitlines()}
    assert rows["bare-queue"] == "| bare-queue | 1.00 | 0.50 | 0.50 | 1,000,000 | 1.00 |  |"
    # defaults: the median total is 7 µs, split by the medians of each part
    assert rows["defaults"] == "| defaults | 7.00 | 2.00 | 4.00 | 142,857 | 0.14 |  |"
    assert rows["no-records"] == "| no-records | 5.00 | 2.00 | 3.00 | 200,000 | 0.20 | -2.00 |"


def test_breakdown_runs_every_variant() -> None:
    import asyncio

    from benchmarks.breakdown import VARIANTS, measure

    timings = asyncio.run(measure(jobs=50, rounds=1))
    assert set(timings) == set(VARIANTS)
    for runs in timings.values():
        ((submitting, running),) = runs
        assert submitting > 0
        assert running > 0
