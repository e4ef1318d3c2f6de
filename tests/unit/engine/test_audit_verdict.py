"""Inconclusive, not Fail, when the only checks that failed could not read the audit trail."""

from __future__ import annotations

from test_coordinator.engine.verdict import Ending, Outcome, finish
from test_coordinator.scenario.status import CheckStatus, Phase, ScenarioStatus, Verdict, When


def audit(name: str, *, inconclusive: bool) -> CheckStatus:
    observed = "cannot read audit:orders: connection refused" if inconclusive else "1 missing (7)"
    return CheckStatus(
        name=name, when=When.AUDIT, passed=False, inconclusive=inconclusive, observed=observed
    )


def finished(*checks: CheckStatus) -> ScenarioStatus:
    status = ScenarioStatus(phase=Phase.RUNNING, checks=list(checks))
    finish(status, Outcome(Ending.COMPLETED))
    return status


def test_only_audit_checks_that_could_not_look_make_it_inconclusive() -> None:
    status = finished(
        CheckStatus(name="api up", when=When.STEADY_STATE, passed=True),
        audit("no order lost", inconclusive=True),
    )

    assert status.phase is Phase.FAILED
    assert status.verdict is Verdict.INCONCLUSIVE
    assert status.message == (
        "the audit trail could not be read, so it proves nothing: no order lost (audit) "
        "failed: cannot read audit:orders: connection refused"
    )
    ready = next(c for c in status.conditions if c.type == "Ready")
    assert (ready.status, ready.reason) == ("False", "AuditUnavailable")


def test_a_loss_found_is_a_fail() -> None:
    status = finished(
        audit("no order lost", inconclusive=False), audit("restart on record", inconclusive=True)
    )

    assert status.verdict is Verdict.FAIL
    assert status.conditions[1].reason == "ChecksFailed"


def test_any_other_failure_beside_an_unreadable_trail_is_a_fail() -> None:
    status = finished(
        CheckStatus(name="api back", when=When.AFTER, step="crash", passed=False),
        audit("no order lost", inconclusive=True),
    )

    assert status.verdict is Verdict.FAIL


def unobserved(name: str, when: When = When.AFTER) -> CheckStatus:
    return CheckStatus(
        name=name,
        when=when,
        step="crash" if when is When.AFTER else None,
        passed=False,
        inconclusive=True,
        observed="could not observe: cannot list Pods in namespace trading: 503",
    )


def test_checks_the_coordinator_could_not_observe_make_it_inconclusive_never_fail() -> None:
    status = finished(
        CheckStatus(name="api up", when=When.STEADY_STATE, passed=True),
        unobserved("api back"),
        audit("no order lost", inconclusive=True),
    )

    assert (status.phase, status.verdict) == (Phase.FAILED, Verdict.INCONCLUSIVE)
    assert status.message.startswith(
        "the coordinator could not observe, so this run proves nothing: api back (after of step "
        "'crash') failed: could not observe: cannot list Pods"
    )
    ready = next(c for c in status.conditions if c.type == "Ready")
    assert (ready.status, ready.reason) == ("False", "ObservationUnavailable")
    assert status.recovery_seconds is None


def test_a_finding_beside_a_check_that_could_not_observe_is_a_fail() -> None:
    status = finished(
        unobserved("api back"),
        CheckStatus(name="gateway serves", when=When.DURING, passed=False, observed="refused"),
    )

    assert status.verdict is Verdict.FAIL
    assert status.conditions[1].reason == "ChecksFailed"
