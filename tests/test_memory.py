"""Memory that reference counting alone frees: with the cycle collector off, nothing of a
finished job stays alive, and waiting on a handle over and over keeps nothing."""

from __future__ import annotations

import gc
import logging
import weakref
from collections.abc import Iterator

import anyio
import pytest

from asyncjobs import JobHandle, JobRunner, ResultTimeout, job
from asyncjobs.testing import FakeClock

pytestmark = pytest.mark.anyio

_errors: list[weakref.ref[BaseException]] = []


class Tracked(Exception):
    """An error that says whether it is still alive."""

    def __init__(self, n: int) -> None:
        super().__init__(n)
        _errors.append(weakref.ref(self))


@job
async def fails(n: int) -> None:
    raise Tracked(n)


@job
def fails_in_thread(n: int) -> None:
    raise Tracked(n)


@pytest.fixture
def no_cycle_collector() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.usefixtures("no_cycle_collector")
@pytest.mark.parametrize("body", [fails, fails_in_thread], ids=["async", "sync"])
async def test_failed_jobs_errors_are_freed_without_the_cycle_collector(
    body: object, caplog: pytest.LogCaptureFixture
) -> None:
    # The failure WARNINGs carry the exceptions; pytest would keep the log records.
    caplog.set_level(logging.CRITICAL, logger="asyncjobs")
    _errors.clear()
    async with JobRunner() as runner:
        with anyio.fail_after(10):
            handles = [await runner.submit(body, n) for n in range(200)]  # type: ignore[call-overload]
            for handle in handles:
                with pytest.raises(Tracked):
                    await handle  # raised to an awaiter, twice
                with pytest.raises(Tracked):
                    await handle.result()
            tracebacks = [h.record().traceback for h in handles]
            del handle, handles
            # Failed records stay in the store, as text: the exceptions themselves are gone.
            assert all(tb is not None and "Tracked" in tb for tb in tracebacks)
            alive = [ref for ref in _errors if ref() is not None]
            assert len(_errors) == 200
            assert alive == []


async def test_a_job_error_keeps_its_own_traceback_however_often_it_is_awaited() -> None:
    async with JobRunner() as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(fails, 1)
            depths = []
            for _ in range(5):
                try:
                    await handle
                except Tracked as exc:
                    tb, depth = exc.__traceback__, 0
                    while tb is not None:
                        depth, tb = depth + 1, tb.tb_next
                    depths.append(depth)
    assert len(set(depths)) == 1  # does not grow by the awaiters' frames
    # The traceback starts at the job's own code, not the worker's frames.
    record_tb = handle.record().traceback or ""
    assert "in fails" in record_tb
    assert "_runner.py" not in record_tb


@pytest.mark.usefixtures("no_cycle_collector")
async def test_waiting_on_a_handle_with_a_timeout_over_and_over_keeps_nothing() -> None:
    clock = FakeClock()

    @job
    async def sleeps() -> None:
        await clock.sleep_until(clock.monotonic() + 1e9)

    async def wait_many(handle: JobHandle[None], times: int) -> None:
        for _ in range(times):
            with pytest.raises(ResultTimeout):
                await handle.result(timeout=1)

    async with JobRunner(clock=clock, grace_period=0) as runner:
        handle = await runner.submit(sleeps)
        with anyio.fail_after(60):
            running = runner.running_jobs
            await clock.autojump(lambda: wait_many(handle, 200), running)  # warm up
            before = len(gc.get_objects())
            await clock.autojump(lambda: wait_many(handle, 2000), running)
            grown = len(gc.get_objects()) - before
        await handle.cancel()
    # 2,000 timed-out waits, the collector off: no object kept per wait (a waiter, a
    # timer, a cancel scope's cycle), only a few of the waits' machinery.
    assert grown < 200, grown
