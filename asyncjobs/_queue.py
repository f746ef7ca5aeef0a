"""Named job queues: bounded, ordered by priority, with a policy for when they are full."""

from __future__ import annotations

import enum
import heapq
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import attrs

from . import _validation
from ._errors import InvalidOption, InvalidOptionType
from ._reject import (
    Block,
    CallerRuns,
    CallHandler,
    DropNewest,
    DropOldest,
    FullQueuePolicy,
    RaiseWhenFull,
)
from ._spawn import Event
from ._states import JobState

if TYPE_CHECKING:
    from ._handle import JobHandle


class RejectPolicy(str, enum.Enum):
    """What a full queue does with one more job.

    * ``raise``: ``submit`` raises ``QueueFull``; nothing is recorded.
    * ``block``: ``submit`` waits for room (up to ``block_timeout``, then ``QueueFull``).
    * ``drop_oldest``: the oldest waiting job is dropped (its handle raises ``JobRejected``)
      and the new one is queued.
    * ``drop_newest``: the new job is dropped: ``submit`` returns a handle that raises
      ``JobRejected``.
    * ``caller_runs``: the submitter runs the job itself, inside ``submit``; it returns a
      finished handle. This slows producers down to the pace of the work.

    A callable instead of a policy is a custom reject handler: the new job is dropped as with
    ``drop_newest`` and the handler is called with its handle (errors are logged, not raised).
    A ``FullQueuePolicy`` object is a policy of your own: it can also choose a waiting job to
    drop in the new one's place, or wait for room (see ``FullQueuePolicy``).
    """

    RAISE = "raise"
    BLOCK = "block"
    DROP_OLDEST = "drop_oldest"
    DROP_NEWEST = "drop_newest"
    CALLER_RUNS = "caller_runs"


RejectHandler = Callable[["JobHandle[Any]"], Awaitable[object] | object]


def _on_full(value: Any) -> RejectPolicy | RejectHandler | FullQueuePolicy:
    if isinstance(value, (RejectPolicy, FullQueuePolicy)):
        return value
    if isinstance(value, str):
        try:
            return RejectPolicy(_validation.plain_str("on_full", value))
        except ValueError:
            names = ", ".join(p.value for p in RejectPolicy)
            raise InvalidOption("on_full", value, f"unknown policy (one of: {names})") from None
    if callable(value):
        return value  # type: ignore[no-any-return]
    raise InvalidOptionType(
        "on_full", value, "expected a RejectPolicy, its name, a FullQueuePolicy, or a callable"
    )


_NAMED: dict[RejectPolicy, Callable[[float | None], FullQueuePolicy]] = {
    RejectPolicy.RAISE: lambda _: RaiseWhenFull(),
    RejectPolicy.BLOCK: Block,
    RejectPolicy.DROP_OLDEST: lambda _: DropOldest(),
    RejectPolicy.DROP_NEWEST: lambda _: DropNewest(),
    RejectPolicy.CALLER_RUNS: lambda _: CallerRuns(),
}


def policy_for(config: QueueConfig) -> FullQueuePolicy:
    """The policy object a queue of this configuration applies when it is full."""
    on_full = config.on_full
    if isinstance(on_full, FullQueuePolicy):
        return on_full
    if isinstance(on_full, RejectPolicy):
        return _NAMED[on_full](config.block_timeout)
    return CallHandler(on_full)


def _maxsize(value: Any) -> int | None:
    return None if value is None else _validation.positive_int("maxsize", value)


def _concurrency(value: Any) -> int:
    return _validation.positive_int("concurrency", value)


def _weight(value: Any) -> int:
    return _validation.positive_int("weight", value)


def _block_timeout(value: Any) -> float | None:
    return _validation.optional_duration("block_timeout", value)


@attrs.frozen(kw_only=True)
class QueueConfig:
    """Settings of one named queue.

    ``concurrency``: most jobs of this queue running at once. ``maxsize``: most jobs waiting
    (queued or scheduled) before ``on_full`` applies; None for unbounded. ``weight``: the
    queue's share under weighted selection, or its rank under strict selection (higher first).
    """

    concurrency: int = attrs.field(default=10, converter=_concurrency)
    maxsize: int | None = attrs.field(default=None, converter=_maxsize)
    on_full: RejectPolicy | RejectHandler | FullQueuePolicy = attrs.field(
        default=RejectPolicy.RAISE, converter=_on_full
    )
    block_timeout: float | None = attrs.field(default=None, converter=_block_timeout)
    weight: int = attrs.field(default=1, converter=_weight)


class QueueStatistics(NamedTuple):
    """Counters of one queue since the runner started.

    ``rejected`` counts every job the full-queue policy turned away, dropped, or handed to
    the caller; ``processed`` counts jobs that finished running (any outcome), ``failed``
    those that ended failed; ``retried`` counts failed attempts that were retried.
    """

    name: str
    size: int
    maxsize: int | None
    running: int
    concurrency: int
    enqueued: int
    dequeued: int
    rejected: int
    processed: int
    failed: int
    retried: int


class JobQueue:
    """The runtime state of one named queue. Owned and mutated by the runner only."""

    def __init__(self, name: str, config: QueueConfig) -> None:
        self.name = name
        self.config = config
        self.concurrency = config.concurrency
        self.maxsize = config.maxsize
        self.weight = config.weight
        self.current_weight = 0  # smooth weighted round-robin state
        # A bucket queue: one FIFO deque per distinct priority, and a heap of the negated
        # priorities that have a bucket. No object per job beyond the handle itself; with a
        # single priority (the common case) push and pop are O(1). Entries of jobs that are
        # no longer queued (cancelled, dropped) are skipped when popped.
        self._buckets: dict[int | float, deque[JobHandle[Any]]] = {}
        self._priorities: list[int | float] = []
        # Submission order of waiting jobs, kept only when drop_oldest needs it.
        self.policy = policy_for(config)
        self._order: dict[JobHandle[Any], None] | None = {} if self.policy.tracks_order else None
        self.space_waiters: deque[Event] = deque()
        self.ready = 0  # live (still queued) entries in the buckets
        self.size = 0  # waiting jobs: queued + scheduled + places reserved by submits
        self.running = 0
        self.enqueued = 0
        self.dequeued = 0
        self.rejected = 0
        self.processed = 0
        self.failed = 0
        self.retried = 0

    def has_space(self) -> bool:
        return self.maxsize is None or self.size < self.maxsize

    def release(self) -> None:
        """Give back a waiting place (the job started, left, or its submit failed)."""
        self.size -= 1
        if self.space_waiters:
            self.space_waiters.popleft().set()

    def track(self, handle: JobHandle[Any]) -> None:
        """Note a newly accepted waiting job (for drop_oldest)."""
        self.enqueued += 1
        if self._order is not None:
            self._order[handle] = None

    def hold_for_retry(self, handle: JobHandle[Any]) -> None:
        """A job that just failed waits here for its next attempt. It takes a waiting place
        even beyond ``maxsize``: a retry is never refused."""
        self.size += 1
        self.retried += 1
        if self._order is not None:
            self._order[handle] = None

    def push(self, handle: JobHandle[Any], new: bool = False) -> None:
        """Make a waiting job ready to run; ``new``: it was just accepted (see ``track``)."""
        if new:
            self.enqueued += 1
            if self._order is not None:
                self._order[handle] = None
        priority = handle._record.priority
        bucket = self._buckets.get(priority)
        if bucket is None:
            bucket = self._buckets[priority] = deque()
            heapq.heappush(self._priorities, -priority)
        bucket.append(handle)
        self.ready += 1

    def pop(self) -> JobHandle[Any]:
        """Take the highest-priority ready job (FIFO among equals). Requires ``ready > 0``."""
        buckets = self._buckets
        priorities = self._priorities
        queued = JobState.QUEUED
        while True:
            priority = -priorities[0]
            bucket = buckets[priority]
            if not bucket:  # a lone bucket kept for reuse, since overtaken by another
                del buckets[priority]
                heapq.heappop(priorities)
                continue
            handle = bucket.popleft()
            if not bucket and len(priorities) > 1:
                # Emptied: drop it, unless it is the only one, which the next push (of the
                # same priority, as a rule) finds and reuses.
                del buckets[priority]
                heapq.heappop(priorities)
            if handle._record.state is queued:
                break
        self.ready -= 1
        self.dequeued += 1
        self.running += 1
        if self._order is not None:
            del self._order[handle]
        self.size -= 1  # its waiting place is free (as release(), inlined: once per job)
        if self.space_waiters:
            self.space_waiters.popleft().set()
        return handle

    def remove(self, handle: JobHandle[Any]) -> None:
        """Forget a waiting (scheduled or queued) job that will not run; call before its
        state changes. Its bucket entry, if any, is skipped later."""
        if handle._record.state is JobState.QUEUED:
            self.ready -= 1
        if self._order is not None:
            self._order.pop(handle, None)
        self.release()

    def oldest(self) -> JobHandle[Any] | None:
        """The longest-waiting job (tracked for drop_oldest queues only)."""
        if not self._order:
            return None
        return next(iter(self._order))

    def ready_jobs(self) -> list[JobHandle[Any]]:
        """Ready jobs in the order they would run."""
        queued = JobState.QUEUED
        return [
            handle
            for priority in sorted(self._buckets, reverse=True)
            for handle in self._buckets[priority]
            if handle._record.state is queued
        ]

    def compact(self) -> None:
        """Drop stale entries once no job is ready (keeps memory flat after cancels)."""
        if self.ready == 0 and self._buckets:
            self._buckets.clear()
            self._priorities.clear()

    def statistics(self) -> QueueStatistics:
        return QueueStatistics(
            name=self.name,
            size=self.size,
            maxsize=self.maxsize,
            running=self.running,
            concurrency=self.concurrency,
            enqueued=self.enqueued,
            dequeued=self.dequeued,
            rejected=self.rejected,
            processed=self.processed,
            failed=self.failed,
            retried=self.retried,
        )
