"""The stack file: loading, `extends`, placeholders, dependency order, port allocation."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from test_coordinator.errors import ScenarioInvalid
from test_coordinator.platforms.local.stack import (
    StackSpec,
    allocate_ports,
    allocate_proxy_ports,
    load_stack,
    network_fault_problems,
    resolve_placeholders,
    stack_for_scenario,
)
from test_coordinator.scenario.model import ScenarioSpec

from tests.documents import chaos_scenario


def test_the_bundled_demo_stack_loads_in_dependency_order() -> None:
    stack = load_stack(None)
    order = stack.start_order()
    assert order[0] == ["redis"]
    assert set(order[1]) == {"risk-monitor", "order-gateway", "audit-correlator"}
    assert stack.labels_of("risk-monitor")["app"] == "risk-monitor"


def test_extends_overrides_one_field_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text("extends: demo\nservices:\n  risk-monitor: {restart: never}\n")
    stack = load_stack(path)
    demo = load_stack("demo")
    assert stack.services["risk-monitor"].restart == "never"
    assert stack.services["risk-monitor"].command == demo.services["risk-monitor"].command
    assert stack.services["order-gateway"] == demo.services["order-gateway"]


def test_extends_an_unknown_stack_is_named(tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text("extends: prod\nservices: {}\n")
    with pytest.raises(ScenarioInvalid) as caught:
        load_stack(path)

    assert str(caught.value) == (
        f"{path}:1: extends: expected the name of a bundled stack (demo), got 'prod'"
    )


@pytest.mark.parametrize(
    ("extends", "got"), [("[demo]", "a list"), ("{demo: 1}", "a mapping"), ("7", "an integer")]
)
def test_extends_that_is_not_a_name_is_refused(tmp_path: Path, extends: str, got: str) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(f"services: {{}}\nextends: {extends}\n")
    with pytest.raises(ScenarioInvalid) as caught:
        load_stack(path)

    assert str(caught.value) == (
        f"{path}:2: extends: expected the name of a bundled stack (demo), got {got}"
    )


@pytest.mark.parametrize("text", ["- a\n- b\n", "just words\n"])
def test_a_stack_that_is_not_a_mapping_names_its_line(tmp_path: Path, text: str) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text("# a stack\n" + text)
    with pytest.raises(ScenarioInvalid, match=rf"^{path}:2: expected a mapping \(a stack, with"):
        load_stack(path)


@pytest.mark.parametrize("port", ["-1", "65536", "1e12", "true", "'80'"])
def test_a_stack_port_is_0_to_65535(tmp_path: Path, port: str) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(f"services:\n  a:\n    command: [x]\n    ports: {{p: {port}}}\n")
    with pytest.raises(ScenarioInvalid, match=rf"^{path}:4: services\.a\.ports\.p: "):
        load_stack(path)


def test_a_stack_port_of_0_picks_a_free_port_and_65535_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text("services:\n  a:\n    command: [x]\n    ports: {free: 0, top: 65535}\n")

    assert load_stack(path).services["a"].ports == {"free": 0, "top": 65535}


def write_scenario_with_a_bad_stack(tmp_path: Path) -> Path:
    (tmp_path / "stack.yaml").write_text("services:\n  a: {command: []}\n")
    return tmp_path / "scenario.yaml"


@pytest.mark.parametrize(
    ("annotation", "override", "chosen"),
    [
        ("stack.yaml", None, "chosen by its annotation chaos.tse.dev/local-stack: stack.yaml"),
        (None, "STACK", "chosen by --stack STACK"),
        ("demo", "STACK", "chosen by --stack STACK"),
    ],
)
def test_a_stack_error_names_the_scenario_and_what_chose_the_stack(
    tmp_path: Path, annotation: str | None, override: str | None, chosen: str
) -> None:
    scenario = write_scenario_with_a_bad_stack(tmp_path)
    override = override and str(tmp_path / "stack.yaml")
    chosen = chosen.replace("STACK", str(tmp_path / "stack.yaml"))
    with pytest.raises(ScenarioInvalid) as caught:
        stack_for_scenario(scenario, annotation=annotation, override=override)

    assert caught.value.problems == [
        f"{scenario}: its local stack ({chosen}) is invalid:",
        f"{tmp_path / 'stack.yaml'}:2: services.a.command: list should have at least 1 item "
        "after validation, not 0",
    ]


def test_a_missing_stack_names_the_scenario(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.yaml"
    with pytest.raises(ScenarioInvalid) as caught:
        stack_for_scenario(scenario, annotation="nowhere.yaml", override=None)

    assert caught.value.problems == [
        f"{scenario}: its local stack (chosen by its annotation chaos.tse.dev/local-stack: "
        "nowhere.yaml) is invalid:",
        f"{tmp_path / 'nowhere.yaml'}: cannot read: No such file or directory",
    ]


def test_without_annotation_or_override_the_stack_is_the_bundled_demo(tmp_path: Path) -> None:
    stack = stack_for_scenario(tmp_path / "s.yaml", annotation=None, override=None)

    assert stack == load_stack("demo")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("services:\n  a: {command: []}\n", ":2: services.a.command: list should have at least 1"),
        ("services:\n  a: {command: ['']}\n", "the first item of command must name the program"),
        ("services:\n  a: {command: [x], restart: sometimes}\n", ":2: services.a.restart"),
        ("services:\n  a: {command: [x], dependsOn: [b]}\n", "depends on undefined b"),
        (
            "services:\n  a: {command: [x], dependsOn: [b]}\n  b: {command: [x], dependsOn: [a]}\n",
            "dependsOn forms a cycle among a, b",
        ),
        ("services:\n  a: {command: [x], restartDelay: 1}\n", "services.a.restartDelay"),
    ],
)
def test_bad_stacks_name_the_file_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioInvalid) as problem:
        load_stack(path)
    assert str(path) in str(problem.value)
    assert expected in str(problem.value)


def test_placeholders_resolve_python_and_ports() -> None:
    ports = {"redis": {"redis": 16379}}
    assert resolve_placeholders("${python}", ports, where="w") == sys.executable
    assert resolve_placeholders("127.0.0.1:${redis.redis}", ports, where="w") == "127.0.0.1:16379"
    with pytest.raises(ScenarioInvalid, match=r"w: unknown placeholder \$\{redis.grpc\}"):
        resolve_placeholders("${redis.grpc}", ports, where="w")


def test_allocated_ports_are_distinct_and_below_the_ephemeral_range() -> None:
    stack = StackSpec.model_validate(
        {"services": {name: {"command": ["x"], "ports": {"a": 0, "b": 0}} for name in "pqrs"}}
    )
    ports = allocate_ports(stack)
    numbers = [number for service in ports.values() for number in service.values()]
    assert len(set(numbers)) == 8
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    assert all(1024 <= number < low for number in numbers)


def test_fixed_ports_are_kept() -> None:
    stack = StackSpec.model_validate({"services": {"a": {"command": ["x"], "ports": {"p": 7001}}}})
    assert allocate_ports(stack) == {"a": {"p": 7001}}


def test_proxied_ports_get_a_port_of_their_own() -> None:
    stack = StackSpec.model_validate(
        {"services": {"a": {"command": ["x"], "ports": {"p": 7001, "q": 0}, "proxy": ["p"]}}}
    )
    ports = allocate_ports(stack)
    proxied = allocate_proxy_ports(stack, taken=ports)
    assert list(proxied) == ["a"]
    assert list(proxied["a"]) == ["p"]
    assert proxied["a"]["p"] not in (7001, ports["a"]["q"])


@pytest.mark.parametrize(
    ("proxy", "expected"),
    [
        ("[r]", "services.a: proxy names r, which ports does not declare (declared: p)"),
        ("[p, p]", "proxy names a port twice"),
        ("[8080]", "services.a.proxy[0]: input should be a valid string, got 8080"),
    ],
)
def test_a_proxy_names_declared_ports_once(tmp_path: Path, proxy: str, expected: str) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(f"services:\n  a:\n    command: [x]\n    ports: {{p: 0}}\n    proxy: {proxy}\n")
    with pytest.raises(ScenarioInvalid, match=re.escape(expected)):
        load_stack(path)


def test_the_demo_stack_fronts_the_risk_monitors_grpc_port() -> None:
    stack = load_stack("demo")
    assert stack.services["risk-monitor"].proxy == ["grpc"]
    assert stack.proxy_problem("risk-monitor", "grpc") is None


def net_scenario(port: str) -> ScenarioSpec:
    spec = {
        "targets": {"risk": {"selector": {"app": "risk-monitor"}}},
        "steps": [
            {
                "name": "slow",
                "fault": {"latency": {"target": "risk", "port": port, "delay": "1s"}},
                "duration": "5s",
            }
        ],
    }
    return chaos_scenario("net", spec).spec


def test_a_network_fault_on_a_port_no_proxy_fronts_says_what_to_add() -> None:
    stack = load_stack("demo")
    assert network_fault_problems(net_scenario("grpc"), stack) == []
    assert network_fault_problems(net_scenario("http"), stack) == [
        "spec.steps[0].fault.latency.port: no fault proxy fronts port http of stack service "
        "risk-monitor: add `proxy: [grpc, http]` to services.risk-monitor in the stack file, so "
        "that the other services and the checks reach that port through one"
    ]
    assert network_fault_problems(net_scenario("admin"), stack) == [
        "spec.steps[0].fault.latency.port: stack service risk-monitor declares no port named "
        "'admin' (declared: grpc, http)"
    ]
