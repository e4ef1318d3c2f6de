"""The stack file: the services the local platform runs and supervises, like a compose file.

```yaml
extends: demo                  # optional: start from the bundled demo stack and override
services:
  risk-monitor:
    command: ["${python}", "-m", "test_coordinator.demo.risk_monitor",
              "--grpc-port", "${risk-monitor.grpc}"]
    ports: {grpc: 0}           # named ports; 0 picks a free loopback port at start
    labels: {app: risk-monitor}
    dependsOn: [redis]
    ready: {grpcHealth: {port: grpc}}
    restart: always            # always | on-failure | never
    restartDelay: 1s           # first restart backoff; doubles up to maxRestartDelay
    proxy: [grpc]              # ports others reach through a fault proxy (network faults)
```
``${python}`` is the running interpreter and ``${SERVICE.PORT}`` a service's resolved port. A
port listed under ``proxy`` has a fault proxy in front of it: the service listens on the port
(its own ``${risk-monitor.grpc}`` is that port), and everyone else reaches it through the proxy
(another service's ``${risk-monitor.grpc}``, and the checks).
"""

from __future__ import annotations

import random
import re
import socket
import sys
from collections.abc import Collection, Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from test_coordinator.errors import ScenarioInvalid
from test_coordinator.scenario.durations import Duration
from test_coordinator.scenario.loading import expect_mapping, format_errors, kind_of, plain
from test_coordinator.scenario.model import (
    MAX_PORT,
    NonEmptyStr,
    PortName,
    Probe,
    ScenarioSpec,
    SpecModel,
)
from test_coordinator.scenario.reading import load_document, read_document

__all__ = [
    "ServiceSpec",
    "StackSpec",
    "allocate_ports",
    "allocate_proxy_ports",
    "free_port",
    "load_stack",
    "network_fault_problems",
    "resolve_placeholders",
    "stack_for_scenario",
]

BUNDLED = {"demo": "demo/stack.yaml"}
STACK_ANNOTATION = "chaos.tse.dev/local-stack"
"""The scenario annotation naming its local stack file (relative to the scenario), or demo."""

StackPort = Annotated[int, Field(ge=0, le=MAX_PORT)]
"""A port number; 0 picks a free loopback port at start."""


class ServiceSpec(SpecModel):
    command: list[str] = Field(min_length=1)
    ports: dict[PortName, StackPort] = {}
    labels: dict[NonEmptyStr, str] = {}
    env: dict[str, str] = {}
    working_dir: str | None = None
    depends_on: list[str] = []
    ready: Probe | None = None
    restart: Literal["always", "on-failure", "never"] = "always"
    restart_delay: Duration = 1.0
    max_restart_delay: Duration = 30.0
    stop_grace_period: Duration = 10.0
    start_timeout: Duration = 30.0
    proxy: list[PortName] = Field(
        default=[], description="ports others reach through a fault proxy (network faults)"
    )

    @field_validator("command")
    @classmethod
    def _program_named(cls, command: list[str]) -> list[str]:
        if not command[0]:
            raise ValueError("the first item of command must name the program to run")
        return command

    @model_validator(mode="after")
    def _proxied_ports_declared(self) -> ServiceSpec:
        undeclared = [port for port in self.proxy if port not in self.ports]
        if undeclared:
            declared = ", ".join(self.ports) or "none"
            raise ValueError(
                f"proxy names {', '.join(undeclared)}, which ports does not declare "
                f"(declared: {declared})"
            )
        if len(set(self.proxy)) != len(self.proxy):
            raise ValueError(f"proxy names a port twice: {self.proxy}")
        return self


class StackSpec(SpecModel):
    services: dict[NonEmptyStr, ServiceSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _dependencies_exist_without_cycles(self) -> StackSpec:
        for name, service in self.services.items():
            missing = [dep for dep in service.depends_on if dep not in self.services]
            if missing:
                raise ValueError(f"service {name!r} depends on undefined {', '.join(missing)}")
        self.start_order()  # raises on a cycle
        return self

    def start_order(self) -> list[list[str]]:
        """Services in levels: each level depends only on the levels before it."""
        levels: list[list[str]] = []
        placed: set[str] = set()
        while len(placed) < len(self.services):
            level = [
                name
                for name, service in self.services.items()
                if name not in placed and set(service.depends_on) <= placed
            ]
            if not level:
                cycle = sorted(set(self.services) - placed)
                raise ValueError(f"dependsOn forms a cycle among {', '.join(cycle)}")
            levels.append(level)
            placed.update(level)
        return levels

    def labels_of(self, name: str) -> dict[str, str]:
        return dict(self.services[name].labels) or {"app": name}

    def select(self, selector: Mapping[str, str]) -> list[str]:
        """The services whose labels include all of ``selector``, in the file's order."""
        return [
            name
            for name in self.services
            if all(self.labels_of(name).get(key) == value for key, value in selector.items())
        ]

    def proxy_problem(self, service: str, port: str) -> str | None:
        """Why a network fault cannot act on ``port`` of ``service``, saying what to add."""
        spec = self.services[service]
        if port not in spec.ports:
            declared = ", ".join(spec.ports) or "none"
            return f"stack service {service} declares no port named {port!r} (declared: {declared})"
        if port not in spec.proxy:
            listed = f"[{', '.join([*spec.proxy, port])}]"
            return (
                f"no fault proxy fronts port {port} of stack service {service}: add "
                f"`proxy: {listed}` to services.{service} in the stack file, so that the "
                "other services and the checks reach that port through one"
            )
        return None


def network_fault_problems(spec: ScenarioSpec, stack: StackSpec) -> list[str]:
    """Every network fault of ``spec`` on a port of a stack service that no proxy fronts."""
    problems = []
    for index, step in enumerate(spec.steps):
        params = step.fault.network
        if params is None or step.fault.target not in spec.targets:
            continue
        for service in stack.select(spec.targets[step.fault.target].selector):
            problem = stack.proxy_problem(service, params.port)
            if problem is not None:
                problems.append(f"spec.steps[{index}].fault.{step.fault.action}.port: {problem}")
    return problems


def load_stack(path: Path | str | None) -> StackSpec:
    """The stack in ``path``, or the bundled demo stack when ``path`` is None or ``demo``."""
    if path is None or str(path) in BUNDLED:
        return _parse(_bundled(str(path or "demo")), source=f"<bundled {path or 'demo'} stack>")
    path = Path(path)
    document = read_document(path, plain_values=True)
    data = document.data
    expect_mapping(data, source=str(path), line=document.line, what="a stack, with services")
    if "extends" in data:
        base = data["extends"]
        if not isinstance(base, str) or base not in BUNDLED:
            line = data.lc.key("extends")[0] + 1 if hasattr(data, "lc") else document.line
            raise ScenarioInvalid(
                f"{path}:{line}: extends: expected the name of a bundled stack "
                f"({', '.join(BUNDLED)}), got {_named(base)}"
            )
        data = _merge(_bundled(base), {k: v for k, v in data.items() if k != "extends"})
    return _parse(data, source=str(path))


def stack_for_scenario(
    scenario_file: Path, *, annotation: str | None, override: str | None
) -> StackSpec:
    """The stack a scenario runs on: ``--stack`` (``override``), else its annotation (a file
    relative to the scenario, or ``demo``), else the bundled demo stack. A problem in it names
    the scenario and what chose the stack, so that the reader knows where to look."""
    if override is not None:
        reference: str | None = override
        chosen = f"chosen by --stack {override}"
    elif annotation is not None:
        reference = annotation if annotation in BUNDLED else str(scenario_file.parent / annotation)
        chosen = f"chosen by its annotation {STACK_ANNOTATION}: {annotation}"
    else:
        reference = None
        chosen = f"the bundled demo stack (no --stack, no {STACK_ANNOTATION} annotation)"
    try:
        return load_stack(reference)
    except ScenarioInvalid as error:
        context = f"{scenario_file}: its local stack ({chosen}) is invalid:"
        raise ScenarioInvalid([context, *error.problems]) from None


def _named(value: object) -> str:
    return repr(value[:60]) if isinstance(value, str) else kind_of(value)


def _bundled(name: str) -> Any:
    text = resources.files("test_coordinator").joinpath(BUNDLED[name]).read_text("utf-8")
    return load_document(text, source=f"<bundled {name} stack>").data


def _merge(base: Any, override: Any) -> Any:
    """Mappings merge key by key; anything else in ``override`` replaces what ``base`` had."""
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    return override


def _parse(data: Any, *, source: str) -> StackSpec:
    expect_mapping(data, source=source, line=None, what="a stack, with services")
    try:
        return StackSpec.model_validate(plain(data))
    except ValidationError as error:
        raise ScenarioInvalid(format_errors(error, data=data, source=source)) from None


_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


def allocate_ports(stack: StackSpec) -> dict[str, dict[str, int]]:
    """Every service's ports, with each 0 replaced by a port that is free on loopback now."""
    taken = {number for service in stack.services.values() for number in service.ports.values()}
    ports: dict[str, dict[str, int]] = {}
    for name, service in stack.services.items():
        ports[name] = {}
        for port, number in service.ports.items():
            ports[name][port] = number or free_port(avoid=taken)
            taken.add(ports[name][port])
    return ports


def allocate_proxy_ports(
    stack: StackSpec, *, taken: Mapping[str, Mapping[str, int]]
) -> dict[str, dict[str, int]]:
    """For each port a service lists under ``proxy``, a free loopback port for its proxy."""
    avoid = {number for service in taken.values() for number in service.values()}
    ports: dict[str, dict[str, int]] = {}
    for name, service in stack.services.items():
        for port in service.proxy:
            number = free_port(avoid=avoid)
            ports.setdefault(name, {})[port] = number
            avoid.add(number)
    return ports


def resolve_placeholders(text: str, ports: Mapping[str, Mapping[str, int]], *, where: str) -> str:
    def substitute(match: re.Match[str]) -> str:
        key = match.group(1)
        if key == "python":
            return sys.executable
        service, _, port = key.rpartition(".")
        if service in ports and port in ports[service]:
            return str(ports[service][port])
        raise ScenarioInvalid(
            f"{where}: unknown placeholder ${{{key}}}; expected ${{python}} or ${{SERVICE.PORT}}"
        )

    return _PLACEHOLDER.sub(substitute, text)


def free_port(*, avoid: Collection[int] = ()) -> int:
    """A loopback port free now, below the kernel's ephemeral range.

    A port from ``bind(0)`` comes from the ephemeral range, where the kernel also picks the
    source ports of outgoing connections: between choosing it and the service binding it,
    any client (a Redis connection, a health probe) may take it. Below that range only
    listeners compete.
    """
    low = _ephemeral_low()
    for _ in range(200):
        port = random.randrange(max(1024, low - 20000), low)
        if port in avoid:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise OSError("no free loopback port below the ephemeral range")


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768
