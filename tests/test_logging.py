"""What asyncjobs logs: every final failure once and alike; failing callbacks and dropped bus
events bounded (the first in full, repeats counted and summarised)."""

from __future__ import annotations

import functools
import logging
from typing import Any

import anyio
import pytest

from asyncjobs import EventBus, JobEvent, JobMiddleware, JobRunner, Retry, job
from asyncjobs._faults import RepeatLog
from asyncjobs.testing import FakeClock, run_until_idle

pytestmark = pytest.mark.anyio


def records(caplog: pytest.LogCaptureFixture, level: int, text: str) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "asyncjobs" and r.levelno == level and text in r.getMessage()
    ]


async def test_every_final_failure_logs_one_warning_the_same_way(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    @job(name="tests.logging.times_out", timeout=2, retry=Retry(max_attempts=2))
    async def times_out() -> None:
        await clock.sleep_until(clock.monotonic() + 60)

    @job(name="tests.logging.raises")
    async def raises() -> None:
        raise ValueError("bad row")

    caplog.set_level(logging.INFO, "asyncjobs")
    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            slow = await runner.submit(times_out)
            broken = await runner.submit(raises)
            await run_until_idle(runner, clock)
    failures = records(caplog, logging.WARNING, "failed:")
    assert [r.getMessage() for r in failures] == [
        f"job tests.logging.raises ({broken.id}) failed: ValueError: bad row",
        f"job tests.logging.times_out ({slow.id}) failed: "
        f"JobTimedOut: job {slow.id!r} timed out after 2.0 seconds",
    ]
    assert all(r.exc_info is not None for r in failures)
    retried = records(caplog, logging.INFO, "attempt 1 failed: JobTimedOut")
    assert len(retried) == 1  # the first timeout was retried, and logged as a retry


class RaisingHook(JobMiddleware):
    async def after_run(self, handle: Any, result: Any, error: BaseException | None) -> None:
        raise RuntimeError(f"hook bug on {handle.id}")


async def test_a_callback_failing_on_every_job_logs_one_traceback_then_summaries(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    @job(name="tests.logging.noop")
    async def noop(i: int) -> int:
        return i

    def listener(event: JobEvent) -> None:
        raise KeyError("listener bug")

    caplog.set_level(logging.INFO, "asyncjobs")
    async with JobRunner(clock=clock, middleware=[RaisingHook()]) as runner:
        runner.subscribe(listener)
        with anyio.fail_after(5):
            handles = [await runner.submit(noop, i) for i in range(500)]
            await run_until_idle(runner, clock)
            assert [await h for h in handles] == list(range(500))  # outcomes untouched
            hook_lines = records(caplog, logging.ERROR, "RaisingHook.after_run raised")
            listener_lines = records(caplog, logging.ERROR, "<locals>.listener raised on")
            assert len(hook_lines) == len(listener_lines) == 1
            assert hook_lines[0].exc_info is not None  # the first, with its traceback
            assert records(caplog, logging.WARNING, "again") == []  # nothing summarised yet
            await clock.advance(60)  # a minute later, the next failure brings a summary
            await (await runner.submit(noop, 0))
            (summary,) = records(caplog, logging.WARNING, "RaisingHook.after_run raised")
            assert summary.getMessage().startswith(
                "job middleware tests.test_logging.RaisingHook.after_run raised RuntimeError "
                "again: 500 time(s) in the last 60 s, 501 in all; latest on job "
            )
            assert summary.exc_info is None
    # Leaving the runner summarises what was not yet: the listener's last events.
    closing = records(caplog, logging.WARNING, "<locals>.listener raised KeyError again")
    assert closing
    assert sum(int(r.getMessage().split(": ")[1].split(" ")[0]) for r in closing) >= 1500


def test_repeat_log_keys_by_callback_error_type_and_place(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    log = RepeatLog(lambda: now[0], interval=10)

    def callback() -> None: ...

    def fail(message: str, other_line: bool = False) -> BaseException:
        try:
            if other_line:
                raise ValueError(message)
            raise ValueError(message)
        except ValueError as exc:
            return exc

    caplog.set_level(logging.INFO, "asyncjobs")
    for i in range(5):
        log.callback_failed("listener", callback, fail(f"job {i}"), f"event {i}")
    log.callback_failed("listener", callback, fail("elsewhere", other_line=True), "event 9")
    log.callback_failed("listener", callback, TypeError("other type"), "event 10")
    first_lines = records(caplog, logging.ERROR, "raised on")
    assert [r.getMessage().split(";")[0] for r in first_lines] == [
        f"listener {callback.__module__}.{callback.__qualname__} raised on event 0",
        f"listener {callback.__module__}.{callback.__qualname__} raised on event 9",
        f"listener {callback.__module__}.{callback.__qualname__} raised on event 10",
    ]
    assert sorted(log.counts().values()) == [1, 1, 5]
    now[0] = 9.9
    log.callback_failed("listener", callback, fail("job 5"), "event 5")
    assert records(caplog, logging.WARNING, "again") == []
    now[0] = 10.0
    log.callback_failed("listener", callback, fail("job 6"), "event 6")
    (summary,) = records(caplog, logging.WARNING, "again")
    assert summary.getMessage().endswith(
        "raised ValueError again: 6 time(s) in the last 10 s, 7 in all; latest on event 6: job 6"
    )
    log.flush()
    assert len(records(caplog, logging.WARNING, "again")) == 1  # nothing left unsummarised


async def test_dropped_bus_events_are_logged_once_then_summarised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[int] = []

    def count(event: int) -> None:
        seen.append(event)

    caplog.set_level(logging.INFO, "asyncjobs")
    async with EventBus() as bus:
        subscription = bus.subscribe("metrics.tick", count, buffer=2)
        for i in range(1000):  # a burst: the subscriber's task gets no turn meanwhile
            bus.publish_nowait(i, topic="metrics.tick")
        with anyio.fail_after(5):
            while subscription.statistics().buffered:
                await anyio.wait_all_tasks_blocked()
    assert seen == [998, 999]
    assert subscription.statistics().dropped == 998
    (first,) = records(caplog, logging.WARNING, "dropped an event")
    message = first.getMessage()
    assert "'metrics.tick'" in message
    assert "buffer of 2 was full (on_full=drop_oldest)" in message
    assert "runner.subscribe" in message
    (summary,) = records(caplog, logging.WARNING, "dropped events")
    assert "997 time(s)" in summary.getMessage()
    assert "998 in all" in summary.getMessage()


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no message")


class CallableWithBadRepr:
    def __call__(self, event: JobEvent) -> None:
        raise Unprintable

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


async def test_a_callback_whose_error_or_repr_cannot_be_printed_is_still_isolated(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @job(name="tests.logging.one")
    async def one() -> int:
        return 1

    caplog.set_level(logging.INFO, "asyncjobs")
    async with JobRunner() as runner:
        runner.subscribe(CallableWithBadRepr())
        with anyio.fail_after(5):
            handles = [await runner.submit(one) for _ in range(3)]
            assert [await h for h in handles] == [1, 1, 1]
    (first,) = records(caplog, logging.ERROR, "CallableWithBadRepr raised on")
    assert first.exc_info is not None
    closing = records(caplog, logging.WARNING, "CallableWithBadRepr raised Unprintable again")
    assert closing
    assert "<unprintable error>" in closing[-1].getMessage()


def test_repeat_log_groups_partials_and_instances_by_what_they_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = RepeatLog(lambda: 0.0)

    def handler(n: int, event: object) -> None: ...

    caplog.set_level(logging.INFO, "asyncjobs")
    for n in range(200):
        error = ValueError(n)
        log.callback_failed("listener", functools.partial(handler, n), error, "event")
        log.callback_failed("listener", CallableWithBadRepr(), error, "event")
    assert len(records(caplog, logging.ERROR, "raised on")) == 2
    assert sorted(log.counts().values()) == [200, 200]
