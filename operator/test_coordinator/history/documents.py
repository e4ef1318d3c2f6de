"""A run as the store keeps it: the scenario as run (and its content hash), the status and its
samples as JSON, and back again."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import TypeAdapter, ValidationError

from test_coordinator.errors import ScenarioInvalid
from test_coordinator.scenario.loading import parse_scenario
from test_coordinator.scenario.model import ChaosScenario
from test_coordinator.scenario.status import CheckSamples, ScenarioStatus

__all__ = [
    "document_hash",
    "restore_run",
    "samples_document",
    "scenario_document",
    "status_document",
]

KEPT_ANNOTATIONS = "chaos.tse.dev/"
_SAMPLES = TypeAdapter(list[CheckSamples])


def scenario_document(scenario: ChaosScenario) -> dict[str, Any]:
    """The scenario as run: its spec, and the metadata that changes what runs (name, namespace,
    labels, our own annotations). Not what a cluster adds (uid, resourceVersion, kopf's
    annotations): those change without the scenario changing, and would split its trend."""
    document = scenario.model_copy(update={"status": None}).dump()
    metadata = document["metadata"]
    kept = {key: metadata[key] for key in ("name", "namespace", "labels") if metadata.get(key)}
    annotations = {
        key: value
        for key, value in scenario.metadata.annotations.items()
        if key.startswith(KEPT_ANNOTATIONS)
    }
    if annotations:
        kept["annotations"] = annotations
    document["metadata"] = kept
    return document


def document_hash(document: dict[str, Any]) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def status_document(status: ScenarioStatus) -> dict[str, Any]:
    """Every field of the status (the samples are excluded from it by the model)."""
    return status.model_dump(mode="json", by_alias=True, exclude_none=True)


def samples_document(status: ScenarioStatus) -> list[Any]:
    dumped: list[Any] = _SAMPLES.dump_python(
        status.samples, mode="json", by_alias=True, exclude_none=True
    )
    return dumped


def restore_run(
    document: dict[str, Any], status: dict[str, Any], samples: list[Any], *, run_id: str
) -> tuple[ChaosScenario, ScenarioStatus]:
    """The scenario and its status, samples included, as the run left them."""
    source = f"history run {run_id}"
    try:
        restored = ScenarioStatus.model_validate(status)
        restored.samples = _SAMPLES.validate_python(samples)
    except ValidationError as error:
        raise ScenarioInvalid(f"{source}: status: {error.errors()[0]['msg']}") from None
    scenario = parse_scenario(document, source=source)
    return scenario.model_copy(update={"status": restored}), restored
