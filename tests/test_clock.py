from __future__ import annotations

import contextvars
from collections.abc import Coroutine
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import anyio
import pytest

from asyncjobs import Clock, InvalidOption, SystemClock
from asyncjobs._context import in_context
from asyncjobs._timers import TimerService
from asyncjobs.testing import FakeClock

pytestmark = pytest.mark.anyio

T = TypeVar("T")


async def test_fake_clock_moves_only_when_advanced() -> None:
    start = datetime(2030, 6, 1, 12, tzinfo=timezone.utc)
    clock = FakeClock(start)
    assert isinstance(clock, Clock)
    assert clock.now() == start
    assert clock.monotonic() == 0.0
    woke: list[float] = []

    async def sleeper(deadline: float) -> None:
        await clock.sleep_until(deadline)
        woke.append(clock.monotonic())

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for deadline in (3.0, 1.0, 2.0):
                tg.start_soon(sleeper, deadline)
            await anyio.wait_all_tasks_blocked()
            await clock.advance(1.5)
            assert woke == [1.0]
            await clock.advance(timedelta(seconds=10))
    assert woke == [1.0, 2.0, 3.0]
    assert clock.monotonic() == 11.5
    assert clock.now() == start + timedelta(seconds=11.5)
    with pytest.raises(InvalidOption):
        await clock.advance(-1)
    with pytest.raises(InvalidOption, match="naive"):
        FakeClock(datetime(2030, 1, 1))


async def test_system_clock_is_a_clock() -> None:
    clock = SystemClock()
    assert isinstance(clock, Clock)
    assert clock.now().tzinfo is not None
    with anyio.fail_after(5):
        await clock.sleep_until(clock.monotonic() - 1)  # a past deadline returns at once


async def test_timer_service_fires_in_deadline_order_and_skips_cancelled() -> None:
    clock = FakeClock()
    timers = TimerService(clock)
    fired: list[str] = []

    async def async_callback() -> None:
        fired.append("async")

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            await tg.start(timers.run)
            timers.call_at(5, lambda: fired.append("five"))
            cancelled = timers.call_at(2, lambda: fired.append("never"))
            timers.call_at(1, lambda: fired.append("one"))
            timers.call_at(3, async_callback)
            timers.call_at(4, lambda: 1 / 0)  # a raising callback is logged and skipped
            cancelled.cancel()
            assert len(timers) == 4
            await clock.advance(10)
            tg.cancel_scope.cancel()
    assert fired == ["one", "async", "five"]
    assert len(timers) == 0


async def test_timer_heap_stays_small_when_timers_are_cancelled() -> None:
    timers = TimerService(FakeClock())
    for i in range(10_000):
        timers.call_at(1_000 + i, lambda: None).cancel()
    assert len(timers._heap) < 3_000
    assert len(timers) == 0


async def run_in(context: contextvars.Context, coro: Coroutine[Any, Any, T]) -> T:
    """As the runner does: the first step here (each body below waits in it), then drive."""
    first = context.run(coro.send, None)
    return await in_context(context, coro, first)


async def test_in_context_runs_a_coroutine_in_the_given_context() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="outer")

    async def body() -> str:
        seen = var.get()
        var.set("inner")
        await anyio.lowlevel.checkpoint()
        return seen + "/" + var.get()

    context = contextvars.copy_context()
    context.run(var.set, "captured")
    with anyio.fail_after(5):
        assert await run_in(context, body()) == "captured/inner"
    assert var.get() == "outer"
    assert context[var] == "inner"


async def test_in_context_propagates_errors_and_cancellation() -> None:
    async def fails() -> None:
        await anyio.lowlevel.checkpoint()
        raise KeyError("x")

    with pytest.raises(KeyError):
        await run_in(contextvars.copy_context(), fails())
    cleaned = anyio.Event()

    async def waits() -> None:
        try:
            await anyio.sleep_forever()
        finally:
            cleaned.set()

    async def driver() -> None:
        await run_in(contextvars.copy_context(), waits())

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(driver)
            await anyio.wait_all_tasks_blocked()
            tg.cancel_scope.cancel()
    assert cleaned.is_set()
