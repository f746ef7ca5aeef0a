"""Jobs that wait for jobs, and the deadlock that waiting can make.

A job may submit children and ``await`` them. If the places that could run a child (its
queue's concurrency, the pool's workers) are all held by jobs that are themselves waiting
for jobs that cannot start, nothing will ever move: parents that fill their own queue and
await children in it are the common case. ``JobWaits`` keeps who waits for whom (untimed
waits made from a job's code: a timed wait ends by itself) and raises ``JobDeadlock`` in the
waiting job when its wait could never end: when the wait begins, and when the awaited job
comes back to its queue later (after a delay or a retry wait).

A running job is *stuck* if it waits for a job that is stuck, or for a queued job that
cannot start: whose queue has all its places held by stuck jobs, or for which every worker
holds a stuck job. Stuck jobs are found as the greatest fixed point over the waits (suppose
every waiting job stuck; let go of those that wait for something that can move), so chains
and rings (a job waiting for a running job that waits for a queued one) count.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable
from typing import TYPE_CHECKING, Protocol

import anyio

from ._errors import JobDeadlock
from ._states import JobState

if TYPE_CHECKING:
    from ._spawn import Event

_QUEUED = JobState.QUEUED
_RUNNING = JobState.RUNNING


class Job(Hashable, Protocol):
    """What ``JobWaits`` reads of a job: its handle's public face."""

    @property
    def id(self) -> str: ...

    @property
    def queue(self) -> str: ...

    @property
    def state(self) -> JobState: ...

    def done(self) -> bool: ...


class _Wait:
    __slots__ = ("child", "scope", "deadlock")

    def __init__(self, child: Job, scope: anyio.CancelScope) -> None:
        self.child = child
        self.scope = scope
        self.deadlock: str | None = None


class JobWaits:
    """The waits of running jobs for other jobs of the same runner."""

    def __init__(
        self,
        holders: Callable[[], Collection[Job]],
        workers: Callable[[], int],
        concurrency: Callable[[str], int],
    ) -> None:
        # holders(): the jobs a worker runs now; workers(): how many workers there are;
        # concurrency(queue): the most jobs of that queue that run at once.
        self._holders = holders
        self._workers = workers
        self._concurrency = concurrency
        self._waits: dict[Job, list[_Wait]] = {}

    async def wait(self, parent: Job, child: Job, waiter: Event) -> None:
        """``parent``'s code waits (no timeout) for ``child``'s ``waiter``; raises
        ``JobDeadlock`` if that wait could never end."""
        if child is parent:
            raise JobDeadlock(parent.id, child.id, "a job cannot wait for itself")
        scope = anyio.CancelScope()
        entry = _Wait(child, scope)
        waits = self._waits.setdefault(parent, [])
        waits.append(entry)
        try:
            reason = self._blocked(child, self._stuck())
            if reason is not None:
                raise JobDeadlock(parent.id, child.id, reason)
            with scope:
                await waiter.wait()
        finally:
            waits.remove(entry)
            if not waits:
                del self._waits[parent]
        if entry.deadlock is not None:
            raise JobDeadlock(parent.id, child.id, entry.deadlock)

    def requeued(self, job: Job) -> None:
        """``job`` is back in its queue (a delay or a retry wait is over): end the waits
        for it that can now never end."""
        if self._waits:
            self._end_blocked(job)

    def recheck(self) -> None:
        """Jobs may have come back to their queues unseen (a backend made delayed jobs
        ready): end every wait that can now never end."""
        if self._waits:
            self._end_blocked(None)

    def _end_blocked(self, only: Job | None) -> None:
        """End the waits (for ``only``, or for any job) that can now never end."""
        stuck = self._stuck()
        for parent in stuck:
            for entry in self._waits[parent]:
                child = entry.child
                if entry.deadlock is None and (only is None or child is only):
                    reason = self._blocked(child, stuck)
                    if reason is not None:
                        entry.deadlock = reason
                        entry.scope.cancel()

    def _stuck(self) -> set[Job]:
        # The greatest fixed point: suppose every waiting job stuck, then let go of each
        # that waits for nothing blocked, until none changes.
        waits = self._waits
        stuck = set(waits)
        changed = True
        while changed:
            changed = False
            for parent in list(stuck):
                if all(self._blocked(entry.child, stuck) is None for entry in waits[parent]):
                    stuck.discard(parent)
                    changed = True
        return stuck

    def _blocked(self, job: Job, stuck: set[Job]) -> str | None:
        """Why waiting for ``job`` could never end, given the ``stuck`` jobs; None if it
        could."""
        if job.done():
            return None
        state = job.state
        holders = self._holders()
        if state is _RUNNING or job in holders:
            return "it waits itself for a job that can never start" if job in stuck else None
        if state is not _QUEUED:
            return None  # waiting for its time: time will move it
        queue = job.queue
        capacity = self._concurrency(queue)
        held = [h for h in holders if h in stuck]
        if sum(1 for h in held if h.queue == queue) >= capacity:
            return (
                f"it cannot start: all {capacity} place(s) of queue {queue!r} are held by "
                "jobs waiting for jobs that have not started (give the awaited jobs a queue "
                "of their own, raise the concurrency, or do not await them in the job)"
            )
        workers = self._workers()
        if len(held) >= workers:
            return (
                f"it cannot start: all {workers} worker(s) hold jobs waiting for jobs that "
                "have not started (raise max_workers, or do not await them in the job)"
            )
        return None
