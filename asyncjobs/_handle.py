"""``JobHandle``: the caller's side of a submitted job; ``await handle`` gives its result."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Generator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, NoReturn, Protocol, TypeVar

from . import _validation
from ._errors import InvalidOptionType, NotInJob
from ._progress import (
    DEFAULT_BUFFER,
    Progress,
    ProgressCallback,
    ProgressChannel,
    ProgressFollower,
    ProgressSubscription,
)
from ._record import JobRecord
from ._spawn import Event
from ._states import JobState

if TYPE_CHECKING:
    from ._faults import RepeatLog
    from ._options import JobOptions

R = TypeVar("R")

_get_ident = threading.get_ident

current_job_var: contextvars.ContextVar[JobHandle[Any] | None] = contextvars.ContextVar(
    "asyncjobs_current_job", default=None
)
"""The handle of the job whose context this is (set in each job's own context)."""


class Runner(Protocol):
    """A runner, as far as submitting to it goes (``JobRunner`` is one)."""

    async def submit(self, job: Any, /, *args: Any, **kwargs: Any) -> JobHandle[Any]: ...


class Definition(Protocol):
    """What the engine reads of the job's definition (a ``JobDefinition``)."""

    @property
    def name(self) -> str: ...

    @property
    def fn(self) -> Callable[..., Any]: ...

    @property
    def is_async(self) -> bool: ...

    @property
    def options(self) -> JobOptions: ...


class JobEngine(Protocol):
    """What a handle asks of the engine that runs its job (``_job_control.JobControl``)."""

    @property
    def runner(self) -> Runner:
        """The runner running the job (``current_runner()`` inside it)."""
        ...

    @property
    def loop_thread(self) -> int:
        """The thread of the event loop the runner runs on."""
        ...

    @property
    def faults(self) -> RepeatLog: ...

    def new_event(self) -> Event: ...

    def check_thread(self, what: str) -> None:
        """``WrongEventLoop`` unless called on the loop's thread."""
        ...

    async def cancel(self, handle: JobHandle[Any]) -> bool: ...

    async def wait_timed(self, handle: JobHandle[Any], timeout: float) -> None: ...

    async def wait_in_job(self, parent: JobHandle[Any], handle: JobHandle[Any]) -> None: ...

    def report_progress(
        self,
        handle: JobHandle[Any],
        percent: float | None,
        message: str | None,
        done: int | None,
        total: int | None,
        step: str | None,
    ) -> Progress: ...


class JobHandle(Generic[R]):
    """A submitted job. ``await handle`` returns its result or raises its exception.

    Outcomes other than a result raise a ``JobOutcomeError`` subclass: ``JobCancelled``,
    ``JobTimedOut``, ``JobRejected`` or ``JobInterrupted``. A handle resolves exactly once.
    """

    __slots__ = (
        "_record",
        "_definition",
        "_engine",
        "_context",
        "_error",
        "_error_tb",
        "_done",
        "_waiter",
        "_stop_reason",
        "_progress",
        "_depth",
        "__weakref__",
    )

    def __init__(
        self,
        record: JobRecord,
        definition: Definition,
        engine: JobEngine,
        context: contextvars.Context | None,
    ) -> None:
        self._record = record
        self._definition = definition
        self._engine = engine
        self._context = context
        self._error: BaseException | None = None
        # Its traceback as the job left it: each raise starts from it again, instead of
        # growing by every awaiter's frames.
        self._error_tb: TracebackType | None = None
        self._done = False
        self._waiter: Event | None = None
        self._stop_reason: str | None = None
        self._progress: ProgressChannel | None = None  # made for the first follower
        self._depth = 0  # jobs submitted from running jobs, each from the one before

    @property
    def id(self) -> str:
        """The job id (given at submit time, or generated)."""
        return self._record.id

    @property
    def name(self) -> str:
        """The job name (see ``@job(name=...)``)."""
        return self._record.name

    @property
    def queue(self) -> str:
        """The queue the job was submitted to."""
        return self._record.queue

    @property
    def state(self) -> JobState:
        """The job's current state."""
        return self._record.state

    def record(self) -> JobRecord:
        """A snapshot of the job's record (timestamps, attempts, error text, ...)."""
        return self._record.snapshot()

    def done(self) -> bool:
        """True once the job has reached its terminal state."""
        return self._done

    async def wait(self) -> None:
        """Wait until the job is done, whatever the outcome; never raises the job's error.

        Called from a running job of the same runner, it raises ``JobDeadlock`` if the
        wait could never end (see docs/jobs.md, jobs that submit jobs)."""
        if self._done:
            return
        engine = self._engine
        if engine.loop_thread != _get_ident():
            engine.check_thread("a job handle awaited")
        parent = current_job_var.get()
        if parent is not None and parent._engine is engine and not parent._done:
            await engine.wait_in_job(parent, self)
            return
        waiter = self._waiter  # as _event(), inlined: awaited once per job
        if waiter is None:
            waiter = self._waiter = engine.new_event()
        await waiter.wait()

    def report_progress(
        self,
        percent: float | None,
        message: str | None,
        done: int | None,
        total: int | None,
        step: str | None,
    ) -> Progress:
        """Report this job's progress (``asyncjobs.report_progress`` from inside it)."""
        return self._engine.report_progress(self, percent, message, done, total, step)

    def _event(self) -> Event:
        """The event set when the job is done (made for the first waiter)."""
        waiter = self._waiter
        if waiter is None:
            waiter = self._waiter = self._engine.new_event()
        return waiter

    async def _wait_event(self) -> None:
        """Wait for the job to be done, as ``wait`` but never a deadlock check (the caller,
        ``result``, has checked the thread)."""
        if not self._done:
            await self._event().wait()

    async def result(self, timeout: float | None = None) -> R:
        """The job's result; waits for it (at most ``timeout`` seconds: ``ResultTimeout``)."""
        if not self._done:
            if timeout is None:
                await self.wait()
            else:
                self._engine.check_thread("a job handle awaited")
                await self._engine.wait_timed(self, timeout)
        error = self._error
        if error is not None:
            tb = self._error_tb
            del self  # see _raise
            try:
                _raise(error, tb)
            finally:
                del error, tb
        return self._record.result  # type: ignore[return-value]  # the job's own R

    def __await__(self) -> Generator[Any, Any, R]:
        if not self._done:
            yield from self.wait().__await__()
        error = self._error
        if error is not None:
            tb = self._error_tb
            del self  # see _raise
            try:
                _raise(error, tb)
            finally:
                del error, tb
        return self._record.result  # type: ignore[return-value]  # the job's own R

    def latest_progress(self) -> Progress | None:
        """The latest progress the job reported, or None if it has reported none."""
        return self._record.progress

    def progress(self, *, buffer: int = DEFAULT_BUFFER) -> ProgressFollower:
        """Follow the job's progress: ``async for update in handle.progress(): ...``.

        Yields the latest update first (if there is one), then each update as the job
        reports it, and ends when the job ends (whatever its outcome). At most ``buffer``
        unread updates are kept; a follower that falls behind loses the oldest ones, never
        the latest, and never slows the job (``Progress.sequence`` shows any gap)."""
        size = _validation.positive_int("buffer", buffer)
        return ProgressFollower(self._channel(), size, self._engine.new_event)

    def on_progress(self, callback: ProgressCallback) -> ProgressSubscription:
        """Call ``callback(update)`` on each progress update of this job, in the job's own
        flow (keep it quick). One that raises is logged and ignored. Use the returned
        subscription as a context manager, or call its ``unsubscribe()``; it also ends when
        the job ends."""
        if not callable(callback):
            raise InvalidOptionType("callback", callback, "expected a callable")
        channel = self._channel()
        subscription = ProgressSubscription(channel, callback)
        if not channel.closed:
            channel.callbacks = (*channel.callbacks, callback)
        return subscription

    def _channel(self) -> ProgressChannel:
        channel = self._progress
        if channel is None:
            channel = self._progress = ProgressChannel(
                self._record.progress, self._done, self._engine.faults
            )
        return channel

    async def cancel(self) -> bool:
        """Cancel the job: a waiting job never starts; a running one has its handler cancelled.

        Returns False, changing nothing, if the job had already finished; True otherwise.
        The handle then raises ``JobCancelled`` (a running job resolves once its handler
        has stopped).
        """
        return await self._engine.cancel(self)

    def __repr__(self) -> str:
        record = self._record
        return f"<JobHandle {record.name!r} id={record.id!r} state={record.state.value}>"


def _raise(error: BaseException, tb: TracebackType | None) -> NoReturn:
    """Raise a job's error with its traceback as the job left it. The frames it passes
    through on the handle's side hold neither the error nor the handle (callers drop
    ``self`` first): either would make a cycle (error -> traceback -> frame -> error) that
    only the cycle collector frees."""
    try:
        raise error.with_traceback(tb)
    finally:
        del error, tb


def report_progress(
    percent: float | None = None,
    message: str | None = None,
    *,
    done: int | None = None,
    total: int | None = None,
    step: str | None = None,
) -> Progress:
    """Report the running job's progress; call it from inside the job (a coroutine job, or a
    plain function job in its worker thread). Returns the merged update.

    Fields not given keep their last values; ``percent`` is worked out from ``done`` and
    ``total`` when only those are given. Bad values raise ``InvalidOption`` naming the
    field; a call outside a running job raises ``NotInJob``.
    """
    handle = current_job_var.get()
    if handle is None:
        raise NotInJob(
            "report_progress() was called outside a job: call it from inside a job's "
            "function (or code it calls)"
        )
    return handle.report_progress(percent, message, done, total, step)
