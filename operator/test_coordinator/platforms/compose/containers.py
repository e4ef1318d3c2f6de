"""A compose project's containers as the Engine API lists them, and how a check reaches them.

A workload's labels are its container's labels, plus ``service`` and ``app`` set to the compose
service's name unless the container sets them itself: scenarios written for the local platform
(``selector: {app: risk-monitor}``) then run unchanged against a project whose services carry
no labels at all.

A named port is declared by a label, ``chaos.tse.dev/port.<name>: "<number>"``, holding the
port the service listens on inside its container. A check reaches that port at 127.0.0.1 when
the container shares the host's network (``network_mode: host``), else where compose
publishes it on the host.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ONEOFF_LABEL",
    "PORT_LABEL_PREFIX",
    "PROJECT_LABEL",
    "SERVICE_LABEL",
    "Container",
    "endpoint",
]

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
ONEOFF_LABEL = "com.docker.compose.oneoff"  # `docker compose run` containers, not the stack's
PORT_LABEL_PREFIX = "chaos.tse.dev/port."
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Published:
    container_port: int
    host_ip: str
    host_port: int


@dataclass(frozen=True)
class Container:
    id: str
    name: str
    service: str
    state: str  # running, paused, restarting, exited, created
    status: str  # as `docker ps` shows it: "Up 5 minutes (healthy)"
    labels: Mapping[str, str]  # as a workload carries them (with the service defaults)
    host_network: bool
    published: tuple[Published, ...]

    @classmethod
    def from_api(cls, entry: Mapping[str, Any]) -> Container:
        """From one entry of ``GET /containers/json``."""
        raw: dict[str, str] = dict(entry.get("Labels") or {})
        service = raw.get(SERVICE_LABEL, "")
        published = tuple(
            Published(int(port["PrivatePort"]), port.get("IP") or "", int(port["PublicPort"]))
            for port in entry.get("Ports") or []
            if port.get("Type") == "tcp" and port.get("PublicPort")
        )
        return cls(
            id=entry["Id"],
            name=entry["Names"][0].lstrip("/"),
            service=service,
            state=entry.get("State", ""),
            status=entry.get("Status", ""),
            labels={"app": service, "service": service} | raw,
            host_network=(entry.get("HostConfig") or {}).get("NetworkMode") == "host",
            published=published,
        )

    @property
    def ready(self) -> bool:
        """Running, and healthy if it has a healthcheck."""
        return self.state == "running" and not any(
            health in self.status for health in ("(unhealthy)", "(health: starting)")
        )

    def declared_ports(self) -> dict[str, str]:
        return {
            key.removeprefix(PORT_LABEL_PREFIX): value
            for key, value in self.labels.items()
            if key.startswith(PORT_LABEL_PREFIX)
        }

    def port_named(self, name: str) -> int:
        declared = self.declared_ports()
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise LookupError(
                f"container {self.name} declares no port named {name!r} "
                f"(label {PORT_LABEL_PREFIX}{name}; declared: {known})"
            )
        value = declared[name]
        if not value.isdigit() or not 0 < int(value) < 65536:
            raise LookupError(
                f"container {self.name}: label {PORT_LABEL_PREFIX}{name} is {value!r}, "
                "not a port number"
            )
        return int(value)


def endpoint(container: Container, port: int | str) -> str:
    """``host:port`` where a check on this machine reaches ``port`` of ``container``."""
    number = port if isinstance(port, int) else container.port_named(port)
    if container.host_network:
        return f"{LOOPBACK}:{number}"
    # Docker lists a port once per address family; an IPv4 address is the one to dial.
    mappings = sorted(
        (p for p in container.published if p.container_port == number),
        key=lambda p: ":" in p.host_ip,
    )
    if not mappings:
        raise LookupError(
            f"container {container.name} ({container.state}) publishes no host port for "
            f'{number}: publish it (ports: ["127.0.0.1::{number}"]) or use network_mode: host'
        )
    host = mappings[0].host_ip
    if host in ("", "0.0.0.0", "::"):
        host = LOOPBACK
    elif ":" in host:
        host = f"[{host}]"
    return f"{host}:{mappings[0].host_port}"
