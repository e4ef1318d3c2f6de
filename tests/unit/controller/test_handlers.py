"""kopf's diff-base, built without copying a run's status on every event."""

from __future__ import annotations

from typing import Any

import kopf
import pytest
from test_coordinator.controller.handlers import DiffBaseWithoutStatus

PREFIX, KEY = "chaos.tse.dev", "last-handled-configuration"


class Uncopyable:
    def __deepcopy__(self, memo: dict[int, Any]) -> Uncopyable:
        raise AssertionError("the status was deep-copied")


def scenario(status: dict[str, Any]) -> kopf.Body:
    return kopf.Body(
        {
            "apiVersion": "chaos.tse.dev/v1alpha1",
            "kind": "ChaosScenario",
            "metadata": {
                "name": "fleet",
                "namespace": "shop",
                "uid": "u-1",
                "resourceVersion": "7",
                "labels": {"team": "payments"},
                "annotations": {
                    "chaos.tse.dev/abort": "now",
                    "chaos.tse.dev/last-handled-configuration": '{"spec": {}}',
                    "kubectl.kubernetes.io/last-applied-configuration": "{}",
                },
            },
            "spec": {"targets": {"web": {"selector": {"app": "web"}}}, "steps": []},
            "status": status,
        }
    )


def test_the_essence_is_the_one_kopf_builds() -> None:
    body = scenario({"phase": "Running", "faults": [{"target": f"pod-{n}"} for n in range(3)]})

    ours = DiffBaseWithoutStatus(prefix=PREFIX, key=KEY).build(body=body)

    assert ours == kopf.AnnotationsDiffBaseStorage(prefix=PREFIX, key=KEY).build(body=body)
    assert ours["spec"] == body["spec"] and "status" not in ours


def test_the_status_is_not_copied() -> None:
    body = scenario({"faults": [Uncopyable()]})

    DiffBaseWithoutStatus(prefix=PREFIX, key=KEY).build(body=body)

    with pytest.raises(AssertionError, match="deep-copied"):  # what kopf's own build does
        kopf.AnnotationsDiffBaseStorage(prefix=PREFIX, key=KEY).build(body=body)


def test_a_status_field_a_handler_watches_stays_in_the_essence() -> None:
    body = scenario({"phase": "Running", "verdict": "Pass"})
    fields = ["status.phase"]

    ours = DiffBaseWithoutStatus(prefix=PREFIX, key=KEY).build(body=body, extra_fields=fields)

    assert ours == kopf.AnnotationsDiffBaseStorage(prefix=PREFIX, key=KEY).build(
        body=body, extra_fields=fields
    )
    assert ours["status"] == {"phase": "Running"}
