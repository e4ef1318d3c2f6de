"""What can go wrong with the run store, each a one-line message for the CLI.

    TestCoordinatorError
    └── HistoryError
        ├── HistoryUnavailable   the database cannot be reached, written or read in time (exit 3)
        └── RunNotFound          no stored run has that id (exit 2)

A run never fails because of its history: the caller catches ``HistoryUnavailable`` and says
"history not written: …" beside a result that is otherwise complete.
"""

from __future__ import annotations

from test_coordinator.errors import TestCoordinatorError

__all__ = ["HistoryError", "HistoryUnavailable", "RunNotFound"]


class HistoryError(TestCoordinatorError):
    exit_code = 3


class HistoryUnavailable(HistoryError):
    """The store is down, slow, locked, or holds a schema newer than this version knows."""

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"{where}: {reason}")


class RunNotFound(HistoryError):
    exit_code = 2
