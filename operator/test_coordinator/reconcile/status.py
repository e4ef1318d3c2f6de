"""The run as its host shows it: a live status, written as the run goes, and its events."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from test_coordinator.engine import JournalEntry, RunObserver
from test_coordinator.engine.verdict import Outcome, finish
from test_coordinator.errors import PlatformError
from test_coordinator.scenario.model import TIMED_FAULTS
from test_coordinator.scenario.status import (
    CheckStatus,
    Condition,
    Phase,
    RunSummary,
    ScenarioStatus,
    carry_transition_times,
    utcnow,
)

if TYPE_CHECKING:
    from test_coordinator.reconcile.reconciler import ActiveRun, ScenarioReconciler

__all__ = ["RunStatusObserver", "StatusWriter", "ended"]

log = logging.getLogger(__name__)


def ended(outcome: Outcome, *, history: Sequence[RunSummary] = ()) -> ScenarioStatus:
    """The status of a run that ends before it begins (refused input, a platform error)."""
    status = ScenarioStatus(phase=Phase.RUNNING, started_at=utcnow(), history=list(history))
    finish(status, outcome)
    return status


class StatusWriter:
    """Writes what ``compose`` returns through ``write`` (onto the resource, into the file): at
    once when a fault is about to land (the write must succeed first), otherwise coalesced to
    one write per ``interval``."""

    def __init__(
        self,
        write: Callable[[ScenarioStatus], Awaitable[None]],
        compose: Callable[[], ScenarioStatus],
        interval: float,
        *,
        where: str,
        shown: Sequence[Condition] = (),
    ) -> None:
        self.write = write
        self.where = where
        self.compose = compose
        self.interval = interval
        # The last value written of each condition type (``Ready`` is absent while a run goes).
        self._conditions = {condition.type: condition for condition in shown}
        self._lock = asyncio.Lock()
        self._pending: asyncio.Task[None] | None = None

    def request(self) -> None:
        if self._pending is None or self._pending.done():
            self._pending = asyncio.create_task(self._soon())

    async def _soon(self) -> None:
        await asyncio.sleep(self.interval)
        await self.write_now(quiet=True)

    async def write_now(self, *, quiet: bool = False) -> None:
        """Write the current status; with ``quiet``, a failure is logged instead of raised."""
        async with self._lock:
            status = self.compose()
            status.conditions = carry_transition_times(status.conditions, self._conditions.values())
            try:
                await self.write(status)
            except Exception as error:
                if not quiet:
                    raise PlatformError(f"cannot record the run on {self.where}: {error}") from None
                log.warning("could not write the status of %s: %s", self.where, error)
            else:
                self._conditions.update((c.type, c) for c in status.conditions)


class RunStatusObserver(RunObserver):
    """Turns a run's progress into status writes, events and metrics."""

    def __init__(self, reconciler: ScenarioReconciler, run: ActiveRun) -> None:
        self.reconciler = reconciler
        self.run = run

    def run_started(self, status: ScenarioStatus) -> None:
        self.run.status = status
        status.observed_generation = self.run.generation
        self.reconciler.writer.request()

    def stage(self, text: str) -> None:
        if self.run.status is not None:
            self.run.status.message = text
        self.reconciler.writer.request()

    def fault_applied(self, entry: JournalEntry) -> None:
        if entry.fault.action in TIMED_FAULTS:
            self.reconciler.env.metrics.active_faults.inc()
        self.reconciler.events.normal(
            "FaultApplied", f"{entry.fault.action} {entry.workload.id}: {entry.message}"
        )
        self.reconciler.writer.request()

    def fault_reverted(self, entry: JournalEntry) -> None:
        if entry.applied_at is not None:
            self.reconciler.env.metrics.active_faults.dec()
        self.reconciler.events.normal(
            "FaultReverted", f"{entry.fault.action} {entry.workload.id}: {entry.message}"
        )
        self.reconciler.writer.request()

    def check_finished(self, check: CheckStatus) -> None:
        self.reconciler.writer.request()
