"""A bounded queue under overload, once per full-queue policy.

A producer submits 200 jobs as fast as it can into a queue that runs 4 at a time and holds
at most 20 waiting. Each policy answers the overload differently; the table shows how.
"""

import asyncio
import time
from typing import Any

from asyncjobs import (
    JobHandle,
    JobRejected,
    JobRunner,
    QueueConfig,
    QueueFull,
    RejectPolicy,
    job,
)

JOBS = 200


@job
async def work(i: int) -> int:
    await asyncio.sleep(0.002)
    return i


async def overload(on_full: Any, label: str, **extra: Any) -> None:
    queue = QueueConfig(concurrency=4, maxsize=20, on_full=on_full, **extra)
    refused = dropped = 0
    handles: list[JobHandle[int]] = []
    started = time.perf_counter()
    async with JobRunner(queues={"default": queue}) as runner:
        for i in range(JOBS):
            try:
                handles.append(await runner.submit(work, i))
            except QueueFull:
                refused += 1
        done = 0
        for handle in handles:
            try:
                await handle
                done += 1
            except JobRejected:
                dropped += 1
        stats = runner.queue_statistics()["default"]
    elapsed = time.perf_counter() - started
    print(
        f"{label:<22} completed={done:>3} refused={refused:>3} dropped={dropped:>3} "
        f"rejected(stat)={stats.rejected:>3} time={elapsed:.2f}s"
    )


async def main() -> None:
    print(f"{JOBS} jobs into a queue of 20 places, 4 running at a time")
    await overload(RejectPolicy.RAISE, "raise")
    await overload(RejectPolicy.BLOCK, "block")
    await overload(RejectPolicy.BLOCK, "block (timeout 1 ms)", block_timeout=0.001)
    await overload(RejectPolicy.DROP_OLDEST, "drop_oldest")
    await overload(RejectPolicy.DROP_NEWEST, "drop_newest")
    await overload(RejectPolicy.CALLER_RUNS, "caller_runs")

    spilled: list[str] = []

    def spill(rejected: JobHandle[Any]) -> None:
        spilled.append(rejected.id)  # e.g. write it somewhere to retry later

    await overload(spill, "custom handler")
    print(f"custom handler saw {len(spilled)} rejected jobs")


asyncio.run(main())
