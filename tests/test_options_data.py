"""A job's run options as data (``asyncjobs._options_data``), for backends that keep bytes."""

from __future__ import annotations

import json

import pytest

from asyncjobs import (
    CorruptPayload,
    ExponentialBackoff,
    FixedBackoff,
    InvalidOption,
    Jitter,
    LinearBackoff,
    QuadraticBackoff,
    Retry,
)
from asyncjobs._options_data import retry_from_data, retry_of, retry_to_data, run_options


class Flaky(Exception):
    pass


def backoff_by_attempt(attempt: int) -> float:
    return attempt * 0.5


@pytest.mark.parametrize(
    "backoff",
    [
        ExponentialBackoff(initial=2, factor=3, cap=60, jitter=Jitter.FULL),
        FixedBackoff(delay=4),
        LinearBackoff(initial=1, step=2, cap=9),
        QuadraticBackoff(unit=0.5, cap=100, jitter=Jitter.EQUAL),
        backoff_by_attempt,
    ],
    ids=lambda b: getattr(b, "__name__", type(b).__name__),
)
def test_a_retry_policy_goes_through_json_and_back(backoff: object) -> None:
    retry = Retry(max_attempts=5, backoff=backoff, retry_on=(Flaky, OSError), give_up_on=KeyError)
    data = json.loads(json.dumps(retry_to_data(retry)))
    assert retry_from_data(data) == retry
    assert retry_of(run_options(retry, as_data=True)) == retry
    assert retry_of(run_options(retry, as_data=False)) is retry
    assert run_options(None, as_data=True) is None


def test_a_callable_without_a_name_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidOption, match=r"retry\.backoff=.*top level of an importable"):
        retry_to_data(Retry(backoff=lambda attempt: 1.0))

    class Local(Exception):
        pass

    with pytest.raises(InvalidOption, match=r"retry\.retry_on="):
        retry_to_data(Retry(retry_on=Local))


@pytest.mark.parametrize(
    "data",
    [
        {"max_attempts": 2},
        {"max_attempts": 2, "backoff": {"strategy": "Nope"}, "retry_on": [], "give_up_on": []},
        {"max_attempts": 2, "backoff": {"ref": "no.such:thing"}, "retry_on": [], "give_up_on": []},
    ],
)
def test_stored_options_that_do_not_read_back_are_a_corrupt_payload(data: object) -> None:
    with pytest.raises(CorruptPayload):
        retry_of({"retry": data})  # type: ignore[dict-item]
