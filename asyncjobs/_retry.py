"""Retry policies, and the two exceptions a handler raises to steer its own retries."""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import attrs

from . import _validation
from ._backoff import Backoff, ExponentialBackoff, attempt_number
from ._errors import AsyncJobsError, InvalidOptionType, echo

logger = logging.getLogger("asyncjobs")

BackoffLike = Backoff | Callable[[int], float]


class SkipRetry(AsyncJobsError):
    """Raise from a handler to fail the job now, whatever attempts are left."""


class RetryAfter(AsyncJobsError):
    """Raise from a handler to ask for another attempt after ``seconds`` (a number or a
    ``timedelta``), instead of the policy's backoff. It still counts as an attempt: with none
    left, the job fails."""

    def __init__(self, seconds: float | timedelta, message: str = "") -> None:
        self.seconds = _validation.non_negative_duration("seconds", seconds)
        super().__init__(message or f"retry after {self.seconds} seconds")


def _exception_types(field: str, value: Any) -> tuple[type[BaseException], ...]:
    types = value if isinstance(value, tuple) else (value,)
    for item in types:
        if not (isinstance(item, type) and issubclass(item, BaseException)):
            raise InvalidOptionType(field, value, "expected an exception class or a tuple of them")
    return types


def _retry_on(value: Any) -> tuple[type[BaseException], ...]:
    return _exception_types("retry_on", value)


def _give_up_on(value: Any) -> tuple[type[BaseException], ...]:
    return _exception_types("give_up_on", value)


def _max_attempts(value: Any) -> int:
    return _validation.positive_int("max_attempts", value)


def _backoff(value: Any) -> BackoffLike:
    if isinstance(value, Backoff) or callable(value):
        return value  # type: ignore[no-any-return]
    raise InvalidOptionType(
        "backoff", value, "expected a backoff strategy or a function attempt -> seconds"
    )


_FALLBACK = ExponentialBackoff()


@attrs.frozen(kw_only=True)
class Retry:
    """When and how soon a failed job runs again.

    :param max_attempts: attempts in all, the first run included (1: never retry).
    :param backoff: the wait after a failed attempt: a strategy (``ExponentialBackoff`` by
        default: 1 s, 2 s, 4 s, ... up to 5 minutes) or a function ``attempt -> seconds``.
    :param retry_on: exception classes that are retried (default: any ``Exception``,
        timeouts included: ``JobTimedOut`` is a ``TimeoutError``).
    :param give_up_on: exception classes never retried, even if ``retry_on`` matches.

    A handler can also raise ``SkipRetry`` (fail now) or ``RetryAfter(seconds)`` (retry after
    that wait; needs an attempt left). A cancelled or interrupted job is never retried, and
    interruption by shutdown does not use up an attempt.
    """

    max_attempts: int = attrs.field(default=3, converter=_max_attempts)
    backoff: BackoffLike = attrs.field(factory=ExponentialBackoff, converter=_backoff)
    retry_on: tuple[type[BaseException], ...] = attrs.field(
        default=(Exception,), converter=_retry_on
    )
    give_up_on: tuple[type[BaseException], ...] = attrs.field(default=(), converter=_give_up_on)

    def delay_after(
        self, attempt: int, error: BaseException, rand: Callable[[], float] = random.random
    ) -> float | None:
        """Seconds to wait before the next attempt after attempt ``attempt`` failed with
        ``error``; None when the job should fail instead. ``attempt`` is an int
        (``InvalidOptionType`` otherwise)."""
        attempt = attempt_number(attempt)
        if attempt >= self.max_attempts or isinstance(error, SkipRetry):
            return None
        if isinstance(error, RetryAfter):
            return error.seconds
        if isinstance(error, self.give_up_on) or not isinstance(error, self.retry_on):
            return None
        return self._backoff_seconds(attempt, rand)

    def _backoff_seconds(self, attempt: int, rand: Callable[[], float]) -> float:
        # A user's backoff function is untrusted: if it raises or returns no valid wait,
        # that is logged and the default strategy's wait is used.
        backoff = self.backoff
        try:
            if isinstance(backoff, Backoff):
                seconds: object = backoff.seconds(attempt, rand)
            else:
                seconds = backoff(attempt)
        except Exception:
            logger.exception(
                "backoff %r failed for attempt %d; using the default", backoff, attempt
            )
            return _FALLBACK.seconds(attempt, rand)
        wait = _wait(seconds)
        if wait is None:
            logger.error(
                "backoff %r returned %s for attempt %d, not a wait in seconds; using the default",
                backoff,
                echo(seconds),
                attempt,
            )
            return _FALLBACK.seconds(attempt, rand)
        return wait


def _wait(value: object) -> float | None:
    """A backoff's answer as a finite float >= 0, or None if it is not one (read through the
    base conversions: a subclass's own methods are not called)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        wait = float.__float__(value) if isinstance(value, float) else float(int.__index__(value))
    except Exception:  # noqa: BLE001 - too large, or the value's own failure
        return None
    return wait if math.isfinite(wait) and wait >= 0 else None
