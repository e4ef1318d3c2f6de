"""The coordinator's own audit trail: run started, each fault applied and reverted, the verdict.

Events go to the scenario's audit sink (``spec.auditSink``) in the order they happen, written by
one background task so that a slow sink never holds up a fault. A write that fails is counted
and reported in the status (``auditSink``), never raised: the run does not depend on its own
record, and a sink that cannot be reached must not turn a chaos run into a crash.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from test_coordinator.checks.audit_sink import AuditSink, AuditSinkError
from test_coordinator.engine.journal import JournalEntry
from test_coordinator.engine.observer import RunObserver
from test_coordinator.scenario.status import ScenarioStatus, utcnow

__all__ = ["FLUSH_TIMEOUT", "WRITE_TIMEOUT", "AuditRecorder"]

log = logging.getLogger(__name__)

WRITE_TIMEOUT = 2.0
"""One event; a sink that does not answer by then has lost it."""
FLUSH_TIMEOUT = 5.0
"""How long the end of a run waits for events still being written."""


class AuditRecorder(RunObserver):
    def __init__(self, sink: AuditSink, *, scenario: str, source: str) -> None:
        self.sink = sink
        self.scenario = scenario
        self.source = source
        self.run_id = ""
        self.events = 0
        self.written = 0
        self.problem = ""  # why the first event that was not written was not
        self._queue: asyncio.Queue[dict[str, str] | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None

    def run_started(self, status: ScenarioStatus) -> None:
        self.run_id = status.run_id or ""
        self._record(
            "chaos_run_started",
            f"run {self.run_id} of scenario {self.scenario} started",
            status.started_at,
        )

    def fault_applied(self, entry: JournalEntry) -> None:
        self._record(
            "chaos_fault_applied",
            f"{entry.fault.action} {entry.workload.id}: {entry.message}",
            entry.applied_at,
            **_fault_fields(entry),
        )

    def fault_reverted(self, entry: JournalEntry) -> None:
        self._record(
            "chaos_fault_reverted",
            f"reverted {entry.fault.action} on {entry.workload.id}",
            entry.reverted_at,
            **_fault_fields(entry),
        )

    async def finish(self, status: ScenarioStatus) -> str:
        """Record the verdict, wait (a while) for every event to be written; say what became
        of them."""
        verdict = status.verdict.value if status.verdict else status.phase.value
        self._record(
            "chaos_verdict",
            f"{verdict}: {status.message}",
            status.finished_at,
            verdict=verdict,
            phase=status.phase.value,
            recovery_seconds=""
            if status.recovery_seconds is None
            else f"{status.recovery_seconds}",
        )
        self._queue.put_nowait(None)
        if self._writer is not None:
            _, pending = await asyncio.wait({self._writer}, timeout=FLUSH_TIMEOUT)
            for writer in pending:
                writer.cancel()
                await asyncio.gather(writer, return_exceptions=True)
                self.problem = self.problem or f"still writing after {FLUSH_TIMEOUT:g}s"
        return self.summary()

    def summary(self) -> str:
        if self.written == self.events:
            return f"wrote {self.events} events to {self.sink.description}"
        return (
            f"{self.events - self.written} of {self.events} events not written to "
            f"{self.sink.description}: {self.problem}"
        )

    def _record(self, event_type: str, message: str, at: datetime | None, **fields: str) -> None:
        event = {
            "event_type": event_type,
            "source": self.source,
            "message": message,
            "scenario": self.scenario,
            "run_id": self.run_id,
            "timestamp": f"{(at or utcnow()).timestamp():.6f}",
            **fields,
        }
        self.events += 1
        self._queue.put_nowait(event)
        if self._writer is None:
            self._writer = asyncio.create_task(self._drain(), name="audit sink")

    async def _drain(self) -> None:
        while (event := await self._queue.get()) is not None:
            try:
                async with asyncio.timeout(WRITE_TIMEOUT):
                    await self.sink.write(event)
            except TimeoutError:
                self._lost(event, f"no answer within {WRITE_TIMEOUT:g}s")
            except AuditSinkError as error:
                self._lost(event, str(error))
            except Exception as error:  # a bug here must not end the run either
                log.exception("audit sink failed")
                self._lost(event, f"unexpected {type(error).__name__}: {error}")
            else:
                self.written += 1

    def _lost(self, event: dict[str, str], reason: str) -> None:
        if not self.problem:
            log.warning(
                "audit event %s not written to %s: %s",
                event["event_type"],
                self.sink.description,
                reason,
            )
            self.problem = reason


def _fault_fields(entry: JournalEntry) -> dict[str, str]:
    return {
        "step": entry.step,
        "target": entry.target,
        "workload": entry.workload.id,
        "action": entry.fault.action,
    }
