"""One stored run as history lists it: the columns, not the documents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from test_coordinator.scenario.status import Phase, Verdict

__all__ = ["RunRecord"]


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
