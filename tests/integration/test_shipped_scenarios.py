"""The scenarios shipped in scenarios/local run on the demo trading stack as documented."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

CLI = [sys.executable, "-m", "test_coordinator.cli"]


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def test_demo_passes_with_a_measured_recovery(tmp_path: Path) -> None:
    result = run_cli("demo", "--json", tmp_path / "demo.json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Pass  recovery" in result.stdout
    status = json.loads((tmp_path / "demo.json").read_text())["status"]
    assert status["verdict"] == "Pass"
    # The risk monitor restarts 1 s after its crash and takes a moment to serve and register.
    assert 1.0 <= status["recoverySeconds"] <= 10.0
    registered = next(c for c in status["checks"] if c["name"] == "risk re-registered")
    assert registered["passed"]
    assert registered["recoverySeconds"] >= 1.0


def test_a_service_that_is_never_restarted_fails(tmp_path: Path) -> None:
    result = run_cli("run", "scenarios/local/expected-to-fail/risk-monitor-no-restart.yaml")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Fail" in result.stdout
    assert "risk recovers (after of step 'crash risk monitor') failed: not passing within 5s" in (
        result.stdout
    )


def test_the_local_directory_is_a_passing_resilience_suite(tmp_path: Path) -> None:
    """What a CI job would run: every scenario of the directory (not its subdirectories)."""
    result = run_cli("run", "scenarios/local/", "--junit", tmp_path / "suite.xml")
    assert result.returncode == 0, result.stdout + result.stderr
    suites = ET.parse(tmp_path / "suite.xml").getroot().findall("testsuite")
    assert {suite.get("name") for suite in suites} == {"order-gateway-pause", "risk-monitor-crash"}
