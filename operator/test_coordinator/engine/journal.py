"""Every fault applied and not yet undone, recorded before it is applied.

The entry exists before the platform is asked to act, so an abort, a timeout or a crash of the
runner between "asked" and "done" still leaves a record to revert from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from test_coordinator.platforms.base import Workload
from test_coordinator.scenario.model import TIMED_FAULTS, FaultSpec
from test_coordinator.scenario.status import FaultStatus, utcnow

__all__ = ["Journal", "JournalEntry"]


@dataclass
class JournalEntry:
    step: str
    target: str
    workload: Workload
    fault: FaultSpec
    journaled_at: datetime = field(default_factory=utcnow)
    applied_at: datetime | None = None  # the first action of the apply that landed
    completed_at: datetime | None = None
    reverted_at: datetime | None = None  # the undo's first action, once it has succeeded
    message: str = ""
    graceful: bool | None = None  # a stop: whether it exited within its grace period

    @property
    def reversible(self) -> bool:
        return self.fault.action in TIMED_FAULTS

    @property
    def outstanding(self) -> bool:
        """Still in effect, or maybe: a timed fault not yet undone (its apply may have been
        cut short), or a restart not known to have finished, which may have stopped its
        workload and not yet started it again."""
        if self.reverted_at is not None:
            return False
        return self.reversible or (self.fault.action == "restart" and self.completed_at is None)

    def to_status(self) -> FaultStatus:
        return FaultStatus(
            step=self.step,
            target=self.target,
            workload=self.workload.id,
            action=self.fault.action,
            applied_at=self.applied_at or self.journaled_at,
            completed_at=self.completed_at,
            reverted_at=self.reverted_at,
            message=self.message,
        )


@dataclass
class Journal:
    entries: list[JournalEntry] = field(default_factory=list)

    def record(
        self, *, step: str, target: str, workload: Workload, fault: FaultSpec
    ) -> JournalEntry:
        entry = JournalEntry(step=step, target=target, workload=workload, fault=fault)
        self.entries.append(entry)
        return entry

    def outstanding(self) -> list[JournalEntry]:
        """Newest first: undo in the reverse order of doing."""
        return [entry for entry in reversed(self.entries) if entry.outstanding]
