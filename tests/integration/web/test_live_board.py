"""LiveBoard fed by a real run on the local platform: the run appears, its stage and faults
move with it, and it leaves the board when it ends."""

from __future__ import annotations

import asyncio
from pathlib import Path

from test_coordinator.engine import run_scenario
from test_coordinator.platforms.local import LocalPlatform
from test_coordinator.scenario import Phase
from test_coordinator.web import LiveBoard, LiveRun

from tests.documents import chaos_scenario
from tests.integration.stacks import tiny, tiny_stack


async def test_a_run_moves_across_the_board(pid_dir: Path, tmp_path: Path) -> None:
    back = {"name": "api back", "tcp": {"target": "api", "port": "tcp"}, "within": "10s"}
    scenario = chaos_scenario(
        "crash-api",
        {
            "targets": {"api": {"selector": {"app": "api"}}},
            "steadyState": [{"name": "api up", "tcp": {"target": "api", "port": "tcp"}}],
            "steps": [{"name": "crash", "fault": {"kill": {"target": "api"}}, "after": [back]}],
        },
        namespace="trading",
    )
    board = LiveBoard()
    seen: list[LiveRun] = []

    async def watch() -> None:
        while True:
            seen.extend(board.current_runs())
            await asyncio.sleep(0.01)

    stack = tiny_stack(pid_dir, api=tiny("api", pid_dir))
    async with LocalPlatform(stack, log_dir=tmp_path / "logs") as platform:
        watcher = asyncio.create_task(watch())
        try:
            status = await run_scenario(scenario, platform, observer=board.observer(scenario))
        finally:
            watcher.cancel()
    assert status.phase is Phase.SUCCEEDED, status.message
    assert board.current_runs() == []
    assert {(run.scenario, run.namespace, run.run_id) for run in seen} == {
        ("crash-api", "trading", status.run_id)
    }
    steps = [run.step for run in seen]
    assert any("crash" in step for step in steps), set(steps)
    faults = [run.status.faults for run in seen if run.status.faults]
    assert faults and faults[-1][0].action == "kill" and faults[-1][0].workload == "api"
    assert any(run.status.checks for run in seen)  # the steady-state check, before the end
