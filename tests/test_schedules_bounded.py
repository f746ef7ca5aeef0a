"""Schedule input is bounded in size and cost: overlong expressions, intervals, time zones
and names are refused with a typed error that names the field and repeats only the start
of the value (as do the errors for long policies and unknown names); expressions that
match no date, or only rarely, are settled at ``add``; nothing a schedule asks for reaches
past the years datetime can hold."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

import anyio
import pytest

from asyncjobs import (
    Cron,
    Interval,
    InvalidOption,
    InvalidOptionType,
    InvalidSchedule,
    JobRunner,
    Once,
    ScheduleNotFound,
    job,
)
from asyncjobs.testing import FakeClock

pytestmark = pytest.mark.anyio

UTC = timezone.utc


@job(name="tests.schedules_bounded.tick")
async def tick() -> None:
    pass


LONG_CRON = "*  " * 400  # 1,200 characters (whitespace counts: it is what was given)


@pytest.mark.parametrize(
    ("trigger", "options", "field", "length"),
    [
        (LONG_CRON + "* * * * *", {}, "cron", 1_200 + 9),
        ("@every " + "1s" * 5_000, {}, "every", 10_000),
        ("@hourly", {"timezone": "Europe/" + "x" * 100_000}, "timezone", 100_007),
    ],
)
async def test_overlong_schedule_strings_are_refused_echoing_only_their_start(
    clock: FakeClock, trigger: str, options: dict[str, Any], field: str, length: int
) -> None:
    async with JobRunner(clock=clock) as runner:
        with pytest.raises(InvalidSchedule) as caught:
            await runner.schedules.add("long", tick, trigger, **options)
        error = caught.value
        assert error.field == field
        assert f"({length:,} characters)" in str(error)
        assert "too long" in str(error)
        assert len(str(error)) < 200
        assert await runner.schedules.list() == []
        await runner.schedules.add("long", tick, "@daily")
        with pytest.raises(InvalidSchedule) as caught:
            await runner.schedules.update("long", trigger=trigger, **options)
        assert caught.value.field == field
        assert (await runner.schedules.get("long")).trigger == Cron("@daily")


def test_a_cron_object_is_bounded_too() -> None:
    with pytest.raises(InvalidSchedule) as caught:
        Cron("0," * 1_000 + "0 * * * *")
    assert caught.value.field == "cron"
    assert str(caught.value).startswith("cron='0,0,0,")
    longest = ",".join(["0"] * 251) + " * * * *"  # 509 characters: taken
    assert Cron(longest).next_after(0) == 60 * 60


async def test_an_overlong_schedule_name_is_refused(clock: FakeClock) -> None:
    async with JobRunner(clock=clock) as runner:
        with pytest.raises(InvalidOption) as caught:
            await runner.schedules.add("n" * 10_000, tick, "@daily")
        assert caught.value.field == "name"
        assert "(10,000 characters)" in str(caught.value)
        assert len(str(caught.value)) < 200
        assert (await runner.schedules.add("n" * 200, tick, "@daily")).name == "n" * 200


async def test_long_names_and_policies_are_echoed_only_in_part(clock: FakeClock) -> None:
    async with JobRunner(clock=clock) as runner:
        schedules = runner.schedules
        long = "x" * 100_000
        refusals: list[tuple[Any, str]] = []
        for field, call in (
            ("misfire", lambda: schedules.add("s", tick, "@daily", misfire=long)),
            ("overlap", lambda: schedules.add("s", tick, "@daily", overlap=long)),
            ("if_exists", lambda: schedules.add("s", tick, "@daily", if_exists=long)),
            ("state", lambda: schedules.list(state=long)),
        ):
            with pytest.raises(InvalidOption) as caught:
                await call()
            refusals.append((caught.value, field))
        with pytest.raises(ScheduleNotFound) as missing:
            await schedules.get(long)
        for error, field in refusals:
            assert error.field == field
            assert "(100,000 characters)" in str(error)
            assert len(str(error)) < 300
        assert len(str(missing.value)) < 100
        with pytest.raises(InvalidOptionType, match="name"):
            await schedules.get(["s"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "expression",
    [
        "0 0 30 2 *",  # 30 February
        "0 0 31 4,6,9,11 *",  # the 31st of a 30-day month
        "0 0 30,31 2 *",
        "* * * 31 2 *",  # six fields: every second of a day that never comes
        "0 0 31 2 1#5",  # a nth weekday narrows the day of month: both must match
        "0 0 31 2 L5",
    ],
)
async def test_an_expression_that_matches_no_date_is_refused_at_add(
    clock: FakeClock, expression: str
) -> None:
    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            with pytest.raises(InvalidSchedule, match="matches no date") as caught:
                await runner.schedules.add("never", tick, expression)
        assert (caught.value.field, caught.value.value) == ("cron", expression)
        assert await runner.schedules.list() == []


@pytest.mark.parametrize(
    ("expression", "first"),
    [
        ("0 0 29 2 *", datetime(2028, 2, 29, tzinfo=UTC)),
        ("0 0 29 2 1#5", datetime(2044, 2, 29, tzinfo=UTC)),  # a fifth Monday in February
        ("0 0 13 * FRI", datetime(2026, 1, 2, tzinfo=UTC)),  # the 13th, or any Friday
        ("0 0 31 * *", datetime(2026, 1, 31, tzinfo=UTC)),
        ("0 0 L 2 *", datetime(2026, 2, 28, tzinfo=UTC)),
    ],
)
async def test_rare_and_combined_days_are_taken_and_fire_when_they_come(
    clock: FakeClock, expression: str, first: datetime
) -> None:
    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            record = await runner.schedules.add("rare", tick, expression)
            assert record.next_run == first


@pytest.mark.parametrize("expression", ["R * * * *", "0 R(0-5) * * *", "0 0 * * r/2"])
def test_random_values_are_refused(expression: str) -> None:
    # croniter draws R afresh each time it parses the expression: a timetable that changes
    # whenever it is read (a restart, an update) would fire twice or not at all.
    with pytest.raises(InvalidSchedule, match=r"random value \(R\)") as caught:
        Cron(expression)
    assert caught.value.field == "cron"


@pytest.mark.parametrize(
    ("trigger", "options", "field"),
    [
        ("@hourly", {"start": datetime(9999, 12, 31, 23, 30, tzinfo=UTC)}, "start"),
        (timedelta(days=999_999_999), {}, "every"),
        ("@hourly", {"jitter": 1e300}, "jitter"),
        (datetime(2026, 6, 1, tzinfo=UTC), {"start": datetime(2026, 7, 1, tzinfo=UTC)}, "start"),
    ],
)
async def test_a_timetable_past_the_year_9999_or_its_bounds_is_refused(
    clock: FakeClock, trigger: Any, options: dict[str, Any], field: str
) -> None:
    async with JobRunner(clock=clock) as runner:
        with pytest.raises(InvalidSchedule) as caught:
            await runner.schedules.add("far", tick, trigger, **options)
        assert caught.value.field == field
        assert await runner.schedules.list() == []


def test_a_moment_past_the_year_9998_is_refused_when_made() -> None:
    # UTC+14 would make that moment year 10000 locally: the calendar's end is kept away.
    with pytest.raises(InvalidSchedule) as caught:
        Once(datetime(9999, 12, 31, 23, tzinfo=UTC))
    assert caught.value.field == "at"


def test_cron_slots_end_where_the_calendar_does() -> None:
    yearly = Cron("@yearly", "Europe/Berlin")
    assert yearly.next_after(datetime(9999, 6, 1, tzinfo=UTC).timestamp()) is None
    assert yearly.last_at_or_before(datetime(1, 6, 1, tzinfo=UTC).timestamp()) is None
    assert (
        yearly.next_after(datetime(9998, 6, 1, tzinfo=UTC).timestamp())
        == (datetime(9999, 1, 1, tzinfo=UTC) - timedelta(hours=1)).timestamp()
    )


# ---- hostile values (issue 15): the edges of datetime, subclasses, raising methods


class _Boom(Exception):
    pass


class _StrHashRaises(str):
    def __hash__(self) -> int:
        raise _Boom("str subclass __hash__")


class _StrEqRaises(str):
    __hash__ = str.__hash__

    def __eq__(self, other: object) -> bool:
        raise _Boom("str subclass __eq__")

    def __ne__(self, other: object) -> bool:
        raise _Boom("str subclass __ne__")


class _RaisingZone(tzinfo):
    def utcoffset(self, dt: datetime | None) -> timedelta:
        raise _Boom("utcoffset")

    def dst(self, dt: datetime | None) -> timedelta:
        raise _Boom("dst")

    def tzname(self, dt: datetime | None) -> str:
        raise _Boom("tzname")


class _DatetimeTimestampRaises(datetime):
    def timestamp(self) -> float:
        raise _Boom("datetime subclass timestamp")


class _TimedeltaRaises(timedelta):
    def total_seconds(self) -> float:
        raise _Boom("timedelta subclass total_seconds")


@pytest.mark.parametrize("text", ["@every 99999999999d", "@every 1" + "0" * 30 + "s"])
async def test_an_interval_too_long_for_a_timedelta_is_refused(clock: FakeClock, text: str) -> None:
    async with JobRunner(clock=clock) as runner:
        with pytest.raises(InvalidSchedule) as caught:
            await runner.schedules.add("far", tick, text)
        assert caught.value.field == "every"
        await runner.schedules.add("s", tick, "@every 10s")
        with pytest.raises(InvalidSchedule, match="every"):
            await runner.schedules.update("s", trigger=text)


EDGES = {
    "max-utc": datetime.max.replace(tzinfo=UTC),
    "max-minus-23h59": datetime.max.replace(tzinfo=timezone(-timedelta(hours=23, minutes=59))),
    "min-utc": datetime.min.replace(tzinfo=UTC),
    "min-plus-23h59": datetime.min.replace(tzinfo=timezone(timedelta(hours=23, minutes=59))),
}


@pytest.mark.parametrize("edge", list(EDGES))
@pytest.mark.parametrize("field", ["start", "end"])
async def test_bounds_at_the_edges_of_datetime_are_refused_naming_them(
    clock: FakeClock, field: str, edge: str
) -> None:
    async with JobRunner(clock=clock) as runner:
        options: dict[str, Any] = {field: EDGES[edge]}
        with pytest.raises(InvalidSchedule) as caught:
            await runner.schedules.add("edge", tick, "@every 10s", **options)
        assert caught.value.field == field
        assert await runner.schedules.list() == []


async def test_a_datetime_subclass_is_read_as_a_plain_datetime(clock: FakeClock) -> None:
    at = _DatetimeTimestampRaises(2026, 1, 1, 1, tzinfo=UTC)
    once = Once(at)
    assert type(once.at) is datetime
    assert once.at == datetime(2026, 1, 1, 1, tzinfo=UTC)
    async with JobRunner(clock=clock) as runner:
        await runner.schedules.add("once", tick, Once(at))
        await runner.schedules.add("at", tick, at)
        bounded = await runner.schedules.add(
            "bounded",
            tick,
            "@every 10m",
            start=_DatetimeTimestampRaises(2026, 1, 1, 0, 30, tzinfo=UTC),
            end=_DatetimeTimestampRaises(2026, 1, 2, tzinfo=UTC),
        )
        assert bounded.start == datetime(2026, 1, 1, 0, 30, tzinfo=UTC)
        await clock.advance(3600 + 1)
        for name in ("once", "at", "bounded"):
            record = await runner.schedules.get(name)
            assert record.runs >= 1, record


async def test_a_time_zone_whose_offset_raises_is_refused_typed(clock: FakeClock) -> None:
    moment = datetime(2026, 1, 1, 1, tzinfo=_RaisingZone())
    with pytest.raises(InvalidOptionType) as caught:
        Once(moment)
    assert caught.value.field == "at"
    async with JobRunner(clock=clock) as runner:
        for field in ("start", "end", "trigger"):
            options: dict[str, Any] = {"trigger": "@every 10s", field: moment}
            trigger = options.pop("trigger")
            with pytest.raises(InvalidOptionType) as caught:
                await runner.schedules.add("zone", tick, trigger, **options)
            assert caught.value.field == field
        assert await runner.schedules.list() == []


def test_an_interval_keeps_a_plain_timedelta() -> None:
    interval = Interval(_TimedeltaRaises(seconds=90))
    assert type(interval.every) is timedelta
    assert interval.seconds == 90.0
    assert interval == Interval(timedelta(seconds=90))


async def test_time_zone_and_cron_strings_are_read_as_plain_strings(clock: FakeClock) -> None:
    for zone in (_StrHashRaises("Europe/Berlin"), _StrEqRaises("Europe/Berlin")):
        cron = Cron(_StrEqRaises("0 * * * *"), timezone=zone)
        assert (type(cron.expression), type(cron.timezone)) == (str, str)
        assert cron.timezone == "Europe/Berlin"
    async with JobRunner(clock=clock) as runner:
        record = await runner.schedules.add(
            "berlin", tick, _StrHashRaises("0 * * * *"), timezone=_StrHashRaises("Europe/Berlin")
        )
        assert record.timezone == "Europe/Berlin"
        record = await runner.schedules.update("berlin", timezone=_StrEqRaises("UTC"))
        assert record.timezone == "UTC"


async def test_schedule_names_are_looked_up_as_plain_strings(clock: FakeClock) -> None:
    async with JobRunner(clock=clock) as runner:
        await runner.schedules.add(_StrEqRaises("s"), tick, "@every 10s")
        for name in (_StrHashRaises("s"), _StrEqRaises("s")):
            assert (await runner.schedules.get(name)).name == "s"
            await runner.schedules.pause(name)
            await runner.schedules.resume(name)
            handle = await runner.schedules.run_now(name)
            await handle
        with pytest.raises(ScheduleNotFound):
            await runner.schedules.get(_StrHashRaises("other"))
        for bad in (None, 1, b"s", ["s"]):
            with pytest.raises(InvalidOptionType, match="name"):
                await runner.schedules.get(bad)  # type: ignore[arg-type]


async def test_a_fixed_offset_zone_of_whole_hours_is_kept_by_an_iana_name(
    clock: FakeClock,
) -> None:
    async with JobRunner(clock=clock) as runner:
        await runner.schedules.add("nine", tick, "0 9 * * *", timezone=timezone(timedelta(hours=2)))
        record = await runner.schedules.get("nine")
        assert record.timezone == "Etc/GMT-2"  # POSIX's sign: two hours east of UTC
        assert record.next_run is not None
        assert record.next_run.utcoffset() == timedelta(hours=2)
        assert (record.next_run.hour, record.next_run.minute) == (9, 0)
        await runner.schedules.update("nine", timezone=timezone(timedelta(hours=-5)))
        assert (await runner.schedules.get("nine")).timezone == "Etc/GMT+5"
        with pytest.raises(InvalidSchedule, match="whole number of hours"):
            await runner.schedules.add(
                "half", tick, "0 9 * * *", timezone=timezone(timedelta(hours=5, minutes=30))
            )
        assert [s.name for s in await runner.schedules.list()] == ["nine"]
