"""Progress pushed to the caller: a job reports, and the caller follows it as it happens.

An import job works through its rows in steps and reports as it goes. One caller follows
it with ``async for``; a callback logs every tenth row; the latest value can be read at any
time, from the handle or by job id. A plain (thread) job reports the same way.
"""

import asyncio

from asyncjobs import JobRunner, Progress, job, report_progress


@job
async def import_rows(rows: int) -> str:
    report_progress(step="reading", message="orders.csv")
    await asyncio.sleep(0.01)
    for row in range(1, rows + 1):
        await asyncio.sleep(0.001)  # the real work
        report_progress(done=row, total=rows, step="inserting")
    report_progress(step="committed")
    return f"{rows} rows imported"


@job
def checksum(blocks: int) -> int:  # runs in a worker thread; reporting works there too
    total = 0
    for block in range(1, blocks + 1):
        total += block * block
        report_progress(done=block, total=blocks)
    return total


async def main() -> None:
    async with JobRunner() as runner:
        handle = await runner.submit(import_rows, 30)

        def every_tenth_row(update: Progress) -> None:
            if update.step == "inserting" and update.done and update.done % 10 == 0:
                print(f"  callback: row {update.done}")

        with handle.on_progress(every_tenth_row):
            async for update in handle.progress():  # ends when the job ends
                if update.step != "inserting" or update.done == 15:
                    percent = "-" if update.percent is None else f"{update.percent:.0f}%"
                    print(f"follower: {percent:>4} {update.step} ({update.message})")
        print(await handle)
        latest = (await runner.get_job(handle.id)).progress
        print(f"latest, by id: {latest.step}, {latest.percent:.0f}%, update {latest.sequence}")

        threaded = await runner.submit(checksum, 1000)
        print(f"checksum {await threaded}, last reported {threaded.latest_progress().done}")


asyncio.run(main())
