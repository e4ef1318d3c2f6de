"""How a run ends: phase, verdict, recovery, message and conditions from what was observed."""

from __future__ import annotations

from test_coordinator.engine.verdict import Ending, Outcome, finish
from test_coordinator.scenario.status import (
    CheckStatus,
    Condition,
    Phase,
    ScenarioStatus,
    Verdict,
    When,
)


def check(
    name: str,
    *,
    passed: bool = True,
    when: When = When.AFTER,
    step: str | None = "crash",
    recovery: float | None = None,
    observed: str = "connected",
) -> CheckStatus:
    return CheckStatus(
        name=name,
        when=when,
        step=step if when is When.AFTER else None,
        passed=passed,
        observed=observed,
        recovery_seconds=recovery,
    )


def status_with(*checks: CheckStatus) -> ScenarioStatus:
    return ScenarioStatus(phase=Phase.RUNNING, run_id="r1", checks=list(checks))


def conditions(status: ScenarioStatus) -> dict[str, Condition]:
    by_type = {condition.type: condition for condition in status.conditions}
    assert len(by_type) == len(status.conditions), "a condition type appears twice"
    assert set(by_type) == {"Ready", "Reconciling", "Stalled"}
    return by_type


def test_completed_with_every_check_passing() -> None:
    status = status_with(
        check("risk serving", when=When.STEADY_STATE),
        check("gateway keeps serving", when=When.DURING),
        check("risk recovers", recovery=1.2),
        check("risk re-registered", recovery=3.4567),
        check("risk serving", when=When.FINAL_STEADY_STATE),
    )

    finish(status, Outcome(Ending.COMPLETED))

    assert status.phase is Phase.SUCCEEDED
    assert status.verdict is Verdict.PASS
    assert status.recovery_seconds == 3.457  # the worst after-check
    assert status.finished_at is not None
    assert "all 5 checks passed" in status.message
    assert "3.46s" in status.message
    by_type = conditions(status)
    assert by_type["Ready"].status == "True"
    assert by_type["Reconciling"].status == "False"
    assert by_type["Stalled"].status == "False"
    assert by_type["Ready"].reason == "Passed"


def test_completed_without_after_checks_has_no_recovery() -> None:
    status = status_with(check("risk serving", when=When.STEADY_STATE))

    finish(status, Outcome(Ending.COMPLETED))

    assert status.phase is Phase.SUCCEEDED
    assert status.verdict is Verdict.PASS
    assert status.recovery_seconds is None
    assert "recovered" not in status.message


def test_completed_with_a_failed_check() -> None:
    status = status_with(
        check("risk serving", when=When.STEADY_STATE),
        check("risk recovers", passed=False, observed="not passing within 5s; last: refused"),
        check("gateway answers", recovery=0.5),
    )

    finish(status, Outcome(Ending.COMPLETED))

    assert status.phase is Phase.FAILED
    assert status.verdict is Verdict.FAIL
    assert "risk recovers" in status.message
    assert "'crash'" in status.message  # the step it belongs to
    assert "not passing within 5s" in status.message
    assert "gateway answers" not in status.message
    # One after-check never passed: the run did not recover, so it has no recovery time.
    assert status.recovery_seconds is None
    by_type = conditions(status)
    assert by_type["Ready"].status == "False"
    assert by_type["Ready"].reason == "ChecksFailed"
    assert "risk recovers" in by_type["Ready"].message
    assert by_type["Reconciling"].status == "False"
    assert by_type["Stalled"].status == "False"


def test_a_failed_during_check_fails_the_run() -> None:
    status = status_with(
        check("gateway keeps serving", when=When.DURING, passed=False, observed="3/4 passed")
    )

    finish(status, Outcome(Ending.COMPLETED))

    assert status.phase is Phase.FAILED
    assert status.verdict is Verdict.FAIL
    assert "gateway keeps serving (during) failed: 3/4 passed" in status.message


def test_many_failed_checks_are_summarised() -> None:
    status = status_with(*(check(f"c{i}", passed=False) for i in range(5)))

    finish(status, Outcome(Ending.COMPLETED))

    assert "c0" in status.message
    assert "c2" in status.message
    assert "c3" not in status.message
    assert "and 2 more" in status.message


def test_steady_state_not_met() -> None:
    status = status_with(
        check("risk serving", when=When.STEADY_STATE, passed=False, observed="refused")
    )

    finish(status, Outcome(Ending.STEADY_STATE_NOT_MET))

    assert status.phase is Phase.FAILED
    assert status.verdict is Verdict.INCONCLUSIVE
    assert "steady state not met" in status.message
    assert "no fault was applied" in status.message
    assert "risk serving" in status.message
    by_type = conditions(status)
    assert by_type["Ready"].status == "False"
    assert by_type["Ready"].reason == "SteadyStateNotMet"
    assert by_type["Stalled"].status == "False"


def test_aborted() -> None:
    status = status_with(check("risk recovers", recovery=1.0))

    finish(status, Outcome(Ending.ABORTED, "interrupted by the user"))

    assert status.phase is Phase.ABORTED
    assert status.verdict is Verdict.INCONCLUSIVE
    assert status.message == "aborted: interrupted by the user"
    by_type = conditions(status)
    assert by_type["Ready"].status == "False"
    assert by_type["Ready"].reason == "Aborted"
    assert by_type["Reconciling"].status == "False"
    assert by_type["Stalled"].status == "False"


def test_aborted_even_when_every_check_so_far_passed() -> None:
    status = status_with(check("risk serving", when=When.STEADY_STATE))

    finish(status, Outcome(Ending.ABORTED, "timed out after 1m"))

    assert status.verdict is Verdict.INCONCLUSIVE
    assert status.phase is Phase.ABORTED


def test_invalid() -> None:
    status = status_with()
    reason = "spec.targets.risk.selector: app=risk matches no workload"

    finish(status, Outcome(Ending.INVALID, reason))

    assert status.phase is Phase.INVALID
    assert status.verdict is None
    assert status.message == reason
    by_type = conditions(status)
    assert by_type["Stalled"].status == "True"
    assert by_type["Stalled"].reason == "Invalid"
    assert by_type["Stalled"].message == reason
    assert by_type["Ready"].status == "False"
    assert by_type["Reconciling"].status == "False"


def test_error() -> None:
    status = status_with()

    finish(status, Outcome(Ending.ERROR, "cannot signal pid 42: permission denied"))

    assert status.phase is Phase.ERROR
    assert status.verdict is Verdict.INCONCLUSIVE
    assert status.message == "cannot signal pid 42: permission denied"
    by_type = conditions(status)
    assert by_type["Ready"].status == "False"
    assert by_type["Ready"].reason == "Error"
    assert by_type["Stalled"].status == "False"
    assert by_type["Reconciling"].status == "False"


def test_finish_replaces_the_running_conditions() -> None:
    status = status_with()
    status.conditions = [Condition(type="Reconciling", status="True", reason="Running")]

    finish(status, Outcome(Ending.COMPLETED))

    assert conditions(status)["Reconciling"].status == "False"
