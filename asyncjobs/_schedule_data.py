"""A schedule's record as plain data, and as bytes through a serializer: what a backend that
keeps bytes stores of ``runner.schedules``.

The trigger goes by its kind (``cron`` with its expression and time zone, ``every`` in
seconds, ``at`` in epoch seconds), the job's options by ``_options_data`` (callables by
name), the policies and states by their values, and the job's arguments as they are (the
serializer refuses what it cannot keep, naming ``args``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from ._options_data import options_from_data, options_to_data
from ._record_data import VERSION, decode_versioned, encode_fields
from ._schedule import ScheduleRecord
from ._schedule_policies import Misfire, Overlap
from ._states import JobState
from ._triggers import Cron, Interval, Once, Trigger
from .serializers import Serializer

_PLAIN = (
    "name",
    "job",
    "timezone",
    "kwargs",
    "start_at",
    "end_at",
    "anchor_at",
    "max_runs",
    "jitter",
    "misfire_grace",
    "paused",
    "created_at",
    "next_slot_at",
    "next_run_at",
    "last_slot_at",
    "last_run_at",
    "last_job_id",
    "runs",
    "manual_runs",
    "misses",
    "skipped_overlaps",
)


def _trigger_to_data(trigger: Trigger) -> dict[str, Any]:
    if isinstance(trigger, Cron):
        return {"cron": trigger.expression, "timezone": trigger.timezone}
    if isinstance(trigger, Interval):
        return {"every": trigger.every.total_seconds()}
    return {"at": trigger.at.timestamp()}


def _trigger_from_data(data: dict[str, Any]) -> Trigger:
    if "cron" in data:
        return Cron(data["cron"], data["timezone"])
    if "every" in data:
        return Interval(timedelta(seconds=data["every"]))
    return Once(datetime.fromtimestamp(data["at"], timezone.utc))


def schedule_to_data(record: ScheduleRecord) -> dict[str, Any]:
    """The schedule as a dict of plain values (and its job's arguments as they are)."""
    data: dict[str, Any] = {field: getattr(record, field) for field in _PLAIN}
    data.update(
        v=VERSION,
        trigger=_trigger_to_data(record.trigger),
        args=list(record.args),
        options=options_to_data(record.options),
        misfire=record.misfire.value,
        overlap=record.overlap.value,
        last_outcome=None if record.last_outcome is None else record.last_outcome.value,
    )
    return data


def schedule_from_data(data: dict[str, Any]) -> ScheduleRecord:
    """The schedule ``schedule_to_data`` gave this dict for."""
    outcome = data["last_outcome"]
    return ScheduleRecord(
        **{field: data[field] for field in _PLAIN},
        trigger=_trigger_from_data(data["trigger"]),
        args=tuple(data["args"]),
        options=options_from_data(data["options"]),
        misfire=Misfire(data["misfire"]),
        overlap=Overlap(data["overlap"]),
        last_outcome=None if outcome is None else JobState(outcome),
    )


def encode_schedule(serializer: Serializer, record: ScheduleRecord) -> bytes:
    """The schedule as bytes; ``UnencodablePayload`` names its arguments' part that cannot
    go, ``InvalidOption`` an option's callable that cannot be named."""
    return encode_fields(serializer, "schedule", schedule_to_data(record), ("args", "kwargs"))


def decode_schedule(serializer: Serializer, data: bytes) -> ScheduleRecord:
    """The schedule these bytes hold; ``CorruptPayload`` if they cannot be read as one."""
    return decode_versioned(serializer, "schedule", data, schedule_from_data)
