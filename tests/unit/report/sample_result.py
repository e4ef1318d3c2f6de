"""A result as a run would leave it, built by hand: a pause, its recovery, checks of every kind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from test_coordinator.scenario import ChaosScenario, parse_scenario
from test_coordinator.scenario.status import (
    CheckSamples,
    CheckStatus,
    FaultStatus,
    Phase,
    ScenarioStatus,
    Verdict,
    When,
)

START = datetime(2025, 11, 26, 7, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def scenario(name: str = "freeze-api") -> ChaosScenario:
    return parse_scenario(
        {
            "apiVersion": "chaos.tse.dev/v1alpha1",
            "kind": "ChaosScenario",
            "metadata": {"name": name},
            "spec": {
                "description": "Freeze the api for 2s.",
                "targets": {"api": {"selector": {"app": "api"}}},
                "steps": [
                    {"name": "freeze", "fault": {"pause": {"target": "api"}}, "duration": "2s"}
                ],
            },
        },
        source="test",
    )


def status(*, verdict: Verdict = Verdict.FAIL) -> ScenarioStatus:
    """Paused from 1 s to 3 s; the api back at 3.4 s; the during-check down from 1 s to 3.4 s."""
    offsets = [round(0.2 * i, 1) for i in range(25)]  # 0 … 4.8 s
    during = "".join("0" if 1.0 <= t < 3.4 else "1" for t in offsets)
    return ScenarioStatus(
        phase=Phase.FAILED if verdict is Verdict.FAIL else Phase.SUCCEEDED,
        verdict=verdict,
        run_id="run1",
        started_at=START,
        finished_at=at(5.0),
        recovery_seconds=0.4,
        message="api <fast> (after of step 'freeze') failed: too | slow",
        checks=[
            CheckStatus(
                name="api up", when=When.STEADY_STATE, passed=True, observed="ok", at=at(0)
            ),
            CheckStatus(
                name="api back",
                when=When.AFTER,
                step="freeze",
                passed=True,
                observed="HTTP 200",
                recovery_seconds=0.4,
                at=at(3.4),
            ),
            CheckStatus(
                name="api <fast>",
                when=When.AFTER,
                step="freeze",
                passed=verdict is not Verdict.FAIL,
                observed="too | slow",
                at=at(3.5),
            ),
            CheckStatus(
                name="api answers",
                when=When.DURING,
                passed=True,
                observed="13/25 passed",
                success_rate=0.52,
                longest_failure_seconds=2.4,
                longest_failure_at=at(1.0),
                at=at(4.8),
            ),
            CheckStatus(
                name="no order lost",
                when=When.AUDIT,
                passed=False,
                inconclusive=True,
                observed="cannot read audit:orders: connection refused",
                at=at(4.9),
            ),
        ],
        faults=[
            FaultStatus(
                step="freeze",
                target="api",
                workload="api",
                action="pause",
                applied_at=at(1.0),
                reverted_at=at(3.0),
                message="SIGSTOP; SIGCONT",
            )
        ],
        samples=[
            CheckSamples(
                name="api answers",
                when=When.DURING,
                offsets=offsets,
                passed=during,
                notes={0: "HTTP 200 in 1ms", 5: "timed out after 300ms", 17: "HTTP 200 in 2ms"},
            ),
            CheckSamples(
                name="api back",
                when=When.AFTER,
                step="freeze",
                offsets=[3.0, 3.1, 3.2, 3.3, 3.4],
                passed="00001",
                notes={0: "connection refused", 4: "HTTP 200"},
            ),
        ],
        audit_sink="wrote 4 events to stream chaos:audit on redis",
    )
