"""The same crash-and-recover scenario on Docker Compose and on the local platform.

One tiny service, restarted 100 ms after a crash with the delay doubling for crashes in quick
succession, as the Docker engine does; locally the supervisor is given the same policy. Each
run SIGKILLs the service and polls its port every 20 ms until it accepts again. Printed per
run: the run's wall time, the reported recovery, and the reported minus the true recovery (each
new process records when it began to listen). Then what resolving a target costs, which every
observation of a check pays, and what starting each platform costs.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from test_coordinator.engine import run_scenario
from test_coordinator.engine.targets import TargetResolver
from test_coordinator.platforms import Platform
from test_coordinator.platforms.compose import ComposePlatform
from test_coordinator.platforms.local import LocalPlatform

from bench.recovery import crash_scenario
from tests.integration.platforms.compose.projects import missing_engine, running, tiny_project
from tests.integration.stacks import tiny, tiny_stack

RUNS = 5
RESOLUTIONS = 200
POLL = "50ms"
"""How often the after-check looks: the least an interval may be."""
RESTART_DELAY = "100ms"  # the Docker engine's first restart delay


@dataclass(frozen=True)
class Run:
    wall: float
    recovery: float
    error: float  # reported minus true recovery


@dataclass(frozen=True)
class Figures:
    start: float
    runs: list[Run]
    resolution: float


def last_listening(pid_dir: Path) -> float:
    """When the newest process began to listen (in a container each is PID 1, one stamp)."""
    return max(float(stamp.read_text()) for stamp in pid_dir.glob("*.listening"))


def has_listened(pid_dir: Path) -> bool:
    return any(pid_dir.glob("*.listening"))


async def measure(platform: Platform, pid_dir: Path) -> Figures:
    began = time.monotonic()
    async with platform:
        start = time.monotonic() - began
        while not has_listened(pid_dir):  # compose: the project has just come up
            assert time.monotonic() - began < 60, "the service never listened"
            await asyncio.sleep(0.05)
        runs = []
        for _ in range(RUNS):
            began = time.monotonic()
            status = await run_scenario(crash_scenario(POLL), platform)
            wall = time.monotonic() - began
            assert status.recovery_seconds is not None, status.message
            true = last_listening(pid_dir) - status.faults[0].applied_at.timestamp()
            runs.append(Run(wall, status.recovery_seconds, status.recovery_seconds - true))
        resolver = TargetResolver(platform, crash_scenario(POLL).spec.targets)
        times = []
        for _ in range(RESOLUTIONS):
            began = time.perf_counter()
            await resolver.endpoints("api", "tcp")
            times.append(time.perf_counter() - began)
    return Figures(start, runs, statistics.median(times))


async def main() -> None:
    problem = missing_engine()
    if problem is not None:
        print(f"compose vs local: not measured: {problem}")
        return
    with tempfile.TemporaryDirectory(prefix="bench-compose-") as scratch:
        local_pids, compose_pids = Path(scratch) / "local", Path(scratch) / "compose"
        local_pids.mkdir()
        compose_pids.mkdir()
        stack = tiny_stack(local_pids, api=tiny("api", local_pids, restartDelay=RESTART_DELAY))
        local = await measure(LocalPlatform(stack, log_dir=Path(scratch) / "logs"), local_pids)
        with running(tiny_project(compose_pids)) as project:
            compose = await measure(ComposePlatform(project.name), compose_pids)
    report(local, compose)


def report(local: Figures, compose: Figures) -> None:
    print(
        f"compose vs local: {RUNS} back-to-back crash-and-recover runs, restart after "
        f"{RESTART_DELAY} (doubling), poll every {POLL}:"
    )
    print("  run   local: wall  recovery  reported-true   compose: wall  recovery  reported-true")
    for index, (here, there) in enumerate(zip(local.runs, compose.runs, strict=True), start=1):
        print(
            f"  {index:>3}   {here.wall * 1000:>9.0f}ms {here.recovery:>8.3f}s "
            f"{here.error * 1000:>+12.1f}ms   {there.wall * 1000:>11.0f}ms "
            f"{there.recovery:>8.3f}s {there.error * 1000:>+12.1f}ms"
        )
    local_wall = statistics.median(run.wall for run in local.runs)
    compose_wall = statistics.median(run.wall for run in compose.runs)
    print(
        f"  median wall time: local {local_wall * 1000:.0f}ms, compose "
        f"{compose_wall * 1000:.0f}ms ({compose_wall / local_wall:.2f}x)"
    )
    print(
        f"  resolving a target, paid by every observation: local "
        f"{local.resolution * 1e6:.0f}µs, compose {compose.resolution * 1000:.2f}ms "
        "(one Engine API call)"
    )
    print(
        f"  platform start: local {local.start * 1000:.0f}ms (spawn, wait until ready), "
        f"compose {compose.start * 1000:.0f}ms (reach the engine, find the project)"
    )
