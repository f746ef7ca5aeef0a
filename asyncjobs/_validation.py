"""Small validators for options; each raises ``InvalidOption`` naming the field and value."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from ._errors import InvalidOption, InvalidOptionType
from ._states import TERMINAL_STATES, JobState

MAX_INT = 2**63 - 1
"""The largest count an int option takes (it must fit the C sizes it ends up in)."""

# Wall-clock datetimes are kept inside these years, so that a time zone's offset, a jitter or
# a grace period added to one still makes a datetime.
_FIRST_YEAR = 2
_LAST_YEAR = 9998


def seconds(field: str, value: Any) -> float:
    """Seconds as a finite float of any sign, from a number or a ``timedelta``."""
    if isinstance(value, timedelta):
        try:
            result = timedelta.total_seconds(value)  # the base method: a subclass's may raise
        except Exception:  # noqa: BLE001 - any failure is the value's
            raise InvalidOptionType(field, value, "cannot be read as seconds") from None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            # The base conversions: a subclass's own __float__ may raise or return anything.
            result = (
                float.__float__(value) if isinstance(value, float) else float(int.__index__(value))
            )
        except OverflowError:
            raise InvalidOption(field, value, "too large a number of seconds") from None
        except Exception as exc:  # noqa: BLE001 - any failure is the value's
            raise InvalidOptionType(
                field, value, f"cannot be read as seconds ({type(exc).__qualname__})"
            ) from None
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


def duration_at_least(field: str, value: Any, least: float, unit: str = "seconds") -> float:
    """``duration``, and at least ``least`` seconds (a smaller one would make a loop spin
    or a slot too narrow to count in); ``unit`` words the bound in the message."""
    result = duration(field, value)
    if result < least:
        raise InvalidOption(field, value, f"must be at least {least:g} {unit}")
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
    if isinstance(value, float):
        result: int | float = float.__float__(value)
        if math.isnan(result) or math.isinf(result):
            raise InvalidOption("priority", value, "must be finite")
        return result
    return _plain_int("priority", value)


def _plain_int(field: str, value: int) -> int:
    """An int subclass's value as a plain int (its own methods are not called)."""
    try:
        return int.__index__(value)
    except Exception:  # noqa: BLE001 - any failure is the value's
        raise InvalidOptionType(field, value, "cannot be read as an integer") from None


def positive_int(field: str, value: Any) -> int:
    """An int >= 1 and at most ``MAX_INT`` (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOptionType(field, value, "expected an integer >= 1")
    result = _plain_int(field, value)
    if result < 1:
        raise InvalidOption(field, value, "must be at least 1")
    if result > MAX_INT:
        raise InvalidOption(field, value, "too large (at most 2**63 - 1)")
    return result


def non_negative_int(field: str, value: Any) -> int:
    """An int >= 0 and at most ``MAX_INT`` (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOptionType(field, value, "expected an integer >= 0")
    result = _plain_int(field, value)
    if result < 0:
        raise InvalidOption(field, value, "must be zero or more")
    if result > MAX_INT:
        raise InvalidOption(field, value, "too large (at most 2**63 - 1)")
    return result


def plain_str(field: str, value: Any) -> str:
    """A str (a subclass is copied to a plain str, whose methods are its own)."""
    if not isinstance(value, str):
        raise InvalidOptionType(field, value, "expected a string")
    return value if type(value) is str else str.__str__(value)


def member(enum_type: Any, field: str, value: Any) -> Any:
    """A member of ``enum_type`` from itself or its value; the error lists the choices."""
    if isinstance(value, enum_type):
        return value
    choices = ", ".join(repr(m.value) for m in enum_type)
    if not isinstance(value, str):
        raise InvalidOptionType(field, value, f"expected one of {choices}")
    try:
        return enum_type(plain_str(field, value))
    except ValueError:
        raise InvalidOption(field, value, f"expected one of {choices}") from None


def aware_datetime(field: str, value: Any, error: type[InvalidOption] = InvalidOption) -> datetime:
    """A timezone-aware datetime within the years 2 to 9998 (a subclass is copied to a
    plain datetime; a time zone whose offset cannot be read is refused). ``error``: the
    class of the value errors (``InvalidSchedule`` for a schedule's)."""
    if not isinstance(value, datetime):
        raise InvalidOptionType(field, value, "expected a timezone-aware datetime")
    try:
        plain = (
            value
            if type(value) is datetime
            else datetime(
                datetime.__getattribute__(value, "year"),
                datetime.__getattribute__(value, "month"),
                datetime.__getattribute__(value, "day"),
                datetime.__getattribute__(value, "hour"),
                datetime.__getattribute__(value, "minute"),
                datetime.__getattribute__(value, "second"),
                datetime.__getattribute__(value, "microsecond"),
                tzinfo=datetime.__getattribute__(value, "tzinfo"),
                fold=datetime.__getattribute__(value, "fold"),
            )
        )
        offset = None if plain.tzinfo is None else plain.tzinfo.utcoffset(plain)
        if offset is not None and not isinstance(offset, timedelta):
            raise TypeError("utcoffset() returned a non-timedelta")
    except Exception as exc:  # noqa: BLE001 - any failure is the value's (or its zone's)
        raise InvalidOptionType(
            field, value, f"its time zone cannot be read ({type(exc).__qualname__})"
        ) from None
    if offset is None:
        raise error(field, value, "naive datetime; attach a time zone (e.g. tzinfo=timezone.utc)")
    try:
        year = (plain - offset).year
    except OverflowError:
        year = 0
    if not _FIRST_YEAR <= year <= _LAST_YEAR:
        raise error(field, value, f"outside the years {_FIRST_YEAR} to {_LAST_YEAR} (in UTC)")
    return plain


def name(field: str, value: Any) -> str:
    """A non-empty string (a plain str, whatever subclass was given)."""
    if not isinstance(value, str):
        raise InvalidOptionType(field, value, "expected a non-empty string")
    if not value:
        raise InvalidOption(field, value, "must not be empty")
    return plain_str(field, value)


def optional_name(field: str, value: Any) -> str | None:
    """``name``, or None."""
    return None if value is None else name(field, value)


def states(
    field: str, values: Iterable[JobState | str], *, terminal_only: bool = False
) -> frozenset[JobState]:
    """Job states from states or their names; ``terminal_only`` refuses unfinished ones."""
    if isinstance(values, (str, JobState)) or not isinstance(values, Iterable):
        raise InvalidOptionType(field, values, "expected a collection of job states")
    found: set[JobState] = set()
    try:
        items = list(values)
    except Exception:  # noqa: BLE001 - any failure is the value's
        raise InvalidOptionType(field, values, "cannot be read as a collection") from None
    for value in items:
        if isinstance(value, JobState):
            state = value
        elif isinstance(value, str):
            try:
                state = JobState(plain_str(field, value))
            except ValueError:
                raise InvalidOption(field, value, "not a job state") from None
        else:
            raise InvalidOptionType(field, value, "not a job state")
        if terminal_only and state not in TERMINAL_STATES:
            raise InvalidOption(field, value, "not a terminal state (only finished jobs)")
        found.add(state)
    return frozenset(found)


def collection(field: str, value: Any) -> list[Any]:
    """The items of a collection (a list, tuple, generator, ...; not a string), in a list."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise InvalidOptionType(field, value, "expected a collection (a list, say)")
    try:
        return list(value)
    except Exception:  # noqa: BLE001 - any failure is the value's
        raise InvalidOptionType(field, value, "cannot be read as a collection") from None
