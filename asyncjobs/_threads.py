"""Sync jobs' worker threads, which outlive their jobs when stopped.

A plain-function job runs in one of anyio's worker threads. Python cannot stop a thread:
when the job is cancelled, times out or is cut off by shutdown, its handle resolves at once
and the thread goes on until the function returns (or raises: a long job can call
``anyio.from_thread.check_cancelled()``, which raises once the job is stopped). ``Threads``
knows which jobs' functions are still running, so shutdown can wait a bounded time for them
and name those it leaves behind.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio.from_thread

from ._errors import InvalidJob

if TYPE_CHECKING:
    from ._spawn import Event

K = TypeVar("K", bound=Hashable)


class Threads(Generic[K]):
    """The sync jobs (known by a key ``K``: the runner's job handles) whose function is
    running in a worker thread right now."""

    def __init__(self) -> None:
        # Each running call, by a token of its own, to its job: one job can have several
        # threads (an attempt that timed out still running beside its retry). Written from
        # the worker threads, one dict operation at a time (atomic under the GIL).
        self._running: dict[object, K] = {}
        self._waiter: Event | None = None  # set while shutdown waits for the threads

    def call(
        self,
        job: K,
        context: contextvars.Context,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
    ) -> Any:
        """Run ``fn(*args, **kwargs)`` for ``job`` in ``context``; called in the thread.
        A coroutine returned is a mistake (an async function not declared so): it is
        closed unrun and ``InvalidJob`` raised."""
        token = object()
        self._running[token] = job  # only a thread that got to run its job is counted
        try:
            result = context.run(fn, *args, **kwargs)
            if inspect.iscoroutine(result):
                result.close()  # never awaited: no "never awaited" warning at collection
                raise InvalidJob(
                    fn,
                    "a plain function that returned a coroutine, which was not run: declare "
                    "it async def so that the runner awaits it",
                )
            return result
        finally:
            del self._running[token]
            waiter = self._waiter  # read after the pop: wait_until sets it, then looks
            if waiter is not None:
                # If the loop has gone meanwhile, nobody waits any more.
                with contextlib.suppress(Exception):
                    anyio.from_thread.run_sync(waiter.set)

    async def wait_until(
        self,
        deadline: float,
        new_event: Callable[[], Event],
        wait_event_until: Callable[[Event, float], Awaitable[bool]],
    ) -> bool:
        """Wait until no job's thread is running, or ``deadline`` passes (``new_event`` makes
        the loop's events; ``wait_event_until`` waits for one on the runner's clock); True
        if none is running."""
        try:
            while True:
                waiter = self._waiter = new_event()
                if not self._running:  # looked at after the waiter is set: see call()
                    return True
                if not await wait_event_until(waiter, deadline):
                    return False
        finally:
            self._waiter = None

    def still_running(self) -> list[K]:
        """The jobs whose function has not returned yet (in a thread or more), oldest first."""
        return list(dict.fromkeys(tuple(self._running.values())))
