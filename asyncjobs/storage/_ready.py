"""The ready jobs of one queue, in the order they run: highest priority first, first in,
first out among equals.

One FIFO deque of job ids per distinct priority and a heap of the priorities that have one,
so with a single priority (the common case) a push and a pop are O(1), whatever the backlog.
Entries are deleted lazily: a job that leaves the queue early (cancelled, evicted, deleted)
leaves its id behind, and whoever pops it checks that the job is still ready.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable


class ReadyQueue:
    """Job ids by priority, in run order; stale entries are skipped by the caller."""

    __slots__ = ("_buckets", "_priorities", "entries")

    def __init__(self) -> None:
        self._buckets: dict[float, deque[str]] = {}
        self._priorities: list[float] = []  # negated: heapq's smallest is the highest
        self.entries = 0  # live and stale together (an attribute: read on every push)

    def __len__(self) -> int:
        return self.entries

    def push(self, priority: float, job_id: str) -> None:
        bucket = self._buckets.get(priority)
        if bucket is None:
            bucket = self._buckets[priority] = deque()
            heapq.heappush(self._priorities, -priority)
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
            del buckets[-priorities[0]]  # emptied earlier; kept until now for reuse
            heapq.heappop(priorities)
        return None

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
