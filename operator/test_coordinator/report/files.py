"""Results as files for machines: the full JSON result and JUnit XML for CI."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from test_coordinator.scenario.model import ChaosScenario
from test_coordinator.scenario.status import ScenarioStatus

__all__ = ["result_document", "write_json", "write_junit"]


def result_document(scenario: ChaosScenario, status: ScenarioStatus) -> dict[str, object]:
    """The scenario as it would read on a cluster after the run: spec and status together."""
    document = scenario.model_copy(update={"status": status}).dump()
    return document


def write_json(path: Path, results: Sequence[tuple[ChaosScenario, ScenarioStatus]]) -> None:
    documents = [result_document(scenario, status) for scenario, status in results]
    body: object = documents[0] if len(documents) == 1 else {"items": documents}
    path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")


def write_junit(path: Path, results: Sequence[tuple[ChaosScenario, ScenarioStatus]]) -> None:
    """One testsuite per scenario, one testcase per check; a failed check is a failure."""
    suites = ET.Element("testsuites", name="test-coordinator")
    for scenario, status in results:
        duration = 0.0
        if status.started_at and status.finished_at:
            duration = (status.finished_at - status.started_at).total_seconds()
        failed = [check for check in status.checks if not check.passed]
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=scenario.metadata.name,
            tests=str(max(1, len(status.checks))),
            failures=str(len(failed)),
            errors="0" if status.checks or status.verdict else "1",
            time=f"{duration:.3f}",
            timestamp=status.started_at.isoformat() if status.started_at else "",
        )
        ET.SubElement(
            ET.SubElement(suite, "properties"),
            "property",
            name="verdict",
            value=status.verdict.value if status.verdict else status.phase.value,
        )
        for check in status.checks:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{scenario.metadata.name}.{check.when.value}",
                name=check.name,
                time=f"{check.recovery_seconds or 0.0:.3f}",
            )
            if not check.passed:
                failure = ET.SubElement(case, "failure", message=check.observed, type=check.when)
                failure.text = check.observed
        if not status.checks:
            case = ET.SubElement(suite, "testcase", classname=scenario.metadata.name, name="run")
            ET.SubElement(case, "error", message=status.message).text = status.message
    ET.indent(suites)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)
