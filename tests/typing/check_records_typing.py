"""Checked by ``mypy --strict`` only (never run): no ``Any`` leaks out of the public API.

A value whose type asyncjobs cannot know (a result read back by id, the handle of a job
requeued or fired by name) is ``object``, so user code must check it before use; where the
type is known (``await handle``, ``submit_many`` of typed calls) it is kept. Lines marked
``type: ignore[...]`` must be errors (``warn_unused_ignores`` checks that).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from typing_extensions import assert_type

from asyncjobs import (
    JobHandle,
    JobPage,
    JobRecord,
    JobRunner,
    ScheduleRecord,
    current_job,
    current_runner,
    job,
)
from asyncjobs.testing import FakeClock, run_until_idle


@job
async def fetch(url: str) -> bytes:
    return url.encode()


@job
async def count(n: int) -> int:
    return n


@job
async def nightly() -> None: ...


async def check(runner: JobRunner, clock: FakeClock) -> None:
    record = assert_type(await runner.get_job("some-id"), JobRecord)
    assert_type(record.result, object)
    assert_type(record.args, tuple[object, ...])
    record.result.decode()  # type: ignore[attr-defined]
    handle = await runner.submit(fetch, "u")
    assert_type(handle.record().result, object)
    assert_type(await handle, bytes)
    page = assert_type(await runner.list_jobs(states=["failed"]), JobPage)
    assert_type(page.records, Sequence[JobRecord])

    # Batches keep the result type of their calls; mixed ones join them.
    same = await runner.submit_many([fetch.call("a"), fetch.call("b")])
    assert_type(same, list[JobHandle[bytes]])
    mixed = await runner.submit_many([fetch.call("a"), count.call(1)])
    assert_type(mixed, list[JobHandle[object]])
    await runner.submit_many([fetch.call(1)])  # type: ignore[arg-type]

    # Jobs found by name or id: their result type is not known here.
    assert_type(await runner.dead_letters.requeue("id"), JobHandle[object])
    assert_type(await runner.dead_letters.requeue_all(queue="q"), list[JobHandle[object]])
    assert_type(await runner.schedules.run_now("nightly"), JobHandle[object])
    assert_type(current_job(), JobHandle[object] | None)
    assert_type(current_runner(), JobRunner)
    assert_type(runner.running_jobs(), tuple[JobHandle[object], ...])

    # Schedules: arguments are bound with job.call(...), and checked.
    schedules = runner.schedules
    await schedules.add("fetch", fetch.call("https://example.com"), "@hourly")
    await schedules.add("nightly", nightly, "@daily")
    await schedules.add("bad-args", fetch.call(42), "@hourly")  # type: ignore[arg-type]
    await schedules.add("no-args", fetch, "@hourly")  # type: ignore[arg-type]
    await schedules.update("fetch", trigger="@daily", max_runs=3)
    await schedules.update("fetch", job=fetch.call("https://example.org"))
    await schedules.update("fetch", trigerr="@daily")  # type: ignore[arg-type]
    await schedules.update("fetch", max_runs="3")  # type: ignore[arg-type]

    # A schedule record: datetimes to read, epoch floats (``*_at``) to store.
    schedule = assert_type(await schedules.get("fetch"), ScheduleRecord)
    assert_type(schedule.next_run, datetime | None)
    assert_type(schedule.last_slot, datetime | None)
    assert_type(schedule.last_slot_at, float | None)
    assert_type(schedule.created, datetime)
    assert_type(schedule.args, tuple[object, ...])

    await run_until_idle(runner, clock, settle=0)
