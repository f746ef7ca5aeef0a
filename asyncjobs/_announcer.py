"""Telling the world what happens to jobs: lifecycle events and progress updates.

Events go to the runner's listeners (``runner.subscribe``) and to its bus. Nothing is built
when nobody listens: ``watched`` is kept current by the listeners and the bus, and each
lifecycle step tests it once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import anyio.from_thread

from ._bus import EventBus
from ._core import Core
from ._errors import InvalidOptionType, NotInJob
from ._events import (
    ENDED_EVENTS,
    JobDeadLettered,
    JobEvent,
    JobProgressed,
    JobStarted,
    JobSubmitted,
    Listeners,
    Subscription,
)
from ._handle import JobHandle
from ._progress import Progress, next_progress
from ._schedule_events import ScheduleEvent
from ._states import JobState

_FAILED = JobState.FAILED


class Announcer:
    """Builds and delivers the events of one runner's jobs and schedules."""

    def __init__(self, core: Core, bus: EventBus) -> None:
        self._core = core
        self._bus = bus
        self._listeners = Listeners(self.rewatch, core.faults)
        # Whether anyone listens to lifecycle events (a listener or a bus subscription).
        self.watched = False
        # On a shared backend: each progress report of a job running here goes to it too,
        # for a submitter in another runner (set by _shared).
        self.forward: Callable[[JobHandle[Any], Progress], None] | None = None

    def start(self) -> None:
        """The runner started: follow the bus's subscriptions."""
        self._bus.watch(self.rewatch)
        self.rewatch()

    def stop(self) -> None:
        self._bus.unwatch(self.rewatch)

    def rewatch(self) -> None:
        """Listeners or bus subscriptions changed: note whether anyone listens now."""
        self.watched = bool(self._listeners) or self._bus.has_subscriptions()

    def subscribe(
        self, listener: Callable[[Any], object], event_types: tuple[type, ...]
    ) -> Subscription:
        """See ``JobRunner.subscribe``."""
        if not callable(listener):
            raise InvalidOptionType("listener", listener, "expected a callable")
        for event_type in event_types:
            if not (
                isinstance(event_type, type) and issubclass(event_type, (JobEvent, ScheduleEvent))
            ):
                raise InvalidOptionType(
                    "event_types", event_type, "expected JobEvent or ScheduleEvent subclasses"
                )
        return self._listeners.add(listener, event_types)

    def publish(self, cls: type[JobEvent | ScheduleEvent], **fields: Any) -> None:
        """Build and deliver an event, if a listener or subscription wants it."""
        bus = self._bus
        to_bus = bus.running() and bus.wants(cls.topic)
        if not (to_bus or self._listeners):
            return
        event = cls(timestamp=self._core.clock.time(), **fields)
        self._listeners.emit(event)
        if to_bus:
            bus.publish_nowait(event, topic=cls.topic)

    def emit(self, cls: type[JobEvent], handle: JobHandle[Any], **extra: Any) -> None:
        """Build and deliver a lifecycle event of ``handle``, if anyone wants it."""
        record = handle._record
        self.publish(cls, job_id=record.id, job_name=record.name, queue=record.queue, **extra)

    def submitted(self, handle: JobHandle[Any]) -> None:
        self.emit(JobSubmitted, handle, state=handle._record.state)

    def started(self, handle: JobHandle[Any]) -> None:
        self.emit(JobStarted, handle, started_at=handle._record.started_at)

    def ended(self, handle: JobHandle[Any]) -> None:
        record = handle._record
        self.emit(
            ENDED_EVENTS[record.state],
            handle,
            state=record.state,
            error=record.error,
            started_at=record.started_at,
            finished_at=record.finished_at,
        )
        if record.state is _FAILED:
            self.emit(JobDeadLettered, handle, attempts=record.attempts, error=record.error)

    def report_progress(
        self,
        handle: JobHandle[Any],
        percent: float | None,
        message: str | None,
        done: int | None,
        total: int | None,
        step: str | None,
    ) -> Progress:
        """``report_progress`` for ``handle``; from a worker thread, it hops to the loop."""
        if threading.get_ident() != self._core.loop_thread:
            return anyio.from_thread.run_sync(
                self.report_progress, handle, percent, message, done, total, step
            )
        record = handle._record
        if handle._done:
            raise NotInJob(
                f"job {record.id!r} has ended ({record.state.value}); its progress is final"
            )
        update = next_progress(
            record.progress, percent, message, done, total, step, self._core.time()
        )
        self.progressed(handle, update)
        if self.forward is not None:
            self.forward(handle, update)
        return update

    def progressed(self, handle: JobHandle[Any], update: Progress) -> None:
        """The job's latest progress is ``update`` (reported here, or where it runs): keep
        it, and pass it to the job's followers and listeners."""
        handle._record.progress = update
        channel = handle._progress
        if channel is not None:
            channel.publish(update)
        if self.watched:
            self.emit(JobProgressed, handle, progress=update)
