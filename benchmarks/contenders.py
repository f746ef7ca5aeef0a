"""The contenders and what each can run. Every workload function is ``async (params) -> metrics``.

Each contender runs in a fresh subprocess (``python -m benchmarks._run NAME WORKLOAD PARAMS``)
so none inherits another's heap. Peers are configured as close to asyncjobs as they allow:
the same concurrency, results kept until read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ._common import latency_summary, now, rss_bytes, settle

Metrics = dict[str, float]
Workload = Callable[[dict[str, Any]], Awaitable[Metrics]]

THROUGHPUT_CONCURRENCY = 64
IO_CONCURRENCY = 100


async def noop() -> None:
    return None


async def stamp() -> float:
    return now()


async def sleep_10ms() -> None:
    await asyncio.sleep(0.01)


async def pace(next_at: float) -> None:
    """Sleep until ``next_at`` (outside the measured interval; works on asyncio and trio)."""
    import anyio

    delay = next_at - now()
    if delay > 0:
        await anyio.sleep(delay)


async def paced_latency(
    p: dict[str, Any],
    round_trip: Callable[[], Awaitable[float]],
    sleep_until: Callable[[float], Awaitable[None]] = pace,
) -> Metrics:
    """Submit one job at a time at ``p["rate"]``; ``round_trip`` submits a job that returns
    the time it started, and waits for it."""
    to_start, to_result = [], []
    next_at = now()
    for _ in range(p["jobs"]):
        t0 = now()
        began = await round_trip()
        to_result.append(now() - t0)
        to_start.append(began - t0)
        next_at += 1 / p["rate"]
        await sleep_until(next_at)
    return latency_summary(to_start, to_result)


def _result(n: int, started: float) -> Metrics:
    return {"jobs_per_second": n / (now() - started)}


def _io_result(n: int, started: float, concurrency: int, seconds: float) -> Metrics:
    ideal = n * seconds / concurrency
    return {"efficiency": ideal / (now() - started)}


def _memory(before: int, n: int) -> Metrics:
    after = tracemalloc.get_traced_memory()[0]
    return {"bytes_per_job": (after - before) / n}


# --------------------------------------------------------------------------- bare queue


class BareQueue:
    """The practical limit: an asyncio.Queue, worker tasks, one future per job."""

    def __init__(self, workers: int) -> None:
        self.queue: asyncio.Queue[tuple[Callable[[], Awaitable[Any]], asyncio.Future[Any]]]
        self.queue = asyncio.Queue()
        self.loop = asyncio.get_running_loop()
        self.tasks = [asyncio.create_task(self._work()) for _ in range(workers)]

    async def _work(self) -> None:
        while True:
            fn, future = await self.queue.get()
            try:
                future.set_result(await fn())
            except Exception as exc:  # noqa: BLE001
                future.set_exception(exc)

    def submit(self, fn: Callable[[], Awaitable[Any]]) -> asyncio.Future[Any]:
        future = self.loop.create_future()
        self.queue.put_nowait((fn, future))
        return future

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def bare_throughput(p: dict[str, Any]) -> Metrics:
    pool = BareQueue(THROUGHPUT_CONCURRENCY)
    n = p["jobs"]
    started = now()
    futures = [pool.submit(noop) for _ in range(n)]
    for future in futures:
        await future
    metrics = _result(n, started)
    await pool.close()
    return metrics


async def bare_latency(p: dict[str, Any]) -> Metrics:
    pool = BareQueue(THROUGHPUT_CONCURRENCY)

    async def round_trip() -> float:
        return await pool.submit(stamp)  # type: ignore[no-any-return]

    metrics = await paced_latency(p, round_trip)
    await pool.close()
    return metrics


async def bare_io(p: dict[str, Any]) -> Metrics:
    pool = BareQueue(IO_CONCURRENCY)
    started = now()
    futures = [pool.submit(sleep_10ms) for _ in range(p["jobs"])]
    for future in futures:
        await future
    metrics = _io_result(p["jobs"], started, IO_CONCURRENCY, 0.01)
    await pool.close()
    return metrics


async def bare_memory(p: dict[str, Any]) -> Metrics:
    pool = BareQueue(THROUGHPUT_CONCURRENCY)
    settle()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    futures = [pool.submit(noop) for _ in range(p["jobs"])]
    metrics = _memory(before, p["jobs"])
    tracemalloc.stop()
    del futures
    await pool.close()
    return metrics


async def bare_soak(p: dict[str, Any]) -> Metrics:
    pool = BareQueue(THROUGHPUT_CONCURRENCY)

    async def batch(size: int) -> None:
        for future in [pool.submit(noop) for _ in range(size)]:
            await future

    metrics = await _soak(batch, p["jobs"])
    await pool.close()
    return metrics


async def gather_throughput(p: dict[str, Any]) -> Metrics:
    n = p["jobs"]
    started = now()
    await asyncio.gather(*(noop() for _ in range(n)))
    return _result(n, started)


async def gather_io(p: dict[str, Any]) -> Metrics:
    limit = asyncio.Semaphore(IO_CONCURRENCY)

    async def limited() -> None:
        async with limit:
            await sleep_10ms()

    started = now()
    await asyncio.gather(*(limited() for _ in range(p["jobs"])))
    return _io_result(p["jobs"], started, IO_CONCURRENCY, 0.01)


async def gather_memory(p: dict[str, Any]) -> Metrics:
    settle()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    tasks = [asyncio.ensure_future(noop()) for _ in range(p["jobs"])]
    metrics = _memory(before, p["jobs"])
    tracemalloc.stop()
    await asyncio.gather(*tasks)
    return metrics


async def _soak(batch: Callable[[int], Awaitable[None]], total: int) -> Metrics:
    """Run ``total`` jobs in batches; RSS after 10% (start), 50% (middle) and 100% (end)."""
    size = 1_000
    readings: dict[str, float] = {}
    marks = {total // 10: "rss_start_mb", total // 2: "rss_middle_mb", total: "rss_end_mb"}
    done = 0
    started = now()
    while done < total:
        await batch(size)
        done += size
        for mark, name in marks.items():
            if done >= mark and name not in readings:
                settle()
                readings[name] = rss_bytes() / 2**20
    readings["growth_middle_to_end"] = readings["rss_end_mb"] / readings["rss_middle_mb"] - 1
    readings["jobs_per_second"] = total / (now() - started)
    return readings


# --------------------------------------------------------------------------- asyncjobs


def _aj() -> Any:
    import asyncjobs

    return asyncjobs


def _aj_jobs() -> tuple[Any, Any, Any]:
    aj = _aj()
    try:
        asyncio.get_running_loop()
        sleeper = sleep_10ms  # the loop's own sleep, as the asyncio contenders use
    except RuntimeError:
        sleeper = _trio_sleep_10ms
    return (
        aj.job(name="bench.noop")(noop),
        aj.job(name="bench.stamp")(stamp),
        aj.job(name=f"bench.{sleeper.__name__}")(sleeper),
    )


async def _trio_sleep_10ms() -> None:
    import trio

    await trio.sleep(0.01)


_failed_once: set[int] = set()


async def fail_one_in_ten(i: int) -> None:
    """Every tenth job fails on its first attempt."""
    if i % 10 == 0 and i not in _failed_once:
        _failed_once.add(i)
        raise OSError("first attempt of a tenth")


async def reporting() -> None:
    """A no-op job that reports its progress once."""
    _aj().report_progress(100, "done")


_ON_BACKEND = False  # the asyncjobs-shared contender's runs: the store is a MemoryBackend


def _store(**caps: int) -> dict[str, Any]:
    """The ``store=`` of asyncjobs' runner: the default, or a ``MemoryBackend`` (the path of
    runners sharing a backend) for the asyncjobs-shared contender."""
    if _ON_BACKEND:
        from asyncjobs.storage import MemoryBackend

        return {"store": MemoryBackend(**caps)}
    return {"store": _aj().MemoryJobStore(**caps)} if caps else {}


def _on_backend(workload: Workload) -> Workload:
    async def run(p: dict[str, Any]) -> Metrics:
        global _ON_BACKEND
        _ON_BACKEND = True  # each contender runs in a process of its own
        return await workload(p)

    return run


async def aj_throughput(p: dict[str, Any]) -> Metrics:
    aj = _aj()
    noop_job, _, _ = _aj_jobs()
    variant = p.get("variant", "plain")
    n = p["jobs"]
    definitions = [noop_job]
    if variant == "priorities":
        rng = random.Random(7)
        choices = [noop_job.with_options(priority=i) for i in range(10)]
        definitions = [rng.choice(choices) for _ in range(n)]
    elif variant == "retries":
        retry = aj.Retry(max_attempts=2, backoff=aj.FixedBackoff(delay=0))
        definitions = [aj.job(name="bench.flaky", retry=retry)(fail_one_in_ten)]
    elif variant == "progress":
        definitions = [aj.job(name="bench.reporting")(reporting)]
    async with aj.JobRunner(queues={"default": THROUGHPUT_CONCURRENCY}, **_store()) as runner:
        if variant == "listener":
            runner.subscribe(lambda event: None)
        elif variant == "subscriber":
            runner.bus.subscribe("job.*", lambda event: None)
        started = now()
        count = len(definitions)
        if variant == "retries":
            handles = [await runner.submit(definitions[0], i) for i in range(n)]
        else:
            handles = [await runner.submit(definitions[i % count]) for i in range(n)]
        for handle in handles:
            await handle
        return _result(n, started)


async def aj_progress(p: dict[str, Any]) -> Metrics:
    """One job reports ``updates`` times in a tight loop, with 0 or 1 follower."""
    aj = _aj()
    n = p["updates"]

    async def report_many() -> None:
        report = aj.report_progress
        for i in range(1, n + 1):
            report(done=i, total=n)

    spent: list[float] = []

    async def timed() -> None:
        started = now()
        await report_many()
        spent.append(now() - started)

    definition = aj.job(name="bench.report_many")(timed)
    async with aj.JobRunner() as runner:
        handle = await runner.submit(definition)
        if p["followers"]:
            async with handle.progress() as follower:
                async for _ in follower:
                    pass
        await handle
    return {"updates_per_second": n / spent[0]}


async def bare_progress(p: dict[str, Any]) -> Metrics:
    """The simplest channel: each update a tuple put on an unbounded asyncio.Queue."""
    n = p["updates"]
    queue: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
    started = now()
    for i in range(1, n + 1):
        queue.put_nowait((i, n))
    return {"updates_per_second": n / (now() - started)}


async def aj_latency(p: dict[str, Any]) -> Metrics:
    aj = _aj()
    _, stamp_job, _ = _aj_jobs()
    async with aj.JobRunner(queues={"default": THROUGHPUT_CONCURRENCY}, **_store()) as runner:

        async def round_trip() -> float:
            return await (await runner.submit(stamp_job))  # type: ignore[no-any-return]

        return await paced_latency(p, round_trip, pace)


async def aj_io(p: dict[str, Any]) -> Metrics:
    aj = _aj()
    _, _, sleep_job = _aj_jobs()
    async with aj.JobRunner(queues={"default": IO_CONCURRENCY}, **_store()) as runner:
        started = now()
        handles = [await runner.submit(sleep_job) for _ in range(p["jobs"])]
        for handle in handles:
            await handle
        return _io_result(p["jobs"], started, IO_CONCURRENCY, 0.01)


async def aj_memory(p: dict[str, Any]) -> Metrics:
    aj = _aj()
    noop_job, _, _ = _aj_jobs()
    runner = aj.JobRunner(
        queues={"default": THROUGHPUT_CONCURRENCY},
        drain_on_shutdown=False,
        **_store(max_finished=10),
    )
    async with runner:
        settle()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        # Submitting never yields to the loop, so none of these starts before we measure.
        handles = [await runner.submit(noop_job) for _ in range(p["jobs"])]
        metrics = _memory(before, p["jobs"])
        tracemalloc.stop()
        del handles
    return metrics


async def fail_always() -> None:
    raise OSError("a dead letter")


async def aj_soak(p: dict[str, Any]) -> Metrics:
    """Default settings but short retention: one job in ten fails for good (a dead letter),
    results expire after 1 s and dead letters after 2 s, so removal by age runs all along,
    as well as the count caps (10,000 each) and the windowed statistics."""
    aj = _aj()
    noop_job, _, _ = _aj_jobs()
    failing = aj.job(name="bench.fail_always", retry=None)(fail_always)
    logging.getLogger("asyncjobs").setLevel(logging.ERROR)  # no warning per dead letter
    async with aj.JobRunner(
        queues={"default": THROUGHPUT_CONCURRENCY}, result_ttl=1.0, dead_letter_ttl=2.0
    ) as runner:

        async def batch(size: int) -> None:
            handles = [await runner.submit(noop_job) for _ in range(size - size // 10)]
            handles += [await runner.submit(failing) for _ in range(size // 10)]
            for handle in handles:
                await handle.wait()

        return await _soak(batch, p["jobs"])


async def aj_overload(p: dict[str, Any]) -> Metrics:
    """A queue draining 1,000 jobs/s (10 at a time, 10 ms each) offered 10,000 jobs/s."""
    import anyio

    aj = _aj()

    @aj.job(name="bench.overload")
    async def work() -> float:
        await anyio.sleep(0.01)
        return now()

    policy = p["policy"]
    queue = aj.QueueConfig(
        concurrency=10,
        maxsize=100,
        on_full=policy,
        block_timeout=0.005 if policy == "block" else None,
    )
    accepted: list[tuple[float, Any]] = []
    refused = 0
    offered = 0
    async with aj.JobRunner(queues={"default": queue}) as runner:
        started = now()
        next_at = started
        while now() - started < p["seconds"]:
            for _ in range(10):  # 10 jobs per millisecond
                offered += 1
                t0 = now()
                try:
                    accepted.append((t0, await runner.submit(work)))
                except aj.QueueFull:
                    refused += 1
            next_at += 0.001
            await pace(next_at)
        latencies = []
        dropped = 0
        for t0, handle in accepted:
            try:
                latencies.append(await handle - t0)
            except aj.JobRejected:
                dropped += 1
    from ._common import percentile

    return {
        "offered_per_second": offered / p["seconds"],
        "completed": len(latencies),
        "rejected": refused + dropped,
        "latency_p50_ms": percentile(latencies, 50) * 1e3,
        "latency_p99_ms": percentile(latencies, 99) * 1e3,
    }


# --------------------------------------------------------------------------- peers


async def aiojobs_throughput(p: dict[str, Any]) -> Metrics:
    import aiojobs

    scheduler = aiojobs.Scheduler(limit=THROUGHPUT_CONCURRENCY, pending_limit=10**9)
    n = p["jobs"]
    started = now()
    jobs = [await scheduler.spawn(noop()) for _ in range(n)]
    for job in jobs:
        await job.wait()
    metrics = _result(n, started)
    await scheduler.close()
    return metrics


async def aiojobs_latency(p: dict[str, Any]) -> Metrics:
    import aiojobs

    scheduler = aiojobs.Scheduler(limit=THROUGHPUT_CONCURRENCY, pending_limit=10**9)

    async def round_trip() -> float:
        return await (await scheduler.spawn(stamp())).wait()

    metrics = await paced_latency(p, round_trip)
    await scheduler.close()
    return metrics


async def aiojobs_io(p: dict[str, Any]) -> Metrics:
    import aiojobs

    scheduler = aiojobs.Scheduler(limit=IO_CONCURRENCY, pending_limit=10**9)
    started = now()
    jobs = [await scheduler.spawn(sleep_10ms()) for _ in range(p["jobs"])]
    for job in jobs:
        await job.wait()
    metrics = _io_result(p["jobs"], started, IO_CONCURRENCY, 0.01)
    await scheduler.close()
    return metrics


async def aiojobs_memory(p: dict[str, Any]) -> Metrics:
    import aiojobs

    scheduler = aiojobs.Scheduler(limit=THROUGHPUT_CONCURRENCY, pending_limit=10**9)
    settle()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    jobs = [await scheduler.spawn(noop()) for _ in range(p["jobs"])]
    metrics = _memory(before, p["jobs"])
    tracemalloc.stop()
    for job in jobs:
        await job.wait()
    await scheduler.close()
    return metrics


def _taskiq(results: int, concurrency: int) -> Any:
    from taskiq import InMemoryBroker

    return InMemoryBroker(max_stored_results=results, max_async_tasks=concurrency)


async def _taskiq_batch(fn: Callable[[], Awaitable[Any]], n: int, concurrency: int) -> float:
    broker = _taskiq(n, concurrency)
    task = broker.task(fn)
    await broker.startup()
    started = now()
    sent = [await task.kiq() for _ in range(n)]
    for item in sent:
        await item.wait_result(check_interval=0.0005)
    elapsed = now() - started
    await broker.shutdown()
    return elapsed


async def taskiq_throughput(p: dict[str, Any]) -> Metrics:
    return {
        "jobs_per_second": p["jobs"] / await _taskiq_batch(noop, p["jobs"], THROUGHPUT_CONCURRENCY)
    }


async def taskiq_latency(p: dict[str, Any]) -> Metrics:
    broker = _taskiq(p["jobs"], THROUGHPUT_CONCURRENCY)
    task = broker.task(stamp)
    await broker.startup()

    async def round_trip() -> float:
        result = await (await task.kiq()).wait_result(check_interval=0.0005)
        return result.return_value  # type: ignore[no-any-return]

    metrics = await paced_latency(p, round_trip)
    await broker.shutdown()
    return metrics


async def taskiq_io(p: dict[str, Any]) -> Metrics:
    elapsed = await _taskiq_batch(sleep_10ms, p["jobs"], IO_CONCURRENCY)
    return {"efficiency": p["jobs"] * 0.01 / IO_CONCURRENCY / elapsed}


@contextlib.asynccontextmanager
async def _apscheduler(concurrency: int) -> AsyncIterator[Any]:
    from apscheduler import AsyncScheduler

    async with AsyncScheduler(max_concurrent_jobs=concurrency) as scheduler:
        await scheduler.start_in_background()
        yield scheduler
        await scheduler.stop()


async def _apscheduler_batch(fn: Callable[[], Awaitable[Any]], n: int, concurrency: int) -> float:
    async with _apscheduler(concurrency) as scheduler:
        started = now()
        ids = [await scheduler.add_job(fn, result_expiration_time=3600) for _ in range(n)]
        for job_id in ids:
            await scheduler.get_job_result(job_id)
        return now() - started


async def apscheduler_throughput(p: dict[str, Any]) -> Metrics:
    elapsed = await _apscheduler_batch(noop, p["jobs"], THROUGHPUT_CONCURRENCY)
    return {"jobs_per_second": p["jobs"] / elapsed}


async def apscheduler_latency(p: dict[str, Any]) -> Metrics:
    async with _apscheduler(THROUGHPUT_CONCURRENCY) as scheduler:

        async def round_trip() -> float:
            job_id = await scheduler.add_job(stamp, result_expiration_time=3600)
            result = await scheduler.get_job_result(job_id)
            return result.return_value  # type: ignore[no-any-return]

        return await paced_latency(p, round_trip, pace)


async def apscheduler_io(p: dict[str, Any]) -> Metrics:
    elapsed = await _apscheduler_batch(sleep_10ms, p["jobs"], IO_CONCURRENCY)
    return {"efficiency": p["jobs"] * 0.01 / IO_CONCURRENCY / elapsed}


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Contender:
    name: str
    loop: str  # "asyncio" or "trio"
    workloads: dict[str, Workload]
    setup: str
    cannot: dict[str, str] = field(default_factory=dict)
    needs: str | None = None  # the module it needs; without it, the contender is skipped

    def available(self) -> bool:
        import importlib.util

        return self.needs is None or importlib.util.find_spec(self.needs) is not None


_AJ = {
    "throughput": aj_throughput,
    "latency": aj_latency,
    "io": aj_io,
    "memory": aj_memory,
    "soak": aj_soak,
    "overload": aj_overload,
    "features": aj_throughput,
    "progress": aj_progress,
}

CONTENDERS: dict[str, Contender] = {
    c.name: c
    for c in [
        Contender(
            "bare-queue",
            "asyncio",
            {
                "throughput": bare_throughput,
                "latency": bare_latency,
                "io": bare_io,
                "memory": bare_memory,
                "soak": bare_soak,
                "progress": bare_progress,
            },
            "asyncio.Queue, 64 (io: 100) worker tasks, one future per job",
        ),
        Contender(
            "gather",
            "asyncio",
            {"throughput": gather_throughput, "io": gather_io, "memory": gather_memory},
            "asyncio.gather over one task per job (io: a semaphore of 100)",
            {
                "latency": "no submit/await split",
                "soak": "no queue to soak",
                "progress": "no progress reporting",
            },
        ),
        Contender(
            "asyncjobs",
            "asyncio",
            _AJ,
            "JobRunner, one queue of concurrency 64 (io: 100), memory store, defaults",
        ),
        Contender("asyncjobs-trio", "trio", _AJ, "the same, on trio", needs="trio"),
        Contender(
            "asyncjobs-shared",
            "asyncio",
            {name: _on_backend(_AJ[name]) for name in ("throughput", "latency", "io", "memory")},
            "the same, on a MemoryBackend: the path of runners sharing a backend",
            {
                name: "the shared path is measured on the core workloads only"
                for name in ("soak", "overload", "features", "progress")
            },
        ),
        Contender(
            "aiojobs",
            "asyncio",
            {
                "throughput": aiojobs_throughput,
                "latency": aiojobs_latency,
                "io": aiojobs_io,
                "memory": aiojobs_memory,
            },
            "aiojobs.Scheduler(limit=64 (io: 100), pending_limit=1e9); await job.wait()",
            {
                "overload": "no reject policies",
                "features": "no priorities or events",
                "soak": "not wired up in the suite yet",
                "progress": "no progress reporting",
            },
            needs="aiojobs",
        ),
        Contender(
            "taskiq",
            "asyncio",
            {"throughput": taskiq_throughput, "latency": taskiq_latency, "io": taskiq_io},
            "InMemoryBroker(max_async_tasks=64 (io: 100), max_stored_results=N); "
            "wait_result polls every 0.5 ms",
            {
                "memory": "no queue: every kiq starts a task at once",
                "soak": "not wired up in the suite yet",
                "progress": "progress is polled from the result backend, not pushed",
            },
            needs="taskiq",
        ),
        Contender(
            "apscheduler",
            "asyncio",
            {
                "throughput": apscheduler_throughput,
                "latency": apscheduler_latency,
                "io": apscheduler_io,
            },
            "APScheduler 4.0.0a6 AsyncScheduler, memory data store, max_concurrent_jobs=64 "
            "(io: 100), results kept 1 h",
            {
                "memory": "jobs start as soon as added",
                "soak": "far too slow for 1,000,000 jobs",
                "progress": "no progress reporting",
            },
            needs="apscheduler",
        ),
    ]
}
