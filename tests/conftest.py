from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest

from asyncjobs.testing import FakeClock

if os.environ.get("ASYNCJOBS_TEST_OWN_STORE") == "backend":
    # The suite as it runs once a runner given no store makes its own MemoryBackend (the
    # step docs/architecture.md describes): every runner-level test on that path.
    import asyncjobs._runner
    from asyncjobs._clock import Clock
    from asyncjobs.abc import JobStore
    from asyncjobs.storage import MemoryBackend

    def _own_backend(clock: Clock) -> JobStore:
        return MemoryBackend(clock=clock)

    asyncjobs._runner._own_store = _own_backend


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def asyncjobs_task_names() -> list[str]:
    """Names of live tasks that asyncjobs started, on whichever loop is running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        import trio

        names: list[str] = []

        def walk(task: trio.lowlevel.Task) -> Iterator[trio.lowlevel.Task]:
            yield task
            for nursery in task.child_nurseries:
                for child in nursery.child_tasks:
                    yield from walk(child)

        for task in walk(trio.lowlevel.current_root_task()):
            if task.name.startswith("asyncjobs"):
                names.append(task.name)
        return names
    return [
        t.get_name()
        for t in asyncio.all_tasks()
        if t.get_name().startswith("asyncjobs") and not t.done()
    ]
