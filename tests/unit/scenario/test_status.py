"""The status model: a kstatus condition's lastTransitionTime is the time of a transition, not
of a write; a status is read leniently, also inside the strict scenario document."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from test_coordinator.scenario.model import ChaosScenario
from test_coordinator.scenario.status import (
    Condition,
    Phase,
    Verdict,
    When,
    carry_transition_times,
)

EARLIER = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)


def ready(status: str, at: datetime, message: str = "") -> Condition:
    return Condition(
        type="Ready",
        status=status,
        message=message,
        last_transition_time=at,  # type: ignore[arg-type]
    )


def test_a_condition_that_keeps_its_status_keeps_its_transition_time() -> None:
    [carried] = carry_transition_times([ready("True", NOW, "run 2")], [ready("True", EARLIER)])
    assert carried.last_transition_time == EARLIER
    assert carried.message == "run 2"  # the rest is the new condition's


def test_a_condition_that_changes_status_takes_the_new_time() -> None:
    [carried] = carry_transition_times([ready("False", NOW)], [ready("True", EARLIER)])
    assert carried.last_transition_time == NOW


def test_a_condition_seen_for_the_first_time_takes_the_new_time() -> None:
    [carried] = carry_transition_times([ready("True", NOW)], [])
    assert carried.last_transition_time == NOW


def test_a_resource_s_status_is_read_leniently_inside_the_strict_scenario() -> None:
    """The spec is strict (``false`` is no number); a status written back into the document,
    by this version or a newer one, is read as the status model says: enums from their
    values, unknown fields ignored."""
    document = {
        "apiVersion": "chaos.tse.dev/v1alpha1",
        "kind": "ChaosScenario",
        "metadata": {"name": "ran"},
        "spec": {
            "targets": {"api": {"selector": {"app": "api"}}},
            "steps": [{"name": "crash", "fault": {"kill": {"target": "api"}}}],
        },
        "status": {
            "phase": "Failed",
            "verdict": "Fail",
            "recoverySeconds": 12,
            "newer": 1,
            # Nested, and enums that more than one field uses (shared definitions in the schema).
            "steps": [{"name": "crash", "phase": "Succeeded", "startedAt": "2026-01-01T12:00:00Z"}],
            "checks": [{"name": "up", "when": "after", "passed": False}],
            "samples": [{"name": "up", "when": "after", "offsets": [0.5], "passed": "0"}],
            "faults": [
                {
                    "step": "crash",
                    "target": "api",
                    "workload": "api-0",
                    "action": "kill",
                    "appliedAt": "2026-01-01T12:00:01Z",
                }
            ],
            "history": [{"runId": "r1", "phase": "Succeeded", "verdict": "Pass"}],
        },
    }
    status = ChaosScenario.model_validate(document).status
    assert status is not None
    assert (status.phase, status.verdict, status.recovery_seconds) == (
        Phase.FAILED,
        Verdict.FAIL,
        12.0,
    )
    assert (status.steps[0].phase, status.steps[0].started_at) == (Phase.SUCCEEDED, EARLIER)
    assert (status.checks[0].when, status.samples[0].when) == (When.AFTER, When.AFTER)
    assert status.faults[0].applied_at == EARLIER + timedelta(seconds=1)
    assert (status.history[0].phase, status.history[0].verdict) == (Phase.SUCCEEDED, Verdict.PASS)
