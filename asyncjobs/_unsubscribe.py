"""The ``with`` behaviour the subscription handles share: leaving the block unsubscribes."""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

_S = TypeVar("_S", bound="UnsubscribeOnExit")


class UnsubscribeOnExit:
    """Base of subscription handles: ``with subscribe(...) as sub:`` unsubscribes on exit."""

    __slots__ = ()

    def unsubscribe(self) -> None:
        raise NotImplementedError

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.unsubscribe()
