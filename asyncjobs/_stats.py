"""Job statistics over a sliding time window, per job name and per queue.

Finished records are batched on the hot path (one list append a job) and folded into time
slots when the batch fills or someone asks. A slot (a six-hundredth of the longest window)
holds one cell per (name, queue): exact counts, the exact sum of run times, and the first
256 run times as a sample for percentiles. Slots older than the longest window are dropped,
so memory is bounded: 600 slots times the distinct (name, queue) pairs times about 2 KB.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import timedelta
from itertools import groupby
from operator import attrgetter, sub
from typing import Any

import attrs

from . import _validation
from ._errors import InvalidOption
from ._record import JobRecord
from ._states import JobState

_SLOTS = 600  # slots in the longest window
_BATCH = 512  # finished records folded in at once
_SAMPLES = 256  # run times kept per cell for percentiles
_SUCCEEDED = JobState.SUCCEEDED
_FAILED = JobState.FAILED
_RAN = frozenset((_SUCCEEDED, _FAILED))
# What a fold reads of each record, as C calls (no Python frame a record).
_FINISHED = attrgetter("finished_at")
_STARTED = attrgetter("started_at")
_STATE = attrgetter("state")
_NAME_QUEUE = attrgetter("name", "queue")


@attrs.frozen(kw_only=True)
class WindowStatistics:
    """Jobs that finished within a window, and the run times of those that ran to an end.

    ``total`` counts every job that reached a terminal state (cancelled, interrupted and
    rejected ones too); ``succeeded`` and ``failed`` the two outcomes of a run; ``retried``
    the failed attempts that were retried. ``success_rate`` is succeeded / (succeeded +
    failed), None when neither happened. ``mean``, ``p50`` and ``p95`` are the run times in
    seconds of the last attempt of succeeded and failed jobs (None without any).
    """

    total: int = 0
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    success_rate: float | None = None
    mean: float | None = None
    p50: float | None = None
    p95: float | None = None


@attrs.frozen(kw_only=True)
class JobStatistics:
    """``JobRunner.job_statistics()``: one window, overall, per job name and per queue.

    ``since`` is the wall-clock start of the window as counted: the window is rounded out to
    whole slots (a six-hundredth of the runner's ``statistics_window``)."""

    window: float
    since: float
    overall: WindowStatistics
    by_name: Mapping[str, WindowStatistics]
    by_queue: Mapping[str, WindowStatistics]


class _Cell:
    """Counts and run times of one (name, queue) in one slot."""

    __slots__ = ("ended", "succeeded", "failed", "retried", "run_time", "samples")

    def __init__(self) -> None:
        self.ended = 0
        self.succeeded = 0
        self.failed = 0
        self.retried = 0
        self.run_time = 0.0
        self.samples: list[float] = []

    def add(self, other: _Cell) -> None:
        self.ended += other.ended
        self.succeeded += other.succeeded
        self.failed += other.failed
        self.retried += other.retried
        self.run_time += other.run_time
        self.samples += other.samples

    def summary(self) -> WindowStatistics:
        runs = self.succeeded + self.failed
        if not runs:
            return WindowStatistics(total=self.ended, retried=self.retried)
        samples = sorted(self.samples)
        return WindowStatistics(
            total=self.ended,
            succeeded=self.succeeded,
            failed=self.failed,
            retried=self.retried,
            success_rate=self.succeeded / runs,
            mean=self.run_time / runs,
            p50=_percentile(samples, 0.50),
            p95=_percentile(samples, 0.95),
        )


def _percentile(ordered: list[float], fraction: float) -> float:
    """The nearest-rank percentile of a sorted, non-empty sample."""
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


class StatisticsWindow:
    """The runner's collector. ``note`` is on the hot path: keep it an append."""

    def __init__(self, longest: float) -> None:
        self.longest = longest
        self._width = longest / _SLOTS
        self._slots: dict[int, dict[tuple[str, str], _Cell]] = {}
        self._newest = -(2**62)
        self.pending: list[JobRecord] = []

    def note_retry(self, name: str, queue: str, now: float) -> None:
        self._cell(int(now // self._width), name, queue).retried += 1

    def fold(self) -> None:
        """Fold the pending finished records into their slots.

        Runs of records with the same slot, name and queue are gathered first and added to
        their cell at once, with the per-record work done in C (``map``, ``groupby``):
        a batch within one slot (the common case) is grouped by name and queue alone."""
        pending = self.pending
        if not pending:
            return
        width = self._width
        finished = list(map(_FINISHED, pending))
        first = min(finished) // width
        if first == max(finished) // width:
            for (name, queue), run in groupby(pending, _NAME_QUEUE):
                self._add_run(first, name, queue, list(run))
        else:
            for (index, name, queue), run in groupby(
                pending,
                lambda record: (record.finished_at // width, record.name, record.queue),  # type: ignore[operator]
            ):
                self._add_run(index, name, queue, list(run))
        pending.clear()

    def _add_run(self, index: float, name: str, queue: str, records: list[JobRecord]) -> None:
        """Add finished records of one slot, name and queue to their cell."""
        states = list(map(_STATE, records))
        succeeded = states.count(_SUCCEEDED)
        failed = states.count(_FAILED)
        # The run times of the attempts that ran to an end (succeeded or failed).
        if succeeded + failed == len(records):
            ran = records
        else:
            ran = [record for record in records if record.state in _RAN]
        run_times: list[float] = list(map(sub, map(_FINISHED, ran), map(_STARTED, ran)))
        cell = self._cell(int(index), name, queue)
        cell.ended += len(records)
        cell.succeeded += succeeded
        cell.failed += failed
        if run_times:
            cell.run_time += math.fsum(run_times)
            room = _SAMPLES - len(cell.samples)
            if room > 0:
                cell.samples += run_times[:room]

    def _slot(self, index: int) -> dict[tuple[str, str], _Cell]:
        cells = self._slots.get(index)
        if cells is None:
            cells = self._slots[index] = {}
            if index > self._newest:
                self._newest = index
                oldest = index - _SLOTS
                for stale in [i for i in self._slots if i <= oldest]:
                    del self._slots[stale]
        return cells

    def _cell(self, index: int, name: str, queue: str) -> _Cell:
        cells = self._slot(index)
        cell = cells.get((name, queue))
        if cell is None:
            cell = cells[(name, queue)] = _Cell()
        return cell

    def report(self, window: Any, now: float) -> JobStatistics:
        seconds = _validation.duration("window", window)
        if seconds > self.longest:
            raise InvalidOption(
                "window",
                window,
                f"longer than the {self.longest:g} seconds kept (JobRunner statistics_window)",
            )
        self.fold()
        first = int((now - seconds) // self._width)
        overall = _Cell()
        by_name: dict[str, _Cell] = {}
        by_queue: dict[str, _Cell] = {}
        for index, cells in self._slots.items():
            if index < first:
                continue
            for (name, queue), cell in cells.items():
                overall.add(cell)
                by_name.setdefault(name, _Cell()).add(cell)
                by_queue.setdefault(queue, _Cell()).add(cell)
        return JobStatistics(
            window=seconds,
            since=first * self._width,
            overall=overall.summary(),
            by_name=_summaries(by_name.items()),
            by_queue=_summaries(by_queue.items()),
        )


def _summaries(cells: Iterable[tuple[str, _Cell]]) -> dict[str, WindowStatistics]:
    return {key: cell.summary() for key, cell in sorted(cells, key=lambda item: item[0])}


def longest_window(value: float | timedelta | None) -> StatisticsWindow | None:
    if value is None:
        return None
    # Smaller windows would make slots too narrow to count in (a tiny one: zero wide).
    return StatisticsWindow(
        _validation.duration_at_least("statistics_window", value, 1.0, "second")
    )
