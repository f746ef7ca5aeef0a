"""Requeueing dead letters: a failed job goes back to its queue with a fresh retry budget.

``DeadLetters`` (``runner.dead_letters``) finds and filters the failed jobs; this stage puts
them back: one at a time per id, into a queue with room (a ``block`` queue waits for it),
holding their unique key again, all or nothing for a batch where a bound or a key would
refuse one of it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from . import _validation
from ._admission import Admission
from ._claims import Claim, Claims
from ._core import Core
from ._errors import DuplicateJob, JobNotFound, JobStateError, QueueFull, UnknownQueue
from ._handle import Definition, JobHandle
from ._known_jobs import KnownJobs
from ._outcomes import Outcomes
from ._queue import JobQueue
from ._record import JobRecord
from ._shared import SharedWork
from ._states import JobState
from ._waiting import Waiting

logger = logging.getLogger("asyncjobs")

_QUEUED = JobState.QUEUED
_FAILED = JobState.FAILED


class Requeue:
    """Puts one runner's dead letters back to work."""

    def __init__(
        self,
        core: Core,
        known: KnownJobs,
        waiting: Waiting,
        claims: Claims,
        admission: Admission,
        outcomes: Outcomes,
        shared: SharedWork | None = None,
    ) -> None:
        self._core = core
        self._shared = shared  # on a shared backend: the backend requeues
        self._known = known
        self._waiting = waiting
        self._claims = claims
        self._admission = admission
        self._outcomes = outcomes
        # Ids of dead letters being requeued right now (one requeue per id at a time).
        self._requeuing: set[str] = set()

    async def requeue(self, job_id: str) -> JobHandle[Any]:
        """Put a failed job back in its queue (see ``DeadLetters.requeue``)."""
        self._core.check_accepting()
        job_id = _validation.name("job_id", job_id)
        if job_id in self._requeuing:
            raise JobStateError(job_id, "being requeued", "another requeue of it is under way")
        self._requeuing.add(job_id)
        try:
            record = await self._core.store.get(job_id)  # our own copy: the engine's record now
            if record.state is not _FAILED:
                raise JobStateError(
                    job_id, record.state.value, "only failed jobs (dead letters) can be requeued"
                )
            definition = self._known.for_dead(job_id, record.name)
            queue = self._waiting.queues.get(record.queue)
            if queue is None:
                raise UnknownQueue(record.queue, list(self._waiting.queues))
            if self._shared is not None:
                [handle] = await self._shared.requeue([(record, definition, queue)])
                self._known.forget_dead(job_id)
                return handle
            if not queue.has_space():
                if not queue.policy.waits:
                    assert queue.maxsize is not None
                    raise QueueFull(queue.name, queue.maxsize, "no place for a requeued job")
                await self._admission.wait_for_space(queue)
            handle = await self._requeue_into(record, definition, queue)
            self._known.forget_dead(job_id)
            return handle
        finally:
            self._requeuing.discard(job_id)

    async def requeue_all(self, records: Iterable[JobRecord]) -> list[JobHandle[Any]]:
        """Requeue these dead letters, all or nothing where a bounded queue would refuse."""
        records = list(records)
        if self._shared is not None:
            return await self._requeue_shared(records, self._shared)
        self._admission.check_room(
            (record.queue for record in records),
            lambda queue: not queue.policy.waits,
            "{count} dead letters to requeue, {free} places free",
        )
        self._check_unique_keys(records)
        handles: list[JobHandle[Any]] = []
        for record in records:
            try:
                handles.append(await self.requeue(record.id))
            except (JobNotFound, JobStateError):
                continue  # no longer a dead letter: requeued or purged meanwhile
        return handles

    async def _requeue_shared(
        self, records: list[JobRecord], shared: SharedWork
    ) -> list[JobHandle[Any]]:
        """``requeue_all`` on a backend: one step that requeues all or none. A record that
        is no longer a dead letter (requeued or purged meanwhile) is left out."""
        self._core.check_accepting()
        dead: list[tuple[JobRecord, Definition, JobQueue]] = []
        for record in records:
            if record.id in self._requeuing:
                continue  # another requeue of it is under way
            queue = self._waiting.queues.get(record.queue)
            if queue is None:
                raise UnknownQueue(record.queue, list(self._waiting.queues))
            dead.append((record, self._known.for_dead(record.id, record.name), queue))
        ids = {record.id for record, _, _ in dead}
        self._requeuing |= ids
        try:
            while dead:
                try:
                    handles = await shared.requeue(dead)
                except (JobNotFound, JobStateError) as exc:
                    dead = [entry for entry in dead if entry[0].id != exc.job_id]
                    continue
                for record, _, _ in dead:
                    self._known.forget_dead(record.id)
                return handles
            return []
        finally:
            self._requeuing -= ids

    def _check_unique_keys(self, records: list[JobRecord]) -> None:
        """Refuse (``DuplicateJob``) a batch of dead letters of unique jobs if one's key is
        held, or two share a key: before any is requeued, so the batch is all or nothing."""
        seen: dict[str, str] = {}
        for record in records:
            definition = self._known.for_dead(record.id, record.name)
            unique = definition.options.unique
            if unique is None:
                continue
            key = unique.key_for(definition.name, record.args, dict(record.kwargs))
            holder = self._claims.holder(key)
            if holder is not None:
                raise DuplicateJob(key, holder.handle.id)
            if key in seen:
                raise DuplicateJob(key, seen[key])
            seen[key] = record.id

    async def _requeue_into(
        self, record: JobRecord, definition: Definition, queue: JobQueue
    ) -> JobHandle[Any]:
        core = self._core
        handle = self._admission.wrap(record, definition)
        held: Claim | None = None
        unique = definition.options.unique
        if unique is not None:
            key = unique.key_for(definition.name, record.args, dict(record.kwargs))
            holder = self._claims.holder(key)
            if holder is not None:
                raise DuplicateJob(key, holder.handle.id)
            held = self._claims.claim(handle, key, unique.ttl)
        # The failed attempt joins the history; the job starts over with no attempts used.
        record.retries = record.history
        record.state = _QUEUED
        record.scheduled_for = record.started_at = record.finished_at = None
        record.attempts = 0
        record.result = record.error = record.traceback = None
        queue.size += 1  # reserve the place before the first await
        try:
            await core.store.update(record)
        except BaseException:
            queue.release()
            self._claims.release(handle)
            raise
        finally:
            if held is not None:
                self._claims.admitted(held)
        if not core.accepting:  # shutdown began while the store was writing
            queue.release()
            await self._outcomes.interrupt(handle)
            return handle
        logger.info("job %s (%s) requeued from the dead letters", record.name, record.id)
        self._admission.accepted(handle, queue, None)
        return handle
