"""Every Python block in the README and in docs/ runs as pasted, and so does every example.

A block is run as a script of its own, in a fresh interpreter, from an empty directory. A
line of it ending in ``# -> text`` promises that ``text`` appears in what the script prints,
in that order (``...`` inside the text stands for anything). A block whose first line is
``# test_<name>.py`` is a pytest file: it is saved under that name and run with pytest, as
a user would paste it into their own suite.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", flags=re.DOTALL | re.MULTILINE)
_PROMISE = re.compile(r"#\s*->\s*(.+?)\s*$")


class Block(NamedTuple):
    page: str
    number: int
    code: str


def python_blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    name = str(path.relative_to(ROOT))
    found = [m.group(2) for m in _BLOCK.finditer(text) if m.group(1) == "python"]
    return [Block(name, i, code) for i, code in enumerate(found, 1)]


BLOCKS = [block for page in PAGES for block in python_blocks(page)]


def run(args: list[str], cwd: Path) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=cwd, check=False)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def promises(code: str) -> list[str]:
    return [m.group(1) for line in code.splitlines() if (m := _PROMISE.search(line))]


def check_promises(code: str, out: str) -> None:
    """Each ``# -> text`` appears in ``out``, in order (``...``, with the spaces around it,
    matches anything, line breaks included)."""
    position = 0
    for promise in promises(code):
        parts = re.split(r"\s*\.\.\.\s*", promise)
        pattern = ".*?".join(re.escape(part) for part in parts)
        found = re.compile(pattern, re.DOTALL).search(out, position)
        assert found is not None, f"printed output lacks {promise!r} (after {position}):\n{out}"
        position = found.end()


def test_the_pages_have_blocks_to_run() -> None:
    assert {block.page for block in BLOCKS} >= {"README.md"}
    assert len(BLOCKS) >= 10


@pytest.mark.parametrize("block", BLOCKS, ids=[f"{b.page}#{b.number}" for b in BLOCKS])
def test_every_python_block_runs_as_pasted(block: Block, tmp_path: Path) -> None:
    first = block.code.splitlines()[0] if block.code.strip() else ""
    test_file = re.fullmatch(r"#\s*(test_\w+\.py)\s*", first)
    if test_file:
        path = tmp_path / test_file.group(1)
        path.write_text(block.code, encoding="utf-8")
        out = run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", path.name], tmp_path
        )
        assert " passed" in out, out
        assert "failed" not in out, out
        return
    check_promises(block.code, run([sys.executable, "-c", block.code], tmp_path))


def write_blocks(folder: Path) -> None:
    for block in BLOCKS:
        stem = re.sub(r"\W", "_", block.page.removesuffix(".md")).lower()
        (folder / f"block_{stem}_{block.number}.py").write_text(block.code, encoding="utf-8")


def test_every_python_block_passes_mypy_strict(tmp_path: Path) -> None:
    """The blocks are typed code, as users' own should be: ``mypy --strict`` passes them
    (a line meant to be a type error says so with ``# type: ignore[code]``)."""
    write_blocks(tmp_path)
    args = [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / ".cache")]
    run([*args, "--no-error-summary", "."], tmp_path)


def test_every_python_block_is_formatted_as_the_code_is(tmp_path: Path) -> None:
    write_blocks(tmp_path)
    ruff = [sys.executable, "-m", "ruff"]
    run([*ruff, "format", "--no-cache", "--check", "--line-length", "100", "."], tmp_path)
    rules = ["--select", "E,F,W,I,B,UP", "--target-version", "py310"]
    rules += ["--config", "lint.isort.known-first-party = ['asyncjobs']"]
    run([*ruff, "check", "--no-cache", "--line-length", "100", *rules, "."], tmp_path)


def test_the_quickstart_is_the_example_file_and_runs_on_trio_too(tmp_path: Path) -> None:
    quickstart = next(b.code for b in BLOCKS if b.page == "README.md" and "fetch_title" in b.code)
    example = (ROOT / "examples" / "quickstart.py").read_text(encoding="utf-8")
    assert quickstart == example.split('"""\n\n', 1)[1]
    # "On trio, replace the last line with trio.run(main)", as the README says.
    assert quickstart.rstrip().endswith("asyncio.run(main())")
    on_trio = (
        quickstart.rstrip().removesuffix("asyncio.run(main())") + "import trio\n\ntrio.run(main)\n"
    )
    check_promises(quickstart, run([sys.executable, "-c", on_trio], tmp_path))


def test_promises_are_checked_in_order() -> None:
    code = "print(1)  # -> one ... three\nprint(2)  # -> four\n"
    check_promises(code, "one two three\nfour\n")
    with pytest.raises(AssertionError, match="lacks 'four'"):
        check_promises(code, "four\none two three\n")


def run_example(name: str) -> str:
    return run([sys.executable, str(ROOT / "examples" / name)], ROOT)


def test_the_backpressure_example_runs() -> None:
    out = run_example("backpressure.py")
    for policy in ("raise", "block", "drop_oldest", "drop_newest", "caller_runs", "custom"):
        assert policy in out
    assert "custom handler saw 180 rejected jobs" in out


def test_the_retries_example_runs() -> None:
    out = run_example("retries.py")
    assert "fetch_price: result 101.5, after 3 attempt(s)" in out
    assert "charge: gave up: SkipRetry: account closed-42 is closed, after 1 attempt(s)" in out
    assert "call_rate_limited_api: result '200 OK', after 2 attempt(s)" in out
    assert "retried attempts: 3" in out


def test_the_dead_letters_example_runs() -> None:
    out = run_example("dead_letters.py")
    assert "same job: True -> invoice for ada" in out
    assert "dead letters from the outage: 3" in out
    assert "ConnectionError: hooks.example.com refused order 1" in out
    assert "attempts: 2; ['failed', 'failed']" in out
    assert "requeued: ['delivered order 1', 'delivered order 2', 'delivered order 3']" in out
    assert 'left: ["ValueError: invalid literal' in out
    assert "webhooks: 3 succeeded, 3 failed, 3 retried; overall success rate 50%" in out
    assert "purged: 1" in out
    assert "cleaned up: 4 finished records" in out
    assert "asked for an old result: ResultExpired" in out


def test_the_schedules_example_runs() -> None:
    out = run_example("schedules.py")
    assert "nightly: next run at 02:30 Berlin time: 02:30" in out
    assert "refused: cron='0 0 30 2 *': matches no date" in out
    assert "event: disk missed 1 slot(s): overlap" in out
    assert out.count("event: sale fired") == 1
    assert "job: sale black-friday closed" in out
    assert "digest: finished, 2 run(s) on time" in out
    assert "nightly: active, 0 run(s) on time, 1 by hand" in out
    assert "run now: digest sent to night shift" in out
    assert "skipped overlaps: True" in out


def test_the_progress_example_runs() -> None:
    out = run_example("progress.py")
    assert "follower:    - reading (orders.csv)" in out
    assert "follower:  50% inserting (orders.csv)" in out
    assert "follower: 100% committed (orders.csv)" in out
    assert out.count("callback: row") == 3
    assert "30 rows imported" in out
    assert "latest, by id: committed, 100%, update 32" in out
    assert "checksum 333833500, last reported 1000" in out


def test_the_events_example_runs() -> None:
    out = run_example("events.py")
    assert "indexed post 1" in out
    assert "told ada's followers about post 1" in out
    assert "skipped by middleware: author 'spammer' is muted" in out
    assert "post.published: 8 deliveries, 2 raised" in out
    assert "recovered from 2 raising subscriber calls" in out
    assert "runs by job: {'index_post': 2, 'notify_followers': 1, 'update_feed': 2}" in out
    assert (
        "lifecycle events: {'job.rejected': 1, 'job.started': 5, 'job.submitted': 5, "
        "'job.succeeded': 5}" in out
    )
