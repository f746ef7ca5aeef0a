"""A schedule's record as data and bytes (``asyncjobs._schedule_data``)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import attrs
import pytest

from asyncjobs import (
    CorruptPayload,
    Cron,
    FixedBackoff,
    Interval,
    JobState,
    Misfire,
    Once,
    Overlap,
    Retry,
    ScheduleRecord,
    UnencodablePayload,
    Unique,
)
from asyncjobs._options import JobOptions
from asyncjobs._schedule_data import decode_schedule, encode_schedule
from asyncjobs.serializers import JSONSerializer


def key_of(*args: object, **kwargs: object) -> str:
    return "one"


@pytest.mark.parametrize(
    "trigger",
    [
        Cron("30 2 * * *", "Europe/Berlin"),
        Interval(timedelta(minutes=90)),
        Once(datetime(2026, 5, 1, 12, tzinfo=timezone.utc)),
    ],
    ids=["cron", "interval", "once"],
)
def test_every_field_comes_back(trigger: Cron | Interval | Once) -> None:
    record = ScheduleRecord(
        name="nightly",
        job="tests.job",
        trigger=trigger,
        timezone="Europe/Berlin",
        args=(1, "two"),
        kwargs={"three": [3]},
        options=JobOptions(
            queue="reports",
            priority=2,
            timeout=9.5,
            retry=Retry(max_attempts=4, backoff=FixedBackoff(delay=2)),
            unique=Unique(key=key_of, ttl=60),
        ),
        start_at=1.0,
        end_at=2.0,
        max_runs=7,
        jitter=0.5,
        misfire=Misfire.CATCH_UP,
        misfire_grace=30.0,
        overlap=Overlap.QUEUE,
        paused=True,
        created_at=3.0,
        next_slot_at=4.0,
        next_run_at=4.5,
        last_slot_at=3.5,
        last_run_at=3.6,
        last_job_id="j9",
        last_outcome=JobState.FAILED,
        runs=5,
        manual_runs=1,
        misses=2,
        skipped_overlaps=3,
    )
    serializer = JSONSerializer()
    back = decode_schedule(serializer, encode_schedule(serializer, record))
    assert attrs.asdict(back, recurse=False) == attrs.asdict(record, recurse=False)


def test_arguments_json_cannot_keep_are_refused_by_name() -> None:
    record = ScheduleRecord(name="s", job="tests.job", trigger=Interval(timedelta(hours=1)))
    record.kwargs = {"when": object()}
    with pytest.raises(UnencodablePayload) as caught:
        encode_schedule(JSONSerializer(), record)
    assert caught.value.field == "kwargs['when']"


def test_damaged_bytes_are_a_corrupt_payload() -> None:
    with pytest.raises(CorruptPayload, match="schedule"):
        decode_schedule(JSONSerializer(), b'{"v": 1, "name": "s"}')
