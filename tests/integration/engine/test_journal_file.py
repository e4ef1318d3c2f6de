"""Journal files: written by a runner, found after it died (a real process, SIGKILLed), and
repaired; a live runner's file is left alone."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest
from test_coordinator.engine.journal import Journal
from test_coordinator.engine.journal_file import JournalFile, Leftover, leftovers, repair
from test_coordinator.platforms.base import Applied, Platform, Workload
from test_coordinator.scenario.model import FaultSpec

PAUSE = FaultSpec.model_validate({"pause": {"target": "api"}})
KILL = FaultSpec.model_validate({"kill": {"target": "api"}})


class RecordingPlatform(Platform):
    """Records reverts; the journal code needs nothing else of a platform."""

    name = "recording"
    faults = frozenset({"pause", "kill"})

    def __init__(self, *, failing: bool = False) -> None:
        self.reverted: list[tuple[str, str]] = []
        self.holders: list[str | None] = []
        self.failing = failing

    async def select(self, selector: Mapping[str, str]) -> list[Workload]:
        return []

    async def apply(self, fault: FaultSpec, workload: Workload) -> Applied:
        raise AssertionError("repair never applies")

    async def revert(self, fault: FaultSpec, workload: Workload) -> str:
        if self.failing:
            raise OSError("engine unreachable")
        self.reverted.append((fault.action, workload.id))
        return f"unpaused {workload.id}"

    async def revert_left(self, fault: FaultSpec, workload: Workload, *, holder: str | None) -> str:
        self.holders.append(holder)
        return await super().revert_left(fault, workload, holder=holder)

    async def endpoint(self, workload: Workload, port: int | str) -> str:
        raise LookupError("no endpoints")


def dead_runner_journal(directory: Path, *, reverted: bool = False) -> Path:
    """A real runner process writes its journal (a pause, and a kill), then is SIGKILLed."""
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from pathlib import Path
        from test_coordinator.engine.journal import Journal
        from test_coordinator.engine.journal_file import JournalFile
        from test_coordinator.platforms.base import Workload
        from test_coordinator.scenario.model import FaultSpec
        from test_coordinator.scenario.status import utcnow

        journal = Journal()
        for action in ("pause", "kill"):
            entry = journal.record(step="s", target="api", workload=Workload("api-1"),
                                   fault=FaultSpec.model_validate({{action: {{"target": "api"}}}}))
            entry.completed_at = utcnow()
            entry.reverted_at = utcnow() if {reverted} else None
        file = JournalFile(Path({str(directory)!r}), platform="compose", key="k", scenario="sc",
                           run_id="run1", holder="sc (run by the dead one)")
        asyncio.run(file.save(journal))
        print("saved", flush=True)
        sys.stdin.read()
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as runner:
        assert runner.stdout is not None and runner.stdout.readline() == "saved\n"
        runner.send_signal(signal.SIGKILL)
    return directory / "run1.json"


async def test_a_dead_runners_pause_is_found_and_undone(tmp_path: Path) -> None:
    path = dead_runner_journal(tmp_path)
    [leftover] = list(leftovers(tmp_path, key="k"))
    assert (leftover.scenario, leftover.run_id, leftover.path) == ("sc", "run1", path)
    assert [(e.fault.action, e.workload.id) for e in leftover.journal.outstanding()] == [
        ("pause", "api-1")  # a kill has nothing to undo
    ]
    platform = RecordingPlatform()

    done = await repair(platform, leftover)

    assert platform.reverted == [("pause", "api-1")]
    assert platform.holders == ["sc (run by the dead one)"]  # what another set since, it spares
    assert done == ["undid pause api-1 (step 's'): unpaused api-1"]
    assert not path.exists()


async def test_an_undo_that_fails_keeps_the_file_for_the_next_try(tmp_path: Path) -> None:
    path = dead_runner_journal(tmp_path)
    [leftover] = list(leftovers(tmp_path, key="k"))

    done = await repair(RecordingPlatform(failing=True), leftover)

    assert done == ["could not undo pause api-1 (step 's'): engine unreachable"]
    assert path.exists()


def test_other_platforms_and_live_runners_are_left_alone(tmp_path: Path) -> None:
    dead_runner_journal(tmp_path)
    assert list(leftovers(tmp_path, key="another project")) == []
    live = JournalFile(tmp_path, platform="compose", key="k", scenario="mine", run_id="run2")
    journal = Journal()
    journal.record(step="s", target="api", workload=Workload("api-1"), fault=PAUSE)
    asyncio.run(live.save(journal))
    assert [leftover.run_id for leftover in leftovers(tmp_path, key="k")] == ["run1"]


def test_a_reused_pid_is_not_the_runner(tmp_path: Path) -> None:
    """Same PID, another start time: the runner that wrote it is gone."""
    path = tmp_path / "run3.json"
    live = JournalFile(tmp_path, platform="compose", key="k", scenario="sc", run_id="run3")
    journal = Journal()
    journal.record(step="s", target="api", workload=Workload("api-1"), fault=PAUSE)
    asyncio.run(live.save(journal))
    document = json.loads(path.read_text())
    assert document["runner"]["pid"] == os.getpid()
    document["runner"]["started"] -= 1
    path.write_text(json.dumps(document))
    [leftover] = list(leftovers(tmp_path, key="k"))
    assert isinstance(leftover, Leftover) and leftover.runner_pid == os.getpid()


def test_a_finished_run_leaves_no_file(tmp_path: Path) -> None:
    dead = dead_runner_journal(tmp_path, reverted=True)
    [leftover] = list(leftovers(tmp_path, key="k"))
    assert leftover.journal.outstanding() == []
    live = JournalFile(tmp_path, platform="compose", key="k", scenario="sc", run_id="run4")
    journal = Journal()
    entry = journal.record(step="s", target="api", workload=Workload("api-1"), fault=KILL)
    asyncio.run(live.save(journal))
    entry.completed_at = entry.journaled_at
    live.close()
    assert not (tmp_path / "run4.json").exists()
    assert dead.exists()  # not this run's to remove


@pytest.mark.parametrize("content", ["", "{", '{"runner": 1}', "[]"])
def test_a_torn_or_foreign_file_is_ignored(tmp_path: Path, content: str) -> None:
    (tmp_path / "x.json").write_text(content)
    assert list(leftovers(tmp_path)) == []
