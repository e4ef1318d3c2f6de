"""Results as files for machines: the full JSON result and JUnit XML for CI; a saved result read
back for rendering."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from test_coordinator.errors import ScenarioInvalid
from test_coordinator.scenario.loading import parse_scenario
from test_coordinator.scenario.model import ChaosScenario
from test_coordinator.scenario.reading import read_text
from test_coordinator.scenario.status import CheckSamples, ScenarioStatus

__all__ = ["read_results", "result_document", "write_json", "write_junit"]

SAMPLES_KEY = "samples"
MAX_RESULT_BYTES = 256 * 1024 * 1024  # a suite of long runs, every sample kept
_SAMPLES = TypeAdapter(list[CheckSamples])


def result_document(scenario: ChaosScenario, status: ScenarioStatus) -> dict[str, object]:
    """The scenario as it would read on a cluster after the run: spec and status together; and
    beside them, never in the status, every check's observations over time (the timeline)."""
    document = scenario.model_copy(update={"status": status}).dump()
    if status.samples:
        document[SAMPLES_KEY] = _SAMPLES.dump_python(
            status.samples, mode="json", by_alias=True, exclude_none=True
        )
    return document


def read_results(path: Path) -> list[tuple[ChaosScenario, ScenarioStatus]]:
    """The results a ``--json`` file holds: one document, or a suite's ``items``."""
    text = read_text(path, limit=MAX_RESULT_BYTES)
    try:
        body = json.loads(text)
    except ValueError as error:
        raise ScenarioInvalid(f"{path}: not JSON: {error}") from None
    except RecursionError:
        raise ScenarioInvalid(f"{path}: not a result: nested too deeply") from None
    items = body.get("items") if isinstance(body, dict) and "items" in body else [body]
    if not isinstance(items, list) or not items:
        raise ScenarioInvalid(f"{path}: items: expected a list of results")
    if len(items) == 1:
        return [_read_result(items[0], str(path))]
    return [_read_result(item, f"{path}: items[{i}]") for i, item in enumerate(items)]


def _read_result(document: object, source: str) -> tuple[ChaosScenario, ScenarioStatus]:
    if not isinstance(document, dict):
        raise ScenarioInvalid(f"{source}: expected a result (a scenario with its status)")
    samples = document.get(SAMPLES_KEY, [])
    scenario = parse_scenario(
        {key: value for key, value in document.items() if key != SAMPLES_KEY}, source=source
    )
    if scenario.status is None:
        raise ScenarioInvalid(f"{source}: status: missing; a scenario that has not run")
    try:
        scenario.status.samples = _SAMPLES.validate_python(samples)
    except ValidationError as error:
        raise ScenarioInvalid(f"{source}: {SAMPLES_KEY}: {error.errors()[0]['msg']}") from None
    return scenario, scenario.status


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
        # A check that could not look (an unreachable audit trail) is an error, not a failure.
        unrun = [check for check in failed if check.inconclusive]
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=scenario.metadata.name,
            tests=str(max(1, len(status.checks))),
            failures=str(len(failed) - len(unrun)),
            errors=str(len(unrun) + (0 if status.checks or status.verdict else 1)),
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
                kind = "error" if check.inconclusive else "failure"
                failure = ET.SubElement(case, kind, message=check.observed, type=check.when)
                failure.text = check.observed
        if not status.checks:
            case = ET.SubElement(suite, "testcase", classname=scenario.metadata.name, name="run")
            ET.SubElement(case, "error", message=status.message).text = status.message
    ET.indent(suites)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)
