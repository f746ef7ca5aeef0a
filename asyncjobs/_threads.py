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
    ) -> Callable[[], Any]:
        """The function to run in a worker thread for ``job``: ``fn(*args, **kwargs)`` in
        ``context``. A coroutine returned is a mistake (an async function not declared so):
        it is closed unrun and ``InvalidJob`` raised."""
        return _ThreadCall(self, job, context, fn, args, kwargs)

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

    def _ended(self, token: object) -> None:
        """A thread call is over (called in its thread)."""
        del self._running[token]
        waiter = self._waiter  # read after the pop: wait_until sets it, then looks
        if waiter is not None:
            # If the loop has gone meanwhile, nobody waits any more.
            with contextlib.suppress(Exception):
                anyio.from_thread.run_sync(waiter.set)

    def still_running(self) -> list[K]:
        """The jobs whose function has not returned yet (in a thread or more), oldest first."""
        return list(dict.fromkeys(tuple(self._running.values())))


class _ThreadCall(Generic[K]):
    """One sync job's call, run in a worker thread. It lets go of the job and its context
    once called: the thread's frames (the event loop library's among them) hold this object
    and stay reachable from an error's traceback, and must not lead back to the job's
    handle, which holds the error (a cycle only the cycle collector would free)."""

    __slots__ = ("_threads", "_job", "_context", "_fn", "_args", "_kwargs")

    def __init__(
        self,
        threads: Threads[K],
        job: K,
        context: contextvars.Context,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
    ) -> None:
        self._threads = threads
        self._job: K | None = job
        self._context: contextvars.Context | None = context
        self._fn = fn
        self._args = args
        self._kwargs = kwargs

    def __call__(self) -> Any:
        """Call the function; its error comes back as a ``Raised`` value (see ``unwrap``)."""
        threads, job, context = self._threads, self._job, self._context
        assert job is not None, "a thread call runs once"
        assert context is not None, "a thread call runs once"
        self._job = self._context = None
        token = object()
        threads._running[token] = job  # only a thread that got to run its job is counted
        del job
        fn = self._fn
        try:
            result = context.run(fn, *self._args, **self._kwargs)
            if inspect.iscoroutine(result):
                result.close()  # never awaited: no "never awaited" warning at collection
                raise InvalidJob(
                    fn,
                    "a plain function that returned a coroutine, which was not run: declare "
                    "it async def so that the runner awaits it",
                )
        except BaseException as exc:  # noqa: BLE001 - handed back as a value, see Raised
            del context  # holds current_job: the job's handle
            return Raised(exc)
        finally:
            threads._ended(token)
        return result


class Raised:
    """A sync job's error, handed back from its thread as a value rather than raised: the
    thread library's frames (trio's keep the outcome of the call) stay reachable from the
    error's traceback, and must not hold the error themselves. ``unwrap`` empties it."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error: BaseException | None = error


def unwrap(result: Any) -> Any:
    """The thread call's result, or its error raised."""
    if type(result) is not Raised:
        return result
    error, result.error = result.error, None
    assert error is not None, "a Raised is unwrapped once"
    try:
        raise error
    finally:
        del error
