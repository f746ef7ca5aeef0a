"""Job lifecycle events and the listener list that delivers them.

Events are only built when someone listens (a listener, or a bus subscription whose pattern
selects the event's topic), so nobody listening costs one truth test per lifecycle step.
Each event class has a ``topic`` on the bus: ``job.submitted``, ``job.started``,
``job.progress``, ``job.retried``, ``job.succeeded``, ``job.failed``, ``job.dead_lettered``,
``job.cancelled``, ``job.interrupted`` and ``job.rejected``.

Events carry their job's timings, taken from its record, so metrics and tracing keep no
clock of their own: ``JobStarted.started_at``; on ``JobRetried`` the failed attempt's
``started_at``, ``finished_at`` and ``duration``; on the ended events the last attempt's
``started_at`` (None if none was under way: never started, or waiting for a retry), the
job's ``finished_at`` and the ``duration`` between them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import attrs

from ._faults import RepeatLog
from ._progress import Progress
from ._states import JobState
from ._unsubscribe import UnsubscribeOnExit


def _at_timestamp(event: JobEvent) -> float:
    return event.timestamp


def _duration_of(event: JobRetried | JobEnded) -> float | None:
    """Seconds from ``started_at`` to ``finished_at`` (wall-clock epoch seconds), never
    negative (a wall clock set back gives 0.0); None if it never started."""
    started = event.started_at
    if started is None:
        return None
    return max(0.0, event.finished_at - started)


@attrs.define(kw_only=True, frozen=True)
class JobEvent:
    """Base of all job lifecycle events. ``timestamp`` is wall-clock epoch seconds."""

    topic: ClassVar[str] = "job"

    job_id: str
    job_name: str
    queue: str
    timestamp: float


@attrs.define(kw_only=True, frozen=True)
class JobSubmitted(JobEvent):
    """A job was accepted (scheduled, queued, or run by the caller)."""

    topic: ClassVar[str] = "job.submitted"

    state: JobState


@attrs.define(kw_only=True, frozen=True)
class JobStarted(JobEvent):
    """A job began running (an attempt started) at ``started_at``, the record's
    ``started_at`` (epoch seconds; the event's ``timestamp`` if not given)."""

    topic: ClassVar[str] = "job.started"

    started_at: float = attrs.field(default=attrs.Factory(_at_timestamp, takes_self=True))


@attrs.define(kw_only=True, frozen=True)
class JobProgressed(JobEvent):
    """A running job reported progress."""

    topic: ClassVar[str] = "job.progress"

    progress: Progress


@attrs.define(kw_only=True, frozen=True)
class JobRetried(JobEvent):
    """Attempt ``attempt`` failed with ``error``; the job runs again after ``delay`` seconds.

    ``started_at`` and ``finished_at`` (epoch seconds) are the failed attempt's, as in its
    ``Attempt`` in the record's ``retries``, and ``duration`` the seconds it ran (None if
    ``started_at`` was not given). ``finished_at`` is the event's ``timestamp`` if not
    given, ``duration`` worked out from the two if not given."""

    topic: ClassVar[str] = "job.retried"

    attempt: int
    delay: float
    error: str
    started_at: float | None = None
    finished_at: float = attrs.field(default=attrs.Factory(_at_timestamp, takes_self=True))
    duration: float | None = attrs.field(default=attrs.Factory(_duration_of, takes_self=True))


@attrs.define(kw_only=True, frozen=True)
class JobEnded(JobEvent):
    """Base of the terminal events; ``state`` is the terminal state.

    From the job's record: ``started_at``, when its last attempt started (epoch seconds;
    None if no attempt was under way when it ended: it never started, or it was waiting
    for a retry); ``finished_at``, when it ended; ``duration``, the seconds its last
    attempt ran (None if ``started_at`` is). ``finished_at`` is the event's ``timestamp``
    if not given, ``duration`` worked out from the two if not given."""

    state: JobState
    error: str | None = None
    started_at: float | None = None
    finished_at: float = attrs.field(default=attrs.Factory(_at_timestamp, takes_self=True))
    duration: float | None = attrs.field(default=attrs.Factory(_duration_of, takes_self=True))


@attrs.define(kw_only=True, frozen=True)
class JobSucceeded(JobEnded):
    """A job returned a result."""

    topic: ClassVar[str] = "job.succeeded"


@attrs.define(kw_only=True, frozen=True)
class JobFailed(JobEnded):
    """A job raised or timed out."""

    topic: ClassVar[str] = "job.failed"


@attrs.define(kw_only=True, frozen=True)
class JobCancelledEvent(JobEnded):
    """A job was cancelled."""

    topic: ClassVar[str] = "job.cancelled"


@attrs.define(kw_only=True, frozen=True)
class JobInterruptedEvent(JobEnded):
    """Shutdown cut a job off."""

    topic: ClassVar[str] = "job.interrupted"


@attrs.define(kw_only=True, frozen=True)
class JobRejectedEvent(JobEnded):
    """A full queue's policy dropped a job, or a middleware skipped it (``SkipJob``)."""

    topic: ClassVar[str] = "job.rejected"


@attrs.define(kw_only=True, frozen=True)
class JobDeadLettered(JobEvent):
    """A job that failed for good is kept among the dead letters (after ``JobFailed``);
    ``attempts`` it made, the last ``error``."""

    topic: ClassVar[str] = "job.dead_lettered"

    attempts: int
    error: str | None


ENDED_EVENTS: dict[JobState, type[JobEnded]] = {
    JobState.SUCCEEDED: JobSucceeded,
    JobState.FAILED: JobFailed,
    JobState.CANCELLED: JobCancelledEvent,
    JobState.INTERRUPTED: JobInterruptedEvent,
    JobState.REJECTED: JobRejectedEvent,
}

# Job events, and schedule events for listeners that ask for them (see JobRunner.subscribe).
Listener = Callable[[Any], object]


class Subscription(UnsubscribeOnExit):
    """A registered listener; ``unsubscribe()`` or leave its ``with`` block to stop delivery."""

    __slots__ = ("_listeners", "_entry")

    def __init__(self, listeners: Listeners, entry: tuple[Listener, tuple[type, ...]]):
        self._listeners = listeners
        self._entry = entry

    def unsubscribe(self) -> None:
        """Stop delivery to this listener; calling it again does nothing."""
        self._listeners.remove(self._entry)


class Listeners:
    """Synchronous listeners, each isolated: one that raises is logged and skipped."""

    __slots__ = ("_entries", "_changed", "_faults")

    def __init__(self, changed: Callable[[], None], faults: RepeatLog) -> None:
        self._entries: tuple[tuple[Listener, tuple[type, ...]], ...] = ()
        self._changed = changed  # told after every add and remove
        self._faults = faults

    def add(self, listener: Listener, types: tuple[type, ...]) -> Subscription:
        entry = (listener, types or (JobEvent,))
        self._entries = (*self._entries, entry)
        self._changed()
        return Subscription(self, entry)

    def remove(self, entry: tuple[Listener, tuple[type, ...]]) -> None:
        self._entries = tuple(e for e in self._entries if e is not entry)
        self._changed()

    def __bool__(self) -> bool:
        """Whether any listener is subscribed."""
        return bool(self._entries)

    def emit(self, event: object) -> None:
        # Iterate over the tuple captured now: a listener may unsubscribe while we deliver.
        for listener, types in self._entries:
            if isinstance(event, types):
                try:
                    returned = listener(event)
                except BaseException as exc:  # noqa: BLE001 - isolated; RepeatLog logs it
                    self._faults.callback_failed("listener", listener, exc, repr(event))
                else:
                    if returned is not None:
                        self._faults.returned("listener", listener, returned, repr(event))
