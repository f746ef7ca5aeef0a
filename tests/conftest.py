from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from asyncjobs.testing import FakeClock


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
