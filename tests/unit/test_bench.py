"""What the benchmarks run is a valid scenario: `make bench` is not run by CI, and a rule of the
model that the benchmarks' scenarios break would otherwise be found only there (as the compose
benchmark's 20ms interval was, when intervals got their 50ms floor)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_coordinator.scenario.loading import load_scenario

from bench.cli import write_ours
from bench.compose import POLL
from bench.kubernetes import kill_spec
from bench.recovery import crash_scenario
from tests.documents import chaos_scenario


@pytest.mark.parametrize("poll", ["100ms", "50ms"])
def test_the_recovery_benchmarks_scenario_is_valid(poll: str) -> None:
    assert crash_scenario(poll).spec.steps[0].after[0].interval == pytest.approx(
        float(poll.removesuffix("ms")) / 1000
    )


def test_the_compose_benchmarks_scenario_is_valid() -> None:
    crash_scenario(POLL)


def test_the_operator_benchmarks_scenarios_are_valid() -> None:
    for spec in (
        kill_spec("svc"),
        kill_spec("svc", within="4m"),
        kill_spec("svc", after=False),
        kill_spec("fleet", mode="all", after=False),
    ):
        chaos_scenario("bench", spec)


def test_the_cli_benchmarks_scenario_is_valid(tmp_path: Path) -> None:
    scenario = load_scenario(write_ours(tmp_path, 8080))

    assert scenario.metadata.name == "web-kill"
