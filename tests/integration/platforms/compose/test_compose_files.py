"""compose.yaml (for users) and its test variant describe the same stack, which the shipped
compose scenarios and the local demo stack agree with. Neither needs a Docker engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from test_coordinator.platforms.compose.containers import PORT_LABEL_PREFIX
from test_coordinator.platforms.compose.proxies import PROXY_FOR_LABEL, PROXY_PORTS_LABEL
from test_coordinator.scenario import load_scenario

from tests.integration.platforms.compose.projects import REPO, TEST_VARIANT

USERS = REPO / "compose.yaml"
STACK = REPO / "operator" / "test_coordinator" / "demo" / "stack.yaml"
DEMO_SERVICES = ["audit-correlator", "order-gateway", "redis", "risk-monitor"]


def load(path: Path) -> Any:
    return YAML(typ="rt").load(path.read_text())


def port_names(service: Any) -> set[str]:
    labels = service.get("labels", {})
    return {
        key.removeprefix(PORT_LABEL_PREFIX) for key in labels if key.startswith(PORT_LABEL_PREFIX)
    }


def stack_services() -> list[str]:
    return sorted(load(STACK)["services"])


def test_both_files_hold_the_demo_stack_and_the_chaos_runner() -> None:
    for path in (USERS, TEST_VARIANT):
        services = load(path)["services"]
        others = ("chaos", "risk-monitor-proxy", "test-coordinator")
        demo = [name for name in services if name not in others]
        assert sorted(demo) == stack_services()
        assert list(services["chaos"]["profiles"]) == ["chaos"]  # never started by `up`
        assert services["chaos"]["pid"] == "host"


@pytest.mark.parametrize("service", DEMO_SERVICES)
def test_a_service_declares_the_same_ports_and_has_a_restart_policy(service: str) -> None:
    users, tests = load(USERS)["services"][service], load(TEST_VARIANT)["services"][service]
    assert port_names(users) == port_names(tests) == set(load(STACK)["services"][service]["ports"])
    assert users["restart"] == "unless-stopped"
    assert tests["restart"] in ("always", "${RISK_MONITOR_RESTART:-always}")


@pytest.mark.parametrize("service", DEMO_SERVICES)
def test_for_users_every_declared_port_is_published_on_loopback(service: str) -> None:
    spec = load(USERS)["services"][service]
    published = {entry.rsplit(":", 1)[1]: entry for entry in spec["ports"]}
    for name in port_names(spec):
        container_port = spec["labels"][PORT_LABEL_PREFIX + name]
        assert published[container_port].startswith("127.0.0.1:"), (service, name)


@pytest.mark.parametrize("service", [s for s in DEMO_SERVICES if s != "redis"])
def test_the_services_run_the_demo_modules_of_the_local_stack(service: str) -> None:
    module = list(load(STACK)["services"][service]["command"])[2]
    assert list(load(USERS)["services"][service]["command"])[:3] == ["python", "-m", module]
    assert list(load(TEST_VARIANT)["services"][service]["command"])[1:3] == ["-m", module]


@pytest.mark.parametrize("path", sorted((REPO / "scenarios" / "compose").glob("*.yaml")))
def test_the_shipped_scenarios_name_services_and_ports_the_stack_has(path: Path) -> None:
    scenario = load_scenario(path)
    services = load(USERS)["services"]
    for name, target in scenario.spec.targets.items():
        assert set(target.selector) == {"app"}, name
        assert target.selector["app"] in services, name


def test_the_chaos_runner_runs_the_shipped_crash_scenario() -> None:
    users = list(load(USERS)["services"]["chaos"]["command"])
    assert users[:2] == ["run", "/scenarios/compose/risk-monitor-crash.yaml"]
    tests = list(load(TEST_VARIANT)["services"]["chaos"]["command"])
    assert tests[3:5] == ["run", "${TC_REPO}/scenarios/compose/risk-monitor-crash.yaml"]


def test_both_files_run_the_coordinator_as_a_service_with_the_least_it_needs() -> None:
    users, tests = (load(path)["services"]["test-coordinator"] for path in (USERS, TEST_VARIANT))
    for service in (users, tests):
        assert list(service["cap_drop"]) == ["ALL"]
        assert sorted(service["cap_add"]) == ["DAC_OVERRIDE", "KILL"]
        assert service["read_only"] is True and service["pid"] == "host"
        assert "no-new-privileges:true" in service["security_opt"]
        assert any(v.endswith(":/var/run/docker.sock") for v in service["volumes"])
        assert "/api/v1/health" in " ".join(service["healthcheck"]["test"])
        assert "serve" in service["command"] and "compose" in service["command"]
    assert "./scenarios/compose:/scenarios" in users["volumes"]
    assert users["environment"]["REDIS_URL"] == "redis://127.0.0.1:16379/0"
    assert "127.0.0.1:16379:6379" in load(USERS)["services"]["redis"]["ports"]
    # On the host network it listens where the others publish: loopback, ports of its own.
    assert users["network_mode"] == "host" and "--bind" not in users["command"]


@pytest.mark.parametrize("path", [USERS, TEST_VARIANT], ids=["compose.yaml", "test variant"])
def test_the_gateway_reaches_the_risk_monitor_through_its_fault_proxy(path: Path) -> None:
    """As the local demo stack's `proxy: [grpc]` does: the proxy is found by its labels, fronts
    the risk monitor's grpc port under that name, and the gateway is pointed at it."""
    services = load(path)["services"]
    proxy = services["risk-monitor-proxy"]
    labels = proxy["labels"]
    assert labels[PROXY_FOR_LABEL] == "risk-monitor"
    assert labels[PROXY_PORTS_LABEL] == "grpc"
    assert {"grpc", "control"} == port_names(proxy)
    command = " ".join(proxy["command"]).replace(":?}", "}")  # ${VAR:?} is ${VAR}, required
    listen = labels[PORT_LABEL_PREFIX + "grpc"]
    control = labels[PORT_LABEL_PREFIX + "control"]
    assert "proxy --proxy grpc=" in command and f":{listen}," in command, command
    assert "--control " in command and command.endswith(f":{control}"), command
    gateway = list(services["order-gateway"]["command"])
    risk = gateway[gateway.index("--risk") + 1]
    assert risk.endswith(f":{listen}") and risk.split(":")[0] in ("risk-monitor-proxy", "127.0.0.1")
    assert "risk-monitor-proxy" in services["order-gateway"]["depends_on"]
    assert load(STACK)["services"]["risk-monitor"]["proxy"] == ["grpc"]
