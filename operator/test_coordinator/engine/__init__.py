"""The run loop: one engine for every platform and front end.

The names load on first use: a front end that only reads a journal file (``recover``) does not
pay for the run loop and its checks.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from test_coordinator.engine.abort import Abort
    from test_coordinator.engine.journal import Journal, JournalEntry
    from test_coordinator.engine.observer import Observers, RunObserver
    from test_coordinator.engine.run import JournalSink, run_scenario

_HOME = {
    "Journal": "journal",
    "JournalEntry": "journal",
    "Observers": "observer",
    "RunObserver": "observer",
    "Abort": "abort",
    "JournalSink": "run",
    "run_scenario": "run",
}

__all__ = [
    "Abort",
    "Journal",
    "JournalEntry",
    "JournalSink",
    "Observers",
    "RunObserver",
    "run_scenario",
]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
