"""The scenario as the store keeps it: what a cluster adds is left out of it and of its hash."""

from __future__ import annotations

from test_coordinator.history.documents import (
    document_hash,
    restore_run,
    samples_document,
    scenario_document,
    status_document,
)

from tests.documents import chaos_scenario
from tests.unit.report import sample_result

SPEC = {
    "targets": {"api": {"selector": {"app": "api"}}},
    "steps": [{"name": "crash", "fault": {"kill": {"target": "api"}}}],
}


def on_cluster(resource_version: str, **spec: object) -> dict[str, object]:
    scenario = chaos_scenario(
        "crash",
        {**SPEC, **spec},
        namespace="trading",
        uid="7f1c",
        resourceVersion=resource_version,
        labels={"team": "risk"},
        annotations={
            "chaos.tse.dev/local-stack": "stack.yaml",
            "kopf.zalando.org/last-handled-configuration": resource_version,
        },
    )
    return scenario_document(scenario)


def test_what_the_cluster_adds_is_left_out() -> None:
    document = on_cluster("41")
    assert document["metadata"] == {
        "name": "crash",
        "namespace": "trading",
        "labels": {"team": "risk"},
        "annotations": {"chaos.tse.dev/local-stack": "stack.yaml"},
    }
    assert "status" not in document


def test_the_hash_changes_with_the_scenario_not_with_its_bookkeeping() -> None:
    assert document_hash(on_cluster("41")) == document_hash(on_cluster("42"))
    assert document_hash(on_cluster("41")) != document_hash(on_cluster("41", timeout="1m"))


def test_status_and_samples_round_trip() -> None:
    status = sample_result.status()
    document = scenario_document(sample_result.scenario())
    scenario, restored = restore_run(
        document, status_document(status), samples_document(status), run_id="run1"
    )
    assert restored == status and restored.samples == status.samples
    assert scenario.status == restored
    assert "samples" not in status_document(status)
