"""The run as the resource shows it: a live status, written as the run goes, and its Events."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from lightkube import AsyncClient

from test_coordinator.controller.resource import ObjectRef, write_status
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
    from test_coordinator.controller.supervisor import ActiveRun, ScenarioSupervisor

__all__ = ["RunStatusObserver", "StatusWriter", "ended"]

log = logging.getLogger(__name__)


def ended(outcome: Outcome, *, history: Sequence[RunSummary] = ()) -> ScenarioStatus:
    """The status of a run that ends before it begins (refused input, a platform error)."""
    status = ScenarioStatus(phase=Phase.RUNNING, started_at=utcnow(), history=list(history))
    finish(status, outcome)
    return status


class StatusWriter:
    """Writes what ``compose`` returns onto the resource: at once when a fault is about to land
    (the write must succeed first), otherwise coalesced to one write per ``interval``."""

    def __init__(
        self,
        client: AsyncClient,
        ref: ObjectRef,
        compose: Callable[[], ScenarioStatus],
        interval: float,
        shown: Sequence[Condition] = (),
    ) -> None:
        self.client = client
        self.ref = ref
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
                await write_status(self.client, self.ref, status)
            except Exception as error:
                if not quiet:
                    raise PlatformError(f"cannot record the run on {self.ref}: {error}") from None
                log.warning("could not write the status of %s: %s", self.ref, error)
            else:
                self._conditions.update((c.type, c) for c in status.conditions)


class RunStatusObserver(RunObserver):
    """Turns a run's progress into status writes, Events and metrics."""

    def __init__(self, supervisor: ScenarioSupervisor, run: ActiveRun) -> None:
        self.supervisor = supervisor
        self.run = run

    def run_started(self, status: ScenarioStatus) -> None:
        self.run.status = status
        status.observed_generation = self.run.generation
        self.supervisor.writer.request()

    def stage(self, text: str) -> None:
        if self.run.status is not None:
            self.run.status.message = text
        self.supervisor.writer.request()

    def fault_applied(self, entry: JournalEntry) -> None:
        if entry.fault.action in TIMED_FAULTS:
            self.supervisor.env.metrics.active_faults.inc()
        self.supervisor.events.normal(
            "FaultApplied", f"{entry.fault.action} {entry.workload.id}: {entry.message}"
        )
        self.supervisor.writer.request()

    def fault_reverted(self, entry: JournalEntry) -> None:
        if entry.applied_at is not None:
            self.supervisor.env.metrics.active_faults.dec()
        self.supervisor.events.normal(
            "FaultReverted", f"{entry.fault.action} {entry.workload.id}: {entry.message}"
        )
        self.supervisor.writer.request()

    def check_finished(self, check: CheckStatus) -> None:
        self.supervisor.writer.request()
