"""``validate --compose-file``: network faults checked against the fault proxies a compose file
declares, as a run checks them against the project's containers."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_coordinator.errors import ScenarioInvalid
from test_coordinator.platforms.compose.compose_file import (
    compose_services,
    network_fault_problems,
)
from test_coordinator.scenario import load_scenario
from test_coordinator.scenario.model import ScenarioSpec

REPOSITORY = Path(__file__).parents[4]
SLOW = REPOSITORY / "scenarios/compose/risk-monitor-slow.yaml"


def spec(port: str = "grpc", selector: dict[str, str] | None = None) -> ScenarioSpec:
    return ScenarioSpec.model_validate(
        {
            "targets": {"risk": {"selector": selector or {"app": "risk-monitor"}}},
            "steps": [
                {
                    "name": "slow",
                    "fault": {"latency": {"target": "risk", "port": port, "delay": "500ms"}},
                    "duration": "1s",
                }
            ],
        }
    )


def compose(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "compose.yaml"
    path.write_text(text)
    return path


PROXIED = """\
services:
  risk-monitor:
    image: x
    labels: {tier: trading}
  risk-monitor-proxy:
    image: x
    labels:
      - chaos.tse.dev/proxy-for=risk-monitor
      - chaos.tse.dev/proxy-ports=grpc, http
"""


def test_the_shipped_compose_file_fronts_what_the_shipped_scenario_slows() -> None:
    scenario = load_scenario(SLOW)
    assert network_fault_problems(scenario.spec, REPOSITORY / "compose.yaml") == []


def test_labels_as_a_list_and_the_name_as_app_and_service(tmp_path: Path) -> None:
    services = compose_services(compose(tmp_path, PROXIED))
    assert services["risk-monitor"] == {
        "app": "risk-monitor",
        "service": "risk-monitor",
        "tier": "trading",
    }
    assert network_fault_problems(spec("http"), tmp_path / "compose.yaml") == []
    by_service = spec(selector={"service": "risk-monitor", "tier": "trading"})
    assert network_fault_problems(by_service, tmp_path / "compose.yaml") == []


def test_a_port_no_proxy_fronts_is_named_with_what_to_add(tmp_path: Path) -> None:
    path = compose(tmp_path, PROXIED)
    [problem] = network_fault_problems(spec("metrics"), path)
    assert problem.startswith(
        "spec.steps[0].fault.latency.port: no fault proxy fronts port metrics of compose "
        "service risk-monitor: add a service running `test-coordinator proxy --proxy metrics="
    )
    assert "chaos.tse.dev/proxy-for: risk-monitor" in problem and str(path) in problem


def test_a_target_that_selects_no_service(tmp_path: Path) -> None:
    [problem] = network_fault_problems(spec(selector={"app": "ghost"}), compose(tmp_path, PROXIED))
    assert problem.startswith("spec.steps[0].fault.latency.target: target risk selects no service")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("services: [a]\n", "services: expected a mapping of compose services"),
        ("version: '3'\n", "services: expected a mapping of compose services"),
        ("services: {a: {labels: 3}}\n", "services.a.labels: expected a mapping, or a list"),
    ],
)
def test_a_compose_file_it_cannot_read_is_named(tmp_path: Path, text: str, message: str) -> None:
    path = compose(tmp_path, text)
    with pytest.raises(ScenarioInvalid, match=message) as refused:
        network_fault_problems(spec(), path)
    assert str(path) in str(refused.value)
