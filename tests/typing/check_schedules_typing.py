"""Checked by ``mypy --strict`` only (never run): schedules and their events are typed.

Lines marked ``type: ignore[...]`` must be errors (``warn_unused_ignores`` checks that).
"""

from __future__ import annotations

from datetime import timedelta

from typing_extensions import assert_type

from asyncjobs import (
    JobEvent,
    JobHandle,
    JobRunner,
    JobSucceeded,
    ScheduleEvent,
    ScheduleFired,
    ScheduleRecord,
    SchedulerStatistics,
    ScheduleState,
    Subscription,
    job,
)


@job
async def report(team: str) -> int:
    return len(team)


def on_fired(event: ScheduleFired) -> None: ...


def on_any_job(event: JobEvent) -> None: ...


async def check(runner: JobRunner) -> None:
    schedules = runner.schedules
    record = assert_type(
        await schedules.add("r", report.call("ops"), "@daily", timezone="Europe/Berlin"),
        ScheduleRecord,
    )
    assert_type(record.state, ScheduleState)
    await schedules.add("i", report.call("ops"), timedelta(minutes=5))
    await schedules.add("x", report, 42)  # type: ignore[arg-type]
    assert_type(await schedules.list(state="paused"), list[ScheduleRecord])
    assert_type(await schedules.run_now("r"), JobHandle[object])
    assert_type(schedules.statistics(), SchedulerStatistics)
    assert_type(runner.subscribe(on_fired, ScheduleFired), Subscription)
    runner.subscribe(on_any_job)
    runner.subscribe(on_any_job, JobSucceeded)
    runner.subscribe(on_fired, ScheduleEvent)  # type: ignore[arg-type]
