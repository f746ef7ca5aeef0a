"""Built-in middleware for the event bus: logging, recovery, timing, metrics and filtering.

Each is an ``async (delivery, call_next)`` callable; give them to ``EventBus(middleware=...)``
outermost first. A sensible chain is ``[LoggingMiddleware(), RecoveryMiddleware(),
MetricsMiddleware(), TimingMiddleware(), FilterMiddleware(...)]``: logging sees everything,
recovery keeps the metrics' failures from reaching the publisher, and filtered deliveries
never reach the handler.

A failure, for logging and metrics, is any exception out of ``call_next`` but the
cancellation of the delivery itself (the bus closing, the publisher cancelled).
``RecoveryMiddleware`` recovers from ``Exception`` only: a ``KeyboardInterrupt``,
``SystemExit`` or other stopping exception goes on, and the bus raises it from its
``async with`` block (or the runner's).
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from . import _validation
from ._bus import CallNext, Delivery
from ._clock import Clock, SystemClock
from ._errors import InvalidOption, InvalidOptionType
from ._escalation import cancelled_here
from ._faults import RepeatLog, describe_callable

_logger = logging.getLogger("asyncjobs.bus")

_MAX_LEVEL = 1000  # logging's levels go to 50; custom ones rarely far past it


def _a_logger(value: Any) -> logging.Logger:
    if value is None:
        return _logger
    if not isinstance(value, logging.Logger):
        raise InvalidOptionType("logger", value, "expected a logging.Logger or None")
    return value


def _a_callable(field: str, value: Any) -> Any:
    if not callable(value):
        raise InvalidOptionType(field, value, "expected a function")
    return value


class LoggingMiddleware:
    """Logs each delivery (at ``level``) and each failure (with its traceback, at ERROR),
    then lets the failure go on."""

    def __init__(self, logger: logging.Logger | None = None, level: int = logging.DEBUG) -> None:
        self._logger = _a_logger(logger)
        self._level: int = _validation.non_negative_int("level", level)
        if self._level > _MAX_LEVEL:
            reason = f"expected a logging level (logging.DEBUG, ...), at most {_MAX_LEVEL}"
            raise InvalidOption("level", level, reason)

    async def __call__(self, delivery: Delivery, call_next: CallNext) -> None:
        if self._logger.isEnabledFor(self._level):
            self._logger.log(self._level, "delivering %r to %r", delivery.topic, delivery.handler)
        try:
            await call_next(delivery)
        except BaseException as error:
            if not cancelled_here(error):
                self._logger.error(
                    "%r raised on %r", delivery.handler, delivery.topic, exc_info=error
                )
            raise


class RecoveryMiddleware:
    """Isolates raising handlers: the error is logged and the delivery counts as done, so an
    awaited ``publish`` does not raise for it. ``recovered`` counts them."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._logger = _a_logger(logger)
        self.recovered = 0

    async def __call__(self, delivery: Delivery, call_next: CallNext) -> None:
        try:
            await call_next(delivery)
        except Exception:
            self.recovered += 1
            self._logger.exception("%r raised on %r; recovered", delivery.handler, delivery.topic)


class TimingMiddleware:
    """Measures how long each delivery takes (on ``clock``'s monotonic time) and calls
    ``report(delivery, seconds)``; a delivery slower than ``slow`` seconds is logged as a
    warning. A raising ``report`` is logged and ignored."""

    def __init__(
        self,
        report: Callable[[Delivery, float], object] | None = None,
        *,
        slow: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._report = None if report is None else _a_callable("report", report)
        self._slow = None if slow is None else _validation.non_negative_duration("slow", slow)
        if clock is not None and not isinstance(clock, Clock):
            raise InvalidOptionType("clock", clock, "expected a Clock (see asyncjobs.Clock)")
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._faults = RepeatLog(self._clock.monotonic)

    async def __call__(self, delivery: Delivery, call_next: CallNext) -> None:
        started = self._clock.monotonic()
        try:
            await call_next(delivery)
        finally:
            seconds = self._clock.monotonic() - started
            if self._slow is not None and seconds > self._slow:
                _logger.warning(
                    "%r took %.3f s on %r (slow: over %s s)",
                    delivery.handler,
                    seconds,
                    delivery.topic,
                    self._slow,
                )
            if self._report is not None:
                try:
                    value = self._report(delivery, seconds)
                except Exception:
                    _logger.exception("timing report %r raised; ignored", self._report)
                else:
                    if inspect.isawaitable(value):  # an async def: it would never run
                        self._faults.returned(
                            "timing report", self._report, value, repr(delivery.topic)
                        )


class TopicMetrics(NamedTuple):
    """Deliveries of one topic: made, of which failed."""

    delivered: int
    failed: int


class MetricsMiddleware:
    """Counts deliveries per topic, and those that raised. ``metrics()`` reads them. Keeps
    at most ``max_topics`` topics (later ones are counted under ``"other"``)."""

    def __init__(self, max_topics: int = 1000) -> None:
        self._counts: dict[str, list[int]] = {}
        self._max_topics = _validation.positive_int("max_topics", max_topics)

    async def __call__(self, delivery: Delivery, call_next: CallNext) -> None:
        counts = self._counts.get(delivery.topic)
        if counts is None:
            key = delivery.topic if len(self._counts) < self._max_topics else "other"
            counts = self._counts.setdefault(key, [0, 0])
        counts[0] += 1
        try:
            await call_next(delivery)
        except BaseException as error:
            if not cancelled_here(error):
                counts[1] += 1
            raise

    def metrics(self) -> dict[str, TopicMetrics]:
        return {topic: TopicMetrics(*counts) for topic, counts in self._counts.items()}


class FilterMiddleware:
    """Passes on only the deliveries for which ``predicate(delivery)`` is true; the others
    are dropped quietly. A raising predicate drops the delivery and is logged, and so does
    one that returns an awaitable (an ``async def``: a predicate is a plain function)."""

    def __init__(self, predicate: Callable[[Delivery], bool]) -> None:
        self._predicate = _a_callable("predicate", predicate)
        self._faults = RepeatLog(time.monotonic)

    async def __call__(self, delivery: Delivery, call_next: CallNext) -> None:
        try:
            wanted = self._predicate(delivery)
        except Exception:
            _logger.exception("filter %r raised on %r; delivery dropped", self._predicate, delivery)
            return
        if inspect.isawaitable(wanted):  # truthy, yet never run: refuse rather than pass
            self._wrong_predicate(wanted, delivery.topic)
            return
        if wanted:
            await call_next(delivery)

    def _wrong_predicate(self, value: object, topic: str) -> None:
        if inspect.iscoroutine(value):
            value.close()  # never awaited: close it so Python does not warn at collection
        name = describe_callable(self._predicate)
        self._faults.note(
            ("filter predicate", name),
            logging.ERROR,
            f"filter predicate {name} returned {type(value).__qualname__}, not a bool, on "
            f"{topic!r}; the delivery was dropped (a predicate is a plain function, not an "
            "async def)",
            what=f"filter predicate {name} returned an awaitable again",
            latest=f"on {topic!r}",
        )
