"""asyncjobs benchmarks: ``python -m benchmarks`` (``--quick`` for a smoke run)."""
