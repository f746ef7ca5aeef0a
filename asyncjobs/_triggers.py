"""When a schedule fires: cron expressions, fixed intervals and one-shot times.

A trigger turns wall-clock time (epoch seconds) into *slots*: the instants a schedule is meant
to fire at. ``next_after(t)`` is the first slot strictly after ``t``; ``last_at_or_before(t)``
the latest slot at or before ``t``. Both return None when there is none.

Cron slots follow local wall-clock time in the trigger's time zone (the rule for daylight
saving is on ``Cron``); intervals are fixed lengths of real time, unaffected by time zones.

Input is bounded: a trigger string has at most ``MAX_TEXT`` characters and a time zone name
at most ``_MAX_ZONE``, and an error echoes at most a prefix of what it was given. Working out
a cron slot costs a few lookups in croniter, however dense the expression and however near
a change of the zone's UTC offset; croniter gives up on an expression after 50 years
without a match, which counts as never firing.
"""

from __future__ import annotations

import copy
import math
import re
import zoneinfo
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

import attrs
from croniter import CroniterBadDateError, CroniterError, croniter

from . import _validation
from ._errors import InvalidOptionType, InvalidSchedule

# More than a daylight-saving (or other offset) change moves local time by, in seconds:
# every zone in the tz database today moves one hour or less (Lord Howe half an hour).
# Two changes of one zone are always further apart than this, and changes that cancel
# out within it are not seen.
_SHIFT = 3 * 3600
# Naive local times are handled as seconds from this (naive) moment.
_EPOCH = datetime(1970, 1, 1)
# Errors of datetime arithmetic outside years 1-9999 (and of the platform's time functions).
_OUT_OF_RANGE = (OverflowError, ValueError, OSError)
# The longest trigger string (a cron expression, "@every ...") and time zone name taken,
# and how much of a refused one an error message repeats.
MAX_TEXT = 512
_MAX_ZONE = 64
_ECHO = 40
_ALIASES = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
# The fields of a five-field expression, and what each allows; six fields put seconds first.
_FIELDS = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day of month", "1-31"),
    ("month", "1-12 or JAN-DEC"),
    ("day of week", "0-6 or SUN-SAT, 7 is Sunday too"),
)
_SECOND_FIELD = ("second", "0-59")
_EVERY_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
# croniter's random values ("R", "R(0-29)", "R/5"): drawn again each time it parses.
_RANDOM = re.compile(r"r(\(\d+-\d+\))?(/\d+)?", re.IGNORECASE)


def clipped(text: str) -> str:
    """``text``, or its first characters if it is long (for an error message)."""
    if len(text) <= _ECHO:
        return text
    return f"{text[:_ECHO]}... ({len(text):,} characters)"


def bounded_text(field: str, value: str, limit: int, what: str) -> None:
    """Refuse a string longer than ``limit``, echoing only its start."""
    if len(value) > limit:
        raise InvalidSchedule(
            field, clipped(value), f"too long: {what} has at most {limit} characters"
        )


def time_zone(field: str, value: Any) -> zoneinfo.ZoneInfo | timezone:
    """A time zone from an IANA name (``"Europe/Berlin"``), a ``ZoneInfo`` or ``timezone.utc``."""
    if isinstance(value, zoneinfo.ZoneInfo):
        return value
    if isinstance(value, timezone):
        return _fixed_zone(field, value)
    if not isinstance(value, str):
        raise InvalidOptionType(field, value, "expected an IANA time zone name or a ZoneInfo")
    value = _validation.plain_str(field, value)  # a subclass's own methods are not called
    bounded_text(field, value, _MAX_ZONE, "a time zone name")
    if value.upper() == "UTC":
        return timezone.utc
    try:
        return zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidSchedule(
            field, value, "unknown time zone (expected an IANA name such as 'Europe/Berlin')"
        ) from None


def _fixed_zone(field: str, value: timezone) -> zoneinfo.ZoneInfo | timezone:
    """A fixed-offset zone as one a schedule can keep by name: UTC, or for a whole number of
    hours the IANA zone ``Etc/GMT-N`` (whose sign is inverted, by POSIX's rule)."""
    offset = value.utcoffset(None)
    if offset == timedelta(0):
        return timezone.utc
    hours, rest = divmod(offset, timedelta(hours=1))
    if rest or not -12 <= hours <= 14:
        raise InvalidSchedule(
            field,
            value,
            "a fixed offset that is not a whole number of hours has no zone name to keep; "
            "give an IANA name (such as 'Asia/Kolkata')",
        )
    return zoneinfo.ZoneInfo(f"Etc/GMT{-hours:+d}")


def aware(field: str, value: Any) -> datetime:
    """A timezone-aware datetime for a schedule, as a plain datetime (of a subclass, a copy);
    a naive one, or one outside the years taken, is an ``InvalidSchedule``."""
    return _validation.aware_datetime(field, value, InvalidSchedule)


def _plain_timedelta(value: timedelta) -> timedelta:
    """A plain timedelta equal to ``value`` (read through the base type's fields, so a
    subclass's own methods are never called)."""
    return timedelta(
        days=timedelta.days.__get__(value),
        seconds=timedelta.seconds.__get__(value),
        microseconds=timedelta.microseconds.__get__(value),
    )


def zone_name(zone: tzinfo) -> str:
    return "UTC" if zone is timezone.utc else str(zone)


def _parsed(expression: str, seconds: bool) -> croniter | None:
    try:
        return croniter(expression, _EPOCH, second_at_beginning=seconds)
    except (CroniterError, ValueError):
        return None


def _field_names(seconds: bool) -> tuple[tuple[str, str], ...]:
    return ((_SECOND_FIELD,) if seconds else ()) + _FIELDS


def _bad_field(fields: list[str], seconds: bool) -> str:
    """Which field of a refused expression is wrong, and what it allows."""
    for index, (name, allowed) in enumerate(_field_names(seconds)):
        alone = ["*"] * len(fields)
        alone[index] = fields[index]
        if _parsed(" ".join(alone), seconds) is None:
            return f"the {name} field {fields[index]!r} is not valid (allowed: {allowed})"
    return "not a valid expression: its fields do not combine"


def _random_field(fields: list[str], seconds: bool) -> str | None:
    """Why a field that draws a random value is refused (None: none does)."""
    if len(fields) == 1:
        return None  # an alias
    for (name, _), field in zip(_field_names(seconds), fields, strict=True):
        if any(_RANDOM.fullmatch(part) for part in field.split(",")):
            return (
                f"the {name} field {field!r} draws a random value (R), which would change "
                "each time the expression is read: write the value itself"
            )
    return None


@attrs.define(frozen=True)
class Cron:
    """A cron expression, read in ``timezone`` (default UTC).

    Five fields (minute hour day month weekday), or six with seconds first
    (``"*/10 * * * * *"``: every ten seconds), or an alias: ``@hourly``, ``@daily``
    (``@midnight``), ``@weekly``, ``@monthly``, ``@yearly`` (``@annually``). A day of the
    month and a day of the week both given match either (as in Vixie cron):
    ``0 0 13 * FRI`` fires on every 13th and every Friday. At most ``MAX_TEXT``
    characters; croniter's random values (``R``) are refused.

    Daylight saving: the fields name local wall-clock times, and each local time the
    expression names fires once. A local time that a spring-forward skips fires as far
    after the jump as it was into the gap (02:30 in a 02:00 -> 03:00 jump fires at 03:30
    local, the same instant as 01:30 before it); a local time that a fall-back repeats
    fires at its first occurrence only. So ``*/15 * * * *`` in a zone that falls back an
    hour does not fire in the repeated hour: 75 minutes pass between two of its slots. A
    fixed length of real time is an ``Interval``.
    """

    expression: str
    timezone: str = "UTC"
    _zone: tzinfo = attrs.field(init=False, eq=False, repr=False)
    # The parsed expression; each lookup works on a copy, so a Cron can be shared.
    _matcher: croniter = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.expression, str):
            raise InvalidOptionType("cron", self.expression, "expected a cron expression string")
        object.__setattr__(self, "expression", _validation.plain_str("cron", self.expression))
        bounded_text("cron", self.expression, MAX_TEXT, "a cron expression")
        expression = " ".join(self.expression.split())
        fields = expression.split(" ")
        if not (len(fields) == 1 and fields[0].lower() in _ALIASES) and len(fields) not in (5, 6):
            raise InvalidSchedule(
                "cron",
                self.expression,
                "expected 5 fields (minute hour day month weekday), 6 with seconds first, "
                "or an alias such as @hourly",
            )
        seconds = len(fields) == 6
        random_field = _random_field(fields, seconds)
        if random_field is not None:
            raise InvalidSchedule("cron", self.expression, random_field)
        matcher = _parsed(expression, seconds)
        if matcher is None:
            raise InvalidSchedule("cron", self.expression, _bad_field(fields, seconds))
        zone = time_zone("timezone", self.timezone)
        object.__setattr__(self, "expression", expression)
        object.__setattr__(self, "timezone", zone_name(zone))
        object.__setattr__(self, "_zone", zone)
        object.__setattr__(self, "_matcher", matcher)

    def __str__(self) -> str:
        return f"cron {self.expression!r} ({self.timezone})"

    # Slots are whole seconds. Local wall-clock times are naive datetimes; a local time
    # maps to the instant it has with fold=0 (before a change: see the rule above).
    # Around a change the local times before it and after it form two regions, each with
    # its own UTC offset; the slot is the best of the regions' first (or last) matches,
    # each one croniter lookup. A region of local times ends where fold=0 starts to
    # mean the new offset: the change plus the larger of the two offsets.

    def _match(self, local: datetime, *, backwards: bool) -> datetime | None:
        """The first matching local time after ``local`` (or before it), or None."""
        matcher = copy.copy(self._matcher)
        try:
            found: datetime
            if backwards:
                found = matcher.get_prev(datetime, start_time=local)
            else:
                found = matcher.get_next(datetime, start_time=local)
        except (CroniterBadDateError, *_OUT_OF_RANGE):
            return None  # none in the 50 years croniter searches, or past year 9999
        return found

    def _instant(self, local: datetime) -> float:
        return local.replace(tzinfo=self._zone).timestamp()

    def _offset(self, t: int) -> int:
        offset = datetime.fromtimestamp(t, self._zone).utcoffset()
        return 0 if offset is None else int(offset.total_seconds())

    def _regions(self, t: int) -> list[tuple[int, int | None, int | None]]:
        """The regions of local time around ``t``: (offset, first, end) with first and end
        in naive seconds (None: unbounded), one region unless the offset changes within
        ``_SHIFT`` of ``t``."""
        before, after = self._offset(t - _SHIFT), self._offset(t + _SHIFT)
        if before == after:
            return [(before, None, None)]
        low, high = t - _SHIFT, t + _SHIFT  # the change is in (low, high]: find it
        while high - low > 1:
            middle = (low + high) // 2
            if self._offset(middle) == before:
                low = middle
            else:
                high = middle
        boundary = high + max(before, after)
        return [(before, None, boundary), (after, boundary, None)]

    def _near_change(self, t: float) -> bool:
        t = math.floor(t)
        return self._offset(t - _SHIFT) != self._offset(t + _SHIFT)

    # A slot found far from t can still be near a change (a spring-forward maps the local
    # times it skips up to its length late, past slots after it): then the best slot is
    # within half of _SHIFT of the one found, and that change is within _SHIFT of there,
    # so looking from there settles it.

    def next_after(self, t: float) -> float | None:
        now = math.floor(t)
        try:
            slot = self._next_near(now)
            if slot is not None and self._near_change(slot):
                slot = self._next_near(max(now, math.floor(slot) - _SHIFT // 2))
        except _OUT_OF_RANGE:
            return None
        return slot

    def _next_near(self, t: int) -> float | None:
        best: float | None = None
        for offset, first, end in self._regions(t):
            after = t + offset if first is None else max(t + offset, first - 1)
            local = self._match(_EPOCH + timedelta(seconds=after), backwards=False)
            if local is None or (end is not None and local >= _EPOCH + timedelta(seconds=end)):
                continue
            slot = self._instant(local)
            best = slot if best is None else min(best, slot)
        return best

    def last_at_or_before(self, t: float) -> float | None:
        now = math.floor(t)
        try:
            slot = self._last_near(now)
            if slot is not None and self._near_change(slot):
                slot = self._last_near(min(now, math.floor(slot) + _SHIFT // 2))
        except _OUT_OF_RANGE:
            return None
        return slot

    def _last_near(self, t: int) -> float | None:
        best: float | None = None
        for offset, first, end in self._regions(t):
            upto = t + offset if end is None else min(t + offset, end - 1)
            local = self._match(_EPOCH + timedelta(seconds=upto + 1), backwards=True)
            if local is None or (first is not None and local < _EPOCH + timedelta(seconds=first)):
                continue
            slot = self._instant(local)
            best = slot if best is None else max(best, slot)
        return best


@attrs.define(frozen=True)
class Interval:
    """Every ``every`` of real time, counted from an anchor the schedule sets (its ``start``,
    else one interval after it was added). ``"@every 1h30m"`` is the string form
    (units ``ms``, ``s``, ``m``, ``h``, ``d``)."""

    every: timedelta

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.every, timedelta):
            raise InvalidOptionType("every", self.every, "expected a timedelta")
        _validation.duration("every", self.every)
        object.__setattr__(self, "every", _plain_timedelta(self.every))

    def __str__(self) -> str:
        return f"every {self.every}"

    @property
    def seconds(self) -> float:
        return self.every.total_seconds()


@attrs.define(frozen=True)
class Once:
    """A single run at ``at`` (a timezone-aware datetime)."""

    at: datetime

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "at", aware("at", self.at))

    def __str__(self) -> str:
        return f"once at {self.at.isoformat()}"


Trigger = Cron | Interval | Once


def parse_every(text: str) -> timedelta:
    """``"1h30m"`` (the part after ``@every``) as a timedelta."""
    text = text.strip()
    bounded_text("every", text, MAX_TEXT, "an interval")
    body = text.replace(" ", "")
    total = 0.0
    pos = 0
    for match in _EVERY_PART.finditer(body):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(body) or not body or total <= 0 or math.isinf(total):
        raise InvalidSchedule(
            "every",
            text,
            "expected a positive duration such as '90s', '15m', '1h30m' or '2d' "
            "(units ms, s, m, h, d)",
        )
    try:
        return timedelta(seconds=total)
    except OverflowError:
        raise InvalidSchedule(
            "every", clipped(text), "too long an interval (at most 999,999,999 days)"
        ) from None


def make_trigger(value: Any, zone: str | None) -> Trigger:
    """A trigger from what ``schedules.add`` accepts: a cron string, ``"@every ..."``,
    a timedelta, an aware datetime, or a ``Cron``/``Interval``/``Once``."""
    if isinstance(value, Cron):
        if zone is not None and time_zone("timezone", zone) != value._zone:
            raise InvalidSchedule(
                "timezone", zone, f"differs from the Cron trigger's own ({value.timezone})"
            )
        return value
    if isinstance(value, (Interval, Once)):
        return value
    if isinstance(value, str):
        stripped = _validation.plain_str("trigger", value).strip()
        if stripped.lower().startswith("@every"):
            return Interval(parse_every(stripped[len("@every") :]))
        return Cron(stripped, zone if zone is not None else "UTC")
    if isinstance(value, timedelta):
        return Interval(value)
    if isinstance(value, datetime):
        return Once(aware("trigger", value))
    raise InvalidOptionType(
        "trigger",
        value,
        "expected a cron string, '@every <duration>', a timedelta, an aware datetime, "
        "or a Cron/Interval/Once",
    )


@attrs.define(frozen=True)
class Timetable:
    """A trigger's slots within a schedule's bounds: from ``start``, up to ``end`` (both
    epoch seconds, inclusive). ``anchor`` is where an interval counts from (its first slot)."""

    trigger: Trigger
    anchor: float
    start: float | None = None
    end: float | None = None

    def _bounded(self, slot: float | None) -> float | None:
        if slot is None or (self.end is not None and slot > self.end):
            return None
        return slot

    def next_after(self, t: float) -> float | None:
        """The first slot strictly after ``t``, or None once there are no more."""
        if self.start is not None and t < self.start:
            t = math.nextafter(self.start, -math.inf)  # the start itself may be a slot
        trigger = self.trigger
        if isinstance(trigger, Cron):
            return self._bounded(trigger.next_after(t))
        if isinstance(trigger, Interval):
            if t < self.anchor:
                return self._bounded(self.anchor)
            every = trigger.seconds
            steps = math.floor((t - self.anchor) / every) + 1
            slot = self.anchor + steps * every
            if slot <= t:  # rounding
                slot += every
            return self._bounded(slot)
        at = trigger.at.timestamp()
        return self._bounded(at if at > t else None)

    def count(self, first: float, last: float, limit: int) -> int:
        """How many slots there are from the slot ``first`` to the slot ``last``, both
        counted: exactly for an interval, else up to ``limit``."""
        if isinstance(self.trigger, Interval):
            return round((last - first) / self.trigger.seconds) + 1
        count = 1
        slot: float | None = first
        while count < limit:
            slot = self.next_after(slot) if slot is not None else None
            if slot is None or slot > last:
                break
            count += 1
        return count

    def last_at_or_before(self, t: float) -> float | None:
        """The latest slot at or before ``t`` (within the bounds), or None."""
        if self.end is not None and t > self.end:
            t = self.end
        trigger = self.trigger
        slot: float | None
        if isinstance(trigger, Cron):
            slot = trigger.last_at_or_before(t)
        elif isinstance(trigger, Interval):
            if t < self.anchor:
                return None
            slot = self.anchor + math.floor((t - self.anchor) / trigger.seconds) * trigger.seconds
        else:
            at = trigger.at.timestamp()
            slot = at if at <= t else None
        if slot is None or (self.start is not None and slot < self.start):
            return None
        return slot
