"""The deadline of the run a platform call is made for, so that a platform retrying a call that
failed in passing (an API server's 429 or 503) stops when the run would end anyway.

The engine sets it for the run's own task; tasks the run starts inherit it (a context variable
is copied into every task created under it). Outside a run there is none, and a platform keeps
to its own budget.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar

__all__ = ["remaining", "run_deadline"]

_DEADLINE: ContextVar[float | None] = ContextVar("run_deadline", default=None)


@contextlib.contextmanager
def run_deadline(seconds: float) -> Iterator[None]:
    """Calls made under this block (and in tasks started under it) belong to a run that ends in
    ``seconds``."""
    token = _DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def remaining() -> float | None:
    """Seconds until the current run's deadline (negative once it has passed); None outside a
    run."""
    deadline = _DEADLINE.get()
    return None if deadline is None else deadline - time.monotonic()
