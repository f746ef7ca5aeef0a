"""Small validators for options; each raises ``InvalidOption`` naming the field and value."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from ._errors import InvalidOption, InvalidOptionType
from ._states import TERMINAL_STATES, JobState


def seconds(field: str, value: Any) -> float:
    """Seconds as a finite float of any sign, from a number or a ``timedelta``."""
    if isinstance(value, timedelta):
        result = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        result = float(value)
    else:
        raise InvalidOptionType(field, value, "expected seconds as a number or a timedelta")
    if math.isnan(result) or math.isinf(result):
        raise InvalidOption(field, value, "must be a finite number of seconds")
    return result


def duration(field: str, value: Any) -> float:
    """Seconds as a finite float > 0, from a number or a ``timedelta``."""
    result = seconds(field, value)
    if result <= 0:
        raise InvalidOption(field, value, "must be greater than zero")
    return result


def optional_duration(field: str, value: Any) -> float | None:
    """Like ``duration`` but ``None`` passes through (meaning: no limit)."""
    return None if value is None else duration(field, value)


def non_negative_duration(field: str, value: Any) -> float:
    """Seconds as a finite float >= 0 (for grace periods, where zero means 'no wait')."""
    result = seconds(field, value)
    if result < 0:
        raise InvalidOption(field, value, "must be zero or more")
    return result


def priority(value: Any) -> int | float:
    """A finite int or float; higher runs first."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidOptionType("priority", value, "expected an int or float (higher runs first)")
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        raise InvalidOption("priority", value, "must be finite")
    return value


def positive_int(field: str, value: Any) -> int:
    """An int >= 1 (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOptionType(field, value, "expected an integer >= 1")
    if value < 1:
        raise InvalidOption(field, value, "must be at least 1")
    return value


def non_negative_int(field: str, value: Any) -> int:
    """An int >= 0 (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOptionType(field, value, "expected an integer >= 0")
    if value < 0:
        raise InvalidOption(field, value, "must be zero or more")
    return value


def member(enum_type: Any, field: str, value: Any) -> Any:
    """A member of ``enum_type`` from itself or its value; the error lists the choices."""
    try:
        return enum_type(value)
    except ValueError:
        choices = ", ".join(repr(m.value) for m in enum_type)
        raise InvalidOption(field, value, f"expected one of {choices}") from None


def aware_datetime(field: str, value: Any) -> datetime:
    """A timezone-aware datetime."""
    if not isinstance(value, datetime):
        raise InvalidOptionType(field, value, "expected a timezone-aware datetime")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise InvalidOption(
            field, value, "naive datetime; attach a time zone (e.g. tzinfo=timezone.utc)"
        )
    return value


def name(field: str, value: Any) -> str:
    """A non-empty string."""
    if not isinstance(value, str):
        raise InvalidOptionType(field, value, "expected a non-empty string")
    if not value:
        raise InvalidOption(field, value, "must not be empty")
    return value


def states(
    field: str, values: Iterable[JobState | str], *, terminal_only: bool = False
) -> frozenset[JobState]:
    """Job states from states or their names; ``terminal_only`` refuses unfinished ones."""
    if isinstance(values, (str, JobState)):
        raise InvalidOptionType(field, values, "expected a collection of job states")
    found: set[JobState] = set()
    for value in values:
        try:
            state = JobState(value)
        except ValueError:
            raise InvalidOption(field, value, "not a job state") from None
        if terminal_only and state not in TERMINAL_STATES:
            raise InvalidOption(field, value, "not a terminal state (only finished jobs)")
        found.add(state)
    return frozenset(found)
