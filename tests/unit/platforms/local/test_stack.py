"""The stack file: loading, `extends`, placeholders, dependency order, port allocation."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from test_coordinator.errors import ScenarioInvalid
from test_coordinator.platforms.local.stack import (
    StackSpec,
    allocate_ports,
    load_stack,
    resolve_placeholders,
)


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
    with pytest.raises(ScenarioInvalid, match=r"stack.yaml: extends: unknown stack 'prod'"):
        load_stack(path)


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
