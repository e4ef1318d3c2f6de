"""How true the measured recovery is, and what the engine itself costs.

- recovery-time accuracy: a service restarted by its supervisor after a known delay (1.5 s);
  the reported recovery is compared with the moment the new process really began to listen.
- engine overhead: wall time of one run (one kill, one after-check) minus its own waits.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from test_coordinator.engine import run_scenario
from test_coordinator.platforms.local import LocalPlatform
from test_coordinator.scenario import ChaosScenario

from tests.documents import chaos_scenario
from tests.integration.stacks import listening_since, started_pids, tiny, tiny_stack

RUNS = 10
RESTART_DELAY = 1.5


def crash_scenario(poll: str) -> ChaosScenario:
    back = {"name": "api back", "tcp": {"target": "api", "port": "tcp"}, "within": "10s"}
    crash = {
        "name": "crash",
        "fault": {"kill": {"target": "api"}},
        "after": [{**back, "interval": poll}],
    }
    return chaos_scenario(
        "bench", {"targets": {"api": {"selector": {"app": "api"}}}, "steps": [crash]}
    )


def spread(label: str, values: list[float], unit: str = "ms") -> str:
    scale = 1000.0 if unit == "ms" else 1.0
    low, mid, high = min(values), statistics.median(values), max(values)
    figures = (
        f"{name} {value * scale:+.1f}{unit}"
        for name, value in (("min", low), ("median", mid), ("max", high))
    )
    return f"{label}: " + "  ".join(figures)


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        pid_dir = Path(scratch) / "pids"
        pid_dir.mkdir()
        # A fixed delay: without the cap, crashes this close together would double the backoff.
        delay = f"{RESTART_DELAY}s"
        stack = tiny_stack(
            pid_dir, api=tiny("api", pid_dir, restartDelay=delay, maxRestartDelay=delay)
        )
        began = time.monotonic()
        platform = LocalPlatform(stack, log_dir=Path(scratch) / "logs")
        await platform.start()
        startup = time.monotonic() - began
        try:
            for poll in ("100ms", "50ms"):
                errors, versus_delay, overheads = [], [], []
                for _ in range(RUNS):
                    before = set(started_pids(pid_dir))
                    run_began = time.monotonic()
                    status = await run_scenario(crash_scenario(poll), platform)
                    wall = time.monotonic() - run_began
                    assert status.recovery_seconds is not None, status.message
                    [new_pid] = set(started_pids(pid_dir)) - before
                    listening = listening_since(pid_dir, new_pid)
                    killed = status.faults[0].applied_at.timestamp()
                    assert listening is not None
                    errors.append(status.recovery_seconds - (listening - killed))
                    versus_delay.append(status.recovery_seconds - RESTART_DELAY)
                    overheads.append(wall - status.recovery_seconds)
                print(f"recovery accuracy, {RUNS} crash-and-restart runs, poll every {poll}:")
                print("  " + spread("reported minus true recovery", errors))
                print(
                    "  "
                    + spread(f"reported minus the {RESTART_DELAY}s restart delay", versus_delay)
                )
                print("  " + spread("engine overhead (run wall time minus recovery)", overheads))
        finally:
            began = time.monotonic()
            await platform.close()
            stopped = time.monotonic() - began
            print(f"local platform: start {startup * 1000:.0f}ms, stop {stopped * 1000:.0f}ms")
