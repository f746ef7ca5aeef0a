"""Backoff strategies: how long a failed job waits before its next attempt.

Each strategy is a small frozen object, validated when built, with one method,
``seconds(attempt, rand=random.random)``. ``attempt`` is the number of the attempt that just
failed (1 after the first run), an int; values below 1 count as 1, and anything but an int
is refused (``InvalidOptionType``). The result is always a finite float in ``[0, cap]``,
for any attempt number: the arithmetic never overflows (large attempt numbers reach the cap
by comparison, not by computing a huge power). ``rand`` is where jitter draws from, a
function returning a float in ``[0, 1)``; pass your own for reproducible delays. A faulty
``rand`` cannot push a delay out of range: a draw outside ``[0, 1]`` counts as the nearer
end, and one that is not a float (or is NaN) as 0.

Jitter, as in the AWS architecture blog's analysis of backoff:

* ``none``: the computed delay itself;
* ``full``: uniform in ``[0, delay]``, which spreads retries of many failed jobs the most;
* ``equal``: ``delay / 2`` plus uniform in ``[0, delay / 2]``, which keeps at least half.

A plain function ``attempt -> seconds`` also works wherever a strategy is expected; see
``Retry``.
"""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import attrs

from . import _validation
from ._errors import InvalidOption, InvalidOptionType

_MAX_SECONDS = 10.0 * 365 * 24 * 3600  # ten years: beyond it a "delay" is surely a mistake


class Jitter(str, enum.Enum):
    """How much randomness a strategy adds to each delay (see the module docstring)."""

    NONE = "none"
    FULL = "full"
    EQUAL = "equal"


@runtime_checkable
class Backoff(Protocol):
    """A backoff strategy: ``seconds(attempt)`` is the wait after attempt ``attempt`` failed."""

    def seconds(self, attempt: int, rand: Callable[[], float] = random.random) -> float: ...


def _seconds(field: str, value: Any, *, allow_zero: bool = True) -> float:
    if allow_zero:
        seconds = _validation.non_negative_duration(field, value)
    else:
        seconds = _validation.duration(field, value)
    if seconds > _MAX_SECONDS:
        raise InvalidOption(field, value, "must be at most ten years")
    return seconds


def _delay(value: Any) -> float:
    return _seconds("delay", value)


def _initial(value: Any) -> float:
    return _seconds("initial", value)


def _step(value: Any) -> float:
    return _seconds("step", value)


def _unit(value: Any) -> float:
    return _seconds("unit", value)


def _cap(value: Any) -> float:
    return _seconds("cap", value, allow_zero=False)


def _jitter(value: Any) -> Jitter:
    member: Jitter = _validation.member(Jitter, "jitter", value)
    return member


def _factor(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidOptionType("factor", value, "expected a number")
    try:  # the base conversions: a subclass's own methods may raise or lie
        factor = float.__float__(value) if isinstance(value, float) else float(int.__index__(value))
    except OverflowError:
        factor = math.inf
    except Exception:  # noqa: BLE001 - any failure is the value's
        raise InvalidOptionType("factor", value, "cannot be read as a number") from None
    if not math.isfinite(factor) or factor < 1:
        raise InvalidOption("factor", value, "must be a finite number of at least 1")
    return factor


def attempt_number(value: Any) -> int:
    """An attempt number: an int (a subclass read as its plain value; bools refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOptionType("attempt", value, "expected an attempt number (an int)")
    try:
        return int.__index__(value)
    except Exception:  # noqa: BLE001 - any failure is the value's
        raise InvalidOptionType("attempt", value, "cannot be read as an integer") from None


def _draw(rand: Callable[[], float]) -> float:
    """A draw of ``rand`` in ``[0, 1]``: a faulty rand must not push a delay out of range,
    so a draw that is not a float counts as 0, and one outside the range as its nearer end
    (NaN as 0)."""
    draw: object = rand()
    if not isinstance(draw, float):
        return 0.0
    value = float.__float__(draw)  # a subclass's own comparisons are not called
    if not 0.0 <= value <= 1.0:
        value = 0.0 if not value >= 0.0 else 1.0
    return value


def _apply(delay: float, jitter: Jitter, rand: Callable[[], float]) -> float:
    if jitter is Jitter.NONE:
        return delay
    draw = _draw(rand)
    if jitter is Jitter.FULL:
        return delay * draw
    half = delay / 2
    return half + half * draw


# Attempt numbers above this count as this: every strategy is at its cap long before (even
# an exponential one with the smallest factor above 1 and the smallest initial delay).
_MAX_ATTEMPT = 2**63 - 1


def _attempt(attempt: Any) -> int:
    """``attempt`` checked, and brought into ``[1, _MAX_ATTEMPT]``."""
    number = attempt_number(attempt)
    return min(max(number, 1), _MAX_ATTEMPT)


@attrs.frozen(kw_only=True)
class FixedBackoff:
    """The same wait after every attempt: ``delay`` seconds (the cap is ``delay`` too)."""

    delay: float = attrs.field(default=1.0, converter=_delay)
    jitter: Jitter = attrs.field(default=Jitter.NONE, converter=_jitter)

    @property
    def cap(self) -> float:
        return self.delay

    def seconds(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        _attempt(attempt)
        return _apply(self.delay, self.jitter, rand)


@attrs.frozen(kw_only=True)
class LinearBackoff:
    """``initial + step * (attempt - 1)`` seconds, at most ``cap``: 1, 2, 3, ... by default."""

    initial: float = attrs.field(default=1.0, converter=_initial)
    step: float = attrs.field(default=1.0, converter=_step)
    cap: float = attrs.field(default=300.0, converter=_cap)
    jitter: Jitter = attrs.field(default=Jitter.NONE, converter=_jitter)

    def seconds(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        steps = _attempt(attempt) - 1
        room = self.cap - self.initial
        if room <= 0 or (self.step > 0 and steps >= room / self.step):
            delay = self.cap
        else:
            delay = min(self.cap, self.initial + self.step * steps)
        return _apply(delay, self.jitter, rand)


@attrs.frozen(kw_only=True)
class ExponentialBackoff:
    """``initial * factor ** (attempt - 1)`` seconds, at most ``cap``: 1, 2, 4, 8, ... by
    default, up to five minutes."""

    initial: float = attrs.field(default=1.0, converter=_initial)
    factor: float = attrs.field(default=2.0, converter=_factor)
    cap: float = attrs.field(default=300.0, converter=_cap)
    jitter: Jitter = attrs.field(default=Jitter.NONE, converter=_jitter)

    def seconds(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        exponent = _attempt(attempt) - 1
        if self.initial == 0:
            delay = 0.0
        elif self.initial >= self.cap:
            delay = self.cap
        elif self.factor == 1:
            delay = self.initial
        else:
            # Decided in log space, so nothing is computed that could overflow; the power
            # itself is taken only while it is small enough to be exact.
            growth = exponent * math.log(self.factor)
            if growth >= math.log(self.cap) - math.log(self.initial):
                delay = self.cap
            elif growth < 700:
                delay = min(self.cap, self.initial * self.factor**exponent)
            else:  # a tiny initial delay: the power alone would overflow
                delay = min(self.cap, math.exp(math.log(self.initial) + growth))
        return _apply(delay, self.jitter, rand)


@attrs.frozen(kw_only=True)
class QuadraticBackoff:
    """``unit * attempt ** 2`` seconds, at most ``cap``: 1, 4, 9, 16, ... by default."""

    unit: float = attrs.field(default=1.0, converter=_unit)
    cap: float = attrs.field(default=3600.0, converter=_cap)
    jitter: Jitter = attrs.field(default=Jitter.NONE, converter=_jitter)

    def seconds(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        n = _attempt(attempt)
        if self.unit == 0:
            delay = 0.0
        elif n >= math.sqrt(self.cap / self.unit):
            delay = self.cap
        else:
            delay = min(self.cap, self.unit * n * n)
        return _apply(delay, self.jitter, rand)
