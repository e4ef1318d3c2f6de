"""The scenario model: target modes, dumping back to YAML shape, probes, faults and status."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError
from test_coordinator.scenario.loading import load_yaml, parse_scenario
from test_coordinator.scenario.model import (
    ChaosScenario,
    FaultSpec,
    Mode,
    Probe,
    TargetSpec,
    TcpProbe,
)
from test_coordinator.scenario.status import (
    CheckStatus,
    Condition,
    FaultStatus,
    Phase,
    RunSummary,
    ScenarioStatus,
    StepStatus,
    Verdict,
    When,
)

TEXT = """\
apiVersion: chaos.tse.dev/v1alpha1
kind: ChaosScenario
metadata:
  name: gateway-pause
  annotations: {chaos.tse.dev/local-stack: demo}
spec:
  targets:
    gateway: {selector: {app: order-gateway}, mode: percent, value: 50}
    redis: {selector: {app: redis}}
  steadyState:
    - {name: gateway serving, http: {target: gateway, port: http, path: /health}, within: 5s}
  during:
    - name: registered
      redisRegistry: {service: gw, redis: {target: redis, port: redis}, maxAge: 1m30s}
      interval: 250ms
      minSuccessRate: 0.95
  steps:
    - name: freeze
      fault: {pause: {target: gateway}}
      duration: 3s
      after:
        - {name: answers, tcp: {target: gateway, port: 8080}, within: 2s, timeout: 500ms}
    - name: crash
      fault: {kill: {target: gateway}}
  timeout: 2m
"""


def scenario() -> ChaosScenario:
    return parse_scenario(load_yaml(TEXT, source="s.yaml"), source="s.yaml")


# --- TargetSpec.count ------------------------------------------------------------------------


@pytest.mark.parametrize("selected", [1, 2, 7])
def test_mode_one_hits_one(selected: int) -> None:
    assert TargetSpec(selector={"app": "x"}).count(selected) == 1


@pytest.mark.parametrize("selected", [1, 2, 7])
def test_mode_all_hits_every_one(selected: int) -> None:
    assert TargetSpec(selector={"app": "x"}, mode=Mode.ALL).count(selected) == selected


@pytest.mark.parametrize(("value", "selected"), [(1, 5), (3, 5), (3, 2)])
def test_mode_fixed_hits_its_value(value: int, selected: int) -> None:
    # More than selected is the engine's to refuse; count only says how many the mode wants.
    assert TargetSpec(selector={"app": "x"}, mode=Mode.FIXED, value=value).count(selected) == value


@pytest.mark.parametrize(
    ("value", "selected", "expected"),
    [
        (50, 4, 2),
        (50, 5, 2),  # rounds down
        (99, 10, 9),
        (100, 3, 3),
        (10, 5, 1),  # 0.5 rounds down to 0, but at least one
        (1, 1, 1),
    ],
)
def test_mode_percent_rounds_down_but_hits_at_least_one(
    value: int, selected: int, expected: int
) -> None:
    target = TargetSpec(selector={"app": "x"}, mode=Mode.PERCENT, value=value)

    assert target.count(selected) == expected


def test_target_spec_accepts_yaml_names() -> None:
    target = TargetSpec.model_validate({"selector": {"app": "x"}, "mode": "fixed", "value": 2})

    assert target.mode is Mode.FIXED
    assert target.value == 2


def test_spec_models_are_frozen() -> None:
    target = TargetSpec(selector={"app": "x"})

    with pytest.raises(ValidationError):
        target.mode = Mode.ALL  # type: ignore[misc]


# --- dump ------------------------------------------------------------------------------------


def _keys(data: Any) -> set[str]:
    """Every mapping key in ``data``, except under maps whose keys are the user's own."""
    found: set[str] = set()
    if isinstance(data, dict):
        for key, value in data.items():
            found.add(key)
            if key not in {"targets", "selector", "annotations", "labels"}:
                found |= _keys(value)
            elif key == "targets":
                for target in value.values():
                    found |= _keys(target)
    elif isinstance(data, list):
        for item in data:
            found |= _keys(item)
    return found


def test_dump_uses_camel_case() -> None:
    dumped = scenario().dump()

    keys = _keys(dumped)
    assert {"apiVersion", "steadyState", "minSuccessRate", "redisRegistry", "maxAge"} <= keys
    assert not [key for key in keys if "_" in key]
    assert dumped["apiVersion"] == "chaos.tse.dev/v1alpha1"
    assert dumped["kind"] == "ChaosScenario"


def test_dump_writes_durations_as_strings() -> None:
    dumped = scenario().dump()
    spec = dumped["spec"]

    assert spec["timeout"] == "2m"
    assert spec["steadyState"][0]["within"] == "5s"
    assert spec["during"][0]["interval"] == "250ms"
    assert spec["during"][0]["redisRegistry"]["maxAge"] == "90s"
    assert spec["steps"][0]["duration"] == "3s"
    assert spec["steps"][0]["after"][0]["within"] == "2s"
    assert spec["steps"][0]["after"][0]["timeout"] == "500ms"
    assert spec["during"][0]["minSuccessRate"] == 0.95  # a rate, not a duration


def test_dump_leaves_out_what_is_not_set() -> None:
    dumped = scenario().dump()

    assert "status" not in dumped
    assert "duration" not in dumped["spec"]["steps"][1]
    assert dumped["spec"]["steps"][1]["fault"] == {"kill": {"target": "gateway"}}


def test_dump_round_trips() -> None:
    original = scenario()

    again = parse_scenario(original.dump(), source="dump")

    assert again == original
    assert again.dump() == original.dump()


def test_dump_round_trips_with_a_status() -> None:
    when = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    status = ScenarioStatus(
        phase=Phase.SUCCEEDED,
        verdict=Verdict.PASS,
        observed_generation=2,
        recovery_seconds=1.25,
        started_at=when,
        checks=[CheckStatus(name="answers", when=When.AFTER, passed=True, recovery_seconds=1.25)],
        faults=[
            FaultStatus(
                step="freeze", target="gateway", workload="gw-0", action="pause", applied_at=when
            )
        ],
    )
    original = scenario().model_copy(update={"status": status})

    dumped = original.dump()
    again = parse_scenario(dumped, source="dump")

    assert dumped["status"]["observedGeneration"] == 2
    assert again.status == status
    assert again == original


# --- Probe and FaultSpec ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        ({"grpcHealth": {"address": "h:1"}}, "grpcHealth"),
        ({"http": {"url": "http://h/"}}, "http"),
        ({"tcp": {"address": "h:1"}}, "tcp"),
        ({"redisRegistry": {"service": "s", "redis": {"address": "h:1"}}}, "redisRegistry"),
        ({"command": {"argv": ["true"]}}, "command"),
    ],
)
def test_probe_kind_is_the_yaml_name(data: dict[str, Any], kind: str) -> None:
    probe = Probe.model_validate(data)

    assert probe.kind == kind
    assert probe.spec is getattr(probe, probe.model_fields_set.pop())


def test_probe_spec_is_the_kind_model() -> None:
    probe = Probe.model_validate({"tcp": {"target": "db", "port": 5432}, "timeout": "1s"})

    assert isinstance(probe.spec, TcpProbe)
    assert probe.spec.target == "db"
    assert probe.spec.port == 5432
    assert probe.timeout == 1.0


def test_probe_port_may_be_a_name() -> None:
    probe = Probe.model_validate({"tcp": {"target": "db", "port": "postgres"}})

    assert isinstance(probe.spec, TcpProbe)
    assert probe.spec.port == "postgres"


@pytest.mark.parametrize("action", ["kill", "restart", "stop", "pause"])
def test_fault_action_and_target(action: str) -> None:
    fault = FaultSpec.model_validate({action: {"target": "risk"}})

    assert fault.action == action
    assert fault.target == "risk"
    assert fault.params.target == "risk"


def test_fault_with_two_actions_is_refused() -> None:
    with pytest.raises(ValidationError, match="expected exactly one of kill, restart, stop, pause"):
        FaultSpec.model_validate({"kill": {"target": "a"}, "stop": {"target": "a"}})


@pytest.mark.parametrize(
    "address", ["127.0.0.1:80", "db.svc:5432", "[::1]:8080"], ids=["ip", "name", "ipv6"]
)
def test_probe_address_host_port(address: str) -> None:
    probe = Probe.model_validate({"tcp": {"address": address}})

    assert isinstance(probe.spec, TcpProbe)
    assert probe.spec.address == address


@pytest.mark.parametrize("address", ["localhost", ":80", "h:http"])
def test_probe_address_must_be_host_port(address: str) -> None:
    with pytest.raises(ValidationError, match="address must be host:port"):
        Probe.model_validate({"tcp": {"address": address}})


def test_probe_address_and_target_exclude_each_other() -> None:
    with pytest.raises(ValidationError, match="either address or target"):
        Probe.model_validate({"tcp": {"address": "h:1", "target": "t", "port": 1}})


# --- status ----------------------------------------------------------------------------------


def test_status_serialises_camel_case() -> None:
    status = ScenarioStatus(
        phase=Phase.FAILED,
        verdict=Verdict.FAIL,
        observed_generation=4,
        run_id="abc",
        recovery_seconds=2.5,
        steps=[StepStatus(name="s", phase=Phase.FAILED)],
        checks=[
            CheckStatus(
                name="c",
                when=When.DURING,
                passed=False,
                success_rate=0.5,
                longest_failure_seconds=1.0,
            )
        ],
        conditions=[Condition(type="Ready", status="False", reason="ChecksFailed")],
        history=[RunSummary(run_id="abc", phase=Phase.FAILED, recovery_seconds=2.5)],
    )

    dumped = status.model_dump(mode="json", by_alias=True)

    assert dumped["recoverySeconds"] == 2.5
    assert dumped["observedGeneration"] == 4
    assert dumped["runId"] == "abc"
    assert dumped["phase"] == "Failed"
    assert dumped["verdict"] == "Fail"
    assert dumped["checks"][0]["successRate"] == 0.5
    assert dumped["checks"][0]["longestFailureSeconds"] == 1.0
    assert dumped["checks"][0]["when"] == "during"
    assert "lastTransitionTime" in dumped["conditions"][0]
    assert dumped["history"][0]["recoverySeconds"] == 2.5
    assert not [key for key in dumped if "_" in key]


def test_fault_status_serialises_camel_case() -> None:
    when = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    fault = FaultStatus(
        step="s", target="t", workload="w", action="pause", applied_at=when, reverted_at=when
    )

    dumped = fault.model_dump(mode="json", by_alias=True)

    assert dumped["appliedAt"].startswith("2024-05-01T12:00:00")
    assert dumped["revertedAt"].startswith("2024-05-01T12:00:00")


def test_status_loads_camel_case_and_ignores_unknown_fields() -> None:
    status = ScenarioStatus.model_validate(
        {"phase": "Succeeded", "recoverySeconds": 3.0, "observedGeneration": 7, "newField": 1}
    )

    assert status.phase is Phase.SUCCEEDED
    assert status.recovery_seconds == 3.0
    assert status.observed_generation == 7


def test_when_values_match_yaml_section_names() -> None:
    # "fault": what a step's fault itself must satisfy (requireGracefulStop).
    assert [w.value for w in When] == [
        "steadyState",
        "fault",
        "during",
        "after",
        "finalSteadyState",
        "audit",
    ]
