"""Results as files: the samples beside the status (never in it), read back as they were; JUnit
tells a check that could not run from a failed one."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml
from test_coordinator.errors import ScenarioInvalid
from test_coordinator.report import read_results, result_document, write_json, write_junit

from tests.unit.report.sample_result import scenario, status


def test_samples_sit_beside_the_status_and_stay_out_of_it() -> None:
    document = result_document(scenario(), status())

    assert "samples" not in document["status"]  # type: ignore[operator]
    assert document["samples"][0] == {  # type: ignore[index]
        "name": "api answers",
        "when": "during",
        "offsets": [round(0.2 * i, 1) for i in range(25)],
        "passed": "1111100000000000011111111",
        "notes": {"0": "HTTP 200 in 1ms", "5": "timed out after 300ms", "17": "HTTP 200 in 2ms"},
        "dropped": 0,
    }
    assert "samples" not in json.dumps(scenario().model_json_schema())


@pytest.mark.parametrize("count", [1, 2])
def test_a_written_result_reads_back_as_it_was(tmp_path: Path, count: int) -> None:
    results = [(scenario(f"s{i}"), status()) for i in range(count)]
    write_json(tmp_path / "r.json", results)

    read = read_results(tmp_path / "r.json")

    assert [s.metadata.name for s, _ in read] == [s.metadata.name for s, _ in results]
    for (_, original), (_, again) in zip(results, read, strict=True):
        assert again == original
        assert again.samples == original.samples


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("[1", "r.json: not JSON: "),
        ("[" * 100_000 + "]" * 100_000, "r.json: not a result: nested too deeply"),
        (b'{"a": "\xe9"}', "r.json:1: not UTF-8"),
        ('{"items": []}', "r.json: items: expected a list of results"),
        ("[]", "r.json: expected a result (a scenario with its status)"),
        (
            '{"items": [{"apiVersion": "chaos.tse.dev/v1alpha1"}, 1]}',
            "r.json: items[0]: ",
        ),
    ],
)
def test_what_is_not_a_result_is_refused_with_where(
    tmp_path: Path, body: str | bytes, expected: str
) -> None:
    result = tmp_path / "r.json"
    result.write_bytes(body if isinstance(body, bytes) else body.encode())

    with pytest.raises(ScenarioInvalid) as raised:
        read_results(tmp_path / "r.json")

    assert expected in str(raised.value)


def test_a_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "r.json")

    with pytest.raises(ScenarioInvalid, match=r"r\.json: cannot read: a FIFO, not a regular file"):
        read_results(tmp_path / "r.json")


def test_a_scenario_without_status_is_not_a_result(tmp_path: Path) -> None:
    (tmp_path / "r.json").write_text(json.dumps(scenario().dump()))

    with pytest.raises(ScenarioInvalid, match="status: missing; a scenario that has not run"):
        read_results(tmp_path / "r.json")


def test_junit_has_a_failure_per_failed_check_and_an_error_per_check_that_could_not_run(
    tmp_path: Path,
) -> None:
    write_junit(tmp_path / "r.xml", [(scenario(), status())])

    [suite] = list(JUnitXml.fromfile(str(tmp_path / "r.xml")))
    outcomes = {case.name: case.result for case in suite}

    assert (suite.tests, suite.failures, suite.errors) == (5, 1, 1)
    [failure] = outcomes["api <fast>"]
    assert isinstance(failure, Failure) and failure.message == "too | slow"
    [error] = outcomes["no order lost"]
    assert isinstance(error, Error)
    assert error.message == "cannot read audit:orders: connection refused"
    assert outcomes["api up"] == []
