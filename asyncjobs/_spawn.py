"""What the engine needs from the event loop beyond anyio: detached tasks, cheap events.

Start long-lived tasks that the runner owns but the host's task tree does not wait for.

Workers run here rather than in a task group so that shutdown can return by its hard deadline
even when a job handler ignores cancellation: the runner cancels, waits a bounded time, then
reports the job as abandoned and returns. Structured task groups would wait forever instead.
The runner still starts, cancels, waits for and accounts for every task it spawns.
``TaskLoop`` is such a task running one loop (the shared backend's feeder and heartbeat).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

import anyio

_live_asyncio_tasks: set[asyncio.Task[None]] = set()


def current_loop() -> object | None:
    """The running event loop: the asyncio loop, or trio's token for this run; None when
    no loop runs in this thread. Two runs never share one."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    try:
        import trio

        return trio.lowlevel.current_trio_token()
    except (ImportError, RuntimeError):
        return None


def current_task() -> object | None:
    """The running task (asyncio's or trio's), or None outside one."""
    try:
        return asyncio.current_task()
    except RuntimeError:
        pass
    try:
        import trio

        return trio.lowlevel.current_task()
    except (ImportError, RuntimeError):
        return None


def spawn_detached(fn: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
    """Start ``fn()`` as a task of the running event loop (asyncio or trio), in a context of
    its own: an empty one, as trio gives its system tasks, not a copy of the caller's (a
    bus delivery task started from inside a job would otherwise carry that job)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None:
        # The coroutine itself, with no wrapper: one frame less each time the task resumes.
        # Made inside an empty context, the task copies that one (create_task's context=
        # argument is Python 3.11 and later).
        task = contextvars.Context().run(loop.create_task, fn(), name=name)
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


class LoopEvent:
    """A one-shot event for one asyncio loop: ``asyncio.Event`` without ``clear``, lighter.

    The engine makes one or two events a job (a parked worker's wake-up, a handle's waiter).
    ``asyncio.Event`` looks up the running loop, under a lock, at each event's first wait;
    this one is given its loop when made, and keeps no waiter list until someone waits.
    A cancelled waiter is forgotten at once, so a handle waited on with many timeouts
    does not pile them up.
    """

    __slots__ = ("_loop", "_flag", "_waiters")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._flag = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        if self._flag:
            return
        self._flag = True
        waiters, self._waiters = self._waiters, None
        if waiters is not None:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def wait(self) -> bool:
        if self._flag:
            return True
        waiter: asyncio.Future[None] = self._loop.create_future()
        waiters = self._waiters
        if waiters is None:
            waiters = self._waiters = []
        waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiters is self._waiters:  # not set yet: forget this waiter
                waiters.remove(waiter)
            raise
        return True


def event_factory() -> Callable[[], Event]:
    """The running loop's event maker. ``anyio.Event()`` works out the backend at every
    construction; the engine makes one or two events per job, so it asks once."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        import trio

        return trio.Event
    return functools.partial(LoopEvent, loop)


class TaskLoop:
    """A loop (``run``) in a detached task of its own, from ``start`` until ``stop``."""

    def __init__(self, run: Callable[[], Awaitable[None]], name: str) -> None:
        self._run = run
        self._name = name
        self._scope: anyio.CancelScope | None = None
        self._done: Event | None = None

    def start(self, done: Event) -> None:
        self._scope = anyio.CancelScope()
        self._done = done
        spawn_detached(self._loop, self._name)

    async def _loop(self) -> None:
        assert self._scope is not None
        assert self._done is not None
        try:
            with self._scope:
                await self._run()
        finally:
            self._done.set()

    async def stop(self) -> None:
        if self._scope is not None and self._done is not None:
            self._scope.cancel()
            await self._done.wait()
