"""Every backend against the backend contract (``tests/backend_contract.py``)."""

from __future__ import annotations

from .backend_contract import BackendContract, backend, clock

__all__ = ["backend", "clock"]


class TestBackendContract(BackendContract):
    pass
