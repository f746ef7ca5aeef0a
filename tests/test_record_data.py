"""A job record as data and bytes, as byte-keeping backends keep it."""

from __future__ import annotations

import attrs
import pytest

from asyncjobs import CorruptPayload, JobRecord, JobState, Progress, UnencodablePayload
from asyncjobs._record import Attempt
from asyncjobs._record_data import decode_record, encode_record
from asyncjobs.serializers import JSONSerializer, MsgpackSerializer, Serializer

SERIALIZERS = [JSONSerializer(), MsgpackSerializer()]


def full_record() -> JobRecord:
    return JobRecord(
        id="j1",
        name="tests.job",
        queue="emails",
        priority=2.5,
        args=(1, "two", [3, 4]),
        kwargs={"five": {"six": None}},
        state=JobState.FAILED,
        created_at=1.5,
        scheduled_for=2.5,
        started_at=3.5,
        finished_at=4.5,
        attempts=2,
        timeout=9.0,
        result={"partial": [1]},
        error="ValueError: bad",
        traceback="Traceback ...",
        retries=(
            Attempt(number=1, started_at=0.5, finished_at=1.0, outcome=JobState.FAILED, error="x"),
        ),
        progress=Progress(percent=50.0, message="half", done=1, total=2, sequence=3, timestamp=4.0),
    )


@pytest.mark.parametrize("serializer", SERIALIZERS, ids=lambda s: type(s).__name__)
def test_every_field_comes_back(serializer: Serializer) -> None:
    record = full_record()
    back = decode_record(serializer, encode_record(serializer, record))
    assert attrs.asdict(back, recurse=False) == attrs.asdict(record, recurse=False)
    assert type(back.args) is tuple


def test_a_refusal_names_the_jobs_own_field() -> None:
    record = full_record()
    record.result = {"when": object()}
    with pytest.raises(UnencodablePayload) as caught:
        encode_record(JSONSerializer(), record)
    assert caught.value.field == "result['when']"


@pytest.mark.parametrize("data", [b"not json", b"[1, 2]", b'{"v": 99}', b'{"v": 1}'])
def test_damaged_bytes_are_a_corrupt_payload(data: bytes) -> None:
    with pytest.raises(CorruptPayload, match="record"):
        decode_record(JSONSerializer(), data)
