"""The engine's loop helpers: the asyncio event it makes per job, and detached tasks."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from asyncjobs._spawn import LoopEvent, event_factory, spawn_detached

pytestmark = pytest.mark.anyio


def _on_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def test_event_factory_makes_the_loops_own_event() -> None:
    event = event_factory()()
    if _on_asyncio():
        assert isinstance(event, LoopEvent)
    else:
        import trio

        assert isinstance(event, trio.Event)
    assert not event.is_set()
    event.set()
    assert event.is_set()
    with anyio.fail_after(5):
        await event.wait()  # already set: returns at once


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_loop_event_wakes_every_waiter_once() -> None:
    event = LoopEvent(asyncio.get_running_loop())
    woken: list[int] = []

    async def waiter(index: int) -> None:
        await event.wait()
        woken.append(index)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            for index in range(3):
                group.start_soon(waiter, index)
            await anyio.wait_all_tasks_blocked()
            assert woken == []
            event.set()
            event.set()  # a second set changes nothing
    assert sorted(woken) == [0, 1, 2]
    assert await event.wait() is True


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_loop_event_forgets_a_cancelled_waiter() -> None:
    event = LoopEvent(asyncio.get_running_loop())
    for _ in range(50):  # as a caller polling a long job with result(timeout=...)
        with anyio.move_on_after(0):
            await event.wait()
    assert not event._waiters  # none piled up

    woken = anyio.Event()

    async def waiter() -> None:
        await event.wait()
        woken.set()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(waiter)
            await anyio.wait_all_tasks_blocked()
            event.set()
            await woken.wait()


async def test_spawn_detached_runs_the_coroutine_as_a_task() -> None:
    ran: list[str] = []
    done = anyio.Event()

    async def body() -> None:
        ran.append("coroutine")
        done.set()

    spawn_detached(body, "asyncjobs-test-coroutine")
    with anyio.fail_after(5):
        await done.wait()
    assert ran == ["coroutine"]
