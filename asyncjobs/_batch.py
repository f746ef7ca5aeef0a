"""A batch of new jobs for a backend (``submit_many`` on one): admitted in one step, all or
none, as ``submit_many`` is on a runner's own queues.

``BatchAdmit.offer`` hands the batch to ``Backend.admit_all``. A key held (by a job there,
or an earlier call of the batch) refuses the batch when the job's conflict raises; too few
places refuse it in a bounded queue whose policy refuses batches (``raise``). A refused
batch stores nothing and raises ``DuplicateJob`` or ``QueueFull``, the keys looked at
first. An accepted batch's answers go back to ``Admission``, which acts on each as it does
on a single job's (a holder's handle; a full queue's policy).
"""

from __future__ import annotations

from collections.abc import Sequence

from ._coordination import Accepted, BatchAnswer, BatchEntry, Duplicate, Full
from ._core import Core
from ._errors import DuplicateJob, QueueFull
from ._leases import LeaseBook
from ._queue import JobQueue
from ._shared import Offer
from ._unique import OnConflict
from .abc import Backend


def _raises(offer: Offer) -> bool:
    unique = offer.handle._definition.options.unique
    return unique is not None and unique.on_conflict is OnConflict.RAISE


class BatchAdmit:
    """One runner's batches of new jobs for its backend."""

    def __init__(self, core: Core, backend: Backend, leases: LeaseBook) -> None:
        self._core = core
        self._backend = backend
        self._leases = leases

    async def offer(self, offers: Sequence[tuple[Offer, JobQueue]]) -> BatchAnswer:
        """Admit the batch, all or none; its answers, one per offer (see the module
        docstring). The accepted jobs' handles resolve here, wherever they run."""
        self._core.check_accepting()
        leases = self._leases
        entries = [
            BatchEntry(
                leases.handed(offer.handle._record),
                bound=queue.maxsize,
                unique=offer.claim,
                options=offer.options,
                full_refuses=queue.policy.refuses_batches,
                duplicate_refuses=_raises(offer),
            )
            for offer, queue in offers
        ]
        handles = [offer.handle for offer, _ in offers]
        for handle in handles:  # before the answer: an end may be heard at once
            leases.awaited[handle._record.id] = handle
        try:
            answer = await self._backend.admit_all(entries)
        except BaseException:
            for handle in handles:
                leases.forget(handle)
            raise
        for handle, outcome in zip(handles, answer.outcomes, strict=True):
            if answer.refused or not isinstance(outcome, Accepted):
                leases.forget(handle)  # not stored: nothing to follow
        if answer.refused:
            raise _refusal(offers, answer)
        return answer


def _refusal(offers: Sequence[tuple[Offer, JobQueue]], answer: BatchAnswer) -> Exception:
    """The error a refused batch raises: a key held first, then a queue short of places
    (whose refused jobs its ``rejected`` statistic counts, as a refused submit's)."""
    outcomes = answer.outcomes
    ids = {offer.handle._record.id for offer, _ in offers}
    for (offer, _), outcome in zip(offers, outcomes, strict=True):
        if isinstance(outcome, Duplicate) and _raises(offer):
            held = outcome.holder
            holder = "an earlier call of this batch" if held in ids else held
            return DuplicateJob(outcome.key, holder)
    for index, ((_, queue), outcome) in enumerate(zip(offers, outcomes, strict=True)):
        if isinstance(outcome, Full) and queue.policy.refuses_batches:
            mine = [
                (i, answered)
                for i, ((_, other), answered) in enumerate(zip(offers, outcomes, strict=True))
                if other is queue and not isinstance(answered, Duplicate)
            ]
            earlier = sum(1 for i, answered in mine if i < index and isinstance(answered, Accepted))
            free = outcome.bound - (outcome.waiting - earlier)
            queue.rejected += len(mine)
            return QueueFull(
                queue.name, outcome.bound, f"the batch needs {len(mine)} places, {free} free"
            )
    raise AssertionError(f"a refused batch with no refusing answer: {answer!r}")
