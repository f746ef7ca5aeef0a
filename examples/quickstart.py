"""The README's quickstart: jobs, a runner, results, priorities, a thread job, a cancel."""

import asyncio

import anyio

from asyncjobs import JobCancelled, JobRunner, job


@job
async def fetch_title(url: str) -> str:
    await anyio.sleep(0.05)  # stands in for real I/O (asyncio.sleep works too, on asyncio)
    return f"title of {url}"


@job(queue="reports", timeout=5)
def build_report(rows: int) -> int:  # a plain function runs in a worker thread
    return sum(range(rows))


async def main() -> None:
    async with JobRunner(queues={"default": 10, "reports": 2}) as runner:
        handle = await runner.submit(fetch_title, "https://example.com")
        print(await handle)  # -> title of https://example.com

        report = await runner.submit(build_report, 1_000)
        urgent = await runner.submit(fetch_title.with_options(priority=10), "https://a.example")
        print(await report, await urgent)  # -> 499500 title of https://a.example

        later = await runner.submit(fetch_title.with_options(delay=60), "https://b.example")
        await later.cancel()
        try:
            await later
        except JobCancelled as exc:
            print("cancelled:", exc)  # -> cancelled: job ... was cancelled before it started

        print(runner.queue_statistics()["default"])  # -> QueueStatistics(name='default', ...
    # Leaving the block drains running work within the grace period, then stops.


asyncio.run(main())
