"""How a run ends: phase, verdict, message and kstatus conditions, decided from what was seen."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from test_coordinator.scenario.status import (
    CheckStatus,
    Condition,
    Phase,
    ScenarioStatus,
    Verdict,
    When,
    utcnow,
)

__all__ = ["Ending", "Outcome", "finish"]


class Ending(StrEnum):
    COMPLETED = "Completed"
    STEADY_STATE_NOT_MET = "SteadyStateNotMet"
    ABORTED = "Aborted"
    DISABLED = "InjectionDisabled"  # the kill switch: before any fault, or cutting the run short
    INVALID = "Invalid"
    ERROR = "Error"


@dataclass(frozen=True)
class Outcome:
    ending: Ending
    reason: str = ""


def finish(status: ScenarioStatus, outcome: Outcome) -> None:
    """Fill in the end of ``status`` (phase, verdict, recovery, message, conditions)."""
    status.finished_at = utcnow()
    status.recovery_seconds = _recovery(status, outcome)
    failed = [check for check in status.checks if not check.passed]
    phase, verdict, reason, message = _decide(outcome, failed, status)
    status.phase, status.verdict, status.message = phase, verdict, message
    status.conditions = [
        Condition(type="Reconciling", status="False", reason=reason, message="run finished"),
        Condition(
            type="Ready",
            status="True" if verdict is Verdict.PASS else "False",
            reason=reason,
            message=message,
        ),
        Condition(
            type="Stalled",
            status="True" if phase is Phase.INVALID else "False",
            reason=reason,
            message=message if phase is Phase.INVALID else "",
        ),
    ]


def _recovery(status: ScenarioStatus, outcome: Outcome) -> float | None:
    """The worst after-check's recovery, only when every step ran and every after-check
    passed: a run that did not recover, or was cut short, has no recovery time to report."""
    after = [check for check in status.checks if check.when is When.AFTER]
    every_step_ran = all(step.phase in (Phase.SUCCEEDED, Phase.FAILED) for step in status.steps)
    if outcome.ending is not Ending.COMPLETED or not every_step_ran:
        return None
    if not after or not all(check.passed for check in after):
        return None
    return round(max(check.recovery_seconds or 0.0 for check in after), 3)


def _decide(
    outcome: Outcome, failed: list[CheckStatus], status: ScenarioStatus
) -> tuple[Phase, Verdict | None, str, str]:
    match outcome.ending:
        case Ending.INVALID:
            return Phase.INVALID, None, "Invalid", outcome.reason
        case Ending.ERROR:
            return Phase.ERROR, Verdict.INCONCLUSIVE, "Error", outcome.reason
        case Ending.ABORTED:
            return Phase.ABORTED, Verdict.INCONCLUSIVE, "Aborted", f"aborted: {outcome.reason}"
        case Ending.DISABLED:
            return Phase.ABORTED, Verdict.INCONCLUSIVE, "InjectionDisabled", outcome.reason
        case Ending.STEADY_STATE_NOT_MET:
            return (
                Phase.FAILED,
                Verdict.INCONCLUSIVE,
                "SteadyStateNotMet",
                "steady state not met before any fault, so no fault was applied: "
                + _describe(failed),
            )
    if failed and all(check.inconclusive for check in failed):
        # Only checks that could not look failed: the system may be fine, but what was to be
        # proven is unknown. The audit checks could not read the trail (no loss, the restart on
        # record); or the coordinator could not observe at all (its own reads of the platform
        # failed), which is its failure, not the system's.
        if all(check.when is When.AUDIT for check in failed):
            return (
                Phase.FAILED,
                Verdict.INCONCLUSIVE,
                "AuditUnavailable",
                "the audit trail could not be read, so it proves nothing: " + _describe(failed),
            )
        return (
            Phase.FAILED,
            Verdict.INCONCLUSIVE,
            "ObservationUnavailable",
            "the coordinator could not observe, so this run proves nothing: " + _describe(failed),
        )
    if failed:
        return Phase.FAILED, Verdict.FAIL, "ChecksFailed", _describe(failed)
    message = f"all {len(status.checks)} checks passed"
    if status.recovery_seconds is not None:
        message += f"; recovered in {status.recovery_seconds:.2f}s"
    return Phase.SUCCEEDED, Verdict.PASS, "Passed", message


def _describe(failed: list[CheckStatus]) -> str:
    parts = []
    for check in failed[:3]:
        where = f"{check.when}" + (f" of step {check.step!r}" if check.step else "")
        parts.append(f"{check.name} ({where}) failed: {check.observed}")
    if len(failed) > 3:
        parts.append(f"and {len(failed) - 3} more")
    return "; ".join(parts)
