from __future__ import annotations

import functools
import math
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from asyncjobs import (
    AsyncJob,
    DuplicateJobName,
    InvalidArguments,
    InvalidJob,
    InvalidOption,
    InvalidOptionType,
    JobRegistry,
    Retry,
    SyncJob,
    Unique,
    job,
)


@pytest.fixture
def registry() -> JobRegistry:
    return JobRegistry()


async def _coro_fn(x: int) -> int:
    return x


def test_bare_decorator_keeps_function_usable(registry: JobRegistry) -> None:
    @job
    def double(x: int) -> int:
        """Double it."""
        return 2 * x

    assert isinstance(double, SyncJob)
    assert double(4) == 8
    assert double.__doc__ == "Double it."
    assert double.__name__ == "double"
    assert double.name.endswith("test_bare_decorator_keeps_function_usable.<locals>.double")
    assert not double.is_async


@pytest.mark.anyio
async def test_async_job_called_directly_returns_coroutine() -> None:
    @job(name="tests.async-direct", queue="emails", priority=3, timeout=2)
    async def send(to: str) -> str:
        return f"sent to {to}"

    assert isinstance(send, AsyncJob)
    assert send.is_async
    assert await send("bob") == "sent to bob"
    assert send.name == "tests.async-direct"
    assert send.options.queue == "emails"
    assert send.options.priority == 3
    assert send.options.timeout == 2.0


@pytest.mark.anyio
async def test_partial_of_async_function_is_async(registry: JobRegistry) -> None:
    definition = job(registry=registry, name="partial")(functools.partial(_coro_fn, 3))
    assert definition.is_async


def test_duplicate_names_for_different_functions_are_refused(registry: JobRegistry) -> None:
    @job(name="shared", registry=registry)
    def first() -> None: ...

    def second() -> None: ...

    with pytest.raises(DuplicateJobName, match="name='shared'") as info:
        job(name="shared", registry=registry)(second)
    assert isinstance(info.value, ValueError)
    assert registry.get("shared") is first
    assert len(registry) == 1


def test_redefining_the_same_function_replaces_it(registry: JobRegistry) -> None:
    for _ in range(2):

        @job(name="reloaded", registry=registry)
        def again() -> None: ...

    assert registry.get("reloaded") is again


@pytest.mark.parametrize(
    "target",
    [42, "not a function", None],
)
def test_non_callables_are_refused(target: Any, registry: JobRegistry) -> None:
    with pytest.raises(InvalidJob, match="not callable"):
        job(registry=registry)(target)
    assert len(registry) == 0


def test_coroutine_objects_and_async_generators_are_refused(registry: JobRegistry) -> None:
    coro = _coro_fn(1)
    with pytest.raises(InvalidJob, match="coroutine object"):
        job(registry=registry)(coro)
    coro.close()

    async def agen() -> Any:
        yield 1

    with pytest.raises(InvalidJob, match="async generator"):
        job(registry=registry)(agen)


def test_decorating_twice_is_refused(registry: JobRegistry) -> None:
    @job(registry=registry)
    def once() -> None: ...

    with pytest.raises(InvalidJob, match="already a job"):
        job(registry=registry)(once)


@pytest.mark.parametrize(
    ("kwargs", "field", "error"),
    [
        ({"queue": ""}, "queue", InvalidOption),
        ({"queue": 3}, "queue", InvalidOptionType),
        ({"priority": "high"}, "priority", InvalidOptionType),
        ({"priority": True}, "priority", InvalidOptionType),
        ({"priority": math.nan}, "priority", InvalidOption),
        ({"timeout": 0}, "timeout", InvalidOption),
        ({"timeout": -1}, "timeout", InvalidOption),
        ({"timeout": math.inf}, "timeout", InvalidOption),
        ({"timeout": math.nan}, "timeout", InvalidOption),
        ({"name": ""}, "name", InvalidOption),
    ],
)
def test_bad_decorator_options_are_refused(
    kwargs: dict[str, Any], field: str, error: type[Exception], registry: JobRegistry
) -> None:
    def fn() -> None: ...

    with pytest.raises(error) as info:
        job(registry=registry, **kwargs)(fn)
    assert isinstance(info.value, InvalidOption)
    assert info.value.field == field
    assert len(registry) == 0


def test_with_options_validates_and_copies(registry: JobRegistry) -> None:
    @job(registry=registry, queue="a", priority=1)
    def work(x: int) -> int:
        return x

    at = datetime(2031, 5, 1, tzinfo=timezone.utc)
    later = work.with_options(priority=7, delay=timedelta(seconds=30), job_id="j-1")
    assert (later.options.priority, later.options.delay, later.options.job_id) == (7, 30.0, "j-1")
    assert later.options.queue == "a"
    assert work.options.priority == 1  # the original is unchanged
    assert later(5) == 5
    moved = later.with_options(at=at)
    assert moved.options.at == at
    assert moved.options.delay is None
    with pytest.raises(InvalidOption, match="naive"):
        work.with_options(at=datetime(2031, 5, 1))
    for bad in (-2, -0.001, math.nan, math.inf):
        with pytest.raises(InvalidOption, match="delay="):
            work.with_options(delay=bad)
    assert work.with_options(delay=0).options.delay == 0.0  # zero is now, as a past at=
    for bad_timeout in (0, -1, math.nan, math.inf):
        with pytest.raises(InvalidOption, match="timeout="):
            work.with_options(timeout=bad_timeout)
    with pytest.raises(InvalidOptionType, match="priority="):
        work.with_options(priority="urgent")  # type: ignore[arg-type]
    with pytest.raises(InvalidOption, match="job_id="):
        work.with_options(job_id="")


def test_plain_options_are_worked_out_once_for_every_copy(registry: JobRegistry) -> None:
    """``_plain`` (no delay, at, job_id or unique key) lets the runner skip admission work;
    every way of making options must keep it true to the options."""

    @job(registry=registry, priority=3, timeout=5, retry=Retry(max_attempts=2))
    async def work() -> None:
        return None

    at = datetime(2031, 5, 1, tzinfo=timezone.utc)
    assert work.options._plain
    assert work.with_options(priority=9, queue="b", timeout=None).options._plain
    for changed in (
        work.with_options(delay=1),
        work.with_options(at=at),
        work.with_options(job_id="j-1"),
        work.with_options(unique=Unique()),
    ):
        assert not changed.options._plain
        assert changed.with_options(delay=None, at=None, job_id=None, unique=None).options._plain


def test_call_checks_arguments_against_the_signature(registry: JobRegistry) -> None:
    @job(registry=registry)
    def greet(name: str, *, punctuation: str = "!") -> str:
        return name + punctuation

    call = greet.call("ann", punctuation="?")
    assert (call.args, call.kwargs) == (("ann",), {"punctuation": "?"})
    with pytest.raises(InvalidArguments, match="greet") as info:
        greet.call("ann", "extra")  # type: ignore[call-arg]
    assert isinstance(info.value, TypeError)
    with pytest.raises(InvalidArguments, match="colour"):
        greet.call("ann", colour="red")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("args", "kwargs", "ok"),
    [
        ((1,), {}, True),
        ((1, 2), {}, True),
        ((1, 2, 3, 4), {}, True),
        ((), {}, False),
        ((1,), {"b": 2}, True),
        ((1,), {"c": 2}, False),
        ((1,), {"key": 1}, True),
        ((1, 2), {"b": 3}, False),
    ],
)
def test_argument_checks_agree_with_python(
    args: tuple[Any, ...], kwargs: dict[str, Any], ok: bool, registry: JobRegistry
) -> None:
    def target(a: int, b: int = 0, *rest: int, key: int = 0) -> None: ...

    @job(registry=registry, name="bounds")
    def wrapped(a: int, b: int = 0, *rest: int, key: int = 0) -> None: ...

    for _ in range(2):  # the second round uses the cached bounds
        try:
            target(*args, **kwargs)
            python_ok = True
        except TypeError:
            python_ok = False
        assert python_ok is ok
        if ok:
            wrapped.check_arguments(args, kwargs)
        else:
            with pytest.raises(InvalidArguments):
                wrapped.check_arguments(args, kwargs)


def test_required_keyword_only_arguments_are_checked(registry: JobRegistry) -> None:
    @job(registry=registry, name="kwonly")
    def needs_key(a: int, *, key: str) -> None: ...

    with pytest.raises(InvalidArguments, match="key"):
        needs_key.check_arguments((1,), {})
    needs_key.check_arguments((1,), {"key": "k"})
