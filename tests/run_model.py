"""Run the model-based test of tests/test_model.py for many examples, and print figures.

    python tests/run_model.py --examples 10000 --backend both

Examples run in chunks (``--chunk``), each a hypothesis run of fresh random examples. The
first failure of each kind is shrunk to hypothesis' minimal reproduction and printed; with
``--keep-going`` (the default) the run then goes on, without shrinking, until the examples
are used up, and counts the failures by kind. At the end: examples, steps, submits, jobs,
outcomes by kind, wall time and failures, per backend.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from tests import test_model


@dataclass
class Failure:
    signature: str
    count: int = 0
    report: str = ""


@dataclass
class Result:
    backend: str
    seconds: float = 0.0
    examples: int = 0
    steps: int = 0
    submits: int = 0
    jobs: int = 0
    requeued: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    failures: dict[str, Failure] = field(default_factory=dict)


def signature(error: BaseException) -> str:
    """A failure's kind: the first line of its message without ids, times and numbers."""
    lines = str(error).strip().splitlines()
    first = lines[0] if lines else ""
    first = re.sub(r"[0-9a-f]{12}-\d+", "<id>", first)
    first = re.sub(r"\d+(\.\d+)?", "N", first)
    return f"{type(error).__name__}: {first}"[:200]


def report_of(error: BaseException) -> str:
    notes = "\n".join(getattr(error, "__notes__", []))
    text = "".join(traceback.format_exception_only(type(error), error)).strip()
    return f"{text}\n{notes}".strip()


def run_backend(backend: str, examples: int, chunk: int, keep_going: bool) -> Result:
    result = Result(backend)
    figures = test_model.FIGURES
    figures.examples = figures.steps = figures.submits = figures.jobs = figures.requeued = 0
    figures.outcomes.clear()
    figures.events.clear()
    machine = test_model.machine_for(backend)
    started = time.perf_counter()
    shrink = True
    while figures.examples < examples:
        size = min(chunk, examples - figures.examples)
        phases = [Phase.generate, Phase.shrink] if shrink else [Phase.generate]
        options = settings(
            test_model.model_settings(size, print_blob=True), phases=phases, database=None
        )
        try:
            run_state_machine_as_test(machine, settings=options)
        except Exception as error:
            kind = signature(error)
            failure = result.failures.setdefault(kind, Failure(kind))
            failure.count += 1
            if not failure.report:
                failure.report = report_of(error)
                print(f"[{backend}] failure after {figures.examples} examples:\n{failure.report}")
                print(flush=True)
            if not keep_going:
                break
            shrink = False  # the first one of each kind is enough to read
        done = figures.examples
        rate = done / (time.perf_counter() - started)
        print(f"[{backend}] {done}/{examples} examples ({rate:.0f}/s)", flush=True)
    result.seconds = time.perf_counter() - started
    result.examples = figures.examples
    result.steps = figures.steps
    result.submits = figures.submits
    result.jobs = figures.jobs
    result.requeued = figures.requeued
    result.outcomes = Counter(figures.outcomes)
    result.events = Counter(figures.events)
    return result


def print_result(result: Result) -> None:
    print(f"== {result.backend}")
    print(f"examples run     {result.examples}")
    print(f"steps executed   {result.steps}")
    print(f"jobs submitted   {result.submits} ({result.jobs} accepted or dropped jobs)")
    print(f"requeued runs    {result.requeued}")
    print(f"wall time        {result.seconds:.1f} s")
    print("outcomes by kind (the final state of every run of a job):")
    for kind, count in result.outcomes.most_common():
        print(f"  {kind:<34} {count}")
    print("on the way:")
    for kind, count in sorted(result.events.items()):
        print(f"  {kind:<34} {count}")
    if not result.failures:
        print("failures         none")
    for failure in result.failures.values():
        print(f"failure x{failure.count}: {failure.signature}")
        print("  " + failure.report.replace("\n", "\n  "))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=1000, help="examples per backend")
    parser.add_argument("--backend", choices=("asyncio", "trio", "both"), default="both")
    parser.add_argument("--chunk", type=int, default=500, help="examples per hypothesis run")
    parser.add_argument(
        "--stop-at-first-failure", dest="keep_going", action="store_false", default=True
    )
    args = parser.parse_args()
    # Final failures log a WARNING with a traceback each; the model checks every outcome.
    # ERROR lines still reach the model, which counts each one as a violation.
    logging.getLogger("asyncjobs").setLevel(logging.ERROR)
    backends = ("asyncio", "trio") if args.backend == "both" else (args.backend,)
    results = [run_backend(b, args.examples, args.chunk, args.keep_going) for b in backends]
    for result in results:
        print_result(result)
    return 1 if any(result.failures for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
