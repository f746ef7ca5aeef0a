"""Small validators for options; each raises ``InvalidOption`` naming the field and value."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from ._errors import InvalidOption, InvalidOptionType


def duration(field: str, value: Any) -> float:
    """Seconds as a finite float > 0, from a number or a ``timedelta``."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise InvalidOptionType(field, value, "expected seconds as a number or a timedelta")
    if math.isnan(seconds) or math.isinf(seconds):
        raise InvalidOption(field, value, "must be a finite number of seconds")
    if seconds <= 0:
        raise InvalidOption(field, value, "must be greater than zero")
    return seconds


def optional_duration(field: str, value: Any) -> float | None:
    """Like ``duration`` but ``None`` passes through (meaning: no limit)."""
    return None if value is None else duration(field, value)


def non_negative_duration(field: str, value: Any) -> float:
    """Seconds as a finite float >= 0 (for grace periods, where zero means 'no wait')."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0:
        return 0.0
    if isinstance(value, timedelta) and value == timedelta(0):
        return 0.0
    return duration(field, value)


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
