"""Built-in middleware for the event bus: logging, recovery, timing, metrics and filtering.

Each is an ``async (delivery, call_next)`` callable; give them to ``EventBus(middleware=...)``
outermost first. A sensible chain is ``[LoggingMiddleware(), RecoveryMiddleware(),
MetricsMiddleware(), TimingMiddleware(), FilterMiddleware(...)]``: logging sees everything,
recovery keeps the metrics' failures from reaching the publisher, and filtered deliveries
never reach the handler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import NamedTuple

from ._bus import CallNext, Delivery
from ._clock import Clock, SystemClock

_logger = logging.getLogger("asyncjobs.bus")


class LoggingMiddleware:
    """Logs each delivery (at ``level``) and each failure (with its traceback, at ERROR),
    then lets the failure go on."""

    def __init__(self, logger: logging.Logger | None = None, level: int = logging.DEBUG) -> None:
        self._logger = logger if logger is not None else _logger
        self._level = level

    async def __call__(self, delivery: Delivery, call_next: CallNext) -> None:
        if self._logger.isEnabledFor(self._level):
            self._logger.log(self._level, "delivering %r to %r", delivery.topic, delivery.handler)
        try:
            await call_next(delivery)
        except Exception:
            self._logger.exception("%r raised on %r", delivery.handler, delivery.topic)
            raise


class RecoveryMiddleware:
    """Isolates raising handlers: the error is logged and the delivery counts as done, so an
    awaited ``publish`` does not raise for it. ``recovered`` counts them."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._logger = logger if logger is not None else _logger
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
        self._report = report
        self._slow = slow
        self._clock: Clock = clock if clock is not None else SystemClock()

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
                    self._report(delivery, seconds)
                except Exception:
                    _logger.exception("timing report %r raised; ignored", self._report)


class TopicMetrics(NamedTuple):
    """Deliveries of one topic: made, of which failed."""

    delivered: int
    failed: int


class MetricsMiddleware:
    """Counts deliveries per topic, and those that raised. ``metrics()`` reads them. Keeps
    at most ``max_topics`` topics (later ones are counted under ``"other"``)."""

    def __init__(self, max_topics: int = 1000) -> None:
        self._counts: dict[str, list[int]] = {}
        self._max_topics = max_topics

    async def __call__(self, delivery: Delivery, call_next: CallNext) -> None:
        counts = self._counts.get(delivery.topic)
        if counts is None:
            key = delivery.topic if len(self._counts) < self._max_topics else "other"
            counts = self._counts.setdefault(key, [0, 0])
        counts[0] += 1
        try:
            await call_next(delivery)
        except Exception:
            counts[1] += 1
            raise

    def metrics(self) -> dict[str, TopicMetrics]:
        return {topic: TopicMetrics(*counts) for topic, counts in self._counts.items()}


class FilterMiddleware:
    """Passes on only the deliveries for which ``predicate(delivery)`` is true; the others
    are dropped quietly. A raising predicate drops the delivery and is logged."""

    def __init__(self, predicate: Callable[[Delivery], bool]) -> None:
        self._predicate = predicate

    async def __call__(self, delivery: Delivery, call_next: CallNext) -> None:
        try:
            wanted = self._predicate(delivery)
        except Exception:
            _logger.exception("filter %r raised on %r; delivery dropped", self._predicate, delivery)
            return
        if wanted:
            await call_next(delivery)
