"""`test-coordinator demo` proves no order was lost in the crash and says where its report is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-m", "test_coordinator.cli"]


def test_demo_proves_no_order_lost_and_writes_its_html_report(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CLI, "demo", "--json", "demo.json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,  # the default report goes to ./reports/
    )

    assert result.returncode == 0, result.stdout + result.stderr
    report = tmp_path / "reports" / "risk-monitor-crash.html"
    assert f"HTML report: {report}" in result.stdout
    assert "<svg" in report.read_text()
    document = json.loads((tmp_path / "demo.json").read_text())
    checks = {check["name"]: check for check in document["status"]["checks"]}
    lost = checks["no order lost"]
    assert lost["passed"] and lost["when"] == "audit"
    assert lost["observed"].endswith(", each once")
    numbers = int(lost["observed"].split()[0])
    assert numbers >= 10  # orders kept coming while the risk monitor was down
    restart = checks["restart on record"]
    assert restart["passed"] and restart["observed"].startswith(
        "found event_type=service_started, source=risk-monitor (pid "
    )
    assert checks["crash on record"]["passed"]
    assert document["status"]["auditSink"].startswith("wrote 3 events to POST ")
    assert "no order lost" in result.stdout
