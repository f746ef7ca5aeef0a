"""Daylight saving: a daily 02:30 local schedule fires exactly once per local day across
spring-forward and fall-back, in several time zones, over years of fake-clock time.

The rule (see ``Cron``): a local time a spring-forward skips fires as far after the jump as
it was into the gap (02:30 -> 03:30 local); a local time a fall-back repeats fires at its
first occurrence only.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import anyio
import pytest

from asyncjobs import Cron, JobRunner, current_runner, job
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
