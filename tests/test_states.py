from __future__ import annotations

import pytest

from asyncjobs import TRANSITIONS, JobState
from asyncjobs._states import INITIAL_STATES, TERMINAL_STATES, can_transition


def test_every_state_has_a_row() -> None:
    assert set(TRANSITIONS) == set(JobState)


def test_terminal_states_have_no_way_out() -> None:
    for state in TERMINAL_STATES:
        assert TRANSITIONS[state] == frozenset()
        assert state.is_terminal


def test_every_non_terminal_state_can_reach_an_end() -> None:
    for state in set(JobState) - TERMINAL_STATES:
        assert not state.is_terminal
        assert TRANSITIONS[state] & TERMINAL_STATES
        # Cancel and shutdown can end a job from any live state.
        assert JobState.CANCELLED in TRANSITIONS[state]
        assert JobState.INTERRUPTED in TRANSITIONS[state]


@pytest.mark.parametrize(
    ("old", "new", "allowed"),
    [
        (JobState.SCHEDULED, JobState.QUEUED, True),
        (JobState.QUEUED, JobState.RUNNING, True),
        (JobState.RUNNING, JobState.SUCCEEDED, True),
        (JobState.RUNNING, JobState.SCHEDULED, True),  # waiting for a retry
        (JobState.RUNNING, JobState.QUEUED, False),
        (JobState.SCHEDULED, JobState.RUNNING, False),
        (JobState.QUEUED, JobState.SUCCEEDED, False),
        (JobState.SUCCEEDED, JobState.FAILED, False),
        (JobState.RUNNING, JobState.REJECTED, False),
    ],
)
def test_transition_table(old: JobState, new: JobState, allowed: bool) -> None:
    assert can_transition(old, new) is allowed


def test_initial_states_are_the_documented_entries() -> None:
    assert {JobState.SCHEDULED, JobState.QUEUED, JobState.RUNNING, JobState.REJECTED} == set(
        INITIAL_STATES
    )
    assert str(JobState.QUEUED) == "queued"
