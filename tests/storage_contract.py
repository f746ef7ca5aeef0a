"""The contract every ``JobStore`` backend must pass.

A new backend adds one entry to ``BACKENDS`` (a factory returning an unopened store); every
test here then runs against it, on asyncio and trio.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from asyncjobs import (
    Cron,
    DuplicateJobId,
    InvalidOption,
    JobNotFound,
    JobRecord,
    JobState,
    JobStore,
    ResultExpired,
    ScheduleExists,
    ScheduleNotFound,
    ScheduleRecord,
    ScheduleStore,
)
from asyncjobs.storage import MemoryBackend, MemoryJobStore

from .encoded_backend import EncodedBackend
from .wrapped_store import WrappedStore

BACKENDS: dict[str, Callable[[], JobStore]] = {
    "memory": MemoryJobStore,
    "memory-backend": MemoryBackend,
    "encoded": EncodedBackend,
    "wrapped": WrappedStore,
}


@pytest.fixture(params=sorted(BACKENDS))
async def store(request: pytest.FixtureRequest) -> AsyncIterator[JobStore]:
    backend = BACKENDS[request.param]()
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()


def make_record(job_id: str, **changes: object) -> JobRecord:
    fields: dict[str, object] = {
        "id": job_id,
        "name": "tests.job",
        "queue": "default",
        "args": (1, "two"),
        "kwargs": {"three": 3},
        "created_at": 1_700_000_000.0,
    }
    fields.update(changes)
    return JobRecord(**fields)  # type: ignore[arg-type]


def make_schedule(name: str, **changes: object) -> ScheduleRecord:
    fields: dict[str, object] = {
        "name": name,
        "job": "tests.job",
        "trigger": Cron("30 2 * * *", "Europe/Berlin"),
        "timezone": "Europe/Berlin",
        "args": (1,),
        "kwargs": {"two": 2},
        "created_at": 1_700_000_000.0,
        "next_slot_at": 1_700_050_000.0,
        "next_run_at": 1_700_050_000.0,
    }
    fields.update(changes)
    return ScheduleRecord(**fields)  # type: ignore[arg-type]


@pytest.mark.anyio
class StorageContract:
    async def test_is_a_job_store(self, store: JobStore) -> None:
        assert isinstance(store, JobStore)

    async def test_add_then_get_round_trips(self, store: JobStore) -> None:
        record = make_record("a", priority=5, timeout=2.5)
        await store.add(record)
        got = await store.get("a")
        assert (got.id, got.name, got.queue, got.priority) == ("a", "tests.job", "default", 5)
        assert (got.args, got.kwargs, got.timeout) == ((1, "two"), {"three": 3}, 2.5)
        assert got.state is JobState.QUEUED

    async def test_get_returns_a_snapshot(self, store: JobStore) -> None:
        await store.add(make_record("a"))
        got = await store.get("a")
        got.state = JobState.FAILED
        assert (await store.get("a")).state is JobState.QUEUED

    async def test_duplicate_ids_are_refused_and_the_first_kept(self, store: JobStore) -> None:
        await store.add(make_record("a", priority=1))
        with pytest.raises(DuplicateJobId, match="'a'"):
            await store.add(make_record("a", priority=2))
        assert (await store.get("a")).priority == 1

    async def test_unknown_ids(self, store: JobStore) -> None:
        with pytest.raises(JobNotFound):
            await store.get("missing")
        with pytest.raises(JobNotFound):
            await store.update(make_record("missing"))
        assert await store.delete("missing") is False

    async def test_update_replaces_state_result_and_error(self, store: JobStore) -> None:
        await store.add(make_record("a"))
        changed = await store.get("a")
        changed.state = JobState.FAILED
        changed.error = "ValueError: bad"
        changed.attempts = 1
        changed.started_at, changed.finished_at = 10.0, 11.0
        await store.update(changed)
        got = await store.get("a")
        assert (got.state, got.error, got.attempts) == (JobState.FAILED, "ValueError: bad", 1)
        assert (got.started_at, got.finished_at) == (10.0, 11.0)
        changed.state, changed.result, changed.error = JobState.SUCCEEDED, {"ok": True}, None
        await store.update(changed)
        got = await store.get("a")
        assert (got.state, got.result, got.error) == (JobState.SUCCEEDED, {"ok": True}, None)

    async def test_delete(self, store: JobStore) -> None:
        await store.add(make_record("a"))
        assert await store.delete("a") is True
        with pytest.raises(JobNotFound):
            await store.get("a")
        assert (await store.list()).records == []
        await store.add(make_record("a"))  # the id is free again

    async def test_list_in_submission_order_with_filters(self, store: JobStore) -> None:
        plan = [
            ("j1", "default", "alpha", JobState.QUEUED),
            ("j2", "emails", "beta", JobState.SUCCEEDED),
            ("j3", "default", "beta", JobState.FAILED),
            ("j4", "emails", "alpha", JobState.QUEUED),
        ]
        for job_id, queue, name, state in plan:
            await store.add(make_record(job_id, queue=queue, name=name, state=state))

        async def ids(**filters: object) -> list[str]:
            page = await store.list(**filters)  # type: ignore[arg-type]
            return [r.id for r in page.records]

        assert await ids() == ["j1", "j2", "j3", "j4"]
        assert await ids(queue="emails") == ["j2", "j4"]
        assert await ids(name="beta") == ["j2", "j3"]
        assert await ids(states=[JobState.QUEUED]) == ["j1", "j4"]
        assert await ids(states=[JobState.FAILED, JobState.SUCCEEDED]) == ["j2", "j3"]
        assert await ids(states=[JobState.QUEUED], queue="emails", name="alpha") == ["j4"]
        assert await ids(states=[]) == []

    async def test_pagination_visits_every_record_once(self, store: JobStore) -> None:
        for i in range(23):
            await store.add(make_record(f"r{i:02}", queue="even" if i % 2 == 0 else "odd"))
        for queue, expected in (("even", 12), ("odd", 11), (None, 23)):
            seen: list[str] = []
            cursor = None
            pages = 0
            while True:
                page = await store.list(queue=queue, limit=5, cursor=cursor)
                assert len(page.records) <= 5
                seen.extend(r.id for r in page.records)
                pages += 1
                cursor = page.next_cursor
                if cursor is None:
                    break
            assert len(seen) == expected
            assert seen == sorted(seen)
            assert len(set(seen)) == expected
            assert pages == -(-expected // 5)

    async def test_list_refuses_bad_limits_and_cursors(self, store: JobStore) -> None:
        with pytest.raises(InvalidOption, match="limit=0"):
            await store.list(limit=0)
        with pytest.raises(InvalidOption, match="cursor="):
            await store.list(cursor="not-a-cursor")

    async def test_expire_removes_finished_records_older_than_the_cutoff(
        self, store: JobStore
    ) -> None:
        plan = [
            ("old-ok", JobState.SUCCEEDED, 100.0),
            ("old-failed", JobState.FAILED, 100.0),
            ("new-ok", JobState.SUCCEEDED, 300.0),
            ("at-cutoff", JobState.CANCELLED, 200.0),
            ("waiting", JobState.QUEUED, None),
        ]
        for job_id, state, finished_at in plan:
            await store.add(make_record(job_id, state=state, finished_at=finished_at))
        assert await store.expire(finished_before=200.0, states=[JobState.FAILED]) == 1
        assert await store.expire(finished_before=200.0) == 1
        assert await store.expire(finished_before=200.0) == 0
        left = [r.id for r in (await store.list()).records]
        assert left == ["new-ok", "at-cutoff", "waiting"]
        for job_id in ("old-ok", "old-failed"):
            with pytest.raises(ResultExpired, match="expired"):
                await store.get(job_id)

    async def test_unfinished_records_never_expire(self, store: JobStore) -> None:
        await store.add(make_record("waiting", finished_at=1.0))  # queued, whatever the time
        assert await store.expire(finished_before=1e12) == 0
        assert (await store.get("waiting")).state is JobState.QUEUED
        with pytest.raises(InvalidOption, match="states='queued'"):
            await store.expire(finished_before=1e12, states=["queued"])  # type: ignore[list-item]

    async def test_unknown_and_deleted_ids_are_not_called_expired(self, store: JobStore) -> None:
        await store.add(make_record("a", state=JobState.SUCCEEDED, finished_at=1.0))
        await store.delete("a")
        for job_id in ("a", "never"):
            with pytest.raises(JobNotFound) as caught:
                await store.get(job_id)
            assert not isinstance(caught.value, ResultExpired)

    async def test_a_finished_record_put_back_to_work_does_not_expire(
        self, store: JobStore
    ) -> None:
        await store.add(make_record("a", state=JobState.FAILED, finished_at=1.0))
        again = await store.get("a")
        again.state, again.finished_at = JobState.QUEUED, None
        await store.update(again)
        assert await store.expire(finished_before=1e12) == 0
        assert (await store.get("a")).state is JobState.QUEUED

    # ----------------------------------------------------------------- schedules

    async def test_is_a_schedule_store(self, store: JobStore) -> None:
        assert isinstance(store, ScheduleStore)

    async def test_schedules_round_trip_as_copies(self, store: JobStore) -> None:
        assert isinstance(store, ScheduleStore)
        record = make_schedule("nightly")
        await store.add_schedule(record)
        record.runs = 99  # the caller's object is not the stored one
        record.kwargs["two"] = 3
        got = await store.get_schedule("nightly")
        assert (got.runs, got.kwargs, got.trigger) == (0, {"two": 2}, record.trigger)
        got.last_slot_at = 5.0
        assert (await store.get_schedule("nightly")).last_slot_at is None

    async def test_schedule_names_are_unique(self, store: JobStore) -> None:
        assert isinstance(store, ScheduleStore)
        await store.add_schedule(make_schedule("a"))
        with pytest.raises(ScheduleExists):
            await store.add_schedule(make_schedule("a", runs=7))
        assert (await store.get_schedule("a")).runs == 0

    async def test_schedules_update_list_and_delete(self, store: JobStore) -> None:
        assert isinstance(store, ScheduleStore)
        for name in ("b", "a", "c"):
            await store.add_schedule(make_schedule(name))
        await store.update_schedule(make_schedule("a", last_slot_at=1_700_050_000.0, runs=1))
        got = await store.get_schedule("a")
        assert (got.last_slot_at, got.runs) == (1_700_050_000.0, 1)
        assert [r.name for r in await store.list_schedules()] == ["b", "a", "c"]
        assert await store.delete_schedule("a") is True
        assert await store.delete_schedule("a") is False
        with pytest.raises(ScheduleNotFound):
            await store.get_schedule("a")
        with pytest.raises(ScheduleNotFound):
            await store.update_schedule(make_schedule("a"))
        assert [r.name for r in await store.list_schedules()] == ["b", "c"]
