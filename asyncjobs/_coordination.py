"""The values a backend and the engine hand each other (``asyncjobs.abc.Backend``).

Admission answers (``Accepted``, ``Full``, ``Duplicate``), a ``Lease`` on a running job and
its ``Renewal``, a ``ScheduleClaim`` on a due schedule, what a cancel found
(``CancelOutcome``), a queue's ``QueueCounts``, and the messages of the event channel
(``JobQueued``, ``JobEnded``, ``ProgressReported``, ``CancelRequested``). They are plain
frozen data: a shared backend builds them from what its server answered, the memory backend
from its dicts.

Every time here is wall-clock epoch seconds, from the backend's clock: the only time several
processes (or machines) share.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TypeAlias

import attrs

from ._progress import Progress
from ._record import JobRecord
from ._schedule import ScheduleRecord
from ._states import JobState


@attrs.frozen
class UniqueClaim:
    """A unique key a new job holds while it waits or runs, for at most ``ttl`` seconds."""

    key: str
    ttl: float


@attrs.define
class Accepted:
    """The job was stored and waits (queued, or scheduled for later). ``evicted``: the
    record of the job dropped to make room for it (ended ``rejected``), if one was.

    A value to read, not to change: not frozen only because one is made a job, and a
    frozen class takes over twice as long to make."""

    job_id: str
    evicted: JobRecord | None = None


@attrs.frozen
class Full:
    """Nothing was stored: ``queue`` already holds ``waiting`` jobs, at its ``bound``."""

    queue: str
    bound: int
    waiting: int


@attrs.frozen
class Duplicate:
    """Nothing was stored: job ``holder`` holds the unique ``key``."""

    key: str
    holder: str


AdmitOutcome: TypeAlias = Accepted | Full | Duplicate
"""What ``Backend.admit`` answers."""


@attrs.frozen
class BatchEntry:
    """One job of a batch for ``Backend.admit_all``: what ``admit`` takes for it (no victim:
    a batch evicts nothing), and whether a ``Full`` or a ``Duplicate`` answer for it
    refuses the whole batch (the queue's policy refuses, the key's conflict raises)."""

    record: JobRecord
    bound: int | None = None
    unique: UniqueClaim | None = None
    options: Mapping[str, object] | None = None
    full_refuses: bool = False
    duplicate_refuses: bool = False


@attrs.frozen
class BatchAnswer:
    """What ``Backend.admit_all`` found: an answer per entry, in order, as ``admit`` would
    have given them one after another (a key or a place an earlier entry takes counts; a
    refused entry takes neither). ``refused``: an entry's answer refuses the batch, and
    then nothing was stored (the answers say which, and why)."""

    outcomes: tuple[AdmitOutcome, ...]
    refused: bool = False


@attrs.define
class Lease:
    """A running job, held by ``owner`` until ``expires_at`` unless renewed. A value to
    read, not to change (see ``Accepted``): a renewal is a new lease.

    ``token`` tells this hold from a later one of the same job (after the lease ran out and
    the job was acquired again): a release or renewal with a stale token changes nothing.
    ``options`` are the job's run options as ``admit`` kept them (its retry policy).
    """

    record: JobRecord
    owner: str
    token: int
    expires_at: float
    options: Mapping[str, object] | None = None  # what ``admit`` was given to keep

    @property
    def job_id(self) -> str:
        return self.record.id


@attrs.frozen
class Renewal:
    """What ``Backend.extend`` found: the renewed leases, the ids whose lease was lost
    (ran out and was re-offered, or the job ended elsewhere), and the ids of renewed jobs
    someone asked to cancel (the same request the channel carries, for an owner that
    missed the message)."""

    leases: tuple[Lease, ...]
    lost: tuple[str, ...]
    cancel_requested: tuple[str, ...]


@attrs.frozen
class ScheduleClaim:
    """A due schedule, held by ``owner`` until ``expires_at``: only the holder fires it."""

    record: ScheduleRecord
    owner: str
    token: int
    expires_at: float

    @property
    def name(self) -> str:
        return self.record.name


class CancelOutcome(str, enum.Enum):
    """What ``Backend.cancel`` found.

    ``cancelled``: the job was waiting (queued or scheduled) and has ended ``cancelled``.
    ``requested``: the job is running; it is flagged, and the channel carries a
    ``CancelRequested`` to the process running it. ``finished``: it had already ended.
    ``unknown``: no job of that id (or its record has expired).
    """

    CANCELLED = "cancelled"
    REQUESTED = "requested"
    FINISHED = "finished"
    UNKNOWN = "unknown"


@attrs.frozen
class QueueCounts:
    """How many jobs of one queue are ready, scheduled for later, and running."""

    queued: int = 0
    scheduled: int = 0
    running: int = 0

    @property
    def waiting(self) -> int:
        """Queued and scheduled: what a queue's bound counts."""
        return self.queued + self.scheduled


@attrs.frozen
class JobEnded:
    """A job reached a terminal state (anywhere a backend's runners run)."""

    job_id: str
    state: JobState


@attrs.frozen
class ProgressReported:
    """A running job reported progress."""

    job_id: str
    progress: Progress


@attrs.frozen
class JobQueued:
    """A job became ready in ``queue`` (admitted, requeued, or offered again after its lease
    ran out): an idle runner may acquire it now."""

    job_id: str
    queue: str


@attrs.frozen
class CancelRequested:
    """Someone asked to cancel a running job: the process running it stops it."""

    job_id: str


ChannelMessage: TypeAlias = JobQueued | JobEnded | ProgressReported | CancelRequested
"""What the event channel carries."""
