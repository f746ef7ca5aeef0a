"""A runner inside a web app: entered in the app's lifespan, used from request handlers.

The lifespan and the handlers run in different tasks, so the handlers do not see the runner
through the context the lifespan entered it in. ``job.submit()`` finds it all the same (the
one runner on that event loop), under Starlette's TestClient and under a real uvicorn server
on 127.0.0.1. A runner starts once, so each app start makes its own (an app factory).
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx2
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from asyncjobs import JobRunner, RunnerNotRunning, current_runner, job


@job(name="tests.web.greet")
async def greet(name: str) -> str:
    return f"hello {name}"


async def submit_greeting(request: Request) -> JSONResponse:
    handle = await greet.submit(request.path_params["name"])  # no runner passed in
    return JSONResponse({"id": handle.id, "result": await handle})


def make_app() -> Starlette:
    """The app factory: each start of the app gets a runner of its own."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with JobRunner() as runner:
            app.state.runner = runner
            yield

    return Starlette(routes=[Route("/greet/{name}", submit_greeting)], lifespan=lifespan)


def test_job_submit_works_in_handlers_under_the_test_client_started_twice() -> None:
    app = make_app()
    for name in ("ann", "bob"):  # a second TestClient of the same app starts it again
        with TestClient(app) as client:
            reply = client.get(f"/greet/{name}")
            assert reply.status_code == 200
            assert reply.json()["result"] == f"hello {name}"


def test_a_module_level_runner_entered_twice_says_to_use_an_app_factory() -> None:
    runner = JobRunner()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with runner:
            yield

    app = Starlette(routes=[Route("/greet/{name}", submit_greeting)], lifespan=lifespan)
    with TestClient(app) as client:
        assert client.get("/greet/ann").json()["result"] == "hello ann"
    with pytest.raises(RunnerNotRunning, match="lifespan \\(an app factory\\)"), TestClient(app):
        pass


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # uvicorn runs on asyncio
async def test_job_submit_works_in_handlers_under_uvicorn_over_http() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(make_app(), log_level="warning", lifespan="on"))
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: server.serve(sockets=[listener]))
            async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                replies = [(await client.get(f"/greet/user{i}")) for i in range(20)]
            server.should_exit = True
    assert [r.status_code for r in replies] == [200] * 20
    assert [r.json()["result"] for r in replies] == [f"hello user{i}" for i in range(20)]
    listener.close()


@pytest.mark.anyio
async def test_current_runner_is_found_from_a_task_outside_the_runners_context() -> None:
    found: list[JobRunner] = []
    entered = anyio.Event()
    done = anyio.Event()

    async def lifespan() -> None:
        async with JobRunner() as runner:
            found.append(runner)
            entered.set()
            await done.wait()

    async def handler() -> None:  # started from a context without the runner
        await entered.wait()
        handle = await greet.submit("carol")
        assert await handle == "hello carol"
        found.append(current_runner())
        done.set()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(lifespan)
            tg.start_soon(handler)
    assert found[0] is found[1]
    with pytest.raises(RunnerNotRunning, match="no JobRunner is running on this event loop"):
        current_runner()


@pytest.mark.anyio
async def test_with_two_runners_and_neither_current_the_error_says_so() -> None:
    ready = anyio.Event()
    done = anyio.Event()
    errors: list[RunnerNotRunning] = []

    async def two_runners() -> None:
        async with JobRunner(), JobRunner():
            ready.set()
            await done.wait()

    async def outsider() -> None:
        await ready.wait()
        with pytest.raises(RunnerNotRunning) as caught:
            await greet.submit("dan")
        errors.append(caught.value)
        done.set()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(two_runners)
            tg.start_soon(outsider)
    assert "2 JobRunners are running on this event loop" in str(errors[0])
    assert "runner.submit(" in str(errors[0])


def test_a_runner_left_open_on_a_loop_that_ended_is_not_current_on_the_next() -> None:
    import asyncio

    async def leaves_it_open() -> JobRunner:
        runner = JobRunner()
        await runner.__aenter__()  # a lifespan whose exit never ran (a crash, a bug)
        return runner

    async def next_loop() -> str:
        with pytest.raises(RunnerNotRunning, match="no JobRunner is running on this event loop"):
            current_runner()
        async with JobRunner() as runner:
            assert current_runner() is runner  # the only one on this loop
            return await (await greet.submit("eve"))

    stale = asyncio.run(leaves_it_open())
    assert asyncio.run(next_loop()) == "hello eve"
    assert stale.state.value == "started"  # never shut down, and never picked up again
