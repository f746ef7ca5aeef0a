"""A store that keeps bytes refuses, at submit, arguments its serializer cannot encode."""

from __future__ import annotations

from datetime import datetime, timezone

import anyio
import pytest

from asyncjobs import (
    EncodingStore,
    JobRunner,
    JobState,
    MemoryJobStore,
    UnencodablePayload,
    job,
)
from asyncjobs.serializers import JSONSerializer

pytestmark = pytest.mark.anyio


class BytesStore(MemoryJobStore):
    """The memory store, declaring the serializer a durable one would use."""

    serializer = JSONSerializer()


@job(name="tests.payload.echo")
async def echo(*args: object, **kwargs: object) -> int:
    return len(args) + len(kwargs)


WHEN = datetime(2026, 1, 2, tzinfo=timezone.utc)


def test_the_store_declares_it_keeps_bytes() -> None:
    assert isinstance(BytesStore(), EncodingStore)
    assert not isinstance(MemoryJobStore(), EncodingStore)


async def test_an_argument_json_cannot_keep_is_refused_naming_its_path() -> None:
    async with JobRunner(store=BytesStore()) as runner:
        with anyio.fail_after(5):
            with pytest.raises(UnencodablePayload) as caught:
                await runner.submit(echo, 1, {"when": WHEN})
            assert caught.value.field == "args[1]['when']"
            assert caught.value.value_type == "datetime.datetime"
            assert caught.value.serializer == "json"
            with pytest.raises(UnencodablePayload) as caught:
                await runner.submit(echo, items=[1, 2, {3}])
            assert caught.value.field == "kwargs['items'][2]"
            assert caught.value.value_type == "set"
            # Nothing was created: no record, no queue entry, no counter moved.
            assert (await runner.list_jobs()).records == []
            stats = runner.queue_statistics()["default"]
            assert (stats.enqueued, stats.size, stats.rejected) == (0, 0, 0)
            assert await (await runner.submit(echo, 1, when=WHEN.isoformat())) == 2


async def test_a_batch_with_one_unencodable_call_submits_nothing() -> None:
    async with JobRunner(store=BytesStore()) as runner:
        with anyio.fail_after(5):
            with pytest.raises(UnencodablePayload) as caught:
                await runner.submit_many([echo.call(1), echo.call(2, when=WHEN)])
            assert caught.value.field == "kwargs['when']"
            assert (await runner.list_jobs()).records == []


async def test_the_memory_store_keeps_objects_as_they_are() -> None:
    async with JobRunner() as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(echo, 1, {"when": WHEN})
            assert await handle == 2
            assert handle.state is JobState.SUCCEEDED
            assert handle.record().args == (1, {"when": WHEN})


async def test_a_schedule_of_arguments_the_store_cannot_keep_is_refused_when_added() -> None:
    from asyncjobs.testing import FakeClock

    store = BytesStore()
    async with JobRunner(store=store, clock=FakeClock()) as runner:
        with pytest.raises(UnencodablePayload) as caught:
            await runner.schedules.add("bad", echo.call({"when": WHEN}), "@hourly")
        assert caught.value.field == "args[0]['when']"
        assert await store.list_schedules() == []
