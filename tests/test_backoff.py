"""Backoff strategies: exact schedules, jitter bounds, overflow safety, refused parameters."""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asyncjobs import (
    Backoff,
    ExponentialBackoff,
    FixedBackoff,
    InvalidOption,
    InvalidOptionType,
    Jitter,
    LinearBackoff,
    QuadraticBackoff,
)


def schedule(strategy: Backoff, attempts: int = 6) -> list[float]:
    return [strategy.seconds(n) for n in range(1, attempts + 1)]


def test_exact_schedules_without_jitter() -> None:
    assert schedule(FixedBackoff(delay=2.5)) == [2.5] * 6
    assert schedule(LinearBackoff(initial=1, step=2, cap=8)) == [1, 3, 5, 7, 8, 8]
    assert schedule(ExponentialBackoff(initial=0.5, factor=3, cap=20)) == [
        0.5,
        1.5,
        4.5,
        13.5,
        20,
        20,
    ]
    assert schedule(ExponentialBackoff()) == [1, 2, 4, 8, 16, 32]
    assert schedule(QuadraticBackoff()) == [1, 4, 9, 16, 25, 36]
    assert schedule(QuadraticBackoff(unit=0.5, cap=10)) == [0.5, 2, 4.5, 8, 10, 10]


def test_attempts_below_one_count_as_the_first() -> None:
    for strategy in (
        LinearBackoff(initial=3, step=1),
        ExponentialBackoff(initial=3),
        QuadraticBackoff(unit=3),
    ):
        assert strategy.seconds(0) == strategy.seconds(-5) == strategy.seconds(1) == 3


def test_timedeltas_are_accepted() -> None:
    strategy = ExponentialBackoff(initial=timedelta(milliseconds=250), cap=timedelta(minutes=1))
    assert (strategy.initial, strategy.cap) == (0.25, 60.0)


def test_full_and_equal_jitter_stay_within_their_bounds() -> None:
    base = ExponentialBackoff(initial=1, factor=2, cap=100)
    full = ExponentialBackoff(initial=1, factor=2, cap=100, jitter="full")
    equal = ExponentialBackoff(initial=1, factor=2, cap=100, jitter=Jitter.EQUAL)
    for attempt in range(1, 12):
        delay = base.seconds(attempt)
        assert full.seconds(attempt, lambda: 0.0) == 0.0
        assert full.seconds(attempt, lambda: 0.5) == delay / 2
        assert equal.seconds(attempt, lambda: 0.0) == delay / 2
        assert equal.seconds(attempt, lambda: 1.0) == delay
        for _ in range(50):
            assert 0 <= full.seconds(attempt) <= delay
            assert delay / 2 <= equal.seconds(attempt) <= delay


def test_a_faulty_random_source_cannot_push_a_delay_out_of_range() -> None:
    strategy = FixedBackoff(delay=4, jitter="full")
    assert strategy.seconds(1, lambda: 7.0) == 4
    assert strategy.seconds(1, lambda: -1.0) == 0
    assert strategy.seconds(1, lambda: math.nan) == 0


def test_huge_attempt_numbers_reach_the_cap_without_overflow() -> None:
    assert ExponentialBackoff(initial=1e-9, factor=1e9, cap=60).seconds(10**9) == 60
    assert ExponentialBackoff(initial=1, factor=1.0000001, cap=60).seconds(10**9) == 60
    assert LinearBackoff(initial=0, step=1e8, cap=60).seconds(10**9) == 60
    assert QuadraticBackoff(unit=1e-9, cap=60).seconds(10**9) == 60


@pytest.mark.parametrize(
    ("make", "field", "error"),
    [
        (lambda: FixedBackoff(delay=-1), "delay", InvalidOption),
        (lambda: FixedBackoff(delay=math.inf), "delay", InvalidOption),
        (lambda: FixedBackoff(delay="1s"), "delay", InvalidOptionType),
        (lambda: LinearBackoff(step=math.nan), "step", InvalidOption),
        (lambda: LinearBackoff(cap=0), "cap", InvalidOption),
        (lambda: ExponentialBackoff(factor=0.5), "factor", InvalidOption),
        (lambda: ExponentialBackoff(factor=True), "factor", InvalidOptionType),
        (lambda: ExponentialBackoff(initial=1e12), "initial", InvalidOption),
        (lambda: QuadraticBackoff(jitter="some"), "jitter", InvalidOption),
        (lambda: QuadraticBackoff(unit=None), "unit", InvalidOptionType),
    ],
)
def test_invalid_parameters_are_refused_naming_the_field(
    make: Any, field: str, error: type[Exception]
) -> None:
    with pytest.raises(error) as caught:
        make()
    assert caught.value.field == field  # type: ignore[attr-defined]
    assert field in str(caught.value)


seconds = st.floats(min_value=0, max_value=10 * 365 * 24 * 3600, allow_nan=False)
caps = st.floats(min_value=1e-6, max_value=10 * 365 * 24 * 3600, allow_nan=False)
jitters = st.sampled_from(list(Jitter))


@st.composite
def strategies(draw: st.DrawFn) -> tuple[Backoff, float]:
    kind = draw(st.sampled_from(["fixed", "linear", "exponential", "quadratic"]))
    jitter = draw(jitters)
    if kind == "fixed":
        fixed = FixedBackoff(delay=draw(seconds), jitter=jitter)
        return fixed, fixed.delay
    cap = draw(caps)
    if kind == "linear":
        strategy: Backoff = LinearBackoff(
            initial=draw(seconds), step=draw(seconds), cap=cap, jitter=jitter
        )
    elif kind == "exponential":
        factor = draw(st.floats(min_value=1, max_value=1e6, allow_nan=False))
        strategy = ExponentialBackoff(initial=draw(seconds), factor=factor, cap=cap, jitter=jitter)
    else:
        strategy = QuadraticBackoff(unit=draw(seconds), cap=cap, jitter=jitter)
    return strategy, cap


@settings(max_examples=300, deadline=None)
@given(
    strategies(),
    st.integers(min_value=0, max_value=1_000_000),
    st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_every_strategy_stays_within_zero_and_its_cap(
    drawn: tuple[Backoff, float], attempt: int, draw: float
) -> None:
    strategy, cap = drawn
    delay = strategy.seconds(attempt, lambda: draw)
    assert isinstance(delay, float)
    assert 0 <= delay <= cap


# ---- hostile values (issue 15)

ALL = (FixedBackoff(), LinearBackoff(), ExponentialBackoff(), QuadraticBackoff())


class _IntOrderRaises(int):
    def __gt__(self, other: object) -> bool:
        raise RuntimeError("int subclass __gt__")

    def __lt__(self, other: object) -> bool:
        raise RuntimeError("int subclass __lt__")

    def __ge__(self, other: object) -> bool:
        raise RuntimeError("int subclass __ge__")


class _IntFloatRaises(int):
    def __float__(self) -> float:
        raise RuntimeError("int subclass __float__")


class _FloatOrderRaises(float):
    def __lt__(self, other: object) -> bool:
        raise RuntimeError("float subclass __lt__")

    def __le__(self, other: object) -> bool:
        raise RuntimeError("float subclass __le__")

    def __ge__(self, other: object) -> bool:
        raise RuntimeError("float subclass __ge__")


class _HashRaises:
    def __hash__(self) -> int:
        raise RuntimeError("__hash__")


class _StrHashRaises(str):
    def __hash__(self) -> int:
        raise RuntimeError("str subclass __hash__")


@pytest.mark.parametrize("strategy", ALL, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize(
    "attempt", [None, "2", 1.5, True, Decimal("2"), Decimal("NaN"), complex(1, 0), [1]]
)
def test_an_attempt_that_is_not_an_int_is_refused(strategy: Backoff, attempt: Any) -> None:
    with pytest.raises(InvalidOptionType, match="attempt"):
        strategy.seconds(attempt)


@pytest.mark.parametrize("strategy", ALL, ids=lambda s: type(s).__name__)
def test_any_int_attempt_gives_a_wait_within_the_cap(strategy: Backoff) -> None:
    cap = strategy.cap  # type: ignore[attr-defined]
    for attempt in (2**63, 10**400, 10**5000, -(10**400), _IntOrderRaises(3)):
        wait = strategy.seconds(attempt)
        assert isinstance(wait, float)
        assert 0 <= wait <= cap
    assert strategy.seconds(10**400) == cap
    assert strategy.seconds(_IntOrderRaises(3)) == strategy.seconds(3)


def test_huge_attempts_reach_the_cap_even_for_a_factor_barely_above_one() -> None:
    strategy = ExponentialBackoff(initial=5e-324, factor=1 + 2**-52, cap=60)
    assert strategy.seconds(10**400) == 60


def test_a_factor_too_large_for_a_float_is_refused() -> None:
    for factor in (10**400, 2**1024, -(10**400), 10**5000):
        with pytest.raises(InvalidOption, match="factor"):
            ExponentialBackoff(factor=factor)


def test_factor_subclasses_are_read_as_their_plain_value() -> None:
    for factor in (_IntOrderRaises(3), _IntFloatRaises(3), _FloatOrderRaises(3.0)):
        strategy = ExponentialBackoff(factor=factor)
        assert type(strategy.factor) is float
        assert strategy.factor == 3.0
        assert schedule(strategy, 3) == [1, 3, 9]
    with pytest.raises(InvalidOption, match="factor"):
        ExponentialBackoff(factor=_FloatOrderRaises(0.5))


@pytest.mark.parametrize(
    "draw", [None, "0.5", Decimal("1"), Decimal("NaN"), 1, True, complex(0.5, 0), object()]
)
def test_a_rand_returning_no_float_counts_as_a_draw_of_zero(draw: Any) -> None:
    full = ExponentialBackoff(initial=10, jitter="full")
    equal = ExponentialBackoff(initial=10, jitter="equal")
    assert full.seconds(1, lambda: draw) == 0.0
    assert equal.seconds(1, lambda: draw) == 5.0


def test_a_rand_returning_a_float_subclass_is_read_as_its_value() -> None:
    full = FixedBackoff(delay=4, jitter="full")
    assert full.seconds(1, lambda: _FloatOrderRaises(0.25)) == 1.0
    assert full.seconds(1, lambda: _FloatOrderRaises(7.0)) == 4.0


@pytest.mark.parametrize("cls", [FixedBackoff, LinearBackoff, ExponentialBackoff, QuadraticBackoff])
def test_jitter_is_looked_up_without_the_values_own_methods(cls: Any) -> None:
    assert cls(jitter=_StrHashRaises("full")).jitter is Jitter.FULL
    for value in (_HashRaises(), 1, None, b"full"):
        with pytest.raises(InvalidOptionType, match="jitter"):
            cls(jitter=value)
    with pytest.raises(InvalidOption, match="jitter"):
        cls(jitter="some")
