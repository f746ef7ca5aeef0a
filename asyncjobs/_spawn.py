"""What the engine needs from the event loop beyond anyio: detached tasks, cheap events.

Start long-lived tasks that the runner owns but the host's task tree does not wait for.

Workers run here rather than in a task group so that shutdown can return by its hard deadline
even when a job handler ignores cancellation: the runner cancels, waits a bounded time, then
reports the job as abandoned and returns. Structured task groups would wait forever instead.
The runner still starts, cancels, waits for and accounts for every task it spawns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

_live_asyncio_tasks: set[asyncio.Task[None]] = set()


def spawn_detached(fn: Callable[[], Awaitable[None]], name: str) -> None:
    """Start ``fn()`` as a task of the running event loop (asyncio or trio)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None:

        async def main() -> None:
            await fn()

        task = loop.create_task(main(), name=name)
        _live_asyncio_tasks.add(task)  # the loop only keeps weak references to tasks
        task.add_done_callback(_live_asyncio_tasks.discard)
        return
    import trio

    trio.lowlevel.spawn_system_task(fn, name=name)


class Event(Protocol):
    """The part of ``asyncio.Event`` / ``trio.Event`` the engine uses."""

    def set(self) -> None: ...

    def is_set(self) -> bool: ...

    async def wait(self) -> object: ...


def event_factory() -> Callable[[], Event]:
    """The running loop's native event class. ``anyio.Event()`` works out the backend at
    every construction; the engine makes one or two events per job, so it asks once."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        import trio

        return trio.Event
    return asyncio.Event
