"""A network fault as the toxics that make it, and as the report describes it."""

from __future__ import annotations

from typing import Any

import pytest
from test_coordinator.errors import PlatformError
from test_coordinator.platforms.network import describe, toxics_for
from test_coordinator.scenario.model import FaultSpec


def fault(action: str, **params: Any) -> FaultSpec:
    return FaultSpec.model_validate({action: {"target": "risk", "port": "grpc", **params}})


def shape(spec: FaultSpec) -> list[tuple[str, str, str, float, dict[str, int]]]:
    return [(t.name, t.type, t.stream, t.toxicity, dict(t.attributes)) for t in toxics_for(spec)]


def test_latency_both_ways_is_one_toxic_each_way() -> None:
    assert shape(fault("latency", delay="500ms", jitter="20ms")) == [
        ("chaos-latency_upstream", "latency", "upstream", 1.0, {"latency": 500, "jitter": 20}),
        ("chaos-latency_downstream", "latency", "downstream", 1.0, {"latency": 500, "jitter": 20}),
    ]


def test_bandwidth_in_whole_kilobytes_rounded() -> None:
    assert shape(fault("bandwidth", rate="64KiB/s", direction="upstream", percent=25)) == [
        ("chaos-bandwidth_upstream", "bandwidth", "upstream", 0.25, {"rate": 66})
    ]
    [toxic] = toxics_for(fault("bandwidth", rate="1kB/s", direction="downstream"))
    assert toxic.attributes == {"rate": 1}


def test_a_partition_is_a_timeout_of_0_each_way_and_a_reset_one_reset_peer() -> None:
    assert shape(fault("partition")) == [
        ("chaos-partition_upstream", "timeout", "upstream", 1.0, {"timeout": 0}),
        ("chaos-partition_downstream", "timeout", "downstream", 1.0, {"timeout": 0}),
    ]
    assert shape(fault("reset", percent=50)) == [
        ("chaos-reset_downstream", "reset_peer", "downstream", 0.5, {"timeout": 0})
    ]


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        (fault("latency", delay="500ms"), "latency 500ms both ways"),
        (
            fault("latency", delay="1s", jitter="50ms", direction="upstream"),
            "latency 1s ±50ms upstream",
        ),
        (
            fault("bandwidth", rate="1MB/s", percent=30),
            "bandwidth 1MB/s both ways, 30% of connections",
        ),
        (fault("partition", direction="downstream"), "partition downstream"),
        (fault("reset"), "reset of new and open connections"),
    ],
)
def test_described_as_the_report_says_it(spec: FaultSpec, text: str) -> None:
    assert describe(spec) == text


def test_another_fault_has_no_toxics() -> None:
    with pytest.raises(PlatformError, match="kill is not a network fault"):
        toxics_for(FaultSpec.model_validate({"kill": {"target": "risk"}}))
