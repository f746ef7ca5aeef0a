"""Subprocess entry: ``python -m benchmarks._run CONTENDER WORKLOAD PARAMS_JSON``."""

from __future__ import annotations

import asyncio
import json
import sys

from .contenders import CONTENDERS


def main() -> None:
    name, workload, raw = sys.argv[1], sys.argv[2], sys.argv[3]
    contender = CONTENDERS[name]
    params = json.loads(raw)
    fn = contender.workloads[workload]
    if contender.loop == "trio":
        import trio

        metrics = trio.run(fn, params)
    else:
        metrics = asyncio.run(fn(params))
    print(json.dumps(metrics))


if __name__ == "__main__":
    main()
