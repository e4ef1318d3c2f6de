"""The run loop: one engine for every platform and front end."""

from test_coordinator.engine.journal import Journal, JournalEntry
from test_coordinator.engine.observer import Observers, RunObserver
from test_coordinator.engine.run import Abort, JournalSink, run_scenario

__all__ = [
    "Abort",
    "Journal",
    "JournalEntry",
    "JournalSink",
    "Observers",
    "RunObserver",
    "run_scenario",
]
