"""A compose container as the Engine API lists it: its labels as a workload, and its ports."""

from __future__ import annotations

from typing import Any

import pytest
from test_coordinator.platforms.compose.containers import Container, endpoint


def listed(
    *,
    service: str = "risk-monitor",
    labels: dict[str, str] | None = None,
    network: str = "host",
    ports: list[dict[str, Any]] | None = None,
    state: str = "running",
    status: str = "Up 5 seconds",
) -> Container:
    """One entry of ``GET /containers/json``, trimmed to the fields the platform reads."""
    return Container.from_api(
        {
            "Id": "c0ffee",
            "Names": [f"/demo-{service}-1"],
            "State": state,
            "Status": status,
            "Labels": {
                "com.docker.compose.project": "demo",
                "com.docker.compose.service": service,
                **(labels or {}),
            },
            "HostConfig": {"NetworkMode": network},
            "Ports": ports or [],
        }
    )


def test_app_and_service_default_to_the_compose_service() -> None:
    container = listed()
    assert container.name == "demo-risk-monitor-1"
    assert container.labels["app"] == "risk-monitor"
    assert container.labels["service"] == "risk-monitor"
    assert container.labels["com.docker.compose.project"] == "demo"


def test_the_containers_own_labels_win_over_the_defaults() -> None:
    container = listed(labels={"app": "risk", "tier": "trading"})
    assert container.labels["app"] == "risk"
    assert container.labels["service"] == "risk-monitor"
    assert container.labels["tier"] == "trading"


def test_on_the_host_network_a_port_is_on_loopback() -> None:
    container = listed(labels={"chaos.tse.dev/port.grpc": "50051"})
    assert endpoint(container, "grpc") == "127.0.0.1:50051"
    assert endpoint(container, 8080) == "127.0.0.1:8080"


def test_on_a_bridge_network_a_port_is_where_it_is_published() -> None:
    ports = [
        {"IP": "::", "PrivatePort": 50051, "PublicPort": 40001, "Type": "tcp"},
        {"IP": "0.0.0.0", "PrivatePort": 50051, "PublicPort": 40001, "Type": "tcp"},
        {"IP": "127.0.0.1", "PrivatePort": 8080, "PublicPort": 8081, "Type": "tcp"},
        {"IP": "0.0.0.0", "PrivatePort": 53, "PublicPort": 5353, "Type": "udp"},
    ]
    container = listed(
        network="demo_default", labels={"chaos.tse.dev/port.grpc": "50051"}, ports=ports
    )
    assert endpoint(container, "grpc") == "127.0.0.1:40001"
    assert endpoint(container, 8080) == "127.0.0.1:8081"
    with pytest.raises(LookupError, match=r"publishes no host port for 53"):
        endpoint(container, 53)  # published for UDP only


def test_a_port_published_on_ipv6_only_is_bracketed() -> None:
    ports = [{"IP": "::1", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}]
    assert endpoint(listed(network="bridge", ports=ports), 80) == "[::1]:8080"


def test_an_unpublished_port_names_the_container_and_its_state() -> None:
    container = listed(network="demo_default", state="exited")
    with pytest.raises(LookupError) as raised:
        endpoint(container, 50051)
    assert str(raised.value).startswith(
        "container demo-risk-monitor-1 (exited) publishes no host port for 50051"
    )


def test_an_undeclared_port_name_lists_the_declared_ones() -> None:
    container = listed(
        labels={"chaos.tse.dev/port.http": "8080", "chaos.tse.dev/port.grpc": "50051"}
    )
    with pytest.raises(LookupError) as raised:
        endpoint(container, "redis")
    assert str(raised.value) == (
        "container demo-risk-monitor-1 declares no port named 'redis' "
        "(label chaos.tse.dev/port.redis; declared: grpc, http)"
    )


@pytest.mark.parametrize("value", ["grpc", "0", "70000", ""])
def test_a_port_label_that_is_no_port_number_is_named(value: str) -> None:
    container = listed(labels={"chaos.tse.dev/port.grpc": value})
    with pytest.raises(LookupError, match=rf"label chaos.tse.dev/port.grpc is '{value}', not a"):
        endpoint(container, "grpc")


@pytest.mark.parametrize(
    ("state", "status", "ready"),
    [
        ("running", "Up 5 seconds", True),
        ("running", "Up 2 minutes (healthy)", True),
        ("running", "Up 3 seconds (health: starting)", False),
        ("running", "Up 2 minutes (unhealthy)", False),
        ("paused", "Up 2 minutes (Paused)", False),
        ("restarting", "Restarting (137) 1 second ago", False),
        ("exited", "Exited (137) 4 seconds ago", False),
    ],
)
def test_ready_means_running_and_healthy_if_checked(state: str, status: str, ready: bool) -> None:
    assert listed(state=state, status=status).ready is ready
