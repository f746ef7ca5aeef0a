"""The exception hierarchy: one root, leaves derived from the nearest builtin.

::

    AsyncJobsError
    ├── InvalidOption (ValueError)              an option or setting has a bad value
    │   ├── InvalidOptionType (TypeError)       ... or a value of the wrong type
    │   └── InvalidSchedule                     a schedule that cannot fire as asked
    ├── InvalidJob (TypeError)                  not something that can be a job
    ├── InvalidArguments (TypeError)            arguments don't fit the job's signature
    ├── UnencodablePayload (TypeError)          the store's serializer can't encode a value
    ├── CorruptPayload (ValueError)             stored bytes that can't be read back
    ├── DuplicateJobName (ValueError)
    ├── DuplicateJobId (ValueError)
    ├── UnknownQueue (LookupError)
    ├── JobNotFound (LookupError)
    │   └── ResultExpired                       ... it finished, and its record was removed
    ├── JobStateError                           the job is not in a state that allows this
    ├── ScheduleExists (ValueError)             a schedule of that name exists already
    ├── ScheduleNotFound (LookupError)          no schedule of that name
    ├── QueueFull                               a bounded queue refused a job
    ├── RunnerNotRunning (RuntimeError)         used before start or after shutdown
    ├── BusNotRunning (RuntimeError)            an event bus used before start or after close
    ├── NotInJob (RuntimeError)                 a job-only call made outside a running job
    ├── WrongEventLoop (RuntimeError)           a runner used from another thread's loop
    ├── JobDeadlock (RuntimeError)              a job waits for a job that can never start
    ├── JobNestingError (RecursionError)        jobs submitted from jobs, nested too deep
    ├── EventDeliveryError                      subscribers raised during an awaited publish
├── CallNextTwice (RuntimeError)            a bus middleware passed one delivery on twice
    ├── ResultTimeout (TimeoutError)            waiting for a result took too long
    └── JobOutcomeError                         raised by ``await handle`` when the job
        ├── JobCancelled                        did not produce a result of its own
        ├── JobTimedOut (TimeoutError)
        ├── JobRejected
        ├── JobInterrupted
        └── JobAborted                          the job raised a BaseException, not an error

A job that raises an ``Exception`` makes ``await handle`` raise that same exception, not a
wrapper. One that raises any other ``BaseException`` (``KeyboardInterrupt``, ``SystemExit``, a
cancellation nobody asked for) fails with ``JobAborted``, whose ``__cause__`` is what it
raised. Cancellation exceptions of the event loop are never wrapped or subclassed.

Messages show a value through ``echo``: at most ``ECHO_LIMIT`` characters of its repr (a
secret passed in the wrong field must not land whole in a log), and never fail.
"""

from __future__ import annotations

import reprlib
from typing import Any

ECHO_LIMIT = 80
"""Characters of an offending value's repr that an error message shows."""

_echo = reprlib.Repr()
_echo.maxstring = _echo.maxother = ECHO_LIMIT
_echo.maxlong = ECHO_LIMIT
_echo.maxlevel = 3


def echo(value: Any) -> str:
    """A short repr of ``value`` for an error message: cut to about ``ECHO_LIMIT``
    characters, and never raising (a repr that raises gives the type's name)."""
    try:
        text = _echo.repr(value)
    except Exception:  # noqa: BLE001 - a message must not fail on the value it is about
        text = f"<{type(value).__qualname__} object>"
    if len(text) > ECHO_LIMIT + 5:  # reprlib leaves some reprs (of containers' parts) long
        text = text[: ECHO_LIMIT - 3] + "..."
    return text


def error_text(error: BaseException, limit: int) -> str | None:
    """``str(error)`` cut to ``limit`` characters, or None if its ``str()`` raises (or
    returns something else): describing an error must never fail."""
    try:
        text = str(error)
    except Exception:  # noqa: BLE001 - see above
        return None
    if not isinstance(text, str):
        return None
    return text if len(text) <= limit else text[: limit - 3] + "..."


def echo_error(error: BaseException) -> str:
    """``str(error)`` cut to ``ECHO_LIMIT`` characters, for a message; never raising."""
    text = error_text(error, ECHO_LIMIT)
    return f"<{type(error).__qualname__} whose str() raised>" if text is None else text


class AsyncJobsError(Exception):
    """Root of every exception asyncjobs raises on its own account."""


class InvalidOption(AsyncJobsError, ValueError):
    """An option, setting or parameter was given a value it cannot take."""

    def __init__(self, field: str, value: Any, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}={echo(value)}: {reason}")


class InvalidOptionType(InvalidOption, TypeError):
    """An option was given a value of the wrong type."""


class InvalidSchedule(InvalidOption):
    """A schedule was refused at creation: a bad cron expression or interval, an unknown
    time zone, or a timetable that would never fire. ``field`` and ``value`` say which."""


class InvalidJob(AsyncJobsError, TypeError):
    """The object given as a job cannot run as one (for example, it is not callable)."""

    def __init__(self, value: Any, reason: str) -> None:
        self.value = value
        super().__init__(f"job={echo(value)}: {reason}")


class InvalidArguments(AsyncJobsError, TypeError):
    """The arguments given at submit time do not fit the job's signature."""

    def __init__(self, job_name: str, reason: str) -> None:
        self.job_name = job_name
        super().__init__(f"arguments for job {echo(job_name)} do not fit its signature: {reason}")


class DuplicateJobName(AsyncJobsError, ValueError):
    """Two different functions were registered under one job name."""

    def __init__(self, name: str, existing: str, new: str) -> None:
        self.name = name
        super().__init__(
            f"name={echo(name)}: already used by {existing}; cannot also register {new} "
            "(pass a different name=...)"
        )


class DuplicateJobId(AsyncJobsError, ValueError):
    """A job id given at submit time is already taken."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(f"job_id={echo(job_id)}: a job with this id already exists")


class DuplicateJob(AsyncJobsError):
    """A unique job's key is held by a job still queued or running (policy ``raise``)."""

    def __init__(self, key: str, job_id: str) -> None:
        self.key = key
        self.job_id = job_id
        super().__init__(
            f"unique key {echo(key)} is held by job {echo(job_id)}, still queued or running"
        )


class UnknownQueue(AsyncJobsError, LookupError):
    """A job named a queue the runner was not configured with."""

    def __init__(self, queue: str, known: list[str]) -> None:
        self.queue = queue
        super().__init__(f"queue={echo(queue)}: no such queue (configured: {', '.join(known)})")


class JobNotFound(AsyncJobsError, LookupError):
    """No job with the given id is known (never submitted, deleted, or expired: see
    ``ResultExpired``)."""

    def __init__(self, job_id: str, message: str | None = None) -> None:
        self.job_id = job_id
        super().__init__(message or f"job_id={echo(job_id)}: no such job")


class ResultExpired(JobNotFound):
    """The job finished, and its record (with its result or error) was removed since: it
    outlived its retention time or its store's count cap, or a cleanup removed it."""

    def __init__(self, job_id: str) -> None:
        super().__init__(
            job_id,
            f"job_id={echo(job_id)}: the job finished and its record has expired (removed after "
            "its retention time or count cap, or by a cleanup); see JobRunner's result_ttl "
            "and dead_letter_ttl, and the store's count caps",
        )


class JobStateError(AsyncJobsError):
    """The job exists but its state does not allow what was asked (for example, requeueing a
    job that did not fail)."""

    def __init__(self, job_id: str, state: str, reason: str) -> None:
        self.job_id = job_id
        self.state = state
        super().__init__(f"job_id={echo(job_id)} is {state}: {reason}")


class ScheduleExists(AsyncJobsError, ValueError):
    """``schedules.add`` was given a name in use, with ``if_exists="raise"``."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"a schedule named {echo(name)} exists already "
            "(pass if_exists='replace' or 'keep', or remove it first)"
        )


class ScheduleNotFound(AsyncJobsError, LookupError):
    """No schedule has this name."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no schedule named {echo(name)}")


class QueueFull(AsyncJobsError):
    """A bounded queue had no room and its policy refused the job."""

    def __init__(self, queue: str, maxsize: int, detail: str = "") -> None:
        self.queue = queue
        self.maxsize = maxsize
        tail = f" ({detail})" if detail else ""
        super().__init__(f"queue={echo(queue)} is full: {maxsize} of {maxsize} places taken{tail}")


class RunnerNotRunning(AsyncJobsError, RuntimeError):
    """The runner was used before it started or after it began shutting down."""


class BusNotRunning(AsyncJobsError, RuntimeError):
    """An event bus was used before it started or after it closed."""


class NotInJob(AsyncJobsError, RuntimeError):
    """A call that only makes sense inside a running job (``report_progress``) was made
    outside one, or after the job ended."""


class WrongEventLoop(AsyncJobsError, RuntimeError):
    """A runner (or one of its handles) was used from a thread other than the one whose
    event loop runs it. asyncjobs is not thread-safe: call it on its own loop."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"{what} from another thread: the runner runs on its own thread's event loop, and "
            "is not thread-safe. From another thread, run the call on the runner's loop: "
            "asyncio.run_coroutine_threadsafe(runner.submit(...), loop).result() on "
            "asyncio, or anyio.from_thread.run(runner.submit, ...) from a thread anyio started"
        )


class JobDeadlock(AsyncJobsError, RuntimeError):
    """A job waited for another job that can never start: every place that could run it is
    held by a job that is itself waiting (for example parents awaiting their children in the
    parents' own queue, with its concurrency used up by parents). Raised from the waiting
    job's ``await``, which it can catch; the awaited job stays queued."""

    def __init__(self, job_id: str, awaited_id: str, reason: str) -> None:
        self.job_id = job_id
        self.awaited_id = awaited_id
        super().__init__(f"job {echo(job_id)} waits for job {echo(awaited_id)}: {reason}")


class JobNestingError(AsyncJobsError, RecursionError):
    """A job submitted from inside a running job nests deeper than the runner's
    ``max_depth``: a job that submits itself (or its parent) without end."""

    def __init__(self, name: str, depth: int) -> None:
        self.name = name
        self.depth = depth
        super().__init__(
            f"job {echo(name)} would nest {depth} jobs deep, past the runner's max_depth (jobs "
            "submitted from running jobs, each from the one before): a job that submits "
            "itself without end? Give the submit a delay or a time to start a new line, use "
            "a schedule for work that repeats, or raise JobRunner(max_depth=...)"
        )


class CallNextTwice(AsyncJobsError, RuntimeError):
    """A bus middleware called ``call_next`` a second time for one delivery, or after it had
    returned. The call is refused (the subscriber gets each event at most once); the
    middleware is logged as faulty, and this is raised into it."""

    def __init__(self, middleware: str, topic: str, *, late: bool) -> None:
        self.middleware = middleware
        self.topic = topic
        when = "after it had returned" if late else "a second time"
        super().__init__(
            f"bus middleware {middleware} called call_next {when} for one delivery of "
            f"{echo(topic)}; refused: a subscriber gets an event once (call call_next once to "
            "pass the delivery on, or not at all to drop it)"
        )


class EventDeliveryError(AsyncJobsError):
    """An awaited ``publish`` reached every subscriber, and some of them raised.

    ``errors`` pairs each failing subscription with its exception, in delivery order."""

    def __init__(self, topic: str, errors: list[tuple[Any, BaseException]]) -> None:
        self.topic = topic
        self.errors = errors
        names = ", ".join(
            f"{echo(sub)}: {type(exc).__name__}: {echo_error(exc)}" for sub, exc in errors
        )
        super().__init__(f"topic={echo(topic)}: {len(errors)} subscriber(s) raised: {names}")


class ResultTimeout(AsyncJobsError, TimeoutError):
    """``handle.result(timeout=...)`` ran out of time; the job itself goes on."""

    def __init__(self, job_id: str, timeout: float) -> None:
        self.job_id = job_id
        super().__init__(
            f"job {echo(job_id)} did not finish within timeout={echo(timeout)} seconds"
        )


class JobOutcomeError(AsyncJobsError):
    """The job ended without a result of its own; ``await handle`` raises a subclass."""

    def __init__(self, job_id: str, message: str) -> None:
        self.job_id = job_id
        super().__init__(message)


class JobCancelled(JobOutcomeError):
    """The job was cancelled (while queued, or while running)."""


class JobTimedOut(JobOutcomeError, TimeoutError):
    """The job ran longer than its timeout and was cancelled."""


class JobRejected(JobOutcomeError):
    """A full queue's policy dropped the job; the message says which policy and why."""


class JobInterrupted(JobOutcomeError):
    """Shutdown cut the job off before it finished (queued or running)."""


class RemoteJobError(JobOutcomeError):
    """The job failed in another runner sharing the backend, so its exception is not here:
    the message is its error's text, and the job's record (``runner.get_job``) keeps its
    traceback as text."""


class JobAborted(JobOutcomeError):
    """The job raised a ``BaseException`` that is not an ``Exception``: ``KeyboardInterrupt``,
    ``SystemExit``, a subclass of its own, or the event loop's cancellation exception when
    nobody had cancelled it. The job failed (it is not retried); ``__cause__`` is what it
    raised. Any of these but the cancellation is also raised from the runner's ``async with``
    block, which it stops (see docs/errors-and-logging.md)."""


class UnencodablePayload(AsyncJobsError, TypeError):
    """A job's data (its arguments, result, error or options) holds a part that the store's
    serializer cannot encode; refused at submit for a store that keeps bytes. ``field`` is the
    path to that part (``args[1]['when']``), ``value_type`` its type's qualified name,
    ``serializer`` the serializer's name and ``reason`` why it was refused."""

    def __init__(self, field: str, value_type: str, serializer: str, reason: str) -> None:
        self.field = field
        self.value_type = value_type
        self.serializer = serializer
        self.reason = reason
        # a path into deep nesting can run to thousands of characters: the message shows its start
        shown = field if len(field) <= 2 * ECHO_LIMIT else field[: 2 * ECHO_LIMIT] + "..."
        super().__init__(
            f"{shown}: serializer {echo(serializer)} refused type {value_type}: {reason}"
        )


class CorruptPayload(AsyncJobsError, ValueError):
    """Bytes read back from a store could not be decoded by its serializer: they were damaged,
    or written by another serializer. ``field`` names what they held (``result``),
    ``serializer`` the serializer's name and ``reason`` what its ``loads`` raised."""

    def __init__(self, field: str, serializer: str, reason: str) -> None:
        self.field = field
        self.serializer = serializer
        self.reason = reason
        super().__init__(
            f"{field}: the stored bytes cannot be read by serializer {echo(serializer)} (damaged, "
            f"or written by another serializer): {reason}"
        )
