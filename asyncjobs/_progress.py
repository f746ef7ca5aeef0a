"""Progress a job reports, and the followers and callbacks that receive it as it happens.

A job calls ``report_progress(...)``; the update is merged into the job's latest progress
(fields not given keep their values), kept on the record (``JobRecord.progress``), pushed to
each follower of ``handle.progress()`` and to each callback of ``handle.on_progress()``, and
published as a ``JobProgressed`` event when someone listens.

Nothing here waits: reporting is a plain call that costs a few microseconds when nobody
follows. Each follower has its own bounded buffer; when a slow follower's buffer is full the
oldest update is dropped, so it always gets the latest ones and never slows the job. Every
update carries a ``sequence`` number, so a follower can tell that it missed some.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

import attrs

from . import _validation
from ._errors import InvalidOption, InvalidOptionType
from ._unsubscribe import UnsubscribeOnExit

if TYPE_CHECKING:
    from ._faults import RepeatLog
    from ._spawn import Event

logger = logging.getLogger("asyncjobs")

_allocate = object.__new__
_set = object.__setattr__

DEFAULT_BUFFER = 16
"""Updates a follower holds before the oldest is dropped."""


@attrs.frozen(kw_only=True)
class Progress:
    """A job's progress at one moment. Any field may be None (not reported yet).

    ``percent`` is 0 to 100; when a report gives ``done`` and ``total`` but no percent, it is
    worked out from them. ``step`` names the current step. ``sequence`` counts the job's
    reports from 1; ``timestamp`` is wall-clock epoch seconds.
    """

    percent: float | None = None
    message: str | None = None
    done: int | None = None
    total: int | None = None
    step: str | None = None
    sequence: int = 0
    timestamp: float = 0.0


MAX_TEXT = 1000
"""Characters a progress message or step keeps; a longer one is cut, ending in "..."."""


def _text(field: str, value: Any) -> str:
    text = _validation.plain_str(field, value)
    # Progress goes into records, events, logs and every follower's buffer: keep it small
    # whatever a job (or the input it echoes) puts in it.
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


def next_progress(
    previous: Progress | None,
    percent: float | None,
    message: str | None,
    done: int | None,
    total: int | None,
    step: str | None,
    timestamp: float,
) -> Progress:
    """Validate one report and merge it into ``previous``: fields not given keep their
    values. Raises ``InvalidOption`` naming the field and value, changing nothing."""
    if percent is None and message is None and step is None and done is None and total is None:
        raise InvalidOption(
            "percent", None, "nothing to report: give percent, message, step, or done and total"
        )
    if percent is not None:
        if isinstance(percent, bool) or not isinstance(percent, (int, float)):
            raise InvalidOptionType("percent", percent, "expected a number from 0 to 100")
        given = percent
        percent = _validation.seconds("percent", percent)  # a plain, finite float
        if not 0 <= percent <= 100:
            raise InvalidOption("percent", given, "must be from 0 to 100")
    if message is not None:
        message = _text("message", message)
    if step is not None:
        step = _text("step", step)
    counted = done is not None or total is not None
    if done is not None:
        done = _validation.non_negative_int("done", done)
    if total is not None:
        total = _validation.non_negative_int("total", total)
    sequence = 1
    if previous is not None:
        sequence = previous.sequence + 1
        message = previous.message if message is None else message
        step = previous.step if step is None else step
        done = previous.done if done is None else done
        total = previous.total if total is None else total
    if done is not None and total is not None:
        if done > total:
            raise InvalidOption("done", done, f"must not exceed total={total}")
        if percent is None and counted:
            percent = 100.0 if total == 0 else done * 100.0 / total
    if percent is None and previous is not None:
        percent = previous.percent
    update = _allocate(Progress)  # attrs' frozen __init__ is slow; this is a tight-loop call
    _set(update, "percent", percent)
    _set(update, "message", message)
    _set(update, "done", done)
    _set(update, "total", total)
    _set(update, "step", step)
    _set(update, "sequence", sequence)
    _set(update, "timestamp", timestamp)
    return update


class ProgressFollower(AsyncIterator[Progress]):
    """``async for update in handle.progress()``: each update as it happens, ending when the
    job ends. A follower that starts late first gets the latest update. Holds at most
    ``buffer`` unread updates; when full, the oldest is dropped (see ``Progress.sequence``).

    Leaving the loop early keeps the follower attached until the job ends; use it as an
    ``async with`` block, or call ``aclose()``, to detach at once."""

    __slots__ = ("_channel", "_buffer", "_closed", "_wakeup", "_new_event")

    def __init__(
        self, channel: ProgressChannel, buffer: int, new_event: Callable[[], Event]
    ) -> None:
        self._channel = channel
        self._buffer: deque[Progress] = deque(maxlen=buffer)
        self._closed = channel.closed
        self._wakeup: Event | None = None
        self._new_event = new_event
        if channel.latest is not None:
            self._buffer.append(channel.latest)
        if not channel.closed:
            channel.followers.add(self)

    def _push(self, update: Progress) -> None:
        self._buffer.append(update)
        if self._wakeup is not None:
            self._wakeup.set()

    def _close(self) -> None:
        self._closed = True
        if self._wakeup is not None:
            self._wakeup.set()

    def __aiter__(self) -> ProgressFollower:
        return self

    async def __anext__(self) -> Progress:
        while not self._buffer:
            if self._closed:
                self._channel.followers.discard(self)
                raise StopAsyncIteration
            self._wakeup = self._new_event()
            try:
                await self._wakeup.wait()
            finally:
                self._wakeup = None
        return self._buffer.popleft()

    async def aclose(self) -> None:
        """Stop following: no more updates are buffered for this follower."""
        self._closed = True
        self._buffer.clear()
        self._channel.followers.discard(self)

    async def __aenter__(self) -> ProgressFollower:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


ProgressCallback = Callable[[Progress], object]


class ProgressSubscription(UnsubscribeOnExit):
    """A progress callback of one job; ``unsubscribe()`` or leave its ``with`` block."""

    __slots__ = ("_channel", "_callback")

    def __init__(self, channel: ProgressChannel, callback: ProgressCallback) -> None:
        self._channel = channel
        self._callback = callback

    def unsubscribe(self) -> None:
        """Stop calling this callback; calling it again does nothing."""
        callbacks = self._channel.callbacks
        self._channel.callbacks = tuple(c for c in callbacks if c is not self._callback)


class ProgressChannel:
    """One job's progress fan-out, made when the first follower or callback arrives."""

    __slots__ = ("latest", "followers", "callbacks", "closed", "_faults")

    def __init__(self, latest: Progress | None, closed: bool, faults: RepeatLog) -> None:
        self._faults = faults
        self.latest = latest
        self.followers: set[ProgressFollower] = set()
        self.callbacks: tuple[ProgressCallback, ...] = ()
        self.closed = closed

    def publish(self, update: Progress) -> None:
        self.latest = update
        for follower in self.followers:
            follower._push(update)
        for callback in self.callbacks:  # a tuple: a callback may unsubscribe meanwhile
            try:
                returned = callback(update)
            except BaseException as exc:  # noqa: BLE001 - isolated; RepeatLog logs it
                self._faults.callback_failed(
                    "progress callback", callback, exc, f"update {update.sequence}"
                )
            else:
                if returned is not None:
                    self._faults.returned(
                        "progress callback", callback, returned, f"update {update.sequence}"
                    )

    def close(self) -> None:
        """The job ended: followers finish once they have read what they hold."""
        self.closed = True
        for follower in self.followers:
            follower._close()
        self.followers.clear()
        self.callbacks = ()
