"""The engine's fast record constructor must match the public one, field for field."""

from __future__ import annotations

import attrs

from asyncjobs import JobRecord, JobState


def test_fast_constructor_sets_every_field_as_init_does() -> None:
    kwargs = {"to": "x"}
    fast = JobRecord._new("id-1", "send", "mail", 3, (1, 2), kwargs, 12.5, 4.0)
    slow = JobRecord(
        id="id-1",
        name="send",
        queue="mail",
        priority=3,
        args=(1, 2),
        kwargs=kwargs,
        state=JobState.QUEUED,
        created_at=12.5,
        timeout=4.0,
    )
    # A field _new forgot would be unset: reading it raises AttributeError.
    for field in attrs.fields(JobRecord):
        assert getattr(fast, field.name) == getattr(slow, field.name), field.name
    assert type(fast) is JobRecord


def test_a_snapshot_copies_every_field() -> None:
    record = JobRecord(id="id-1", name="send", queue="mail")
    for index, field in enumerate(attrs.fields(JobRecord)):
        if field.name not in ("id", "name", "queue"):
            setattr(record, field.name, (field.name, index))  # a value no default has
    copy = record.snapshot()
    assert copy is not record
    for field in attrs.fields(JobRecord):
        assert getattr(copy, field.name) == getattr(record, field.name), field.name
    copy.state = JobState.FAILED
    assert record.state != JobState.FAILED
