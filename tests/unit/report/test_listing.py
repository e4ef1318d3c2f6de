"""`test-coordinator get`: the kubectl-style table of scenarios and their written-back status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from test_coordinator.report.listing import human_duration, scenario_table
from test_coordinator.scenario import ChaosScenario, Phase, ScenarioStatus, Verdict, parse_scenario

NOW = datetime(2025, 11, 26, 12, 0, 0, tzinfo=UTC)


def scenario(name: str, status: ScenarioStatus | None = None) -> ChaosScenario:
    document = {
        "apiVersion": "chaos.tse.dev/v1alpha1",
        "kind": "ChaosScenario",
        "metadata": {"name": name},
        "spec": {
            "targets": {"api": {"selector": {"app": "api"}}},
            "steps": [{"name": "crash", "fault": {"kill": {"target": "api"}}}],
        },
    }
    return parse_scenario(document, source="test").model_copy(update={"status": status})


def test_the_table_has_kubectls_columns_and_padding() -> None:
    passed = ScenarioStatus(
        phase=Phase.SUCCEEDED,
        verdict=Verdict.PASS,
        recovery_seconds=1.333,
        started_at=NOW - timedelta(minutes=3, seconds=30),
        finished_at=NOW - timedelta(minutes=3, seconds=12),
    )
    failed = ScenarioStatus(
        phase=Phase.FAILED, verdict=Verdict.FAIL, finished_at=NOW - timedelta(hours=30)
    )
    table = scenario_table(
        [scenario("risk-monitor-crash", passed), scenario("no-restart", failed), scenario("new")],
        now=NOW,
    )
    assert table.splitlines() == [
        "NAME                 PHASE       VERDICT   RECOVERY   AGE",
        "risk-monitor-crash   Succeeded   Pass      1.33s      3m12s",
        "no-restart           Failed      Fail                 30h",
        "new",
    ]


def test_a_run_that_never_finished_is_aged_from_its_start() -> None:
    running = ScenarioStatus(phase=Phase.RUNNING, started_at=NOW - timedelta(seconds=5))
    [_, row] = scenario_table([scenario("s", running)], now=NOW).splitlines()
    assert row.split() == ["s", "Running", "5s"]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (-5, "<invalid>"),
        (-0.5, "0s"),
        (0, "0s"),
        (119, "119s"),
        (120, "2m"),
        (192, "3m12s"),
        (600, "10m"),
        (179 * 60, "179m"),
        (3 * 3600, "3h"),
        (5 * 3600 + 3 * 60, "5h3m"),
        (30 * 3600, "30h"),
        (3 * 86400 + 5 * 3600, "3d5h"),
        (7 * 86400, "7d"),
        (100 * 86400, "100d"),
        (800 * 86400, "2y70d"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_ages_round_as_kubectl_rounds_them(seconds: float, shown: str) -> None:
    assert human_duration(seconds) == shown
