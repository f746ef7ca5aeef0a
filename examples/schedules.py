"""Schedules: cron expressions, intervals and one-shot runs, each fire an ordinary job.

Runs for about four seconds of real time: the schedules here fire every second or so.
A real app would use minutes and hours; tests drive years of schedules on a fake clock.

    python examples/schedules.py
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from asyncjobs import (
    InvalidSchedule,
    JobRunner,
    ScheduleEvent,
    ScheduleFired,
    ScheduleMissed,
    job,
)


@job
async def check_disk(volume: str) -> str:
    await asyncio.sleep(1.5)  # slower than its schedule: the next slot finds it running
    return f"{volume} ok"


@job
async def send_digest(team: str) -> str:
    return f"digest sent to {team}"


@job
async def close_sale(sale: str) -> None:
    print(f"job: sale {sale} closed")


def show(event: ScheduleEvent) -> None:
    if isinstance(event, ScheduleFired):
        print(f"event: {event.schedule} fired (job {event.job_id})")
    elif isinstance(event, ScheduleMissed):
        print(f"event: {event.schedule} missed {event.count} slot(s): {event.reason}")


async def main() -> None:
    async with JobRunner() as runner:
        runner.bus.subscribe("schedule.fired", show)
        runner.bus.subscribe("schedule.missed", show)
        schedules = runner.schedules

        # Six fields: seconds first. Every second; a run still going makes a slot skip.
        await schedules.add("disk", check_disk.call("/var"), "* * * * * *", overlap="skip")
        # An interval ("@every 1h30m" in real life), ending after two runs.
        await schedules.add("digest", send_digest.call("ops"), "@every 1s", max_runs=2)
        # One run at a given moment.
        soon = datetime.now(timezone.utc) + timedelta(seconds=1.2)
        await schedules.add("sale", close_sale.call("black-friday"), soon)
        # Local time, daylight saving included; it will not fire during this example.
        nightly = await schedules.add(
            "nightly", send_digest.call("night shift"), "30 2 * * *", timezone="Europe/Berlin"
        )
        assert nightly.next_run is not None
        print(f"nightly: next run at 02:30 Berlin time: {nightly.next_run.strftime('%H:%M')}")

        # Refused at creation, naming the field and the value:
        try:
            await schedules.add("never", send_digest.call("nobody"), "0 0 30 2 *")
        except InvalidSchedule as exc:
            print(f"refused: {exc}")

        await asyncio.sleep(3.6)
        await schedules.pause("disk")
        handle = await schedules.run_now("nightly")  # outside its timetable
        print(f"run now: {await handle}")

        for record in await schedules.list():
            outcome = record.last_outcome.value if record.last_outcome else "-"
            print(
                f"{record.name}: {record.state.value}, {record.runs} run(s) on time, "
                f"{record.manual_runs} by hand, last outcome {outcome}"
            )
        stats = schedules.statistics()
        print(f"skipped overlaps: {stats.skipped_overlaps > 0}")


if __name__ == "__main__":
    asyncio.run(main())
