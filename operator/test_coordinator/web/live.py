"""Runs in progress, as the dashboard shows them: a small Protocol the front end (the operator,
``serve``) implements, and ``LiveBoard``, an implementation fed by the engine's observer
events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from test_coordinator.engine.journal import JournalEntry
from test_coordinator.engine.observer import RunObserver
from test_coordinator.scenario.model import ChaosScenario
from test_coordinator.scenario.status import ScenarioStatus

__all__ = ["LiveBoard", "LiveRun", "LiveRuns"]


@dataclass(frozen=True)
class LiveRun:
    scenario: str
    run_id: str
    step: str  # what the run is doing now: a stage, or a step and its fault
    status: ScenarioStatus  # what it has seen so far (checks, steps, faults)
    namespace: str = ""


class LiveRuns(Protocol):
    """Where the dashboard learns what is running: called on each page load, and about twice
    a second while a page follows a run; it should answer at once."""

    def current_runs(self) -> Sequence[LiveRun]: ...


@dataclass
class _Entry:
    scenario: ChaosScenario
    status: ScenarioStatus
    step: str = "starting"
    faults: list[JournalEntry] = field(default_factory=list)  # the engine updates them


class LiveBoard:
    """``LiveRuns`` from the engine's events: pass ``board.observer(scenario)`` to
    ``run_scenario`` (beside the other observers); a run leaves the board when it finishes."""

    def __init__(self) -> None:
        self._runs: dict[str, _Entry] = {}

    def current_runs(self) -> list[LiveRun]:
        return [self._live(run_id, entry) for run_id, entry in self._runs.items()]

    def observer(self, scenario: ChaosScenario) -> RunObserver:
        return _BoardObserver(self, scenario)

    def _live(self, run_id: str, entry: _Entry) -> LiveRun:
        # The engine adds faults to the status at the end; until then, those seen applied.
        status = entry.status
        if entry.faults and not status.faults:
            status = status.model_copy(update={"faults": [f.to_status() for f in entry.faults]})
        metadata = entry.scenario.metadata
        return LiveRun(metadata.name, run_id, entry.step, status, metadata.namespace or "")


class _BoardObserver(RunObserver):
    def __init__(self, board: LiveBoard, scenario: ChaosScenario) -> None:
        self.board = board
        self.scenario = scenario
        self.run_id: str | None = None

    def run_started(self, status: ScenarioStatus) -> None:
        self.run_id = status.run_id or ""
        self.board._runs[self.run_id] = _Entry(self.scenario, status)

    def stage(self, text: str) -> None:
        entry = self.board._runs.get(self.run_id or "")
        if entry is not None:
            entry.step = text

    def fault_applied(self, entry: JournalEntry) -> None:
        run = self.board._runs.get(self.run_id or "")
        if run is not None:
            run.faults.append(entry)

    def run_finished(self, status: ScenarioStatus) -> None:
        self.board._runs.pop(self.run_id or "", None)
