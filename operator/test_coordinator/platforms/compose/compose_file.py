"""A compose file, read for what ``validate --compose-file`` can check without a Docker engine:
that every network fault of a scenario is on a port a fault proxy fronts. (A run checks the same
against the project's containers as they are when it starts.)"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from test_coordinator.errors import ScenarioInvalid
from test_coordinator.platforms.compose.proxies import fronts, missing_proxy
from test_coordinator.scenario.model import ScenarioSpec
from test_coordinator.scenario.reading import read_yaml

__all__ = ["compose_services", "network_fault_problems"]


def compose_services(path: Path) -> dict[str, dict[str, str]]:
    """Each service of the compose file, with the labels its containers carry (``app`` and
    ``service`` are its name unless it sets them, as on a container)."""
    data = read_yaml(path)
    services = data.get("services") if isinstance(data, Mapping) else None
    if not isinstance(services, Mapping) or not services:
        raise ScenarioInvalid(f"{path}: services: expected a mapping of compose services")
    return {
        str(name): {"app": str(name), "service": str(name)}
        | _labels(service, where=f"{path}: services.{name}.labels")
        for name, service in services.items()
    }


def _labels(service: Any, *, where: str) -> dict[str, str]:
    labels = service.get("labels") if isinstance(service, Mapping) else None
    if labels is None:
        return {}
    if isinstance(labels, Mapping):
        return {str(key): "" if value is None else str(value) for key, value in labels.items()}
    if isinstance(labels, list) and all(isinstance(item, str) for item in labels):
        pairs = [item.partition("=") for item in labels]
        return {key: value for key, _, value in pairs}
    raise ScenarioInvalid(f"{where}: expected a mapping, or a list of KEY=VALUE")


def network_fault_problems(spec: ScenarioSpec, path: Path) -> list[str]:
    """Every network fault of ``spec`` on a port of a compose service that no proxy of the
    compose file fronts, or whose target selects no service of it."""
    services = compose_services(path)
    problems = []
    for index, step in enumerate(spec.steps):
        params = step.fault.network
        if params is None or step.fault.target not in spec.targets:
            continue
        where = f"spec.steps[{index}].fault.{step.fault.action}"
        selector = spec.targets[step.fault.target].selector
        chosen = [
            name
            for name, labels in services.items()
            if all(labels.get(key) == value for key, value in selector.items())
        ]
        if not chosen:
            problems.append(
                f"{where}.target: target {step.fault.target} selects no service of {path} "
                f"(selector {dict(selector)})"
            )
        for service in chosen:
            if not any(fronts(labels, service, params.port) for labels in services.values()):
                problems.append(f"{where}.port: {missing_proxy(service, params.port)} ({path})")
    return problems
