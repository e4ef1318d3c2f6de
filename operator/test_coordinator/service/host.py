"""A scenario file as the reconciler's host: the status written back into the file (comments
and layout kept), events as log lines, the abort annotation removed from the file, the
platform ``serve`` was started with, the journal in a JournalFile of the state directory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from test_coordinator.engine.journal_file import JournalFile, Leftover
from test_coordinator.platforms.base import Platform
from test_coordinator.reconcile.host import JournalKeeper, ScenarioHost
from test_coordinator.report.status_file import write_status_block
from test_coordinator.scenario.model import ChaosScenario
from test_coordinator.scenario.status import FaultStatus, Phase, ScenarioStatus
from test_coordinator.service.files import ScenarioDirectory, remove_abort_annotation
from test_coordinator.service.platforms import PlatformChoice

__all__ = ["FileHost", "LogEvents"]

log = logging.getLogger("test_coordinator.service.scenarios")


class LogEvents:
    """Events as log lines: one per fault applied and reverted, per verdict, per refusal."""

    def __init__(self, name: str) -> None:
        self.name = name

    def normal(self, reason: str, message: str) -> None:
        log.info("%s %s: %s", self.name, reason, message)

    def warning(self, reason: str, message: str) -> None:
        log.warning("%s %s: %s", self.name, reason, message)

    async def drain(self) -> None:
        return None


class FileHost(ScenarioHost):
    def __init__(
        self,
        name: str,
        path: Path,
        *,
        directory: ScenarioDirectory,
        platforms: PlatformChoice,
        journals: Path,
        leftovers: list[Leftover],
        write_lock: asyncio.Lock,
        observed: Callable[[int], None],
    ) -> None:
        self.name = name
        self.path: Path | None = path  # None while no file holds it (vanished, for now)
        self.directory = directory
        self.platforms = platforms
        self.journals = journals
        self.leftovers = leftovers  # a dead runner's journals of this scenario
        self.write_lock = write_lock
        self._observed = observed
        self.events = LogEvents(name)
        self._recorded: list[tuple[Leftover, FaultStatus]] = []

    def __str__(self) -> str:
        return self.name

    async def write_status(self, status: ScenarioStatus) -> None:
        path = self.path
        if path is None:
            return  # the file is gone: like a deleted resource, nothing to write on

        def holds_this_scenario(document: Any) -> bool:
            meta = document.get("metadata") if isinstance(document, Mapping) else None
            return isinstance(meta, Mapping) and meta.get("name") == self.name

        async with self.write_lock:
            try:
                await asyncio.to_thread(
                    write_status_block, path, status, expect=holds_this_scenario
                )
            except FileNotFoundError:
                return

    async def clear_abort_request(self) -> None:
        if self.path is not None:
            async with self.write_lock:
                await asyncio.to_thread(remove_abort_annotation, self.directory, self.path)

    def platform(self, scenario: ChaosScenario) -> Platform:
        return self.platforms.for_run(scenario, self.path or self.directory.path)

    def undo_platform(self) -> Platform | None:
        return self.platforms.for_undo()

    def journal(
        self, run_id: str, scenario: ChaosScenario, platform: Platform
    ) -> JournalKeeper | None:
        key = platform.journal_key()
        if key is None:
            return None  # faults die with the run: the status in the file is the record
        return JournalFile(
            self.journals,
            platform=platform.name,
            key=key,
            where={"project": self.platforms.project or ""},
            scenario=self.name,
            holder=platform.holder,
            run_id=run_id,
        )

    def recorded_faults(self, shown: ScenarioStatus) -> list[FaultStatus]:
        """What a dead runner's journals still hold, matched to the faults the file shows (so
        that the status says which were reverted), added where the file lags behind."""
        faults = []
        for leftover in self.leftovers:
            if leftover.run_id != shown.run_id and leftover.journal.outstanding():
                # The file never showed that run (killed before its status was written):
                # it is the run that was interrupted.
                shown.run_id, shown.phase, shown.faults = leftover.run_id, Phase.RUNNING, []
                shown.started_at = leftover.journal.entries[0].journaled_at
            for entry in leftover.journal.outstanding():
                recorded = entry.to_status()
                shown_as = next(
                    (
                        fault
                        for fault in shown.faults
                        if (fault.step, fault.workload, fault.action)
                        == (recorded.step, recorded.workload, recorded.action)
                        and fault.reverted_at is None
                    ),
                    None,
                )
                if shown_as is None:
                    shown.faults.append(recorded)
                    shown_as = recorded
                faults.append(shown_as)
                self._recorded.append((leftover, shown_as))
        return faults

    async def recovered(self, remaining: list[FaultStatus]) -> None:
        left = {id(fault) for fault in remaining}
        for leftover in self.leftovers:
            if not any(id(f) in left for lo, f in self._recorded if lo is leftover):
                leftover.path.unlink(missing_ok=True)
        self.leftovers, self._recorded = [], []

    def generation_observed(self, generation: int) -> None:
        self._observed(generation)
