"""When a schedule fires: cron expressions, fixed intervals and one-shot times.

A trigger turns wall-clock time (epoch seconds) into *slots*: the instants a schedule is meant
to fire at. ``next_after(t)`` is the first slot strictly after ``t``; ``last_at_or_before(t)``
the latest slot at or before ``t``. Both return None when there is none.

Cron slots follow local wall-clock time in the trigger's time zone (the rule for daylight
saving is on ``Cron``); intervals are fixed lengths of real time, unaffected by time zones.
"""

from __future__ import annotations

import math
import re
import zoneinfo
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

import attrs
from croniter import CroniterBadDateError, CroniterError, croniter

from . import _validation
from ._errors import InvalidOptionType, InvalidSchedule

# The largest amount a daylight-saving (or other offset) change moves local time by: two
# hours covers every zone in the tz database today (most move one hour, Lord Howe half).
_SHIFT = timedelta(hours=3)
# Cron slots are whole seconds: a time inside a second belongs to that second.
_SECOND = timedelta(seconds=1)
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


def time_zone(field: str, value: Any) -> zoneinfo.ZoneInfo | timezone:
    """A time zone from an IANA name (``"Europe/Berlin"``), a ``ZoneInfo`` or ``timezone.utc``."""
    if isinstance(value, (zoneinfo.ZoneInfo, timezone)):
        return value
    if not isinstance(value, str):
        raise InvalidOptionType(field, value, "expected an IANA time zone name or a ZoneInfo")
    if value.upper() == "UTC":
        return timezone.utc
    try:
        return zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidSchedule(
            field, value, "unknown time zone (expected an IANA name such as 'Europe/Berlin')"
        ) from None


def aware(field: str, value: Any) -> datetime:
    """A timezone-aware datetime for a schedule; a naive one is an ``InvalidSchedule``."""
    if isinstance(value, datetime) and (value.tzinfo is None or value.utcoffset() is None):
        raise InvalidSchedule(
            field, value, "naive datetime; attach a time zone (e.g. tzinfo=timezone.utc)"
        )
    return _validation.aware_datetime(field, value)


def zone_name(zone: tzinfo) -> str:
    return "UTC" if zone is timezone.utc else str(zone)


def _parses(expression: str, seconds: bool) -> bool:
    try:
        croniter(expression, datetime(2000, 1, 1), second_at_beginning=seconds)
    except (CroniterError, ValueError):
        return False
    return True


def _bad_field(fields: list[str], seconds: bool) -> str:
    """Which field of a refused expression is wrong, and what it allows."""
    names = ((_SECOND_FIELD,) if seconds else ()) + _FIELDS
    for index, (name, allowed) in enumerate(names):
        alone = ["*"] * len(fields)
        alone[index] = fields[index]
        if not _parses(" ".join(alone), seconds):
            return f"the {name} field {fields[index]!r} is not valid (allowed: {allowed})"
    return "not a valid expression: its fields do not combine"


@attrs.define(frozen=True)
class Cron:
    """A cron expression, read in ``timezone`` (default UTC).

    Five fields (minute hour day month weekday), or six with seconds first
    (``"*/10 * * * * *"``: every ten seconds), or an alias: ``@hourly``, ``@daily``
    (``@midnight``), ``@weekly``, ``@monthly``, ``@yearly`` (``@annually``).

    Daylight saving: each local time the expression names fires once. A local time that a
    spring-forward skips fires as far after the jump as it was into the gap (02:30 in a
    02:00 -> 03:00 jump fires at 03:30 local, the same instant as 01:30 before it); a local
    time that a fall-back repeats fires at its first occurrence only.
    """

    expression: str
    timezone: str = "UTC"
    _zone: tzinfo = attrs.field(init=False, eq=False, repr=False)
    _seconds: bool = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.expression, str):
            raise InvalidOptionType("cron", self.expression, "expected a cron expression string")
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
        if not _parses(expression, seconds):
            raise InvalidSchedule("cron", self.expression, _bad_field(fields, seconds))
        zone = time_zone("timezone", self.timezone)
        object.__setattr__(self, "expression", expression)
        object.__setattr__(self, "timezone", zone_name(zone))
        object.__setattr__(self, "_zone", zone)
        object.__setattr__(self, "_seconds", seconds)

    def __str__(self) -> str:
        return f"cron {self.expression!r} ({self.timezone})"

    def _walk(self, start: datetime, *, backwards: bool = False) -> Iterator[datetime]:
        """Naive local slot times after (or before) the naive local time ``start``."""
        try:
            it = croniter(self.expression, start, second_at_beginning=self._seconds)
            step = it.get_prev if backwards else it.get_next
            while True:
                yield step(datetime)
        except CroniterBadDateError:
            return  # no slot in the years croniter searches: the expression never fires

    def _instant(self, local: datetime) -> float:
        """The epoch time of a naive local time (fold=0: before the change, see above)."""
        return local.replace(tzinfo=self._zone, fold=0).timestamp()

    def _local(self, t: float) -> datetime:
        return datetime.fromtimestamp(t, self._zone).replace(tzinfo=None)

    def _near_change(self, t: float) -> bool:
        """Whether the zone's UTC offset changes within ``_SHIFT`` of ``t``."""
        zone = self._zone
        before = datetime.fromtimestamp(t - _SHIFT.total_seconds(), zone).utcoffset()
        after = datetime.fromtimestamp(t + _SHIFT.total_seconds(), zone).utcoffset()
        return before != after

    def next_after(self, t: float) -> float | None:
        near = self._near_change(t)
        # Slots are whole seconds: start from the second t is in. (Rounding t to the
        # microsecond could carry a time just before a slot onto the slot itself.)
        start = self._local(math.floor(t))
        if near:  # a slot in a skipped hour maps later than slots after it: look back first
            start -= _SHIFT
        for local in self._walk(start):
            instant = self._instant(local)
            if instant > t:
                return instant
        return None

    def last_at_or_before(self, t: float) -> float | None:
        near = self._near_change(t)
        local_t = self._local(math.floor(t))
        start = local_t + _SECOND + (_SHIFT if near else timedelta(0))
        best: float | None = None
        floor = local_t - _SHIFT
        for local in self._walk(start, backwards=True):
            instant = self._instant(local)
            if instant <= t:
                if not near:
                    return instant
                best = instant if best is None else max(best, instant)
            if local < floor and best is not None:
                break
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
        aware("at", self.at)

    def __str__(self) -> str:
        return f"once at {self.at.isoformat()}"


Trigger = Cron | Interval | Once


def parse_every(text: str) -> timedelta:
    """``"1h30m"`` (the part after ``@every``) as a timedelta."""
    text = text.strip()
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
    return timedelta(seconds=total)


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
        stripped = value.strip()
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
