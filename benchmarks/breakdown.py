"""Where asyncjobs' time per job goes: ``python -m benchmarks.breakdown [--jobs N] [--rounds R]``.

Runs the no-op throughput workload (submit N, then await each handle) in one process, in
rounds, each round running every variant once, so machine noise falls on all of them alike;
prints medians. Each variant turns one part of the default set-up off, so the difference
to ``defaults`` is what that part costs a job:

* ``bare-queue``: the practical limit (an ``asyncio.Queue``, 64 workers, a future per job);
* ``defaults``: ``JobRunner`` as the suite runs it (records, statistics, events on);
* ``no-statistics``: ``statistics_window=None``;
* ``no-records``: a store that keeps nothing (what the memory store's record keeping costs);
* ``no-gc``: the garbage collector off during the run (what collections cost at this backlog);
* ``on-backend``: the store is a ``MemoryBackend`` (the path of runners sharing a backend:
  jobs wait in the backend and run under its leases).

The "submit" and "run" columns split each asyncjobs run at the point where every job has
been submitted and none has started (the first ``await`` of a handle starts them).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
from collections.abc import Awaitable, Callable
from typing import Any

from ._common import now
from .contenders import THROUGHPUT_CONCURRENCY, BareQueue, noop

Timing = tuple[float, float]  # seconds submitting, seconds running and awaiting


async def _bare(jobs: int) -> Timing:
    pool = BareQueue(THROUGHPUT_CONCURRENCY)
    started = now()
    futures = [pool.submit(noop) for _ in range(jobs)]
    submitted = now()
    for future in futures:
        await future
    ended = now()
    await pool.close()
    return submitted - started, ended - submitted


def _keeps_nothing() -> Any:
    from asyncjobs import MemoryJobStore

    class KeepsNothing(MemoryJobStore):
        """Takes every write and keeps none of it."""

        def add_nowait(self, record: Any) -> None:
            return None

        def update_nowait(self, record: Any) -> None:
            return None

    return KeepsNothing()


def _backend() -> Any:
    from asyncjobs.storage import MemoryBackend

    return MemoryBackend()


async def _asyncjobs(jobs: int, gc_off: bool = False, **options: Any) -> Timing:
    import asyncjobs

    definition = asyncjobs.job(name="bench.breakdown.noop")(noop)
    queues = {"default": THROUGHPUT_CONCURRENCY}
    async with asyncjobs.JobRunner(queues=queues, **options) as runner:
        if gc_off:
            gc.disable()
        try:
            started = now()
            handles = [await runner.submit(definition) for _ in range(jobs)]
            submitted = now()
            for handle in handles:
                await handle
            ended = now()
        finally:
            gc.enable()
    return submitted - started, ended - submitted


VARIANTS: dict[str, Callable[[int], Awaitable[Timing]]] = {
    "bare-queue": _bare,
    "defaults": _asyncjobs,
    "no-statistics": lambda jobs: _asyncjobs(jobs, statistics_window=None),
    "no-records": lambda jobs: _asyncjobs(jobs, store=_keeps_nothing()),
    "no-gc": lambda jobs: _asyncjobs(jobs, gc_off=True),
    "on-backend": lambda jobs: _asyncjobs(jobs, store=_backend()),
}


async def measure(jobs: int, rounds: int) -> dict[str, list[Timing]]:
    """Every variant once per round, in the same order each round."""
    timings: dict[str, list[Timing]] = {name: [] for name in VARIANTS}
    for _ in range(rounds):
        for name, variant in VARIANTS.items():
            gc.collect()
            timings[name].append(await variant(jobs))
    return timings


def table(timings: dict[str, list[Timing]], jobs: int) -> str:
    """Medians in microseconds a job, with the ratio to the bare queue and the difference
    to the defaults."""

    def per_job(values: list[float]) -> float:
        return statistics.median(values) / jobs * 1e6

    totals = {name: per_job([a + b for a, b in runs]) for name, runs in timings.items()}
    bare, defaults = totals["bare-queue"], totals["defaults"]
    lines = [
        "| variant | µs a job | submit µs | run µs | jobs/s | vs bare queue | vs defaults µs |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, runs in timings.items():
        total = totals[name]
        submit = per_job([a for a, _ in runs])
        run = per_job([b for _, b in runs])
        delta = "" if name in ("bare-queue", "defaults") else f"{total - defaults:+.2f}"
        lines.append(
            f"| {name} | {total:.2f} | {submit:.2f} | {run:.2f} | {1e6 / total:,.0f} "
            f"| {bare / total:.2f} | {delta} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20_000, help="backlog (default 20,000)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds (default 7)")
    args = parser.parse_args(argv)
    timings = asyncio.run(measure(args.jobs, args.rounds))
    print(table(timings, args.jobs))


if __name__ == "__main__":
    main()
