"""Schedules: cron, intervals and one-shots on the fake clock; management; misfires and
overlap; refusals at creation; events; restarts that never re-fire a slot."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import anyio
import pytest

from asyncjobs import (
    Cron,
    EventBus,
    FixedBackoff,
    Interval,
    InvalidArguments,
    InvalidOption,
    InvalidOptionType,
    InvalidSchedule,
    JobRunner,
    JobState,
    MemoryJobStore,
    QueueConfig,
    Retry,
    ScheduleEvent,
    ScheduleExists,
    ScheduleFired,
    ScheduleMissed,
    ScheduleNotFound,
    ScheduleRecord,
    ScheduleState,
    UnknownQueue,
    current_runner,
    job,
)
from asyncjobs.testing import FakeClock

pytestmark = pytest.mark.anyio

UTC = timezone.utc
START = datetime(2026, 1, 1, tzinfo=UTC)  # the fake clock's start


@job(name="tests.schedules.note")
async def note(log: list[float]) -> None:
    log.append(current_runner().clock.time())


_gates: dict[str, anyio.Event] = {}


@job(name="tests.schedules.hold")
async def hold(log: list[float], gate: str) -> None:
    log.append(current_runner().clock.time())
    await _gates[gate].wait()


_failures: dict[str, int] = {}


@job(name="tests.schedules.flaky", retry=Retry(max_attempts=2, backoff=FixedBackoff(delay=1)))
async def flaky(key: str, log: list[float]) -> str:
    log.append(current_runner().clock.time())
    _failures[key] = _failures.get(key, 0) + 1
    if _failures[key] == 1:
        raise ConnectionError(key)
    return key


def at(*parts: int) -> float:
    return datetime(*parts, tzinfo=UTC).timestamp()  # type: ignore[misc]


def offsets(log: list[float]) -> list[float]:
    """Seconds since the fake clock's start."""
    return [t - START.timestamp() for t in log]


# ----------------------------------------------------------------- firing


async def test_cron_fires_each_slot_on_time_and_never_early(clock: FakeClock) -> None:
    log: list[float] = []
    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            record = await runner.schedules.add("quarter", note.call(log), "*/15 * * * *")
            assert record.next_run == START + timedelta(minutes=15)
            assert record.state is ScheduleState.ACTIVE
            await clock.advance(15 * 60 - 1)
            assert log == []  # one second early: nothing
            await clock.advance(1)
            assert offsets(log) == [900.0]
            await clock.advance(45 * 60)
            assert offsets(log) == [900.0, 1800.0, 2700.0, 3600.0]
            record = await runner.schedules.get("quarter")
            assert record.runs == 4
            assert record.last_outcome is JobState.SUCCEEDED
            assert record.last_slot_at == at(2026, 1, 1, 1)
            assert runner.schedules.statistics().fired == 4


async def test_seconds_field_aliases_intervals_and_one_shots(clock: FakeClock) -> None:
    seconds: list[float] = []
    hourly: list[float] = []
    every: list[float] = []
    once: list[float] = []
    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            schedules = runner.schedules
            await schedules.add("tens", note.call(seconds), "*/10 * * * * *")
            await schedules.add("hourly", note.call(hourly), "@hourly")
            await schedules.add("every", note.call(every), "@every 1h30m")
            await schedules.add("once", note.call(once), START + timedelta(minutes=5))
            await clock.advance(30)
            assert offsets(seconds) == [10.0, 20.0, 30.0]
            await schedules.remove("tens")
            await clock.advance(3 * 3600)
            assert offsets(hourly) == [3600.0, 7200.0, 10800.0]
            assert offsets(every) == [5400.0, 10800.0]
            assert offsets(once) == [300.0]
            assert (await schedules.get("once")).state is ScheduleState.FINISHED
            assert len(seconds) == 3  # removed: no more fires


async def test_start_end_and_max_runs_bound_the_slots(clock: FakeClock) -> None:
    bounded: list[float] = []
    counted: list[float] = []
    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            await runner.schedules.add(
                "bounded",
                note.call(bounded),
                timedelta(minutes=10),
                start=START + timedelta(minutes=30),
                end=START + timedelta(minutes=50),
            )
            await runner.schedules.add("counted", note.call(counted), "* * * * *", max_runs=3)
            await clock.advance(3600)
            assert offsets(bounded) == [1800.0, 2400.0, 3000.0]  # from start, to end
            assert offsets(counted) == [60.0, 120.0, 180.0]
            stats = runner.schedules.statistics()
            assert (stats.active, stats.finished) == (0, 2)
            finished = await runner.schedules.list(state="finished")
            assert [r.name for r in finished] == ["bounded", "counted"]
            assert finished[0].next_run is None


async def test_each_fire_is_an_ordinary_job_with_its_options(clock: FakeClock) -> None:
    log: list[float] = []
    _failures.pop("scheduled", None)
    queues = {"default": 1, "reports": QueueConfig(concurrency=1)}
    async with JobRunner(clock=clock, queues=queues) as runner:
        with anyio.fail_after(5):
            await runner.schedules.add(
                "flaky",
                flaky.with_options(queue="reports", priority=5).call("scheduled", log),
                "@every 1m",
                max_runs=1,
            )
            await clock.advance(60)
            record = await runner.schedules.get("flaky")
            assert record.last_job_id is not None
            first = await runner.get_job(record.last_job_id)
            assert (first.queue, first.priority) == ("reports", 5)
            await clock.advance(1)  # the retry's backoff
            assert offsets(log) == [60.0, 61.0]
            record = await runner.schedules.get("flaky")
            assert record.last_outcome is JobState.SUCCEEDED


# ----------------------------------------------------------------- refused at creation


@pytest.mark.parametrize(
    ("trigger", "options", "error", "field"),
    [
        ("61 * * * *", {}, InvalidSchedule, "cron"),
        ("* * *", {}, InvalidSchedule, "cron"),
        ("0 0 30 2 *", {}, InvalidSchedule, "cron"),
        ("@every", {}, InvalidSchedule, "every"),
        ("@every 5x", {}, InvalidSchedule, "every"),
        ("@every 0s", {}, InvalidSchedule, "every"),
        ("0 3 * * *", {"timezone": "Mars/Olympus"}, InvalidSchedule, "timezone"),
        (datetime(2026, 6, 1), {}, InvalidSchedule, "trigger"),
        (START - timedelta(days=1), {}, InvalidSchedule, "at"),
        ("@hourly", {"start": datetime(2026, 6, 1)}, InvalidSchedule, "start"),
        ("@hourly", {"end": datetime(2026, 6, 1)}, InvalidSchedule, "end"),
        ("@hourly", {"end": START + timedelta(minutes=30)}, InvalidSchedule, "end"),
        ("@hourly", {"start": START + timedelta(days=2), "end": START}, InvalidSchedule, "end"),
        ("@hourly", {"max_runs": 0}, InvalidOption, "max_runs"),
        ("@hourly", {"jitter": -1}, InvalidOption, "jitter"),
        ("@hourly", {"misfire": "sometimes"}, InvalidOption, "misfire"),
        ("@hourly", {"misfire_grace": 0}, InvalidOption, "misfire_grace"),
        ("@hourly", {"overlap": "maybe"}, InvalidOption, "overlap"),
        ("@hourly", {"if_exists": "merge"}, InvalidOption, "if_exists"),
        (42, {}, InvalidOptionType, "trigger"),
    ],
)
async def test_bad_schedules_are_refused_naming_field_and_value(
    clock: FakeClock, trigger: Any, options: dict[str, Any], error: type[Exception], field: str
) -> None:
    async with JobRunner(clock=clock) as runner:
        with pytest.raises(error) as caught:
            await runner.schedules.add("bad", note.call([]), trigger, **options)
        assert isinstance(caught.value, InvalidOption)
        assert caught.value.field == field
        assert field in str(caught.value)
        assert await runner.schedules.list() == []  # nothing half-created
        with pytest.raises(ScheduleNotFound):
            await runner.schedules.get("bad")


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("61 * * * *", "the minute field '61' is not valid (allowed: 0-59)"),
        ("*/0 * * * *", "the minute field '*/0' is not valid"),
        ("* 24 * * *", "the hour field '24' is not valid (allowed: 0-23)"),
        ("* * 0 * *", "the day of month field '0' is not valid (allowed: 1-31)"),
        ("* * * 13 *", "the month field '13' is not valid (allowed: 1-12 or JAN-DEC)"),
        ("* * * * 8", "the day of week field '8' is not valid (allowed: 0-6 or SUN-SAT"),
        ("* * * * MON-FOO", "the day of week field 'MON-FOO' is not valid"),
        ("60 * * * * *", "the second field '60' is not valid (allowed: 0-59)"),
        ("0 70 * * * *", "the minute field '70' is not valid"),
    ],
)
def test_a_bad_cron_expression_names_the_cron_field_and_its_value(
    expression: str, message: str
) -> None:
    with pytest.raises(InvalidSchedule) as caught:
        Cron(expression)
    assert (caught.value.field, caught.value.value) == ("cron", expression)
    assert message in str(caught.value)


async def test_an_interval_error_shows_the_duration_as_written(clock: FakeClock) -> None:
    async with JobRunner(clock=clock) as runner:
        with pytest.raises(InvalidSchedule) as caught:
            await runner.schedules.add("zero", note.call([]), "@every 0s")
    assert str(caught.value).startswith("every='0s': ")


async def test_a_misspelt_update_keyword_is_refused_naming_it(clock: FakeClock) -> None:
    async with JobRunner(clock=clock) as runner:
        await runner.schedules.add("job", note.call([]), "@hourly")
        with pytest.raises(InvalidOption) as caught:
            await runner.schedules.update("job", trigerr="@daily")  # type: ignore[call-arg]
        assert (caught.value.field, caught.value.value) == ("trigerr", "@daily")
        assert (await runner.schedules.get("job")).trigger == Cron("@hourly")


async def test_bad_job_arguments_and_queues_are_refused_at_creation(clock: FakeClock) -> None:
    async with JobRunner(clock=clock) as runner:
        with pytest.raises(InvalidArguments):
            await runner.schedules.add("args", note.call(1, 2, 3), "@hourly")
        with pytest.raises(UnknownQueue):
            await runner.schedules.add("queue", note.with_options(queue="nope").call([]), "@hourly")
        with pytest.raises(InvalidOption, match="delay") as caught:
            await runner.schedules.add("delay", note.with_options(delay=5).call([]), "@hourly")
        assert "job=<call of job 'tests.schedules.note'([])>: has delay= set" in str(caught.value)
        assert await runner.schedules.list() == []


# ----------------------------------------------------------------- management


async def test_if_exists_raise_keep_and_replace(clock: FakeClock) -> None:
    log: list[float] = []
    other: list[float] = []
    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            schedules = runner.schedules
            await schedules.add("job", note.call(log), "0 * * * *")
            with pytest.raises(ScheduleExists, match="'job'"):
                await schedules.add("job", note.call(log), "30 * * * *")
            kept = await schedules.add("job", note.call(other), "30 * * * *", if_exists="keep")
            assert kept.trigger == Cron("0 * * * *")
            await clock.advance(3600)
            assert offsets(log) == [3600.0]
            # Replacing with the same timetable keeps its place and its history.
            replaced = await schedules.add(
                "job", note.call(other), "0 * * * *", if_exists="replace"
            )
            assert (replaced.runs, replaced.last_slot_at) == (1, at(2026, 1, 1, 1))
            assert replaced.next_run == START + timedelta(hours=2)
            await clock.advance(3600)
            assert offsets(other) == [7200.0]
            assert len(log) == 1


async def test_update_pause_resume_run_now_and_remove(clock: FakeClock) -> None:
    log: list[float] = []
    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            schedules = runner.schedules
            await schedules.add("job", note.call(log), "0 * * * *", misfire_grace=60)
            updated = await schedules.update("job", trigger="*/20 * * * *")
            assert updated.next_run == START + timedelta(minutes=20)
            await clock.advance(20 * 60)
            assert offsets(log) == [1200.0]
            paused = await schedules.pause("job")
            assert paused.state is ScheduleState.PAUSED
            await clock.advance(3590)  # to 01:19:50; the 00:40 and 01:00 slots pass
            assert len(log) == 1  # paused: nothing fires
            handle = await schedules.run_now("job")  # outside the timetable, even paused
            await handle
            assert offsets(log) == [1200.0, 4790.0]
            resumed = await schedules.resume("job")
            assert resumed.state is ScheduleState.ACTIVE
            await clock.advance(0)
            # The slots missed while paused are later than the grace time: neither runs.
            record = await schedules.get("job")
            assert (record.misses, record.runs, record.manual_runs) == (2, 1, 1)
            assert record.next_run == START + timedelta(minutes=80)
            await clock.advance(10)
            assert offsets(log)[-1] == 4800.0
            with pytest.raises(InvalidOption, match="paused"):
                await schedules.update("job", paused=True)
            await schedules.remove("job")
            with pytest.raises(ScheduleNotFound):
                await schedules.remove("job")
            await clock.advance(3600)
            assert len(log) == 3
            assert runner.schedules.statistics().active == 0


async def test_update_of_the_expression_alone_keeps_the_time_zone(clock: FakeClock) -> None:
    async with JobRunner(clock=clock) as runner:
        await runner.schedules.add("tz", note.call([]), "0 9 * * *", timezone="Europe/Berlin")
        record = await runner.schedules.update("tz", trigger="45 2 * * *")
        assert record.trigger == Cron("45 2 * * *", "Europe/Berlin")
        assert record.timezone == "Europe/Berlin"
        assert record.next_run == datetime(2026, 1, 1, 1, 45, tzinfo=UTC)  # 02:45 in Berlin


async def test_update_timezone_reads_the_expression_there(clock: FakeClock) -> None:
    async with JobRunner(clock=clock) as runner:
        await runner.schedules.add("tz", note.call([]), "0 9 * * *")
        record = await runner.schedules.update("tz", timezone="America/New_York")
        assert record.trigger == Cron("0 9 * * *", "America/New_York")
        assert record.next_run == datetime(2026, 1, 1, 14, tzinfo=UTC)


# ----------------------------------------------------------------- misfires and overlap


@pytest.mark.parametrize(
    ("misfire", "grace", "expected_runs", "expected_misses"),
    [("coalesce", None, 1, 4), ("catch_up", None, 5, 0), ("catch_up", 2.5 * 3600, 3, 2)],
)
async def test_a_clock_jump_follows_the_misfire_policy(
    clock: FakeClock, misfire: str, grace: float | None, expected_runs: int, expected_misses: int
) -> None:
    log: list[float] = []
    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            await runner.schedules.add(
                "hourly", note.call(log), "0 * * * *", misfire=misfire, misfire_grace=grace
            )
            clock.jump(5 * 3600 + 600)  # the wall clock leaps 5h10m; the scheduler sleeps on
            await clock.advance(60)  # it wakes within scheduler_max_sleep and sees the gap
            record = await runner.schedules.get("hourly")
            assert (record.runs, record.misses) == (expected_runs, expected_misses)
            assert record.last_slot_at == at(2026, 1, 1, 5)
            assert record.next_run == START + timedelta(hours=6)
            assert len(log) == expected_runs


@pytest.mark.parametrize("overlap", ["skip", "queue", "allow"])
async def test_catching_up_runs_missed_slots_one_after_another_whatever_overlap_says(
    clock: FakeClock, overlap: str, anyio_backend: str
) -> None:
    log: list[float] = []
    gate = f"catch-up-{overlap}-{anyio_backend}"
    _gates[gate] = anyio.Event()
    async with JobRunner(clock=clock, queues={"default": 4}) as runner:
        with anyio.fail_after(5):
            await runner.schedules.add(
                "hourly", hold.call(log, gate), "0 * * * *", misfire="catch_up", overlap=overlap
            )
            clock.jump(3 * 3600 + 600)  # slots 01:00, 02:00 and 03:00 are missed
            await clock.advance(60)
            assert len(log) == 1  # the oldest runs; the next waits for it to end
            for runs in (2, 3):
                _gates[gate].set()  # the run ends: the next missed slot fires
                _gates[gate] = anyio.Event()
                await clock.advance(0)
                assert len(log) == runs
            _gates[gate].set()
            await clock.advance(0)
            record = await runner.schedules.get("hourly")
            assert (record.runs, record.misses, record.skipped_overlaps) == (3, 0, 0)


async def test_a_cron_start_is_inclusive(clock: FakeClock) -> None:
    log: list[float] = []
    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            record = await runner.schedules.add(
                "from-two", note.call(log), "0 * * * *", start=START + timedelta(hours=2)
            )
            assert record.next_run == START + timedelta(hours=2)
            await clock.advance(2 * 3600)
            assert offsets(log) == [7200.0]


async def test_a_schedule_record_reads_as_datetimes_in_its_zone(clock: FakeClock) -> None:
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            await runner.schedules.add(
                "berlin",
                note.call([]),
                "0 * * * *",
                timezone="Europe/Berlin",
                start=START,
                end=START + timedelta(days=1),
            )
            await clock.advance(3600)
            record = await runner.schedules.get("berlin")
    pairs = {
        "next_run": record.next_run_at,
        "next_slot": record.next_slot_at,
        "last_slot": record.last_slot_at,
        "last_run": record.last_run_at,
        "start": record.start_at,
        "end": record.end_at,
        "created": record.created_at,
    }
    for name, epoch in pairs.items():
        moment = getattr(record, name)
        assert isinstance(epoch, float), name
        assert isinstance(moment, datetime), name
        assert moment.tzinfo == berlin, name
        assert moment == datetime.fromtimestamp(epoch, berlin), name
    assert record.last_slot == START + timedelta(hours=1)
    assert record.next_slot == START + timedelta(hours=2)
    assert record.last_run == record.last_slot  # fired on the dot, on the fake clock


async def test_a_backward_jump_never_fires_a_slot_twice_or_early(clock: FakeClock) -> None:
    log: list[float] = []
    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            await runner.schedules.add("hourly", note.call(log), "0 * * * *")
            await clock.advance(3600)
            assert len(log) == 1
            clock.jump(-1800)  # back to 00:30 wall time
            await clock.advance(1800)  # wall 01:00 again: that slot has fired already
            assert len(log) == 1
            await clock.advance(3599)
            assert len(log) == 1
            await clock.advance(1)  # wall 02:00
            assert len(log) == 2
            assert log[-1] == at(2026, 1, 1, 2)


async def test_a_suspended_machine_fires_within_max_sleep_of_waking(clock: FakeClock) -> None:
    log: list[float] = []
    async with JobRunner(clock=clock, scheduler_max_sleep=10) as runner:
        with anyio.fail_after(5):
            await runner.schedules.add("daily", note.call(log), "@daily")
            await clock.advance(3600)
            clock.jump(2 * 86400)  # asleep two days: monotonic time stood still
            await clock.advance(10)
            assert len(log) == 1  # coalesced: one run for two missed days
            record = await runner.schedules.get("daily")
            assert (record.misses, record.last_slot_at) == (1, at(2026, 1, 3))


@pytest.mark.parametrize(
    ("overlap", "fired", "skipped"), [("skip", 1, 2), ("queue", 2, 1), ("allow", 3, 0)]
)
async def test_overlap_policy_when_the_previous_run_still_goes(
    clock: FakeClock, overlap: str, fired: int, skipped: int, anyio_backend: str
) -> None:
    log: list[float] = []
    gate = f"overlap-{overlap}-{anyio_backend}"
    _gates[gate] = anyio.Event()
    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            await runner.schedules.add(
                "slow", hold.call(log, gate), "@every 1m", overlap=overlap, max_runs=3
            )
            await clock.advance(180)  # three slots while the first run holds
            assert len(log) == (3 if overlap == "allow" else 1)
            _gates[gate].set()
            await clock.advance(0)
            assert len(log) == fired
            assert runner.schedules.statistics().skipped_overlaps == skipped
            if overlap == "queue":
                assert log[1] == START.timestamp() + 180  # fired the moment the first ended


async def test_a_refused_fire_is_counted_and_announced(clock: FakeClock) -> None:
    gate = "refused"
    _gates[gate] = anyio.Event()
    missed: list[ScheduleMissed] = []
    queues = {"tight": QueueConfig(concurrency=1, maxsize=1, on_full="raise")}
    async with JobRunner(clock=clock, queues=queues) as runner:
        runner.subscribe(missed.append, ScheduleMissed)
        try:
            with anyio.fail_after(5):
                log: list[float] = []
                await runner.submit(hold.with_options(queue="tight"), log, gate)
                await clock.advance(0)  # it runs, and holds the queue's one worker
                await runner.submit(hold.with_options(queue="tight"), log, gate)  # queue full
                await runner.schedules.add(
                    "tight", note.with_options(queue="tight").call([]), "@every 1m", overlap="allow"
                )
                await clock.advance(60)
                stats = runner.schedules.statistics()
                assert (stats.fired, stats.refused) == (0, 1)
                record = await runner.schedules.get("tight")
                assert (record.runs, record.last_outcome) == (0, JobState.REJECTED)
                assert [(m.reason, m.count) for m in missed] == [("refused", 1)]
                assert "tight" in (missed[0].error or "")
        finally:
            _gates[gate].set()


async def test_jitter_delays_a_fire_within_its_bound(clock: FakeClock) -> None:
    log: list[float] = []
    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            record = await runner.schedules.add("j", note.call(log), "@hourly", jitter=600)
            assert record.next_run is not None
            planned = record.next_run.timestamp()
            assert at(2026, 1, 1, 1) <= planned <= at(2026, 1, 1, 1, 10)
            await clock.advance(planned - clock.time() - 0.001)
            assert log == []  # a millisecond early: nothing
            await clock.advance(0.002)  # (float time may put the wake a hair past `planned`)
            assert log == [pytest.approx(planned, abs=1e-5)]
            assert (await runner.schedules.get("j")).last_slot_at == at(2026, 1, 1, 1)


# ----------------------------------------------------------------- events and restarts


async def test_schedule_events_reach_the_bus_and_listeners(clock: FakeClock) -> None:
    on_bus: list[tuple[str, Any]] = []
    heard: list[ScheduleEvent] = []
    async with EventBus(clock=clock) as bus, JobRunner(clock=clock, bus=bus) as runner:
        bus.subscribe("schedule.*", lambda e: on_bus.append((type(e).topic, e)))
        runner.subscribe(heard.append, ScheduleEvent)
        with anyio.fail_after(5):
            schedules = runner.schedules
            await schedules.add("e", note.call([]), "@every 1m", misfire_grace=1)
            await clock.advance(60)
            await schedules.pause("e")
            await schedules.resume("e")
            await schedules.update("e", trigger="@every 2m")
            await schedules.remove("e")
            await clock.advance(0)
    topics = [topic for topic, _ in on_bus]
    assert topics == [
        "schedule.added",
        "schedule.fired",
        "schedule.paused",
        "schedule.resumed",
        "schedule.updated",
        "schedule.removed",
    ]
    assert [type(e).topic for e in heard] == topics
    fired = on_bus[1][1]
    assert isinstance(fired, ScheduleFired)
    assert (fired.schedule, fired.slot_at) == ("e", START.timestamp() + 60)


async def test_a_restart_never_fires_a_slot_twice(clock: FakeClock) -> None:
    log: list[float] = []
    store = MemoryJobStore()
    async with JobRunner(clock=clock, store=store) as runner:
        with anyio.fail_after(5):
            await runner.schedules.add("hourly", note.call(log), "0 * * * *")
            await clock.advance(3600)
    assert len(log) == 1
    async with JobRunner(clock=clock, store=store) as runner:  # same instant, loaded again
        with anyio.fail_after(5):
            record = await runner.schedules.get("hourly")
            assert record.last_slot_at == at(2026, 1, 1, 1)
            # Re-adding at start, as an app does, keeps the history.
            await runner.schedules.add("hourly", note.call(log), "0 * * * *", if_exists="replace")
            await clock.advance(0)
            assert len(log) == 1  # the 01:00 slot is not fired again
            await clock.advance(3600)
            assert offsets(log) == [3600.0, 7200.0]
    clock.jump(3 * 3600)  # down for three hours
    async with JobRunner(clock=clock, store=store) as runner:
        with anyio.fail_after(5):
            await clock.advance(0)
            record = await runner.schedules.get("hourly")
            assert (record.runs, record.misses) == (3, 2)  # coalesced into one run
            assert len(log) == 3


async def test_schedule_not_found_and_interval_object(clock: FakeClock) -> None:
    async with JobRunner(clock=clock) as runner:
        with pytest.raises(ScheduleNotFound, match="'missing'"):
            await runner.schedules.pause("missing")
        record = await runner.schedules.add(
            "i", note.call([]), Interval(timedelta(minutes=5)), paused=True
        )
        assert record.state is ScheduleState.PAUSED
        assert runner.schedules.statistics().paused == 1


class FlakyStore(MemoryJobStore):
    """Fails the next schedule write when told to."""

    fail = False

    async def update_schedule(self, record: ScheduleRecord) -> None:
        if self.fail:
            self.fail = False
            raise OSError("disk full")
        await super().update_schedule(record)


async def test_a_failing_store_never_stops_the_scheduler(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    log: list[float] = []
    store = FlakyStore()
    async with JobRunner(clock=clock, store=store) as runner:
        with anyio.fail_after(5):
            await runner.schedules.add("m", note.call(log), "* * * * *")
            store.fail = True
            await clock.advance(60)  # the write before the fire fails: no job, logged
            assert log == []
            assert "'m' failed to fire" in caplog.text
            await clock.advance(60)
            assert offsets(log) == [120.0]  # the scheduler goes on
