from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from asyncjobs import AsyncJobsError, InvalidOption, InvalidOptionType, QueueConfig
from asyncjobs import _validation as v


@pytest.mark.parametrize(
    ("value", "expected"), [(1, 1.0), (0.5, 0.5), (timedelta(minutes=2), 120.0)]
)
def test_duration_accepts(value: Any, expected: float) -> None:
    assert v.duration("timeout", value) == expected


@pytest.mark.parametrize(
    "value", [0, -1, -0.5, math.nan, math.inf, -math.inf, timedelta(0), timedelta(seconds=-3)]
)
def test_duration_refuses_bad_values_naming_field_and_value(value: Any) -> None:
    with pytest.raises(InvalidOption) as info:
        v.duration("delay", value)
    assert info.value.field == "delay"
    assert "delay=" in str(info.value)
    assert repr(value) in str(info.value)
    assert isinstance(info.value, AsyncJobsError)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("value", ["5", None, True, [1]])
def test_duration_refuses_wrong_types(value: Any) -> None:
    with pytest.raises(InvalidOptionType) as info:
        v.duration("timeout", value)
    assert isinstance(info.value, TypeError)
    assert "timeout=" in str(info.value)


def test_non_negative_duration_allows_zero_only_as_extra() -> None:
    assert v.non_negative_duration("grace_period", 0) == 0.0
    assert v.non_negative_duration("grace_period", timedelta(0)) == 0.0
    assert v.non_negative_duration("grace_period", 2) == 2.0
    with pytest.raises(InvalidOption, match="grace_period=-1: must be zero or more"):
        v.non_negative_duration("grace_period", -1)


@pytest.mark.parametrize("value", [0, 5, -3, 2.5, 1e9])
def test_priority_accepts_finite_numbers(value: Any) -> None:
    assert v.priority(value) == value


@pytest.mark.parametrize("value", ["high", None, True, 1j])
def test_priority_refuses_wrong_types(value: Any) -> None:
    with pytest.raises(InvalidOptionType, match="priority="):
        v.priority(value)


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_priority_refuses_non_finite(value: float) -> None:
    with pytest.raises(InvalidOption, match="priority="):
        v.priority(value)


@pytest.mark.parametrize("value", [0, -1])
def test_positive_int_refuses_small(value: int) -> None:
    with pytest.raises(InvalidOption, match=f"maxsize={value}"):
        v.positive_int("maxsize", value)


@pytest.mark.parametrize("value", [1.5, "3", True, None])
def test_positive_int_refuses_non_integers(value: Any) -> None:
    with pytest.raises(InvalidOptionType, match="concurrency="):
        v.positive_int("concurrency", value)


def test_aware_datetime() -> None:
    aware = datetime(2030, 1, 1, tzinfo=timezone.utc)
    assert v.aware_datetime("at", aware) is aware
    with pytest.raises(InvalidOption, match="naive"):
        v.aware_datetime("at", datetime(2030, 1, 1))
    with pytest.raises(InvalidOptionType):
        v.aware_datetime("at", "2030-01-01")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": -2}, "concurrency"),
        ({"concurrency": 2.5}, "concurrency"),
        ({"maxsize": -1}, "maxsize"),
        ({"maxsize": 0}, "maxsize"),
        ({"maxsize": 3.0}, "maxsize"),
        ({"on_full": "explode"}, "on_full"),
        ({"on_full": 42}, "on_full"),
        ({"block_timeout": 0}, "block_timeout"),
        ({"block_timeout": math.nan}, "block_timeout"),
        ({"weight": 0}, "weight"),
    ],
)
def test_queue_config_refuses_bad_settings(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidOption) as info:
        QueueConfig(**kwargs)
    assert info.value.field == field
