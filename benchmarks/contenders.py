"""One workload, many contenders: submit N no-op jobs as fast as possible, then await each.

Run as ``python -m benchmarks.contenders NAME N``; prints the seconds taken as JSON. The
driver runs every contender in a fresh subprocess so none inherits another's heap.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from collections.abc import Awaitable, Callable

WORKERS = 64


async def noop() -> None:
    return None


async def bare_queue(n: int) -> float:
    """The practical limit: an asyncio.Queue, 64 worker tasks, one future per job."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[Callable[[], Awaitable[None]], asyncio.Future[None]]] = (
        asyncio.Queue()
    )

    async def worker() -> None:
        while True:
            fn, future = await queue.get()
            try:
                future.set_result(await fn())
            except Exception as exc:  # noqa: BLE001
                future.set_exception(exc)

    workers = [asyncio.create_task(worker()) for _ in range(WORKERS)]
    start = time.perf_counter()
    futures = []
    for _ in range(n):
        future: asyncio.Future[None] = loop.create_future()
        queue.put_nowait((noop, future))
        futures.append(future)
    for future in futures:
        await future
    elapsed = time.perf_counter() - start
    for task in workers:
        task.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    return elapsed


async def gather(n: int) -> float:
    """asyncio.gather over n coroutines: one task per job, no queue, no limit."""
    start = time.perf_counter()
    await asyncio.gather(*(noop() for _ in range(n)))
    return time.perf_counter() - start


async def asyncjobs_run(n: int) -> float:
    from asyncjobs import JobRunner, job

    noop_job = job(name="benchmarks.noop")(noop)
    async with JobRunner(queues={"default": WORKERS}) as runner:
        start = time.perf_counter()
        handles = [await runner.submit(noop_job) for _ in range(n)]
        for handle in handles:
            await handle
        return time.perf_counter() - start


def run(name: str, n: int) -> float:
    gc.collect()
    if name == "bare_queue":
        return asyncio.run(bare_queue(n))
    if name == "gather":
        return asyncio.run(gather(n))
    if name == "asyncjobs_asyncio":
        return asyncio.run(asyncjobs_run(n))
    if name == "asyncjobs_trio":
        import trio

        return trio.run(asyncjobs_run, n)
    raise SystemExit(f"unknown contender {name!r}")


CONTENDERS = ["bare_queue", "gather", "asyncjobs_asyncio", "asyncjobs_trio"]

if __name__ == "__main__":
    print(json.dumps({"seconds": run(sys.argv[1], int(sys.argv[2]))}))
