"""ChaosScenario documents for tests and benchmarks: the envelope once, the spec theirs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from test_coordinator.scenario import API_VERSION, KIND, ChaosScenario, parse_scenario


def scenario_document(name: str, spec: Mapping[str, Any], **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, **metadata},
        "spec": dict(spec),
    }


def chaos_scenario(name: str, spec: Mapping[str, Any], **metadata: Any) -> ChaosScenario:
    return parse_scenario(scenario_document(name, spec, **metadata), source=name)


def unchecked_scenario(name: str, spec: Mapping[str, Any]) -> ChaosScenario:
    """The model alone, without the loader's rules across fields: for engine tests of what
    the loader refuses (a timeout shorter than the run's own deadlines)."""
    return ChaosScenario.model_validate(scenario_document(name, spec))
