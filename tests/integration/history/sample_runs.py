"""Finished runs built by hand, at chosen times, with chosen verdicts and recoveries."""

from __future__ import annotations

from datetime import datetime, timedelta

from test_coordinator.scenario import ChaosScenario, ScenarioStatus
from test_coordinator.scenario.status import Phase, Verdict

from tests.documents import chaos_scenario
from tests.unit.report import sample_result

_PHASE = {Verdict.PASS: Phase.SUCCEEDED, Verdict.FAIL: Phase.FAILED}


def crash_scenario(name: str = "crash-api", *, within: str = "10s") -> ChaosScenario:
    back = {"name": "api back", "tcp": {"target": "api", "port": "tcp"}, "within": within}
    step = {"name": "crash", "fault": {"kill": {"target": "api"}}, "after": [back]}
    return chaos_scenario(name, {"targets": {"api": {"selector": {"app": "api"}}}, "steps": [step]})


def finished(
    run_id: str,
    started: datetime,
    *,
    verdict: Verdict | None = Verdict.PASS,
    recovery: float | None = 1.0,
) -> ScenarioStatus:
    """The sample result (checks, faults, samples), moved to ``started`` and given a verdict."""
    status = sample_result.status(verdict=verdict or Verdict.FAIL)
    shift = started - sample_result.START
    status.run_id = run_id
    status.verdict = verdict
    status.phase = _PHASE.get(verdict, Phase.INVALID) if verdict else Phase.INVALID
    status.recovery_seconds = recovery
    status.started_at = started
    status.finished_at = started + timedelta(seconds=5)
    for fault in status.faults:
        fault.applied_at += shift
        fault.reverted_at = fault.reverted_at + shift if fault.reverted_at else None
    for check in status.checks:
        check.at = check.at + shift if check.at else None
        check.longest_failure_at = (
            check.longest_failure_at + shift if check.longest_failure_at else None
        )
    return status
