"""Where accepted jobs wait until a worker takes one: the ready queues, and the jobs due later.

``Waiting`` owns the runner's ``JobQueue``s and the timers of scheduled jobs (a delay, an
``at``, a retry's backoff). ``make_ready`` queues a job and wakes a parked worker; a due
timer moves a scheduled job to ready; ``choose`` is the queue selection workers take their
next job by (strict, or smooth weighted round-robin over queues with a free slot).
"""

from __future__ import annotations

import enum
import functools
from collections import deque
from collections.abc import Callable
from typing import Any

from ._core import Core
from ._definition import JobDefinition
from ._errors import UnknownQueue
from ._handle import JobHandle
from ._queue import JobQueue
from ._spawn import Event
from ._states import JobState
from ._timers import Timer, TimerService

_SCHEDULED = JobState.SCHEDULED
_QUEUED = JobState.QUEUED


class Selection(str, enum.Enum):
    """How workers choose among queues that have ready jobs and a free slot.

    ``strict``: always the queue with the highest weight (ties: the order given).
    ``weighted``: smooth weighted round-robin; under load each queue gets its weight's share.
    """

    STRICT = "strict"
    WEIGHTED = "weighted"


class Waiting:
    """The queued and scheduled jobs of one runner."""

    def __init__(
        self,
        core: Core,
        queues: dict[str, JobQueue],
        selection: Selection,
        timers: TimerService,
        requeued: Callable[[JobHandle[Any]], None],
    ) -> None:
        self._core = core
        self.queues = queues
        # Strict order: highest weight first; sorted() is stable, so ties keep the given order.
        self.queue_list = sorted(queues.values(), key=lambda q: -q.weight)
        self._single = self.queue_list[0] if len(self.queue_list) == 1 else None
        self._strict = self.strict = selection is Selection.STRICT
        self._timers = timers
        self._requeued = requeued  # a job went back to ready: a job awaiting it may wait for ever
        # Scheduled jobs -> the timer that makes them due.
        self.scheduled: dict[JobHandle[Any], Timer] = {}
        # Parked workers, each waiting on its own event; the newest parked is woken first.
        self.idle_workers: deque[Event] = deque()

    def queue_for(self, definition: JobDefinition[Any, Any]) -> JobQueue:
        """The queue a job of this definition goes to; ``UnknownQueue`` if there is none."""
        name = definition.options.queue
        queue = self.queues.get(name)
        if queue is None:
            raise UnknownQueue(name, list(self.queues))
        return queue

    def make_ready(self, handle: JobHandle[Any], queue: JobQueue, new: bool = False) -> None:
        """Queue a waiting job as ready (``new``: just accepted) and wake a parked worker."""
        queue.push(handle, new)
        idle = self.idle_workers
        if idle:
            # The most recently parked worker: its frames are likeliest still in cache.
            idle.pop().set()
        if not new:
            self._requeued(handle)

    def schedule(self, handle: JobHandle[Any], due: float) -> None:
        """Hold a job until ``due`` (monotonic), then make it ready."""
        self.scheduled[handle] = self._timers.call_at(
            due, functools.partial(self._make_due, handle)
        )

    async def _make_due(self, handle: JobHandle[Any]) -> None:
        if handle._record.state is not _SCHEDULED:
            return
        self.scheduled.pop(handle, None)
        record = handle._record
        record.state = _QUEUED
        record.error = None  # a retry's earlier error stays in record.retries
        # Ready first, with no await in between, so a cancel can never see a half-moved job.
        self.make_ready(handle, self.queues[record.queue])
        if self._core.write_progress:
            await self._core.persist(record)

    def discard(self, handle: JobHandle[Any]) -> None:
        """Take a scheduled or queued job out of its queue, keeping every count in step.
        The caller then finishes it (cancelled, rejected or interrupted)."""
        queue = self.queues[handle._record.queue]
        queue.remove(handle)
        timer = self.scheduled.pop(handle, None)
        if timer is not None:
            timer.cancel()
        queue.compact()

    def find(self, job_id: str) -> JobHandle[Any] | None:
        """The scheduled or ready job of this id, if one waits here."""
        for handle in self.scheduled:
            if handle._record.id == job_id:
                return handle
        for queue in self.queue_list:
            for handle in queue.ready_jobs():
                if handle._record.id == job_id:
                    return handle
        return None

    def waiting_in(self, queue: JobQueue) -> list[JobHandle[Any]]:
        """The jobs waiting in ``queue``: ready ones in run order, then scheduled ones."""
        name = queue.name
        scheduled = [handle for handle in self.scheduled if handle._record.queue == name]
        return [*queue.ready_jobs(), *scheduled]

    def has_ready(self) -> bool:
        return any(queue.ready for queue in self.queue_list)

    def ready_count(self) -> int:
        return sum(queue.ready for queue in self.queue_list)

    def running_count(self) -> int:
        return sum(queue.running for queue in self.queue_list)

    def wake_all_workers(self) -> None:
        idle = self.idle_workers
        while idle:
            idle.popleft().set()

    def choose(self) -> JobQueue | None:
        """The queue to take the next job from, by queue selection, or None."""
        queue = self._single
        if queue is not None:
            if not queue.ready or queue.running >= queue.concurrency:
                return None
        elif self._strict:
            for candidate in self.queue_list:
                if candidate.ready and candidate.running < candidate.concurrency:
                    queue = candidate
                    break
            else:
                return None
        else:
            total = 0
            for candidate in self.queue_list:
                if candidate.ready and candidate.running < candidate.concurrency:
                    candidate.current_weight += candidate.weight
                    total += candidate.weight
                    if queue is None or candidate.current_weight > queue.current_weight:
                        queue = candidate
            if queue is None:
                return None
            queue.current_weight -= total
        return queue
