"""The README's code runs as written, and so do the examples."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)


def run_script(path_or_code: Path | str) -> str:
    args = (
        [sys.executable, str(path_or_code)]
        if isinstance(path_or_code, Path)
        else [
            sys.executable,
            "-c",
            path_or_code,
        ]
    )
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_quickstart_runs_exactly_as_pasted() -> None:
    quickstart = next(block for block in python_blocks() if "asyncio.run(main())" in block)
    assert quickstart == (ROOT / "examples" / "quickstart.py").read_text().split('"""\n\n', 1)[1]
    out = run_script(quickstart)
    assert "title of https://example.com" in out
    assert "499500 title of https://a.example" in out
    assert "cancelled: job" in out


def test_the_backpressure_example_runs() -> None:
    out = run_script(ROOT / "examples" / "backpressure.py")
    for policy in ("raise", "block", "drop_oldest", "drop_newest", "caller_runs", "custom"):
        assert policy in out
    assert "custom handler saw 180 rejected jobs" in out


def test_the_retries_example_runs() -> None:
    out = run_script(ROOT / "examples" / "retries.py")
    assert "fetch_price: result 101.5, after 3 attempt(s)" in out
    assert "charge: gave up: SkipRetry: account closed-42 is closed, after 1 attempt(s)" in out
    assert "call_rate_limited_api: result '200 OK', after 2 attempt(s)" in out
    assert "retried attempts: 3" in out


def test_the_dead_letters_example_runs() -> None:
    out = run_script(ROOT / "examples" / "dead_letters.py")
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
    out = run_script(ROOT / "examples" / "schedules.py")
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
    out = run_script(ROOT / "examples" / "progress.py")
    assert "follower:    - reading (orders.csv)" in out
    assert "follower:  50% inserting (orders.csv)" in out
    assert "follower: 100% committed (orders.csv)" in out
    assert out.count("callback: row") == 3
    assert "30 rows imported" in out
    assert "latest, by id: committed, 100%, update 32" in out
    assert "checksum 333833500, last reported 1000" in out


def test_the_events_example_runs() -> None:
    out = run_script(ROOT / "examples" / "events.py")
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


@pytest.mark.anyio
async def test_the_testing_example_passes() -> None:
    block = next(block for block in python_blocks() if "def test_reminder" in block)
    namespace: dict[str, Any] = {}
    exec(compile(block, "README-testing", "exec"), namespace)
    with anyio.fail_after(5):
        await namespace["test_reminder_runs_after_an_hour"]()
