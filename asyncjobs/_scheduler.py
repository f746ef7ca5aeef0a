"""``runner.schedules``: cron, interval and one-shot schedules that submit ordinary jobs.

One task per runner sleeps until the soonest schedule is due, then hands it to ``Firing``
(``_schedule_firing``), which fires it: each fire writes the schedule's record first
(``last_slot_at``: the slot is done) and submits the job after, in a task of its own, so a
slot fires at most once (across restarts too when the store keeps schedules), and a submit
that waits for room in a full queue holds up no other schedule. The task sleeps on the
runner's monotonic clock but decides on wall time, and never sleeps longer than
``scheduler_max_sleep`` (a minute by default) before reading the wall clock again: a jump
of the clock or a suspended machine is noticed within that time, and no slot ever fires
before its wall-clock time.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

import anyio

from . import _validation
from ._definition import JobCall, JobDefinition
from ._errors import (
    AsyncJobsError,
    InvalidOption,
    InvalidOptionType,
    InvalidSchedule,
    ScheduleExists,
    ScheduleNotFound,
)
from ._handle import JobHandle
from ._options import JobOptions
from ._schedule import (
    IfExists,
    Misfire,
    Overlap,
    ScheduleRecord,
    SchedulerStatistics,
    ScheduleState,
)
from ._schedule_events import (
    ScheduleAdded,
    ScheduleEvent,
    SchedulePaused,
    ScheduleRemoved,
    ScheduleResumed,
    ScheduleUpdated,
)
from ._schedule_firing import Entry, Firing
from ._triggers import (
    Cron,
    Interval,
    Once,
    Timetable,
    Trigger,
    aware,
    clipped,
    make_trigger,
    time_zone,
    zone_name,
)

if TYPE_CHECKING:
    from ._clock import Clock
    from ._coordination import ScheduleClaim
    from .abc import JobStore, ScheduleStore

logger = logging.getLogger("asyncjobs")

ScheduledJob = JobCall[object] | JobDefinition[[], object] | Callable[[], object]
"""What a schedule submits: a job with its arguments bound (``job.call(...)``), or a job or
function that takes none."""

# Marks an argument of ``update`` that was not given.
_KEEP: Any = object()

# Wall time is read as a float of epoch seconds, good to about a microsecond: a fire within
# that of its time counts as on time (sleeping to it can land a rounding error short).
_EPSILON = 1e-6
# The longest schedule name taken (it is in every log line and event of the schedule).
MAX_NAME = 200

_Entry = Entry[ScheduleRecord]  # a loaded schedule (see _schedule_firing)

# On a shared backend: how long a claim on a due schedule holds (a fire takes a moment), and
# how soon a runner looks again at a due schedule another runner holds.
_CLAIM_LEASE = 30.0
_CLAIM_RETRY = 1.0
# What a schedule has done so far: kept when it is changed (update, replace).
_HISTORY = (
    "last_slot_at",
    "last_run_at",
    "last_job_id",
    "last_outcome",
    "runs",
    "manual_runs",
    "misses",
    "skipped_overlaps",
)
# What a fire changes of a schedule: taken from the backend before each fire there.
_CURSOR = ("next_slot_at", "next_run_at", *_HISTORY)


class ScheduleHost(Protocol):
    """The engine as the schedules see it: submit a fire's job, find a job's definition,
    check its queue, publish schedule events."""

    @property
    def store(self) -> JobStore: ...

    @property
    def clock(self) -> Clock: ...

    def check_accepting(self) -> None: ...

    async def submit(self, job: Any, /, *args: Any, **kwargs: Any) -> JobHandle[Any]: ...

    def definition_for(self, job: Any) -> JobDefinition[Any, Any]: ...

    def definition_named(self, name: str) -> JobDefinition[Any, Any]: ...

    def check_queue(self, definition: JobDefinition[Any, Any]) -> object: ...

    def publish(self, cls: type[ScheduleEvent], **fields: Any) -> None: ...


def _take_cursor(record: ScheduleRecord, stored: ScheduleRecord) -> None:
    """Take a schedule's place in its timetable, and its counts, from the stored record."""
    for field in _CURSOR:
        setattr(record, field, getattr(stored, field))


def _short(value: Any) -> Any:
    """``value``, or only the start of a long string (an error message repeats it; no
    name or policy is that long). A str subclass becomes a plain str first, so that its own
    methods are never called."""
    if not isinstance(value, str):
        return value
    value = _validation.plain_str("name", value)
    return clipped(value) if len(value) > MAX_NAME else value


def _epoch(field: str, value: Any) -> float | None:
    return None if value is None else aware(field, value).timestamp()


class Schedules:
    """The runner's schedules (``runner.schedules``): add, inspect, change and remove them.

    Every fire submits an ordinary job, so queues, priorities, timeouts, retries, unique
    keys and dead letters apply to it as to any other. Schedules live in the runner's store
    (``asyncjobs.abc.ScheduleStore``) and are loaded when the runner starts.
    """

    def __init__(self, runner: ScheduleHost, max_sleep: float) -> None:
        self._runner = runner
        self._max_sleep = max_sleep
        self._entries: dict[str, _Entry] = {}
        self._owner = f"scheduler-{id(self):x}"  # its name on a shared backend's claims
        self._firing: Firing[ScheduleRecord] = Firing(
            submit=runner.submit,
            now=lambda: runner.clock.time(),
            save=self._save,
            emit=self._emit,
            poke=self._poke,
        )
        self._poked = False
        self._sleep_scope: anyio.CancelScope | None = None
        self._loop_scope: anyio.CancelScope | None = None
        self._done: anyio.Event | None = None

    # ----------------------------------------------------------------- lifecycle (runner)

    def _store(self) -> ScheduleStore:
        from .abc import ScheduleStore

        store = self._runner.store
        if not isinstance(store, ScheduleStore):
            raise InvalidOptionType(
                "store", store, "this store keeps no schedules (see asyncjobs.abc.ScheduleStore)"
            )
        return store

    async def load(self) -> None:
        """Load the stored schedules (the runner calls this as it starts)."""
        from .abc import ScheduleStore

        self._firing.open()
        self._done = anyio.Event()
        store = self._runner.store
        if not isinstance(store, ScheduleStore):
            return
        for record in await store.list_schedules():
            try:
                definition = self._runner.definition_named(record.job)
            except AsyncJobsError:
                logger.error(
                    "schedule %r submits job %r, which is not registered; it stays stored "
                    "but does not fire until the job is registered and the runner restarts",
                    record.name,
                    record.job,
                )
                continue
            self._entries[record.name] = Entry(
                record, definition.with_checked_options(record.options)
            )

    async def run(self) -> None:
        assert self._done is not None
        try:
            async with anyio.create_task_group() as group:
                self._firing.group = group
                with anyio.CancelScope() as scope:
                    self._loop_scope = scope
                    if self._firing.stopping:  # shutdown came before this task first ran
                        scope.cancel()
                    await self._loop()
        finally:
            self._firing.group = None
            self._done.set()

    def stop_firing(self) -> None:
        """No more fires (the runner is shutting down). Watchers of running jobs go on, and
        so do fires waiting for room in a queue: the runner refuses them now."""
        self._firing.stopping = True
        if self._loop_scope is not None:
            self._loop_scope.cancel()

    async def wait_closed(self) -> None:
        """Wait for the watchers of the schedules' jobs (every job has ended by now) and
        the fires' submits (refused by now); if the wait is cut short, stop them."""
        if self._done is None:
            return
        try:
            await self._done.wait()
        finally:
            group = self._firing.group
            if group is not None and not self._done.is_set():
                group.cancel_scope.cancel()

    # ----------------------------------------------------------------- the loop

    def _poke(self) -> None:
        """Schedules changed: look again now."""
        self._poked = True
        if self._sleep_scope is not None:
            self._sleep_scope.cancel()

    async def _loop(self) -> None:
        clock = self._runner.clock
        firing = self._firing
        while True:
            self._poked = False
            async with firing.lock:
                now = clock.time() + _EPSILON
                soonest: float | None = None
                claims = await self._claims()
                for entry in list(self._entries.values()):
                    record = entry.record
                    if not firing.ready(entry):
                        continue
                    assert record.next_run_at is not None
                    if record.next_run_at <= now:
                        if claims is not None and not await self._claimed(entry, claims):
                            fire = record.next_run_at  # as the backend has it now
                            # Due by the backend's clock too: another runner holds it. (Due
                            # only within _EPSILON: the backend's time has yet to reach it.)
                            if fire is not None and fire <= clock.time():
                                fire = now + min(self._max_sleep, _CLAIM_RETRY)
                            if fire is not None:
                                soonest = fire if soonest is None else min(soonest, fire)
                            continue
                        try:
                            await firing.fire_due(entry, now)
                        except Exception:  # a store that fails: never stop the scheduler
                            logger.exception(
                                "schedule %r failed to fire; trying again in %s s",
                                record.name,
                                self._max_sleep,
                            )
                            record.next_run_at = now + self._max_sleep
                        if claims is not None:
                            await self._release(claims.pop(record.name), entry.record)
                    fire = record.next_run_at
                    if firing.ready(entry) and fire is not None:
                        soonest = fire if soonest is None else min(soonest, fire)
                for claim in (claims or {}).values():  # due there, not loaded here
                    await self._release(claim, claim.record)
            if self._poked:
                continue
            with anyio.CancelScope() as scope:
                self._sleep_scope = scope
                if soonest is None:
                    await anyio.sleep_forever()
                else:
                    wait = min(max(0.0, soonest - clock.time()), self._max_sleep)
                    await clock.sleep_until(clock.monotonic() + wait)
            self._sleep_scope = None

    def _check_payload(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], options: JobOptions
    ) -> None:
        """For a store that keeps bytes: ``UnencodablePayload`` for arguments it cannot
        encode, ``InvalidOption`` for an option's callable it cannot keep by name."""
        from ._options_data import options_to_data
        from .abc import EncodingStore
        from .serializers import check_arguments

        store = self._runner.store
        if isinstance(store, EncodingStore):
            check_arguments(store.serializer, args, kwargs)
            options_to_data(options)

    # ----------------------------------------------------------------- claims

    async def _claims(self) -> dict[str, ScheduleClaim] | None:
        """On a shared backend, the due schedules this runner may fire now (by name);
        None on a store that is not shared (every due schedule is this runner's)."""
        from .abc import Backend

        store = self._runner.store
        if not isinstance(store, Backend):
            return None
        try:
            claims = await store.acquire_schedules(owner=self._owner, lease=_CLAIM_LEASE)
        except Exception:  # a backend that fails: never stop the scheduler
            logger.exception("claiming due schedules failed; trying again")
            return {}
        return {claim.name: claim for claim in claims}

    async def _claimed(self, entry: _Entry, claims: dict[str, ScheduleClaim]) -> bool:
        """Whether this runner holds the claim on a due schedule; either way, the schedule's
        place in its timetable becomes the backend's (another runner may have fired)."""
        claim = claims.get(entry.record.name)
        stored: ScheduleRecord | None = None if claim is None else claim.record
        if stored is None:
            try:
                stored = await self._store().get_schedule(entry.record.name)
            except Exception:  # noqa: BLE001 - removed meanwhile, or the backend failed: no fire
                return False
        _take_cursor(entry.record, stored)
        return claim is not None and entry.record.next_run_at is not None

    async def _release(self, claim: ScheduleClaim, record: ScheduleRecord) -> None:
        from .abc import Backend

        store = self._runner.store
        assert isinstance(store, Backend)
        try:
            await store.release_schedule(claim, record)
        except Exception:  # the claim runs out by itself
            logger.exception("releasing the claim on schedule %r failed", claim.name)

    async def _save(self, record: ScheduleRecord) -> None:
        await self._store().update_schedule(record)

    def _emit(self, cls: type[ScheduleEvent], name: str, **fields: Any) -> None:
        self._runner.publish(cls, schedule=name, **fields)

    # ----------------------------------------------------------------- the API

    async def add(
        self,
        name: str,
        job: ScheduledJob,
        trigger: str | timedelta | datetime | Trigger,
        *,
        timezone: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        max_runs: int | None = None,
        jitter: float | timedelta = 0.0,
        misfire: Misfire | str = Misfire.COALESCE,
        misfire_grace: float | timedelta | None = None,
        overlap: Overlap | str = Overlap.SKIP,
        paused: bool = False,
        if_exists: IfExists | str = IfExists.RAISE,
    ) -> ScheduleRecord:
        """Add a schedule that submits ``job`` at each slot of ``trigger``.

        ``job``: a job with its arguments bound, ``send_report.call("ops")`` (checked
        against the signature, by type checkers too), or a job that takes no arguments.
        ``trigger``: a cron expression (``"30 2 * * *"``, six fields with seconds first,
        ``"@daily"``), ``"@every 1h30m"`` or a timedelta (an interval), an aware datetime
        (one run), or a ``Cron``/``Interval``/``Once``. ``timezone`` (an IANA name) is
        where cron fields are read; default UTC. ``start``/``end`` bound the slots
        (aware datetimes, inclusive); an interval counts from ``start``, else from now
        (its first slot one interval on). ``max_runs`` ends it after that many fires;
        ``jitter`` delays each fire by up to that many seconds, at random. ``misfire``,
        ``misfire_grace`` and ``overlap``: see ``Misfire`` and ``Overlap``.
        ``if_exists``: see ``IfExists``. Returns a snapshot of the record.

        Everything is checked here, before anything is stored: a bad expression, an
        unknown time zone, a naive datetime, a timetable that never fires (or whose first
        run is past the year 9999), an expression or interval over 512 characters,
        a zone name over 64 raise ``InvalidSchedule`` (naming the field and value, of a
        long value its start); a name over 200 characters ``InvalidOption``;
        arguments that do not fit the job raise ``InvalidArguments``; an unknown queue
        ``UnknownQueue``.
        """
        self._runner.check_accepting()
        store = self._store()
        policy = _validation.member(IfExists, "if_exists", _short(if_exists))
        name = _validation.name("name", name)
        if len(name) > MAX_NAME:
            raise InvalidOption(
                "name",
                clipped(name),
                f"too long: a schedule name has at most {MAX_NAME} characters",
            )
        record, definition = self._build(
            name,
            job,
            trigger,
            timezone=timezone,
            start=start,
            end=end,
            max_runs=max_runs,
            jitter=jitter,
            misfire=misfire,
            misfire_grace=misfire_grace,
            overlap=overlap,
            paused=paused,
        )
        async with self._firing.lock:
            old = self._entries.get(name)
            if old is None:
                self._start_cursor(record, None)
                await store.add_schedule(record)
                self._entries[name] = Entry(record, definition)
            elif policy is IfExists.RAISE:
                raise ScheduleExists(name)
            elif policy is IfExists.KEEP:
                return old.record.snapshot()
            else:
                self._keep_history(record, old.record)
                self._start_cursor(record, old.record)
                await store.update_schedule(record)
                old.replace(record, definition)
            self._poke()
            self._emit(ScheduleAdded, name, next_run_at=record.next_run_at)
            return record.snapshot()

    def _build(
        self, name: str, job: Any, trigger: Any, **given: Any
    ) -> tuple[ScheduleRecord, JobDefinition[Any, Any]]:
        runner = self._runner
        if isinstance(job, JobCall):
            definition: JobDefinition[Any, Any] = job.definition
            args, kwargs = tuple(job.args), dict(job.kwargs)
        else:
            definition = runner.definition_for(job)
            args, kwargs = (), {}
        options = definition.options
        for field in ("delay", "at", "job_id"):
            if getattr(options, field) is not None:
                raise InvalidOption(
                    "job",
                    job,
                    f"has {field}= set; a schedule decides when its job runs, and each fire "
                    "is a new job",
                )
        definition.check_arguments(args, kwargs)
        runner.check_queue(definition)  # UnknownQueue now, not at the first fire
        self._check_payload(args, kwargs, options)  # a store of bytes: refused now
        zone_given = given["timezone"]
        made = make_trigger(trigger, zone_given)
        zone = time_zone("timezone", zone_given if zone_given is not None else "UTC")
        if isinstance(made, Cron):
            zone = time_zone("timezone", made.timezone)
        start = _epoch("start", given["start"])
        end = _epoch("end", given["end"])
        if start is not None and end is not None and end < start:
            raise InvalidSchedule("end", given["end"], "comes before start")
        max_runs = given["max_runs"]
        if max_runs is not None:
            max_runs = _validation.positive_int("max_runs", max_runs)
        paused = given["paused"]
        if not isinstance(paused, bool):
            raise InvalidOptionType("paused", paused, "expected a bool")
        now = runner.clock.time()
        anchor = 0.0  # only intervals count from an anchor
        if isinstance(made, Interval):
            anchor = start if start is not None else now + made.seconds
        record = ScheduleRecord(
            name=name,
            job=definition.name,
            trigger=made,
            timezone=zone_name(zone),
            args=args,
            kwargs=kwargs,
            options=options,
            start_at=start,
            end_at=end,
            anchor_at=anchor,
            max_runs=max_runs,
            jitter=_validation.non_negative_duration("jitter", given["jitter"]),
            misfire=_validation.member(Misfire, "misfire", _short(given["misfire"])),
            misfire_grace=_validation.optional_duration("misfire_grace", given["misfire_grace"]),
            overlap=_validation.member(Overlap, "overlap", _short(given["overlap"])),
            paused=paused,
            created_at=now,
        )
        first = record.timetable().next_after(now)
        if first is None:
            raise self._never_fires(record, now, given)
        try:  # every time of the record reads as a datetime in its zone (years 1 to 9999)
            datetime.fromtimestamp(first, zone)
            datetime.fromtimestamp(first + record.jitter, zone)
        except (OverflowError, ValueError, OSError):
            raise self._out_of_range(record, first, given) from None
        return record, definition

    @staticmethod
    def _never_fires(
        record: ScheduleRecord, now: float, given: Mapping[str, Any]
    ) -> InvalidSchedule:
        trigger = record.trigger
        if Timetable(trigger, record.anchor_at).next_after(now) is None:  # the trigger alone
            if isinstance(trigger, Once):
                return InvalidSchedule("at", trigger.at, "is in the past: the schedule never fires")
            assert isinstance(trigger, Cron)
            return InvalidSchedule(
                "cron", trigger.expression, "matches no date (for example 30 February): never fires"
            )
        if given["end"] is not None:
            return InvalidSchedule("end", given["end"], "no slot comes before it: never fires")
        return InvalidSchedule("start", given["start"], "no slot comes after it: never fires")

    @staticmethod
    def _out_of_range(
        record: ScheduleRecord, first: float, given: Mapping[str, Any]
    ) -> InvalidSchedule:
        reason = "puts the first run past the year 9999"
        try:
            datetime.fromtimestamp(first, record.zone)
        except (OverflowError, ValueError, OSError):
            trigger = record.trigger
            if record.start_at is not None and first == record.start_at:
                return InvalidSchedule("start", given["start"], reason)
            if isinstance(trigger, Interval):
                return InvalidSchedule("every", trigger.every, reason)
            if isinstance(trigger, Once):
                return InvalidSchedule("at", trigger.at, reason)
            return InvalidSchedule("start", given["start"], reason)
        return InvalidSchedule("jitter", given["jitter"], reason)

    def _start_cursor(self, record: ScheduleRecord, old: ScheduleRecord | None) -> None:
        """Place a new or changed record's cursor. An unchanged timetable keeps its place
        (missed slots stay due); a new one starts after now (or its last slot, if later)."""
        if old is not None and old.timetable() == record.timetable():
            record.next_slot_at, record.next_run_at = old.next_slot_at, old.next_run_at
            if record.max_runs is not None and record.runs >= record.max_runs:
                record.next_slot_at = record.next_run_at = None
            return
        after = self._runner.clock.time()
        if old is not None and old.last_slot_at is not None:
            after = max(after, old.last_slot_at)
        record.next_slot_at = record.timetable().next_after(after)
        if record.max_runs is not None and record.runs >= record.max_runs:
            record.next_slot_at = None
        self._firing.set_fire(record)

    @staticmethod
    def _keep_history(record: ScheduleRecord, old: ScheduleRecord) -> None:
        record.created_at = old.created_at
        same_interval = isinstance(record.trigger, Interval) and record.trigger == old.trigger
        if same_interval and record.start_at is None:
            record.anchor_at = old.anchor_at  # the same interval keeps its grid
        record.paused = old.paused
        for field in _HISTORY:
            setattr(record, field, getattr(old, field))

    def _entry(self, name: str) -> _Entry:
        self._runner.check_accepting()
        if not isinstance(name, str):
            raise InvalidOptionType("name", name, "expected a schedule's name (a string)")
        name = _validation.plain_str("name", name)  # a subclass's own hash and eq are not used
        try:
            return self._entries[name]
        except KeyError:
            raise ScheduleNotFound(_short(name)) from None

    async def get(self, name: str) -> ScheduleRecord:
        """A snapshot of the schedule's record. Raises ``ScheduleNotFound``."""
        return self._entry(name).record.snapshot()

    async def list(
        self, *, state: ScheduleState | str | None = None
    ) -> builtins.list[ScheduleRecord]:
        """Snapshots of every schedule (of one ``state``, if given), in the order added."""
        self._runner.check_accepting()
        wanted = (
            None if state is None else _validation.member(ScheduleState, "state", _short(state))
        )
        return [
            e.record.snapshot()
            for e in self._entries.values()
            if wanted is None or e.record.state is wanted
        ]

    async def update(
        self,
        name: str,
        *,
        job: ScheduledJob = _KEEP,
        trigger: str | timedelta | datetime | Trigger = _KEEP,
        timezone: str | None = _KEEP,
        start: datetime | None = _KEEP,
        end: datetime | None = _KEEP,
        max_runs: int | None = _KEEP,
        jitter: float | timedelta = _KEEP,
        misfire: Misfire | str = _KEEP,
        misfire_grace: float | timedelta | None = _KEEP,
        overlap: Overlap | str = _KEEP,
        **unknown: NoReturn,
    ) -> ScheduleRecord:
        """Change some of what ``add`` set, checked as ``add`` checks it; what is not given
        stays. ``job`` replaces the job and its arguments (``send_report.call("sales")``).
        A changed timetable starts from now: slots before the change are not made up, and
        no slot fires twice. Returns a snapshot. A keyword ``add`` does not take raises
        ``InvalidOption`` naming it (and is a type error to type checkers)."""
        if unknown:
            field = sorted(unknown)[0]
            raise InvalidOption(field, unknown[field], "not something update can change")
        changes = {
            key: value
            for key, value in (
                ("job", job),
                ("trigger", trigger),
                ("timezone", timezone),
                ("start", start),
                ("end", end),
                ("max_runs", max_runs),
                ("jitter", jitter),
                ("misfire", misfire),
                ("misfire_grace", misfire_grace),
                ("overlap", overlap),
            )
            if value is not _KEEP
        }
        entry = self._entry(name)
        async with self._firing.lock:
            entry = self._entry(name)
            old = entry.record
            given = self._given(old, entry.definition)
            given.update(changes)
            if "timezone" in changes and "trigger" not in changes and isinstance(old.trigger, Cron):
                given["trigger"] = old.trigger.expression  # read again in the new zone
            elif "timezone" not in changes and isinstance(changes.get("trigger"), str):
                given["timezone"] = old.timezone  # a new expression is read in the same zone
            given["paused"] = old.paused
            job = given.pop("job")
            trigger = given.pop("trigger")
            record, definition = self._build(name, job, trigger, **given)
            self._keep_history(record, old)
            self._start_cursor(record, old)
            await self._store().update_schedule(record)
            entry.replace(record, definition)
            self._poke()
            self._emit(ScheduleUpdated, name, next_run_at=record.next_run_at)
            return record.snapshot()

    @staticmethod
    def _given(record: ScheduleRecord, definition: JobDefinition[Any, Any]) -> dict[str, Any]:
        """``add``'s arguments that would make ``record`` again."""
        zone = record.zone

        def moment(t: float | None) -> datetime | None:
            return None if t is None else datetime.fromtimestamp(t, zone)

        trigger: Any = record.trigger
        start = record.start_at
        # An interval without a start keeps its anchor (see _keep_history).
        start_at = None if isinstance(trigger, Interval) and start is None else moment(start)
        return {
            "job": JobCall(definition, record.args, dict(record.kwargs)),
            "trigger": trigger,
            "timezone": None if isinstance(trigger, Cron) else record.timezone,
            "start": start_at,
            "end": moment(record.end_at),
            "max_runs": record.max_runs,
            "jitter": record.jitter,
            "misfire": record.misfire,
            "misfire_grace": record.misfire_grace,
            "overlap": record.overlap,
        }

    async def pause(self, name: str) -> ScheduleRecord:
        """Stop firing until ``resume``. Slots that come due meanwhile are misfires: on
        resume, the schedule's ``misfire`` policy and grace time decide what runs."""
        async with self._firing.lock:
            entry = self._entry(name)
            record = entry.record
            if not record.paused:
                record.paused = True
                if entry.pending is not None:
                    slot, entry.pending = entry.pending, None
                    await self._firing.miss(entry, slot, 1, "overlap", last=None)
                    record.last_slot_at = max(record.last_slot_at or slot, slot)
                await self._save(record)
                self._emit(SchedulePaused, name)
            return record.snapshot()

    async def resume(self, name: str) -> ScheduleRecord:
        """Fire again; slots missed while paused follow the misfire policy."""
        async with self._firing.lock:
            entry = self._entry(name)
            record = entry.record
            if record.paused:
                record.paused = False
                await self._save(record)
                self._poke()
                self._emit(ScheduleResumed, name)
            return record.snapshot()

    async def run_now(self, name: str) -> JobHandle[object]:
        """Submit the schedule's job now, outside its timetable: no slot is used, and pause,
        overlap and ``max_runs`` do not apply (it counts in ``manual_runs``). Returns the
        job's handle; a refused submit raises as ``runner.submit`` would, and a full queue
        whose policy is ``block`` makes this call wait (no schedule waits with it)."""
        handle = await self._firing.run_now(self._entry(name))
        assert isinstance(handle, JobHandle)
        return handle

    async def remove(self, name: str) -> None:
        """Remove the schedule; its jobs already submitted go on. ``ScheduleNotFound``
        if there is none of that name."""
        async with self._firing.lock:
            entry = self._entry(name)
            await self._store().delete_schedule(name)
            del self._entries[name]
            self._firing.forget(entry)
            self._poke()
            self._emit(ScheduleRemoved, name)

    def statistics(self) -> SchedulerStatistics:
        """Schedules by state, and fires, misses, skipped overlaps and refusals so far."""
        states = [entry.record.state for entry in self._entries.values()]
        return SchedulerStatistics(
            active=states.count(ScheduleState.ACTIVE),
            paused=states.count(ScheduleState.PAUSED),
            finished=states.count(ScheduleState.FINISHED),
            fired=self._firing.fired,
            missed=self._firing.missed,
            skipped_overlaps=self._firing.skipped,
            refused=self._firing.refused,
        )
