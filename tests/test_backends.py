"""Every backend against the backend contract (``tests/backend_contract.py``)."""

from __future__ import annotations

import pytest

from asyncjobs import JobState
from asyncjobs.storage import MemoryBackend
from asyncjobs.testing import FakeClock

from .backend_contract import BackendContract, backend, clock
from .storage_contract import make_record

__all__ = ["backend", "clock"]


class TestBackendContract(BackendContract):
    pass


@pytest.mark.anyio
async def test_the_memory_backends_heaps_stay_as_small_as_what_waits() -> None:
    clock = FakeClock()
    backend = MemoryBackend(clock=clock)
    later = clock.time() + 3600
    for index in range(2000):  # waiting jobs that go away: each leaves a stale entry
        await backend.admit(make_record(f"s{index}", state=JobState.SCHEDULED, scheduled_for=later))
        await backend.admit(make_record(f"q{index}"))
        await backend.cancel(f"s{index}")
        await backend.cancel(f"q{index}")
    sizes = (len(backend._due), len(backend._ready["default"]))
    assert max(sizes) <= 200, sizes
