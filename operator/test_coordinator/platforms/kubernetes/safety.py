"""Where chaos may land on a cluster: only namespaces that opted in, never the system's own."""

from __future__ import annotations

from collections.abc import Mapping

from test_coordinator.errors import ScenarioInvalid

__all__ = ["ENABLED_LABEL", "SYSTEM_NAMESPACES", "refusal"]

ENABLED_LABEL = "chaos.tse.dev/enabled"
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})


def refusal(
    namespace: str, labels: Mapping[str, str] | None, *, operator_namespace: str | None
) -> ScenarioInvalid | None:
    """Why faults may not land in ``namespace`` (with ``labels``, None: it does not exist), as
    a problem that says what to change; None when they may."""
    if namespace in SYSTEM_NAMESPACES:
        return ScenarioInvalid(
            f"metadata.namespace: {namespace} is a system namespace, which chaos never touches; "
            "create the scenario in the namespace of the application under test"
        )
    if namespace == operator_namespace:
        return ScenarioInvalid(
            f"metadata.namespace: {namespace} is the operator's own namespace, which chaos never "
            "touches; create the scenario in the namespace of the application under test"
        )
    if labels is None:
        return ScenarioInvalid(f"metadata.namespace: namespace {namespace} does not exist")
    if labels.get(ENABLED_LABEL) != "true":
        return ScenarioInvalid(
            f"metadata.namespace: namespace {namespace} does not allow chaos: label it with "
            f"`kubectl label namespace {namespace} {ENABLED_LABEL}=true`"
        )
    return None
