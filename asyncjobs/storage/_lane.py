"""One queue of the memory backend: its ready jobs in the order they run (highest priority
first, first in, first out among equals), and its jobs counted by state.

One FIFO deque of job ids per distinct priority and a heap of the priorities that have one,
so with a single priority (the common case) a push and a pop are O(1), whatever the backlog.
``head`` is the deque of the highest priority (``top``): the backend's hot path appends to
it and pops from it itself, and calls ``push`` and ``pop`` only when it is not the one.

Entries are deleted lazily: a job that leaves the queue early (cancelled, evicted, deleted)
leaves its id behind, and whoever pops it checks that the job is still ready. Every queued
job has one entry, so the stale ones are ``entries - queued``: ``left_early`` compacts the
deques once they are most of them.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable

# Stale entries are dropped once they are most of a lane's entries, and more than this.
COMPACT_AT = 64


class Lane:
    """Job ids by priority, in run order, and the queue's counts; stale entries are
    skipped by the caller."""

    __slots__ = (
        "_buckets",
        "_priorities",
        "entries",
        "head",
        "queued",
        "running",
        "scheduled",
        "top",
    )

    def __init__(self) -> None:
        self._buckets: dict[float, deque[str]] = {}
        self._priorities: list[float] = []  # negated: heapq's smallest is the highest
        self.entries = 0  # live and stale together
        self.head: deque[str] | None = None  # the bucket of the highest priority
        self.top: float | None = None  # its priority
        self.queued = 0  # jobs by state (queued ones are ready: each has an entry)
        self.scheduled = 0
        self.running = 0

    def push(self, priority: float, job_id: str) -> None:
        bucket = self._buckets.get(priority)
        if bucket is None:
            bucket = self._buckets[priority] = deque()
            heapq.heappush(self._priorities, -priority)
            if self.top is None or priority > self.top:
                self.head, self.top = bucket, priority
        bucket.append(job_id)
        self.entries += 1

    def pop(self) -> str | None:
        """The next entry, live or stale (the caller checks), or None if there is none."""
        priorities = self._priorities
        buckets = self._buckets
        while priorities:
            bucket = buckets[-priorities[0]]
            if bucket:
                self.entries -= 1
                return bucket.popleft()
            if len(priorities) == 1:
                return None  # the lone bucket is kept for the next push (the same, as a rule)
            del buckets[-heapq.heappop(priorities)]  # emptied earlier, since overtaken
            top = self.top = -priorities[0]
            self.head = buckets[top]
        return None

    def left_early(self, live: Callable[[str], bool]) -> None:
        """A queued job left the queue without being popped: its entry is stale now."""
        queued = self.queued = self.queued - 1
        stale = self.entries - queued
        if stale > COMPACT_AT and stale > queued:
            self.compact(live)

    def compact(self, live: Callable[[str], bool]) -> None:
        """Drop the stale entries (``live`` tells which are not), keeping the order."""
        kept: dict[float, deque[str]] = {}
        for priority, bucket in self._buckets.items():
            alive = deque(job_id for job_id in bucket if live(job_id))
            if alive:
                kept[priority] = alive
        self._buckets = kept
        self._priorities = [-priority for priority in kept]
        heapq.heapify(self._priorities)
        self.entries = sum(len(bucket) for bucket in kept.values())
        self.top = max(kept, default=None)
        self.head = None if self.top is None else kept[self.top]
