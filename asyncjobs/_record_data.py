"""A job record as plain data, and as bytes through a serializer: what a backend that keeps
bytes (a file, a server) stores.

``record_to_data`` gives a dict of str, int, float, None, lists and dicts (and the job's own
arguments and result as they are), which every serializer in ``asyncjobs.serializers`` can
encode; ``record_from_data`` reads it back. ``encode_record``/``decode_record`` add the
serializer, with the job's fields named in a refusal (``UnencodablePayload``) or a damaged
read (``CorruptPayload``). A tuple in a job's arguments comes back as a list from JSON and
msgpack (their arrays have one type); the top-level ``args`` are a tuple again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ._errors import CorruptPayload, UnencodablePayload
from ._progress import Progress
from ._record import Attempt, JobRecord
from ._states import JobState
from .serializers import Serializer, decode_payload, encode_payload

_PROGRESS_FIELDS = ("percent", "message", "done", "total", "step", "sequence", "timestamp")
VERSION = 1  # of the data written here and in _schedule_data
T = TypeVar("T")


def record_to_data(record: JobRecord) -> dict[str, Any]:
    """The record as a dict of plain values (see the module docstring)."""
    progress = record.progress
    return {
        "v": VERSION,
        "id": record.id,
        "name": record.name,
        "queue": record.queue,
        "priority": record.priority,
        "args": list(record.args),
        "kwargs": dict(record.kwargs),
        "state": record.state.value,
        "created_at": record.created_at,
        "scheduled_for": record.scheduled_for,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "attempts": record.attempts,
        "timeout": record.timeout,
        "result": record.result,
        "error": record.error,
        "traceback": record.traceback,
        "retries": [
            [a.number, a.started_at, a.finished_at, a.outcome.value, a.error]
            for a in record.retries
        ],
        "progress": None
        if progress is None
        else {field: getattr(progress, field) for field in _PROGRESS_FIELDS},
    }


def record_from_data(data: dict[str, Any]) -> JobRecord:
    """The record ``record_to_data`` gave this dict for."""
    progress = data["progress"]
    return JobRecord(
        id=data["id"],
        name=data["name"],
        queue=data["queue"],
        priority=data["priority"],
        args=tuple(data["args"]),
        kwargs=data["kwargs"],
        state=JobState(data["state"]),
        created_at=data["created_at"],
        scheduled_for=data["scheduled_for"],
        started_at=data["started_at"],
        finished_at=data["finished_at"],
        attempts=data["attempts"],
        timeout=data["timeout"],
        result=data["result"],
        error=data["error"],
        traceback=data["traceback"],
        retries=tuple(
            Attempt(
                number=number,
                started_at=started,
                finished_at=finished,
                outcome=JobState(outcome),
                error=error,
            )
            for number, started, finished, outcome, error in data["retries"]
        ),
        progress=None if progress is None else Progress(**progress),
    )


def encode_fields(
    serializer: Serializer, root: str, data: dict[str, Any], fields: Sequence[str]
) -> bytes:
    """``data`` as bytes; a refusal names the first of ``fields`` (a job's own values) that
    cannot go, else the path from ``root``."""
    try:
        return encode_payload(serializer, root, data)
    except UnencodablePayload:
        for field in fields:
            encode_payload(serializer, field, data[field])
        raise


def decode_versioned(
    serializer: Serializer, root: str, data: bytes, build: Callable[[dict[str, Any]], T]
) -> T:
    """What ``build`` makes of the dict these bytes hold, at this module's version;
    ``CorruptPayload`` naming ``root`` if they cannot be read as one."""
    value = decode_payload(serializer, root, data)
    try:
        if not isinstance(value, dict) or value.get("v") != VERSION:
            raise ValueError(f"not a version {VERSION} {root}")
        return build(value)
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptPayload(root, type(serializer).__name__, str(exc)) from exc


def encode_record(serializer: Serializer, record: JobRecord) -> bytes:
    """The record as bytes; ``UnencodablePayload`` names the field that cannot go."""
    return encode_fields(serializer, "record", record_to_data(record), ("args", "kwargs", "result"))


def decode_record(serializer: Serializer, data: bytes) -> JobRecord:
    """The record these bytes hold; ``CorruptPayload`` if they cannot be read as one."""
    return decode_versioned(serializer, "record", data, record_from_data)
