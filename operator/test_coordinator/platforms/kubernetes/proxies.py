"""Fault proxies in a namespace: Services in front of a Deployment running ``test-coordinator
proxy``, found by label.

```yaml
kind: Service
metadata:
  name: risk-monitor-proxy
  labels: {chaos.tse.dev/proxy-for: risk-monitor}   # the Service it fronts
spec:
  selector: {app: risk-monitor-proxy}
  ports:
    - {name: grpc, port: 50051}      # risk-monitor's port grpc: the proxy named grpc serves it
    - {name: control, port: 8474}    # the control API, which sets the toxics
```

A port of the proxy Service other than ``control`` fronts the port of the same name of the
Service named by ``proxy-for``; the proxy serving it in the control API carries that name too.
The clients of the fronted Service are pointed at the proxy's Service (``--risk
risk-monitor-proxy:50051``), and so are the checks. Everything here is read from Services,
which the operator may already ``list``: reaching a proxy needs no other permission.
"""

from __future__ import annotations

from collections.abc import Iterable

from lightkube.resources.core_v1 import Service

from test_coordinator.platforms.network import CONTROL_PORT, PROXY_FOR_LABEL

__all__ = [
    "CONTROL_PORT",
    "PROXY_FOR_LABEL",
    "fronted_ports",
    "missing_proxy",
    "port_number",
    "proxies_of",
]


def _labels(service: Service) -> dict[str, str]:
    return dict((service.metadata.labels if service.metadata else None) or {})


def _ports(service: Service) -> dict[str, int]:
    declared = (service.spec.ports if service.spec else None) or []
    return {port.name: port.port for port in declared if port.name}


def fronted_ports(proxy: Service) -> list[str]:
    """The names of the ports a proxy Service fronts (none if it is not a proxy)."""
    if PROXY_FOR_LABEL not in _labels(proxy):
        return []
    return [name for name in _ports(proxy) if name != CONTROL_PORT]


def proxies_of(fronted: str, port: str, services: Iterable[Service]) -> list[Service]:
    """The proxy Services in front of ``port`` of the Service named ``fronted``."""
    return [
        service
        for service in services
        if _labels(service).get(PROXY_FOR_LABEL) == fronted and port in fronted_ports(service)
    ]


def port_number(service: Service, name: str) -> int | None:
    """The number of the Service's port called ``name``."""
    return _ports(service).get(name)


def missing_proxy(fronted: str, port: str) -> str:
    """What to add to the namespace for a network fault on ``port`` of the Service ``fronted``."""
    return (
        f"no fault proxy fronts port {port} of Service {fronted}: add a Deployment running "
        f"`test-coordinator proxy --proxy {port}=0.0.0.0:LISTEN,{fronted}:PORT --control "
        f"0.0.0.0:8474` and a Service for it labelled {PROXY_FOR_LABEL}: {fronted}, with the "
        f"ports {port} and {CONTROL_PORT} (see manifests/demo/risk-monitor-proxy.yaml), and "
        f"point the clients of {fronted}:{port} at that Service"
    )
