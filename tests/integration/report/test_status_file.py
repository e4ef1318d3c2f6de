"""`--write-status`: the run's status goes into the scenario file; every other line stays."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_coordinator.errors import TestCoordinatorError
from test_coordinator.report import write_status
from test_coordinator.scenario import (
    CheckStatus,
    Condition,
    Phase,
    ScenarioStatus,
    Verdict,
    When,
    load_scenario,
)

SCENARIO = """\
# Header comment: what this scenario is for.
apiVersion: chaos.tse.dev/v1alpha1
kind: ChaosScenario
metadata:
    name: commented     # a trailing comment
spec:
    description: "quoted, with: a colon"
    targets:
        api:   {selector: {app: api}}     # aligned on purpose
    steps:
      - name: crash
        fault: {kill: {target: api},
                }
        after:
          - {name: api back, tcp: {target: api, port: 80}, within: 10s}
    timeout: 1m
"""

STARTED = datetime(2025, 11, 26, 7, 0, 0, tzinfo=UTC)


def a_status(verdict: Verdict = Verdict.PASS, recovery: float = 1.25) -> ScenarioStatus:
    return ScenarioStatus(
        phase=Phase.SUCCEEDED if verdict is Verdict.PASS else Phase.FAILED,
        verdict=verdict,
        run_id="r1",
        started_at=STARTED,
        finished_at=STARTED,
        recovery_seconds=recovery,
        message="all 1 checks passed; recovered in 1.25s",
        checks=[
            CheckStatus(
                name="api back",
                when=When.AFTER,
                step="crash",
                passed=True,
                observed="connected",
                recovery_seconds=recovery,
            )
        ],
    )


def write(path: Path, status: ScenarioStatus) -> None:
    write_status(path, load_scenario(path), status)


def test_the_status_is_appended_and_every_other_byte_kept(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO)
    write(path, a_status())
    text = path.read_text()
    assert text.startswith(SCENARIO)
    # The file's own indentation: four for mappings, dashes two in.
    assert text[len(SCENARIO) :].startswith(
        "status:\n    phase: Succeeded\n    verdict: Pass\n    runId: r1\n"
    )
    assert "\n    checks:\n      - name: api back\n        when: after\n" in text
    reloaded = load_scenario(path)
    assert reloaded.status is not None
    assert reloaded.status.recovery_seconds == 1.25
    assert reloaded.status.started_at == STARTED
    assert reloaded.status.checks[0].name == "api back"


def test_a_second_run_replaces_the_status_in_place(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.replace("spec:", "status: {phase: Pending}  # old\nspec:", 1))
    write(path, a_status(Verdict.FAIL, recovery=3.5))
    write(path, a_status(Verdict.PASS, recovery=2.0))
    text = path.read_text()
    assert text.count("status:") == 1
    before, after = text.split("status:\n", 1)
    assert before == SCENARIO.split("spec:", 1)[0]
    assert after.split("spec:", 1)[1] == SCENARIO.split("spec:", 1)[1]
    status = load_scenario(path).status
    assert status is not None and status.verdict is Verdict.PASS
    assert status.recovery_seconds == 2.0


def test_comments_after_the_status_stay_after_it(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO + "status:\n    phase: Pending\n\n# Footer comment.\n")
    write(path, a_status())
    text = path.read_text()
    assert text.startswith(SCENARIO + "status:\n    phase: Succeeded\n")
    assert text.endswith("\n\n# Footer comment.\n")
    assert "Pending" not in text


def test_a_file_without_a_final_newline_gets_one_before_the_status(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.rstrip("\n"))
    write(path, a_status())
    assert path.read_text().startswith(SCENARIO + "status:\n")


def test_without_block_sequences_dashes_are_indented_like_keys(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "apiVersion: chaos.tse.dev/v1alpha1\nkind: ChaosScenario\nmetadata: {name: flow}\n"
        "spec:\n  targets: {api: {selector: {app: api}}}\n"
        "  steps: [{name: crash, fault: {kill: {target: api}}}]\n"
    )
    write(path, a_status())
    assert "\n  checks:\n    - name: api back\n      when: after\n" in path.read_text()


def test_the_file_keeps_its_permissions(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO)
    path.chmod(0o640)
    write(path, a_status())
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["s.yaml"]  # no temporary file left


def test_a_file_gone_since_the_run_began_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO)
    scenario = load_scenario(path)
    path.unlink()
    with pytest.raises(TestCoordinatorError, match=rf"{path}: cannot write the status back"):
        write_status(path, scenario, a_status())


def test_a_condition_that_stays_keeps_its_transition_time_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "commented.yaml"
    path.write_text(SCENARIO)
    first = a_status()
    first.conditions = [Condition(type="Ready", status="True", last_transition_time=STARTED)]
    write_status(path, load_scenario(path), first)

    later = datetime(2025, 11, 27, 7, 0, 0, tzinfo=UTC)
    second = a_status()
    second.conditions = [Condition(type="Ready", status="True", last_transition_time=later)]
    write_status(path, load_scenario(path), second)
    [ready] = load_scenario(path).status.conditions  # type: ignore[union-attr]
    assert ready.last_transition_time == STARTED  # still True: no transition since

    third = a_status(Verdict.FAIL)
    third.conditions = [Condition(type="Ready", status="False", last_transition_time=later)]
    write_status(path, load_scenario(path), third)
    [ready] = load_scenario(path).status.conditions  # type: ignore[union-attr]
    assert ready.last_transition_time == later
