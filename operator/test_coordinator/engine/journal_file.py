"""A run's journal on disk, so that faults a dead runner left applied are undone next time.

The operator keeps its journal on the resource; a CLI run (and ``serve``) keeps it here: one
JSON file per run in the user's state directory, written before each fault lands and removed
once the run has undone everything. It names the runner (PID, the PID's start time, host) and
who its faults are held as (``Platform.holder``): a later command on the same platform finds
the files of runners that are gone, reverts what they still hold (sparing what another holder
set since), and says so. A file whose runner still lives is another run in progress, left alone.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from test_coordinator.engine.journal import Journal, JournalEntry
from test_coordinator.platforms.base import Platform, Workload
from test_coordinator.scenario.model import FaultSpec, GracefulStop
from test_coordinator.scenario.status import utcnow

__all__ = ["JournalFile", "Leftover", "journal_directory", "leftovers", "repair"]

_VERSION = 1
_IN_FLIGHT_MARGIN = 1.0  # seconds for a platform to finish a request after its grace period


def journal_directory() -> Path:
    """``$XDG_STATE_HOME/test-coordinator/journal`` (default ``~/.local/state/…``)."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "test-coordinator" / "journal"


@dataclass(frozen=True)
class Runner:
    pid: int
    started: int  # the process's start time in clock ticks since boot: PIDs are reused
    host: str

    @classmethod
    def this_process(cls) -> Runner:
        return cls(os.getpid(), _start_time(os.getpid()) or 0, socket.gethostname())

    def is_gone(self) -> bool:
        """Whether this runner has ended (a process of another host is never judged gone)."""
        if self.host != socket.gethostname():
            return False
        return _start_time(self.pid) != self.started


def _start_time(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22, counted after the command name, which may itself hold spaces and parentheses.
    return int(stat.rsplit(")", 1)[1].split()[19])


class JournalFile:
    """One run's journal file: ``save`` is the engine's ``persist`` hook."""

    def __init__(
        self,
        directory: Path,
        *,
        platform: str,
        key: str,
        scenario: str,
        run_id: str,
        where: Mapping[str, str] | None = None,
        holder: str | None = None,
    ) -> None:
        self.path = directory / f"{run_id}.json"
        self.platform = platform
        self.key = key
        self.where = dict(where or {})  # what a later command needs to reach the platform
        self.scenario = scenario
        self.run_id = run_id
        self.holder = holder  # who the faults are held as on the platform (Platform.holder)
        self.runner = Runner.this_process()
        self.journal: Journal | None = None

    async def save(self, journal: Journal) -> None:
        self.journal = journal
        document = {
            "version": _VERSION,
            "platform": self.platform,
            "key": self.key,
            "where": self.where,
            "scenario": self.scenario,
            "runId": self.run_id,
            "holder": self.holder,
            "runner": {"pid": self.runner.pid, "started": self.runner.started},
            "host": self.runner.host,
            "entries": [_entry(entry) for entry in journal.entries],
        }
        _write_atomically(self.path, json.dumps(document, indent=1))

    def close(self) -> None:
        """The run is over: forget it, unless something could not be undone (then the next
        command on this platform tries again)."""
        if self.journal is None or not self.journal.outstanding():
            self.path.unlink(missing_ok=True)


def _entry(entry: JournalEntry) -> dict[str, Any]:
    def stamp(moment: datetime | None) -> str | None:
        return None if moment is None else moment.isoformat()

    return {
        "step": entry.step,
        "target": entry.target,
        "workload": entry.workload.id,
        "fault": entry.fault.model_dump(mode="json", by_alias=True, exclude_none=True),
        "journaledAt": stamp(entry.journaled_at),
        "appliedAt": stamp(entry.applied_at),
        "completedAt": stamp(entry.completed_at),
        "revertedAt": stamp(entry.reverted_at),
    }


def _write_atomically(path: Path, text: str) -> None:
    """Whole or not at all: a runner killed mid-write leaves the previous version."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".journal-")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class Leftover:
    """A dead runner's journal, with the faults it still holds."""

    path: Path
    platform: str
    key: str
    where: Mapping[str, str]
    scenario: str
    run_id: str
    runner_pid: int
    journal: Journal
    holder: str | None = None


def leftovers(directory: Path, *, key: str | None = None) -> Iterator[Leftover]:
    """The journals of runners that are gone (on the platform ``key``, else any)."""
    for path in sorted(directory.glob("*.json")):
        leftover = _read(path)
        if leftover is not None and key in (None, leftover.key):
            yield leftover


def _read(path: Path) -> Leftover | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        runner = Runner(document["runner"]["pid"], document["runner"]["started"], document["host"])
        if not runner.is_gone():
            return None
        journal = Journal()
        for item in document["entries"]:
            entry = journal.record(
                step=item["step"],
                target=item["target"],
                workload=Workload(item["workload"]),
                fault=FaultSpec.model_validate(item["fault"]),
            )
            entry.journaled_at = _moment(item.get("journaledAt")) or entry.journaled_at
            entry.applied_at = _moment(item.get("appliedAt"))
            entry.completed_at = _moment(item.get("completedAt"))
            entry.reverted_at = _moment(item.get("revertedAt"))
        return Leftover(
            path,
            document["platform"],
            document["key"],
            {str(k): str(v) for k, v in document.get("where", {}).items()},
            document["scenario"],
            document["runId"],
            runner.pid,
            journal,
            holder if isinstance(holder := document.get("holder"), str) else None,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None  # not ours, or torn: nothing in it can be trusted to act on


async def _settled(entry: JournalEntry) -> None:
    """Wait out a fault the dead runner may have left in flight: the platform finishes a
    request its client no longer waits for (a stop runs out its grace period), and undoing
    it before then would be undone in turn."""
    if entry.completed_at is not None:
        return
    params = entry.fault.params
    grace = params.grace_period if isinstance(params, GracefulStop) else 0.0
    started = entry.applied_at or entry.journaled_at
    left = (started - utcnow()).total_seconds() + grace + _IN_FLIGHT_MARGIN
    if left > 0:
        await asyncio.sleep(left)


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


async def repair(platform: Platform, leftover: Leftover) -> list[str]:
    """Revert what ``leftover`` still holds on ``platform``; what was done, one line each. The
    file goes once every fault is undone; one that fails keeps it for the next attempt."""
    done: list[str] = []
    failed = False
    for entry in leftover.journal.outstanding():
        await _settled(entry)
        what = f"{entry.fault.action} {entry.workload.id} (step {entry.step!r})"
        try:
            outcome = await platform.revert_left(
                entry.fault, entry.workload, holder=leftover.holder
            )
        except Exception as error:  # keep undoing the rest; the file stays for another try
            failed = True
            done.append(f"could not undo {what}: {error}")
            continue
        done.append(f"undid {what}: {outcome}")
    if not failed:
        leftover.path.unlink(missing_ok=True)
    return done
