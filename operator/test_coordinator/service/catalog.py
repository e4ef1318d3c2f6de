"""The watched directory, reconciled: one reconciler per scenario name, told of every change.

Each scan (every half second, and at once after the API wrote) lists the directory and reads
a file only once its signature has held still for a scan, so that a file being written is
never read half-way. A name whose file vanished is given a grace period before it counts as
deleted: an editor's save (rename the old file away, write the new one) and a ``git checkout``
(unlink, then write) leave it missing for a moment, and neither may abort its run. Moved to
another file, or saved by an editor, the name keeps its reconciler and its run. A spec is new
only when its hash is (``state.py``): a rewritten file with the same spec runs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from test_coordinator.engine.journal_file import Leftover
from test_coordinator.reconcile.host import Desired
from test_coordinator.reconcile.reconciler import Environment, ScenarioReconciler
from test_coordinator.scenario.status import ScenarioStatus, utcnow
from test_coordinator.service.files import (
    ScenarioDirectory,
    ScenarioFile,
    Signature,
    read_scenario_file,
    scan,
)
from test_coordinator.service.host import FileHost
from test_coordinator.service.platforms import PlatformChoice
from test_coordinator.service.state import Generations

__all__ = ["Catalog", "Scenario"]

log = logging.getLogger(__name__)

SCAN_SECONDS = 0.5
VANISH_GRACE_SECONDS = 2.0


@dataclass
class Scenario:
    """One scenario name and its reconciler."""

    name: str
    file: ScenarioFile  # the file that holds it, as last read
    host: FileHost
    reconciler: ScenarioReconciler
    generation: int
    missing_since: float | None = None


class Catalog:
    def __init__(
        self,
        directory: ScenarioDirectory,
        env: Environment,
        *,
        generations: Generations,
        platforms: PlatformChoice,
        journals: Path,
        leftovers: list[Leftover],
        scan_interval: float = SCAN_SECONDS,
        vanish_grace: float = VANISH_GRACE_SECONDS,
    ) -> None:
        self.directory = directory
        self.env = env
        self.generations = generations
        self.platforms = platforms
        self.journals = journals
        self.leftovers = leftovers
        self.scan_interval = scan_interval
        self.vanish_grace = vanish_grace
        self.files: dict[Path, ScenarioFile] = {}
        self.scenarios: dict[str, Scenario] = {}
        self.write_lock = asyncio.Lock()  # status writes, annotation removal and the API's
        self._pending: dict[Path, Signature] = {}  # changed, waiting to hold still
        self._trusted: dict[Path, Signature] = {}  # written whole by the API: read at once
        self._warned: dict[Path, str] = {}
        self._poke = asyncio.Event()
        self._releasing: set[asyncio.Task[None]] = set()
        self._syncing = asyncio.Lock()  # the loop's scans and the API's, one at a time
        self.first_scan = True

    # the loop

    async def run(self) -> None:
        while True:
            self._poke.clear()
            try:
                await self.sync()
            except Exception:
                log.exception("scanning %s failed; trying again", self.directory.path)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.scan_interval):
                    await self._poke.wait()

    def poke(self, path: Path | None = None, signature: Signature | None = None) -> None:
        """Scan now; ``path`` was just written whole (``signature``): no need to let it settle."""
        if path is not None and signature is not None:
            self._trusted[path] = signature
        self._poke.set()

    async def sync(self) -> None:
        async with self._syncing:
            await self._sync()

    async def _sync(self) -> None:
        found = await asyncio.to_thread(scan, self.directory.path)
        for path, signature in sorted(found.items()):
            known = self.files.get(path)
            if known is not None and known.signature == signature:
                continue
            settled = (
                self.first_scan
                or self._pending.get(path) == signature
                or self._trusted.get(path) == signature
            )
            if not settled:
                self._pending[path] = signature
                continue
            self._pending.pop(path, None)
            self._trusted.pop(path, None)
            self.files[path] = self._keep_claim(
                known, await asyncio.to_thread(read_scenario_file, path, signature)
            )
        for path in [p for p in self.files if p not in found]:
            del self.files[path]
        for path in [p for p in self._pending if p not in found]:
            del self._pending[path]
        self.first_scan = False
        await self._reconcile()

    def _keep_claim(self, before: ScenarioFile | None, now: ScenarioFile) -> ScenarioFile:
        """A file that stops being readable (half an edit, a merge conflict) keeps holding the
        scenario it held, with its last readable spec: a typo neither reruns nor deletes."""
        if now.problem is not None and self._warned.get(now.path) != now.problem:
            self._warned[now.path] = now.problem
            log.warning("%s", now.problem)
        elif now.problem is None:
            self._warned.pop(now.path, None)
        if now.problem is not None and before is not None and before.name is not None:
            return dataclasses.replace(before, signature=now.signature, problem=now.problem)
        return now

    async def _reconcile(self) -> None:
        claims: dict[str, list[ScenarioFile]] = {}
        for path in sorted(self.files):
            file = self.files[path]
            if file.name is not None:
                claims.setdefault(file.name, []).append(file)
        for name, holders in claims.items():
            owner = holders[0]
            for duplicate in holders[1:]:
                problem = (
                    f"{duplicate.path.name}: scenario {name!r} is already in {owner.path.name}"
                )
                if self._warned.get(duplicate.path) != problem:
                    self._warned[duplicate.path] = problem
                    log.warning("%s: ignored", problem)
            self._present(name, owner)
        now = time.monotonic()
        for name, scenario in list(self.scenarios.items()):
            if name in claims:
                continue
            scenario.host.path = None
            if scenario.missing_since is None:
                scenario.missing_since = now
            elif now - scenario.missing_since >= self.vanish_grace:
                self.release(name, "the scenario file was deleted")

    def _present(self, name: str, file: ScenarioFile) -> None:
        scenario = self.scenarios.get(name)
        assert file.document is not None and file.spec_hash is not None
        generation = self.generations.generation(name, file.spec_hash)
        if scenario is None:
            self._create(name, file, generation)
            return
        scenario.missing_since = None
        scenario.host.path = file.path
        changed = (
            generation != scenario.generation
            or file.abort_requested != scenario.file.abort_requested
            or file.document != scenario.file.document
        )
        scenario.file = file
        if changed:
            scenario.generation = generation
            scenario.reconciler.observe(self._desired(file, generation))

    def _create(self, name: str, file: ScenarioFile, generation: int) -> None:
        host = FileHost(
            name,
            file.path,
            directory=self.directory,
            platforms=self.platforms,
            journals=self.journals,
            leftovers=[lo for lo in self.leftovers if lo.scenario == name],
            write_lock=self.write_lock,
            observed=lambda generation: self.generations.set_observed(name, generation),
        )
        self.leftovers = [lo for lo in self.leftovers if lo.scenario != name]
        reconciler = ScenarioReconciler(
            host,
            self._desired(file, generation),
            self.env,
            shown=file.status or ScenarioStatus(),
            # 0, never run, where this state directory does not know it: a file copied in
            # with another service's status is new here.
            observed_generation=self.generations.observed(name) or 0,
        )
        self.scenarios[name] = Scenario(name, file, host, reconciler, generation)
        reconciler.start()

    def _desired(self, file: ScenarioFile, generation: int) -> Desired:
        assert file.document is not None
        return Desired(
            document=file.document,
            generation=generation,
            created_at=utcnow(),
            abort_requested=file.abort_requested,
        )

    # deletion and shutdown

    def release(self, name: str, reason: str) -> asyncio.Task[None] | None:
        """The scenario is gone: abort its runs and undo what is left, in the background."""
        scenario = self.scenarios.pop(name, None)
        if scenario is None:
            return None
        self.generations.forget(name)
        scenario.host.path = None  # nothing is written into a file that is gone
        scenario.reconciler.events.normal("Deleted", reason)
        task = asyncio.create_task(scenario.reconciler.release(reason), name=f"release {name}")
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)
        return task

    async def shutdown(self, reason: str) -> None:
        scenarios, self.scenarios = list(self.scenarios.values()), {}
        await asyncio.gather(
            *(s.reconciler.shutdown(reason) for s in scenarios),
            *self._releasing,
            return_exceptions=True,
        )

    def __iter__(self) -> Iterator[Scenario]:
        return iter(sorted(self.scenarios.values(), key=lambda scenario: scenario.name))

    def problems(self) -> list[str]:
        """Files that hold no scenario here (unreadable, duplicates), as last said."""
        return [self._warned[path] for path in sorted(self._warned) if path in self.files]
