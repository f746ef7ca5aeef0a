"""One injectable clock for both kinds of time.

Wall time (``time()``/``now()``) is for timestamps and for ``at=`` datetimes; monotonic time
is for delays, timeouts, grace periods and backoff. Everything in asyncjobs that waits on time
goes through ``Clock.sleep_until``, so a fake clock (``asyncjobs.testing.FakeClock``) can drive
a whole runner on virtual time.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any, Protocol, TypeVar, runtime_checkable

import anyio

T = TypeVar("T")


@runtime_checkable
class Clock(Protocol):
    """What the runner needs from a clock."""

    def time(self) -> float:
        """Wall-clock time in seconds since the epoch."""
        ...

    def now(self) -> datetime:
        """Wall-clock time as an aware UTC datetime."""
        ...

    def monotonic(self) -> float:
        """Monotonic time in seconds; only differences are meaningful."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until ``monotonic()`` reaches ``deadline``. Must be cancellable."""
        ...


@runtime_checkable
class VirtualClock(Clock, Protocol):
    """A clock whose time moves only when told to (``asyncjobs.testing.FakeClock``).

    A runner on such a clock shuts down inside ``autojump`` when its ``async with`` block is
    left, so that the grace period passes in virtual time instead of never."""

    async def autojump(
        self,
        work: Callable[[], Awaitable[T]],
        running: Callable[[], tuple[Any, ...]],
    ) -> T:
        """Await ``work()``, moving time to the next deadline whenever all else is blocked
        and the ``running()`` jobs (their handles) wait on this clock (or have stopped making
        progress)."""
        ...


class SystemClock:
    """The real clock: ``time.time()``, ``time.monotonic()`` and the event loop's sleep."""

    __slots__ = ()

    def time(self) -> float:
        return time.time()

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep_until(self, deadline: float) -> None:
        await anyio.sleep(max(0.0, deadline - time.monotonic()))
