"""One task that fires callbacks at monotonic deadlines, on the runner's clock.

Delayed jobs, job timeouts, blocking-submit timeouts, result timeouts and shutdown deadlines
all share it, so a fake clock drives every one of them.
"""

from __future__ import annotations

import heapq
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.abc

from ._clock import Clock

logger = logging.getLogger("asyncjobs")


class Timer:
    """A pending callback; ``cancel()`` stops it from firing."""

    __slots__ = ("deadline", "callback", "_service")

    def __init__(self, deadline: float, callback: Callable[[], Any], service: TimerService):
        self.deadline = deadline
        self.callback: Callable[[], Any] | None = callback
        self._service = service

    def cancel(self) -> None:
        if self.callback is not None:
            self.callback = None
            self._service._cancelled += 1


class TimerService:
    """A heap of timers and the loop that fires them."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = 0
        self._cancelled = 0
        self._sleep_scope: anyio.CancelScope | None = None
        self._sleeping_until: float | None = None

    def __len__(self) -> int:
        return len(self._heap) - self._cancelled

    def next_deadline(self) -> float | None:
        """The earliest live deadline, or None."""
        self._drop_cancelled_head()
        return self._heap[0][0] if self._heap else None

    def call_at(self, deadline: float, callback: Callable[[], Any]) -> Timer:
        """Run ``callback()`` in the timer task once the clock reaches ``deadline``.

        A callback may return an awaitable; the timer task awaits it before the next one.
        """
        timer = Timer(deadline, callback, self)
        self._seq += 1
        heapq.heappush(self._heap, (deadline, self._seq, timer))
        scope = self._sleep_scope
        if scope is not None and (self._sleeping_until is None or deadline < self._sleeping_until):
            scope.cancel()  # wake the loop so it sleeps until the new, earlier deadline
        # Many cancelled timers (jobs finishing well before their timeout) would otherwise
        # pile up until their deadlines pass: rebuild once they are the majority.
        if self._cancelled > 1024 and self._cancelled * 2 > len(self._heap):
            self._heap = [entry for entry in self._heap if entry[2].callback is not None]
            heapq.heapify(self._heap)
            self._cancelled = 0
        return timer

    async def within(self, deadline: float, wait: Callable[[], Awaitable[object]]) -> bool:
        """Await ``wait()`` until the clock reaches ``deadline``; True if it finished."""
        scope = anyio.CancelScope()
        timer = self.call_at(deadline, scope.cancel)
        try:
            with scope:
                await wait()
        finally:
            timer.cancel()
        return not scope.cancelled_caught

    def _drop_cancelled_head(self) -> None:
        heap = self._heap
        while heap and heap[0][2].callback is None:
            heapq.heappop(heap)
            self._cancelled -= 1

    async def fire_due(self) -> None:
        """Fire every timer whose deadline has passed, in deadline order."""
        heap = self._heap
        now = self._clock.monotonic()
        while heap and heap[0][0] <= now:
            _, _, timer = heapq.heappop(heap)
            callback = timer.callback
            if callback is None:
                self._cancelled -= 1
                continue
            timer.callback = None
            try:
                outcome = callback()
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception:
                logger.exception("timer callback %r raised; ignored", callback)

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """The timer loop; runs until cancelled."""
        task_status.started()
        while True:
            await self.fire_due()
            self._drop_cancelled_head()
            deadline = self._heap[0][0] if self._heap else None
            with anyio.CancelScope() as scope:
                self._sleep_scope, self._sleeping_until = scope, deadline
                if deadline is None:
                    await anyio.sleep_forever()
                else:
                    await self._clock.sleep_until(deadline)
            self._sleep_scope = self._sleeping_until = None
