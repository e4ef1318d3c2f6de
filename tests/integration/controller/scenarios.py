"""ChaosScenario specs and ways to read what the operator wrote, shared by the operator tests."""

from __future__ import annotations

from typing import Any

from tests.integration.controller.conftest import NAMESPACE
from tests.integration.kube import Cluster, until

TERMINAL = ("Succeeded", "Failed", "Aborted", "Invalid", "Error")
SCENARIOS = f"/apis/chaos.tse.dev/v1alpha1/namespaces/{NAMESPACE}/chaosscenarios"


def kill_spec(*, within: str = "10s", **extra: Any) -> dict[str, Any]:
    return {
        "targets": {"risk": {"selector": {"app": "risk"}}},
        "steps": [
            {
                "name": "crash risk",
                "fault": {"kill": {"target": "risk"}},
                "after": [
                    {"name": "risk ready", "workloadReady": {"name": "risk"}, "within": within}
                ],
            }
        ],
        **extra,
    }


def timed_spec(fault: dict[str, Any], duration: str = "60s") -> dict[str, Any]:
    return {
        "targets": {"risk": {"selector": {"app": "risk"}}},
        "steps": [{"name": "hold", "fault": fault, "duration": duration}],
    }


async def finished(kube: Cluster, name: str, *, within: float = 30.0) -> dict[str, Any]:
    status: dict[str, Any] = await until(
        lambda: (
            kube.status(NAMESPACE, name).get("phase") in TERMINAL and kube.status(NAMESPACE, name)
        ),
        within=within,
        what=f"scenario {name} finished",
    )
    return status


def reasons(kube: Cluster, name: str) -> list[str]:
    return [event["reason"] for event in kube.events(NAMESPACE, name)]


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == kind)


def versions(kube: Cluster, name: str) -> list[dict[str, Any]]:
    """Every status the resource has had, oldest first (the emulator keeps each version)."""
    return [
        version.get("status") or {}
        for version in kube.api.history("chaosscenarios", NAMESPACE, name)
        if version is not None
    ]


def events(kube: Cluster, name: str, reason: str) -> list[str]:
    """The messages of the resource's Events with ``reason``, in the order they were posted."""
    return [e["message"] for e in kube.events(NAMESPACE, name) if e["reason"] == reason]
