"""The kopf handlers: thin, they hand each resource to its reconciler.

Raw events (not kopf's change detection) drive the reconcilers, so that a resource seen again
after an operator restart is recovered like any other; the delete handler is what puts the
finalizer on every ChaosScenario and releases it once the reconciler has undone everything.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import random
from collections.abc import Iterable, Iterator
from typing import Any, cast

import kopf

from test_coordinator.controller.host import ResourceHost, desired_of, status_of
from test_coordinator.controller.resource import FINALIZER, ObjectRef
from test_coordinator.platforms.kubernetes import ApiClient, ClusterCache
from test_coordinator.reconcile.reconciler import Environment, ScenarioReconciler
from test_coordinator.scenario.crd import GROUP, PLURAL, VERSION

__all__ = ["Controller", "DiffBaseWithoutStatus", "build_registry"]

log = logging.getLogger(__name__)


class Controller:
    """Every reconciler of this operator, by resource."""

    def __init__(
        self,
        env: Environment,
        client: ApiClient,
        *,
        operator_namespace: str | None,
        cache: ClusterCache | None = None,
    ) -> None:
        self.env = env
        self.client = client
        self.cache = cache
        self.operator_namespace = operator_namespace
        self.supervisors: dict[tuple[str, str], ScenarioReconciler] = {}

    def _reconciler(self, ref: ObjectRef, body: dict[str, Any]) -> ScenarioReconciler:
        host = ResourceHost(
            self.client, ref, operator_namespace=self.operator_namespace, cache=self.cache
        )
        return ScenarioReconciler(host, desired_of(body), self.env, shown=status_of(body))

    def observe(self, event_type: str | None, body: dict[str, Any]) -> None:
        ref = _ref(body)
        key = (ref.namespace, ref.name)
        supervisor = self.supervisors.get(key)
        if supervisor is not None and ref.uid != _uid(supervisor) and event_type != "DELETED":
            supervisor = None  # deleted and created again under the same name
        if supervisor is None:
            if event_type == "DELETED" or body.get("metadata", {}).get("deletionTimestamp"):
                return  # released already, or the delete handler will see to it
            supervisor = self._reconciler(ref, body)
            self.supervisors[key] = supervisor
            supervisor.start()
        supervisor.observe(desired_of(body))

    async def release(self, body: dict[str, Any]) -> None:
        ref = _ref(body)
        supervisor = self.supervisors.pop((ref.namespace, ref.name), None)
        if supervisor is None or _uid(supervisor) != ref.uid:
            supervisor = self._reconciler(ref, body)  # deleted while we were away
        supervisor.observe(desired_of(body))
        await supervisor.release("the ChaosScenario was deleted")

    async def shutdown(self) -> None:
        supervisors, self.supervisors = list(self.supervisors.values()), {}
        reason = "the operator is shutting down"
        await asyncio.gather(*(s.shutdown(reason) for s in supervisors), return_exceptions=True)


def build_registry(controller: Controller) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.persistence.finalizer = FINALIZER
        # kopf's own bookkeeping in annotations: the structural schema would prune it from
        # status, which holds only what the model declares.
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
            prefix="chaos.tse.dev"
        )
        settings.persistence.diffbase_storage = DiffBaseWithoutStatus(
            prefix="chaos.tse.dev", key="last-handled-configuration"
        )
        settings.posting.level = logging.WARNING  # our own Events say what happened
        # kopf's own requests (the watch of ChaosScenarios, the finalizer's patches) retried
        # as ours are: every failure that passes (kopf retries 429, 5xx, 403 and timeouts,
        # never sooner than a Retry-After), with jittered backoff, for about a minute.
        settings.networking.error_backoffs = JitteredBackoffs((0.2, 0.5, 1, 2, 4, 8, 15, 30))
        settings.networking.request_timeout = 30.0
        settings.networking.connect_timeout = 10.0
        settings.watching.connect_timeout = 10.0
        settings.watching.server_timeout = 300.0  # the API server ends a watch; kopf resumes
        settings.watching.client_timeout = 330.0  # a watch silent past that is re-made
        settings.watching.reconnect_backoff = 1.0  # not 0.1 s: a failing server is not hammered

    @kopf.on.event(GROUP, VERSION, PLURAL, registry=registry)
    async def on_event(event: kopf.RawEvent, body: kopf.Body, **_: Any) -> None:
        # Not a deep copy of the whole body (its status can hold a thousand faults) for every
        # event: ``desired_of`` copies the parts it keeps, and ``status_of`` builds models.
        controller.observe(event.get("type"), dict(body))

    @kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry)
    async def on_delete(body: kopf.Body, **_: Any) -> None:
        # Never raises: a finalizer that cannot be released is the failure this avoids.
        try:
            await controller.release(copy.deepcopy(dict(body)))
        except Exception:
            log.exception("releasing %s failed; the finalizer is released anyway", _ref(body))

    @kopf.on.cleanup(registry=registry)
    async def on_cleanup(**_: Any) -> None:
        await controller.shutdown()

    return registry


class DiffBaseWithoutStatus(kopf.AnnotationsDiffBaseStorage):
    """kopf's diff-base in annotations, its essence built without copying the status first.

    The essence of a resource leaves its status out, but kopf deep-copies the whole body on
    every event before dropping it: a run's status can hold a thousand faults, and copying it
    was 5% of the operator's CPU in a 1,000-pod kill. A handler watching a status field
    (``extra_fields``) still gets kopf's own way; this operator has none."""

    def build(
        self,
        *,
        body: kopf.Body,
        extra_fields: Iterable[str | tuple[str, ...] | list[str] | None] | None = None,
    ) -> kopf.BodyEssence:
        if "status" in body and not extra_fields:
            rest = {key: value for key, value in body.items() if key != "status"}
            body = kopf.Body(cast(kopf.RawBody, rest))
        return super().build(body=body, extra_fields=extra_fields)


class JitteredBackoffs:
    """kopf's ``error_backoffs``, drawn afresh for every request it retries (kopf iterates
    them per request): each delay a random one up to its nominal value and no shorter than
    half of it, so that the requests a failure hit together do not come back together."""

    def __init__(self, nominal: tuple[float, ...]) -> None:
        self.nominal = nominal

    def __len__(self) -> int:
        return len(self.nominal)

    def __iter__(self) -> Iterator[float]:
        return (random.uniform(delay / 2, delay) for delay in self.nominal)


def _uid(reconciler: ScenarioReconciler) -> str | None:
    host = reconciler.host
    assert isinstance(host, ResourceHost)
    return host.ref.uid


def _ref(body: Any) -> ObjectRef:
    meta = body.get("metadata", {})
    return ObjectRef(namespace=meta.get("namespace", ""), name=meta["name"], uid=meta.get("uid"))
