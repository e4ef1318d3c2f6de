"""Observers of a run (terminal, CR status, report files). A failing observer never breaks a run."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from test_coordinator.engine.journal import JournalEntry
from test_coordinator.scenario.status import CheckStatus, ScenarioStatus

__all__ = ["Observers", "RunObserver"]

log = logging.getLogger(__name__)


class RunObserver:
    """No-op defaults: an observer overrides only what it cares about."""

    def run_started(self, status: ScenarioStatus) -> None: ...

    def stage(self, text: str) -> None: ...

    def fault_applied(self, entry: JournalEntry) -> None: ...

    def fault_reverted(self, entry: JournalEntry) -> None: ...

    def check_finished(self, check: CheckStatus) -> None: ...

    def run_finished(self, status: ScenarioStatus) -> None: ...


class Observers(RunObserver):
    """Fans each event out; an observer that raises is logged and skipped."""

    def __init__(self, observers: Iterable[RunObserver] = ()) -> None:
        self.observers = list(observers)

    def _each(self, method: str, *args: object) -> None:
        for observer in self.observers:
            try:
                getattr(observer, method)(*args)
            except Exception:
                log.exception("observer %s failed on %s", type(observer).__name__, method)

    def run_started(self, status: ScenarioStatus) -> None:
        self._each("run_started", status)

    def stage(self, text: str) -> None:
        self._each("stage", text)

    def fault_applied(self, entry: JournalEntry) -> None:
        self._each("fault_applied", entry)

    def fault_reverted(self, entry: JournalEntry) -> None:
        self._each("fault_reverted", entry)

    def check_finished(self, check: CheckStatus) -> None:
        self._each("check_finished", check)

    def run_finished(self, status: ScenarioStatus) -> None:
        self._each("run_finished", status)
