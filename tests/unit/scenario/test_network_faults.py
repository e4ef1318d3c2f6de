"""Network faults in a scenario: latency, bandwidth, partition and reset on a named port."""

from __future__ import annotations

from typing import Any

import pytest
from test_coordinator.errors import ScenarioInvalid
from test_coordinator.scenario.model import (
    NETWORK_FAULTS,
    TIMED_FAULTS,
    BandwidthFault,
    FaultSpec,
    LatencyFault,
    PartitionFault,
    ResetFault,
)

from tests.documents import chaos_scenario


def step(fault: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": "net", "fault": fault, **extra}


def load(fault: dict[str, Any], **extra: Any) -> FaultSpec:
    spec = {"targets": {"risk": {"selector": {"app": "risk"}}}, "steps": [step(fault, **extra)]}
    return chaos_scenario("net", spec).spec.steps[0].fault


def problems(fault: dict[str, Any], **extra: Any) -> str:
    with pytest.raises(ScenarioInvalid) as raised:
        load(fault, **extra)
    return "\n".join(raised.value.problems)


def test_every_network_fault_is_timed() -> None:
    assert {"latency", "bandwidth", "partition", "reset"} == NETWORK_FAULTS
    assert NETWORK_FAULTS <= TIMED_FAULTS
    required = {"latency": {"delay": "1s"}, "bandwidth": {"rate": "1MB/s"}}
    for kind in NETWORK_FAULTS:
        fault = {kind: {"target": "risk", "port": "grpc", **required.get(kind, {})}}
        assert f"a {kind} fault needs a duration" in problems(fault)


def test_latency_with_its_defaults() -> None:
    fault = load({"latency": {"target": "risk", "port": "grpc", "delay": "500ms"}}, duration="10s")
    assert fault.action == "latency"
    latency = fault.network
    assert isinstance(latency, LatencyFault)
    assert (latency.delay, latency.jitter, latency.percent, latency.direction) == (
        0.5,
        0.0,
        100,
        "both",
    )


def test_each_kind_and_its_fields() -> None:
    bandwidth = load(
        {"bandwidth": {"target": "risk", "port": "grpc", "rate": "64KiB/s", "percent": 30}},
        duration="5s",
    )
    assert isinstance(bandwidth.network, BandwidthFault)
    assert (bandwidth.network.rate, bandwidth.network.percent) == (65536.0, 30)
    partition = load(
        {"partition": {"target": "risk", "port": "grpc", "direction": "upstream"}}, duration="5s"
    )
    assert partition.network == PartitionFault(target="risk", port="grpc", direction="upstream")
    reset = load({"reset": {"target": "risk", "port": "http"}}, duration="1s")
    assert reset.network == ResetFault(target="risk", port="http")


def test_other_faults_are_not_network_faults() -> None:
    assert load({"kill": {"target": "risk"}}).network is None


def test_a_fault_round_trips_through_its_dump() -> None:
    fault = load(
        {"latency": {"target": "risk", "port": "grpc", "delay": "250ms", "jitter": "20ms"}},
        duration="5s",
    )
    dumped = fault.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert dumped["latency"]["delay"] == "250ms"
    assert FaultSpec.model_validate(dumped) == fault


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (
            {"latency": {"target": "risk", "port": 50051, "delay": "1s"}},
            "latency.port: expected the name of a port (grpc, http), not its number",
        ),
        ({"latency": {"target": "risk", "port": "grpc"}}, "latency.delay: required field"),
        (
            {"latency": {"target": "risk", "port": "grpc", "delay": "0ms"}},
            "expected a delay of at least 1ms",
        ),
        (
            {"latency": {"target": "risk", "port": "grpc", "delay": "1.5ms"}},
            "expected whole milliseconds",
        ),
        (
            {"latency": {"target": "risk", "port": "grpc", "delay": 500}},
            "expected a duration with a unit such as 500s",
        ),
        (
            {"partition": {"target": "risk", "port": "grpc", "percent": 0}},
            "partition.percent: input should be greater than or equal to 1",
        ),
        (
            {"partition": {"target": "risk", "port": "grpc", "percent": 101}},
            "partition.percent: input should be less than or equal to 100",
        ),
        (
            {"partition": {"target": "risk", "port": "grpc", "percent": "50"}},
            "partition.percent: input should be a valid integer",
        ),
        (
            {"partition": {"target": "risk", "port": "grpc", "direction": "in"}},
            "input should be 'both', 'upstream' or 'downstream'",
        ),
        ({"reset": {"target": "risk", "port": "grpc", "direction": "both"}}, "unknown field"),
        ({"bandwidth": {"target": "risk", "port": "grpc", "rate": "1Mb/s"}}, "bits"),
        (
            {"bandwidth": {"target": "risk", "port": "grpc", "rate": "999B/s"}},
            "expected a rate of at least 1kB/s",
        ),
        ({"partition": {"target": "nobody", "port": "grpc"}}, "names target 'nobody'"),
    ],
)
def test_bad_values_are_refused_with_their_field(fault: dict[str, Any], expected: str) -> None:
    found = problems(fault, duration="5s")
    assert expected in found, found
    assert "spec.steps[0].fault." in found
