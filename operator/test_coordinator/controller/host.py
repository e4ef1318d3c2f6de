"""A ChaosScenario resource as the reconciler's host: the status subresource, Events, the abort
annotation, the Kubernetes platform in the resource's namespace, the journal in status.faults."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from test_coordinator.controller.resource import (
    ABORT_ANNOTATION,
    FINALIZER,
    EventRecorder,
    ObjectRef,
    remove_annotation,
    write_status,
)
from test_coordinator.platforms.kubernetes import ApiClient, ClusterCache, KubernetesPlatform
from test_coordinator.reconcile.host import Desired, ScenarioHost
from test_coordinator.scenario.model import ChaosScenario
from test_coordinator.scenario.status import ScenarioStatus

__all__ = ["ResourceHost", "desired_of", "status_of"]


class ResourceHost(ScenarioHost):
    def __init__(
        self,
        client: ApiClient,
        ref: ObjectRef,
        *,
        operator_namespace: str | None,
        cache: ClusterCache | None = None,
    ) -> None:
        self.client = client
        self.cache = cache  # the operator's watch-fed caches, which every run reads
        self.ref = ref
        self.operator_namespace = operator_namespace
        self.events = EventRecorder(client, ref)

    def __str__(self) -> str:
        return str(self.ref)

    async def write_status(self, status: ScenarioStatus) -> None:
        await write_status(self.client, self.ref, status)  # a resource gone is no error

    async def clear_abort_request(self) -> None:
        await remove_annotation(self.client, self.ref, ABORT_ANNOTATION)

    def platform(self, scenario: ChaosScenario) -> KubernetesPlatform:
        return self.undo_platform()

    def undo_platform(self) -> KubernetesPlatform:
        # Every Kubernetes revert works from the workload id alone: one kind of platform
        # serves runs and a restarted operator's undo alike.
        return KubernetesPlatform(
            self.client,
            self.ref.namespace,
            operator_namespace=self.operator_namespace,
            holder=self.ref.name,
            cache=self.cache,
        )


def desired_of(body: Mapping[str, Any]) -> Desired:
    meta = body.get("metadata", {})
    annotations = meta.get("annotations") or {}
    return Desired(
        document=_document(body),
        generation=int(meta.get("generation") or 0),
        # No fault before the finalizer guarantees it will be undone.
        may_run=not meta.get("deletionTimestamp") and FINALIZER in (meta.get("finalizers") or []),
        created_at=_created(meta),
        abort_requested=annotations.get(ABORT_ANNOTATION) == "true",
    )


def status_of(body: Mapping[str, Any]) -> ScenarioStatus:
    try:
        return ScenarioStatus.model_validate(body.get("status") or {})
    except ValueError:  # unreadable (another version, a hand edit): start afresh
        return ScenarioStatus()


def _document(body: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of the resource the scenario model reads (not status, not server fields)."""
    meta = body.get("metadata", {})
    return {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": {
            key: copy.deepcopy(meta[key])
            for key in ("name", "namespace", "labels", "annotations")
            if meta.get(key) is not None
        },
        "spec": copy.deepcopy(body.get("spec")),
    }


def _created(meta: Mapping[str, Any]) -> datetime | None:
    stamp = meta.get("creationTimestamp")
    if not stamp:
        return None
    return datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
