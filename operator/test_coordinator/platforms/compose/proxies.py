"""Fault proxies in a compose project: containers running ``test-coordinator proxy`` in front of
another service's ports, found by their labels.

```yaml
risk-monitor-proxy:
  command: ["test-coordinator", "proxy", "--proxy", "grpc=0.0.0.0:50051,risk-monitor:50051",
            "--control", "0.0.0.0:8474"]
  labels:
    chaos.tse.dev/proxy-for: risk-monitor      # the compose service it fronts
    chaos.tse.dev/proxy-ports: grpc            # which of its ports (comma-separated); each is
                                               # the proxy of that name in the control API
    chaos.tse.dev/port.grpc: "50051"           # where the proxy serves that port
    chaos.tse.dev/port.control: "8474"         # its control API
```

The other services are configured to reach the fronted port through the proxy
(``--risk risk-monitor-proxy:50051``); the checks reach it through the proxy too, as on the local
platform, so that what a scenario observes is what the services see.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from test_coordinator.platforms.compose.containers import PORT_LABEL_PREFIX, Container, endpoint
from test_coordinator.platforms.network import CONTROL_PORT, PROXY_FOR_LABEL

__all__ = [
    "CONTROL_PORT",
    "PROXY_FOR_LABEL",
    "PROXY_PORTS_LABEL",
    "control_url",
    "fronted_ports",
    "fronts",
    "missing_proxy",
    "proxies_of",
]

PROXY_PORTS_LABEL = "chaos.tse.dev/proxy-ports"


def fronted_ports(labels: Mapping[str, str]) -> list[str]:
    """The names of the ports a proxy container (its ``labels``) fronts; none if no proxy."""
    if PROXY_FOR_LABEL not in labels:
        return []
    listed = labels.get(PROXY_PORTS_LABEL, "")
    return [port.strip() for port in listed.split(",") if port.strip()]


def fronts(labels: Mapping[str, str], service: str, port: str) -> bool:
    """Whether a proxy container (its ``labels``) is in front of ``port`` of ``service``."""
    return labels.get(PROXY_FOR_LABEL) == service and port in fronted_ports(labels)


def proxies_of(service: str, port: str, containers: Iterable[Container]) -> list[Container]:
    """The proxy containers in front of ``port`` of the compose service ``service``."""
    return [container for container in containers if fronts(container.labels, service, port)]


def control_url(proxy: Container) -> str:
    """Where this machine reaches the proxy's control API (its ``control`` port label)."""
    return f"http://{endpoint(proxy, CONTROL_PORT)}"


def missing_proxy(service: str, port: str) -> str:
    """What to add to the compose file for a network fault on ``port`` of ``service``."""
    return (
        f"no fault proxy fronts port {port} of compose service {service}: add a service running "
        f"`test-coordinator proxy --proxy {port}=0.0.0.0:LISTEN,{service}:PORT --control "
        f"0.0.0.0:8474` with the labels {PROXY_FOR_LABEL}: {service}, {PROXY_PORTS_LABEL}: "
        f'{port}, {PORT_LABEL_PREFIX}{port}: "LISTEN" and {PORT_LABEL_PREFIX}{CONTROL_PORT}: '
        f'"8474", and point the services that use {service}:{port} at it'
    )
