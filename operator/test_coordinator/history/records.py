"""Stored runs as history lists them: the columns, not the documents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from test_coordinator.scenario.status import Phase, Verdict

__all__ = ["RunRecord", "ScenarioSummary"]


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    scenario: str
    namespace: str  # "" outside Kubernetes
    source: str  # the file it was read from, or where the resource lives
    platform: str
    started_at: datetime
    finished_at: datetime | None
    phase: Phase
    verdict: Verdict | None
    recovery_seconds: float | None
    duration_seconds: float | None
    message: str
    spec_hash: str  # of the scenario as run: equal hashes, same scenario


@dataclass(frozen=True)
class ScenarioSummary:
    """One scenario at a glance: its counts over the window, and its newest runs."""

    name: str
    runs: int
    passed: int
    failed: int
    recent: list[RunRecord]  # oldest first; the last is the newest run

    @property
    def last(self) -> RunRecord:
        return self.recent[-1]

    @property
    def pass_rate(self) -> float | None:
        """Passed over Pass and Fail (see ``trend``); None when nothing was judged."""
        judged = self.passed + self.failed
        return self.passed / judged if judged else None
