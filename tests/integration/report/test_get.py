"""`test-coordinator get`: scenario files and their written-back status, as kubectl lists them."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from test_coordinator.report import write_status
from test_coordinator.scenario import Phase, ScenarioStatus, Verdict, load_scenario
from test_coordinator.scenario.status import utcnow

CLI = [sys.executable, "-m", "test_coordinator.cli"]

SCENARIO = """\
apiVersion: chaos.tse.dev/v1alpha1
kind: ChaosScenario
metadata: {name: NAME}
spec:
  targets: {api: {selector: {app: api}}}
  steps: [{name: crash, fault: {kill: {target: api}}}]
"""


def get(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "get", *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )


def test_files_are_listed_with_their_status_and_invalid_ones_named(tmp_path: Path) -> None:
    ran = tmp_path / "ran.yaml"
    ran.write_text(SCENARIO.replace("NAME", "ran"))
    status = ScenarioStatus(
        phase=Phase.FAILED,
        verdict=Verdict.FAIL,
        recovery_seconds=12.5,
        # Minutes ago, so that the age does not depend on how long the command takes.
        finished_at=utcnow() - timedelta(minutes=20, seconds=10),
    )
    write_status(ran, load_scenario(ran), status)
    (tmp_path / "never-ran.yaml").write_text(SCENARIO.replace("NAME", "never-ran"))
    (tmp_path / "stack.yaml").write_text("services: {}\n")  # not a scenario: not listed
    broken = tmp_path / "z-broken.yaml"
    broken.write_text(SCENARIO.replace("NAME", "broken").replace("kill", "klil"))
    result = get(tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "NAME        PHASE    VERDICT   RECOVERY   AGE",
        "never-ran",
        "ran         Failed   Fail      12.50s     20m",
    ]
    assert f"{broken}:6: spec.steps[0].fault" in result.stderr


def test_a_directory_without_scenarios_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services: {}\n")
    result = get(tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == f"error: no ChaosScenario in {tmp_path} (found: compose.yaml)"
