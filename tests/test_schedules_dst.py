"""Daylight saving: a daily 02:30 local schedule fires exactly once per local day across
spring-forward and fall-back, in several time zones, over years of fake-clock time; an
interval-like cron skips the hour a fall-back repeats, while an interval keeps real time;
slots near a change follow the rule exactly, and cost a few croniter lookups.

The rule (see ``Cron``): a local time a spring-forward skips fires as far after the jump as
it was into the gap (02:30 -> 03:30 local); a local time a fall-back repeats fires at its
first occurrence only.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import pytest
from croniter import croniter

from asyncjobs import Cron, Interval, JobRunner, current_runner, job
from asyncjobs.testing import FakeClock

pytestmark = pytest.mark.anyio

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney"]
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


@job(name="tests.schedules_dst.note")
async def note(log: list[float]) -> None:
    log.append(current_runner().clock.time())


def skips_0230(zone: ZoneInfo, day: date) -> bool:
    """Whether 02:30 does not exist on this local day (a spring-forward gap)."""
    naive = datetime(day.year, day.month, day.day, 2, 30)
    there_and_back = (
        naive.replace(tzinfo=zone).astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None)
    )
    return there_and_back != naive


def check_once_a_day(fires: list[float], zone: ZoneInfo) -> tuple[int, int]:
    """Assert one fire per local day, at 02:30 (03:30 on a skipped day), first occurrence
    on a repeated one; return how many skipped and repeated days were crossed."""
    local = [datetime.fromtimestamp(t, zone) for t in fires]
    days = [moment.date() for moment in local]
    assert Counter(days).most_common(1)[0][1] == 1, "a local day fired twice"
    assert days == [days[0] + timedelta(d) for d in range(len(days))], "a local day was missed"
    skipped = repeated = 0
    for moment in local:
        if skips_0230(zone, moment.date()):
            skipped += 1
            assert (moment.hour, moment.minute) == (3, 30), moment
        else:
            assert (moment.hour, moment.minute) == (2, 30), moment
        if moment.replace(fold=1).utcoffset() != moment.replace(fold=0).utcoffset():
            repeated += 1
            assert moment.fold == 0, f"{moment} is the second occurrence"
    return skipped, repeated


@pytest.mark.parametrize("zone_name", ZONES)
def test_cron_slots_follow_the_rule_for_thirty_years(zone_name: str) -> None:
    zone = ZoneInfo(zone_name)
    cron = Cron("30 2 * * *", zone_name)
    fires: list[float] = []
    t = START.timestamp()
    end = datetime(2056, 1, 1, tzinfo=timezone.utc).timestamp()
    while True:
        slot = cron.next_after(t)
        assert slot is not None
        assert slot > t
        if slot > end:
            break
        fires.append(slot)
        t = slot
    skipped, repeated = check_once_a_day(fires, zone)
    assert skipped >= 29
    if zone_name != "America/New_York":  # New York repeats 01:00-02:00, not 02:30
        assert repeated >= 29


@pytest.mark.parametrize("zone_name", ZONES)
async def test_daily_0230_fires_once_a_local_day_for_three_years(zone_name: str) -> None:
    clock = FakeClock(START)
    zone = ZoneInfo(zone_name)
    log: list[float] = []
    # No retention sweep: it would wake every minute of the three years.
    runner = JobRunner(
        clock=clock, scheduler_max_sleep=86400, result_ttl=None, dead_letter_ttl=None
    )
    async with runner:
        with anyio.fail_after(60):
            await runner.schedules.add("nightly", note.call(log), "30 2 * * *", timezone=zone_name)
            await clock.advance(timedelta(days=3 * 365))
            record = await runner.schedules.get("nightly")
    assert record.runs == len(log) >= 3 * 365 - 1
    assert record.misses == 0
    skipped, repeated = check_once_a_day(log, zone)
    assert skipped == 3
    assert repeated == (0 if zone_name == "America/New_York" else 3)


# ----------------------------------------------------------------- the repeated hour

NEW_YORK = ZoneInfo("America/New_York")
# The changes of 2026: New York at 2 a.m. local, Berlin at 01:00 UTC.
CHANGES = {
    ("America/New_York", "fall-back"): datetime(2026, 11, 1, 6, tzinfo=timezone.utc),
    ("America/New_York", "spring-forward"): datetime(2026, 3, 8, 7, tzinfo=timezone.utc),
    ("Europe/Berlin", "fall-back"): datetime(2026, 10, 25, 1, tzinfo=timezone.utc),
    ("Europe/Berlin", "spring-forward"): datetime(2026, 3, 29, 1, tzinfo=timezone.utc),
}


async def fires_over(
    trigger: str | Interval, zone: str, start: datetime, hours: float
) -> list[float]:
    """The fires of a schedule added at ``start`` (an interval starts there), over
    ``hours`` of fake time."""
    clock = FakeClock(start)
    log: list[float] = []
    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(10):
            begins = start if isinstance(trigger, Interval) else None
            await runner.schedules.add("s", note.call(log), trigger, timezone=zone, start=begins)
            await clock.advance(hours * 3600)
    return log


def gaps(fires: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(fires)]


async def test_an_interval_like_cron_skips_the_repeated_hour_at_fall_back() -> None:
    # Wall-clock semantics: each local time fires once, the first time it comes. After
    # 01:45 EDT the clocks go back to 01:00 EST: 01:00 to 01:45 have fired already.
    start = CHANGES["America/New_York", "fall-back"] - timedelta(hours=2)  # 00:00 EDT
    fires = await fires_over("*/15 * * * *", "America/New_York", start, 4)
    assert [f"{datetime.fromtimestamp(t, NEW_YORK):%H:%M%z}" for t in fires] == [
        "00:15-0400",
        "00:30-0400",
        "00:45-0400",
        "01:00-0400",
        "01:15-0400",
        "01:30-0400",
        "01:45-0400",
        "02:00-0500",  # 75 minutes after 01:45 EDT
        "02:15-0500",
        "02:30-0500",
        "02:45-0500",
        "03:00-0500",
    ]
    assert gaps(fires) == [900.0] * 6 + [4500.0] + [900.0] * 4


@pytest.mark.parametrize(
    ("zone_name", "change"),
    sorted(CHANGES),
    ids=[f"{zone}-{change}" for zone, change in sorted(CHANGES)],
)
async def test_an_interval_keeps_fixed_real_time_across_either_change(
    zone_name: str, change: str
) -> None:
    # Elapsed time, whatever the zone: started on a quarter hour, an interval lands on the
    # local quarter hours and fires right through a change: twice over the local times of
    # a repeated hour, and on the hour after a skipped one.
    zone = ZoneInfo(zone_name)
    start = CHANGES[zone_name, change] - timedelta(hours=3)
    fires = await fires_over(Interval(timedelta(minutes=15)), zone_name, start, 6)
    assert len(fires) == 6 * 4  # every 15 minutes after the start
    assert set(gaps(fires)) == {900.0}
    assert {datetime.fromtimestamp(t, zone).minute for t in fires} == {0, 15, 30, 45}
    assert len({datetime.fromtimestamp(t, zone).utcoffset() for t in fires}) == 2


@pytest.mark.parametrize(
    ("zone_name", "change"),
    sorted(CHANGES),
    ids=[f"{zone}-{change}" for zone, change in sorted(CHANGES)],
)
def test_a_dense_cron_near_a_change_costs_a_few_lookups(
    zone_name: str, change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every second, within hours of a change: once thousands of croniter steps for each
    # slot (a walk over the three hours before it), now a handful.
    calls = 0

    def counted(method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            return method(*args, **kwargs)

        return call

    monkeypatch.setattr(croniter, "get_next", counted(croniter.get_next))
    monkeypatch.setattr(croniter, "get_prev", counted(croniter.get_prev))
    cron = Cron("* * * * * *", zone_name)
    at = CHANGES[zone_name, change].timestamp()
    for offset in (-7200, -3600, -1, 0, 1, 1800, 3599, 3600, 7200):
        t = at + offset + 0.5
        after, upto = math.floor(t) + 1, math.floor(t)
        if change == "fall-back":  # the repeated hour has no slots the second time round
            after = at + 3600 if at <= after < at + 3600 else after
            upto = at - 1 if at <= upto < at + 3600 else upto
        calls = 0
        assert cron.next_after(t) == after
        assert cron.last_at_or_before(t) == upto
        assert calls <= 8, (offset, calls)


def slots_by_the_rule(cron: Cron, zone: ZoneInfo, around: datetime) -> list[float]:
    """Every slot within days of ``around``, read from the rule itself: each matching
    local time, at the instant it has with fold=0."""
    naive = around.astimezone(timezone.utc).replace(tzinfo=None)
    matches = croniter(cron.expression, naive - timedelta(days=3))
    found: set[float] = set()
    while (local := matches.get_next(datetime)) < naive + timedelta(days=3):
        found.add(local.replace(tzinfo=zone).timestamp())
    return sorted(found)


@pytest.mark.parametrize(
    ("zone_name", "expression", "change"),
    [
        ("America/New_York", "*/15 * * * *", datetime(2026, 11, 1, 6, tzinfo=timezone.utc)),
        ("America/New_York", "10,50 1,2 * * *", datetime(2026, 3, 8, 7, tzinfo=timezone.utc)),
        ("Europe/Berlin", "30 2 * * *", datetime(2026, 3, 29, 1, tzinfo=timezone.utc)),
        ("Australia/Sydney", "15,45 1-3 * * *", datetime(2026, 4, 4, 16, tzinfo=timezone.utc)),
        # Half an hour forward: 02:10 maps to 02:40, later than 02:35 after it.
        (
            "Australia/Lord_Howe",
            "10,35 2 * * *",
            datetime(2026, 10, 3, 15, 30, tzinfo=timezone.utc),
        ),
        ("Australia/Lord_Howe", "*/20 1-3 * * *", datetime(2026, 4, 4, 15, tzinfo=timezone.utc)),
    ],
)
def test_slots_near_a_change_are_the_rules_own(
    zone_name: str, expression: str, change: datetime
) -> None:
    zone = ZoneInfo(zone_name)
    cron = Cron(expression, zone_name)
    slots = slots_by_the_rule(cron, zone, change)
    low, high = change.timestamp() - 8 * 3600, change.timestamp() + 8 * 3600
    probes = {low + step * 613.7 for step in range(int((high - low) / 613.7))}
    probes |= {slot + d for slot in slots if low <= slot <= high for d in (-1, -0.5, 0, 0.5)}
    for t in sorted(probes):
        later = [slot for slot in slots if slot > t]
        earlier = [slot for slot in slots if slot <= t]
        assert cron.next_after(t) == later[0], datetime.fromtimestamp(t, zone)
        assert cron.last_at_or_before(t) == earlier[-1], datetime.fromtimestamp(t, zone)
