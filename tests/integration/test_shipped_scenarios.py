"""The scenarios shipped in scenarios/local run on the demo trading stack as documented."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

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
    result = run_cli(
        "run",
        "scenarios/local/",
        "--junit",
        tmp_path / "suite.xml",
        "--json",
        tmp_path / "all.json",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    suites = ET.parse(tmp_path / "suite.xml").getroot().findall("testsuite")
    assert {suite.get("name") for suite in suites} == {
        "order-gateway-pause",
        "risk-monitor-crash",
        "risk-monitor-slow",
    }
    items = json.loads((tmp_path / "all.json").read_text())["items"]
    [slow] = [item["status"] for item in items if item["metadata"]["name"] == "risk-monitor-slow"]
    assert_the_gateway_kept_its_deadline(slow)


def assert_the_gateway_kept_its_deadline(status: dict[str, Any]) -> None:
    """risk-monitor-slow: 500 ms on the risk monitor's gRPC port, through the stack's proxy, for
    10 s; the gateway answered within its deadline and lost nothing, and recovered at once."""
    [fault] = status["faults"]
    assert (fault["action"], fault["workload"]) == ("latency", "risk-monitor")
    assert "latency 500ms both ways on proxy risk-monitor.grpc" in fault["message"]
    assert fault["revertedAt"] is not None
    checks = {check["name"]: check for check in status["checks"]}
    assert all(check["passed"] for check in checks.values()), checks
    assert checks["orders refused while slow"]["observed"].startswith("found status=risk_unava")
    during = checks["gateway answers within its deadline"]
    assert during["observations"] >= 15  # every 500 ms through the 10 s
    assert checks["orders checked quickly again"]["recoverySeconds"] <= 2.0
