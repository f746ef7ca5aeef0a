"""Job states and the table of allowed transitions.

============  ==========================================================================
state         meaning
============  ==========================================================================
scheduled     accepted, waiting for its ``delay``/``at`` time; holds no worker
queued        accepted, waiting in its queue for a worker
running       a worker (or, with the caller-runs policy, the submitter) is running it
succeeded     returned a result                                              (terminal)
failed        raised, or timed out                                           (terminal)
cancelled     cancelled by ``handle.cancel()`` while scheduled, queued or running (terminal)
interrupted   cut off by shutdown; not a failure, no attempt counted         (terminal)
rejected      dropped by a full queue's policy (drop oldest/newest, custom)  (terminal)
============  ==========================================================================

A job enters ``scheduled``, ``queued``, ``running`` (caller-runs) or ``rejected`` at submit
time, then moves only along ``TRANSITIONS``; a failed attempt with a retry left goes from
``running`` back to ``scheduled`` until its retry is due. Every accepted job reaches
exactly one terminal state.

The table describes one run of a job. A failed job (a dead letter) requeued by hand
(``runner.dead_letters.requeue``) starts a new run under the same id: its record re-enters
``queued`` with its history kept, and it gets a new handle, which resolves once again.
"""

from __future__ import annotations

import enum


class JobState(str, enum.Enum):
    """Where a job is in its life; see the module docstring for the transition table."""

    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    REJECTED = "rejected"

    @property
    def is_terminal(self) -> bool:
        """True for states a job never leaves."""
        return self in TERMINAL_STATES

    def __str__(self) -> str:
        return self.value


TERMINAL_STATES: frozenset[JobState] = frozenset(
    {
        JobState.SUCCEEDED,
        JobState.FAILED,
        JobState.CANCELLED,
        JobState.INTERRUPTED,
        JobState.REJECTED,
    }
)

INITIAL_STATES: frozenset[JobState] = frozenset(
    {JobState.SCHEDULED, JobState.QUEUED, JobState.RUNNING, JobState.REJECTED}
)

_ENDINGS = frozenset({JobState.CANCELLED, JobState.INTERRUPTED})

TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.SCHEDULED: frozenset({JobState.QUEUED, JobState.REJECTED}) | _ENDINGS,
    JobState.QUEUED: frozenset({JobState.RUNNING, JobState.REJECTED}) | _ENDINGS,
    # running -> scheduled: the attempt failed and the job waits for its retry.
    JobState.RUNNING: frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.SCHEDULED})
    | _ENDINGS,
    JobState.SUCCEEDED: frozenset(),
    JobState.FAILED: frozenset(),
    JobState.CANCELLED: frozenset(),
    JobState.INTERRUPTED: frozenset(),
    JobState.REJECTED: frozenset(),
}


def can_transition(old: JobState, new: JobState) -> bool:
    """Whether ``old -> new`` is an allowed move."""
    return new in TRANSITIONS[old]
