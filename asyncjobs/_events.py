"""Job lifecycle events and the listener list that delivers them.

Events are only built when someone listens, so an idle listener list costs one truth test
per lifecycle step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType

import attrs

from ._states import JobState

logger = logging.getLogger("asyncjobs")


@attrs.define(kw_only=True, frozen=True)
class JobEvent:
    """Base of all job lifecycle events. ``timestamp`` is wall-clock epoch seconds."""

    job_id: str
    job_name: str
    queue: str
    timestamp: float


@attrs.define(kw_only=True, frozen=True)
class JobSubmitted(JobEvent):
    """A job was accepted (scheduled, queued, or run by the caller)."""

    state: JobState


@attrs.define(kw_only=True, frozen=True)
class JobStarted(JobEvent):
    """A job began running."""


@attrs.define(kw_only=True, frozen=True)
class JobRetrying(JobEvent):
    """Attempt ``attempt`` failed with ``error``; the job runs again after ``delay`` seconds."""

    attempt: int
    delay: float
    error: str


@attrs.define(kw_only=True, frozen=True)
class JobEnded(JobEvent):
    """Base of the terminal events; ``state`` is the terminal state."""

    state: JobState
    error: str | None = None


@attrs.define(kw_only=True, frozen=True)
class JobSucceeded(JobEnded):
    """A job returned a result."""


@attrs.define(kw_only=True, frozen=True)
class JobFailed(JobEnded):
    """A job raised or timed out."""


@attrs.define(kw_only=True, frozen=True)
class JobCancelledEvent(JobEnded):
    """A job was cancelled."""


@attrs.define(kw_only=True, frozen=True)
class JobInterruptedEvent(JobEnded):
    """Shutdown cut a job off."""


@attrs.define(kw_only=True, frozen=True)
class JobRejectedEvent(JobEnded):
    """A full queue's policy dropped a job."""


ENDED_EVENTS: dict[JobState, type[JobEnded]] = {
    JobState.SUCCEEDED: JobSucceeded,
    JobState.FAILED: JobFailed,
    JobState.CANCELLED: JobCancelledEvent,
    JobState.INTERRUPTED: JobInterruptedEvent,
    JobState.REJECTED: JobRejectedEvent,
}

Listener = Callable[[JobEvent], object]


class Subscription:
    """A registered listener; ``unsubscribe()`` or leave its ``with`` block to stop delivery."""

    __slots__ = ("_listeners", "_entry")

    def __init__(self, listeners: Listeners, entry: tuple[Listener, tuple[type[JobEvent], ...]]):
        self._listeners = listeners
        self._entry = entry

    def unsubscribe(self) -> None:
        """Stop delivery to this listener; calling it again does nothing."""
        self._listeners.remove(self._entry)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.unsubscribe()


class Listeners:
    """Synchronous listeners, each isolated: one that raises is logged and skipped."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: tuple[tuple[Listener, tuple[type[JobEvent], ...]], ...] = ()

    def add(self, listener: Listener, types: tuple[type[JobEvent], ...]) -> Subscription:
        entry = (listener, types or (JobEvent,))
        self._entries = (*self._entries, entry)
        return Subscription(self, entry)

    def remove(self, entry: tuple[Listener, tuple[type[JobEvent], ...]]) -> None:
        self._entries = tuple(e for e in self._entries if e is not entry)

    def emit(self, event: JobEvent) -> None:
        # Iterate over the tuple captured now: a listener may unsubscribe while we deliver.
        for listener, types in self._entries:
            if isinstance(event, types):
                try:
                    listener(event)
                except Exception:
                    logger.exception("listener %r raised on %r; ignored", listener, event)
