"""The run as its host shows it: a live status, written as the run goes, and its events."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from test_coordinator.engine import JournalEntry, RunObserver
from test_coordinator.engine.verdict import Outcome, finish
from test_coordinator.errors import PlatformError, PlatformUnavailable
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


_FIRST_RETRY = 0.2
_LAST_RETRY = 5.0


def _passing(error: Exception) -> bool:
    """A failure to write that time may mend: the API server busy or away, a disk moment."""
    return isinstance(error, (PlatformUnavailable, OSError, TimeoutError))


class StatusWriter:
    """Writes what ``compose`` returns through ``write`` (onto the resource, into the file): at
    once when a fault is about to land (the write must succeed first), otherwise coalesced to
    one write per ``interval``.

    A write that fails in passing (``PlatformUnavailable``: the API server's own retries ran
    out) is tried again until it lands, each time with the status as it is then: the one a
    fault waits for, right there; the others in the background. The journal in
    ``status.faults`` is never left unwritten because the API server was busy once.

    A coalesced write that would write exactly what the last write did is not made (a run that
    ends within the interval has had its final status written at once): on Kubernetes every
    write is a request, and an event that every watch of the resource, kopf's among them, then
    has to process."""

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
        self._requested = False  # a coalesced write asked for since its round began
        self._unwritten = False  # the last write failed in passing: the retrier is on it
        self._retrier: asyncio.Task[None] | None = None
        self._written: ScenarioStatus | None = None  # what the last write that landed wrote

    def request(self) -> None:
        self._requested = True
        if self._pending is None or self._pending.done():
            self._pending = asyncio.create_task(self._soon())

    async def _soon(self) -> None:
        # Round after round while asked: a change asked for while this task's write is on its
        # way (its status composed already) is written by the next round, not left until some
        # later change (a run waiting minutes on its after-check showed its landed fault as
        # still being applied).
        while self._requested:
            await asyncio.sleep(self.interval)
            self._requested = False
            await self.write_now(quiet=True, changed_only=True)

    async def write_now(self, *, quiet: bool = False, changed_only: bool = False) -> None:
        """Write the current status. A failure in passing is retried: here until it lands,
        or with ``quiet`` in the background. Another failure is raised, or with ``quiet``
        logged. With ``changed_only``, a status equal to the last one written is not written
        again."""
        async with self._lock:
            delay = _FIRST_RETRY
            while True:
                status = self.compose()
                status.conditions = carry_transition_times(
                    status.conditions, self._conditions.values()
                )
                if changed_only and not self._unwritten and status == self._written:
                    return
                try:
                    await self.write(status)
                except Exception as error:
                    if not _passing(error):
                        self._unwritten = False  # for good: retrying would not mend it
                        if not quiet:
                            raise PlatformError(
                                f"cannot record the run on {self.where}: {error}"
                            ) from None
                        log.warning("could not write the status of %s: %s", self.where, error)
                        return
                    if not self._unwritten:
                        log.warning(
                            "status of %s not written yet (%s): retrying", self.where, error
                        )
                    self._unwritten = True
                    if quiet:
                        self._retry_later()
                        return
                    await asyncio.sleep(random.uniform(delay / 2, delay))
                    delay = min(delay * 2, _LAST_RETRY)
                    continue
                self._conditions.update((c.type, c) for c in status.conditions)
                self._written = status
                if self._unwritten:
                    log.info("status of %s written again", self.where)
                    self._unwritten = False
                return

    def _retry_later(self) -> None:
        if self._retrier is None or self._retrier.done():
            self._retrier = asyncio.create_task(self._retry(), name=f"status of {self.where}")

    async def _retry(self) -> None:
        delay = _FIRST_RETRY
        while self._unwritten:
            await asyncio.sleep(random.uniform(delay / 2, delay))
            delay = min(delay * 2, _LAST_RETRY)
            await self.write_now(quiet=True)


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
