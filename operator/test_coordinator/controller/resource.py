"""The ChaosScenario resource as the operator writes it: status, annotations and Events."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import httpx2
from lightkube import ApiError, AsyncClient
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.core_v1 import EventSource, ObjectReference
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Event
from lightkube.types import PatchType

from test_coordinator.errors import PlatformError, PlatformUnavailable
from test_coordinator.platforms.kubernetes.retry import transient_status
from test_coordinator.reconcile.host import ABORT_ANNOTATION
from test_coordinator.scenario.crd import GROUP, PLURAL, VERSION
from test_coordinator.scenario.model import API_VERSION, KIND
from test_coordinator.scenario.status import ScenarioStatus, utcnow

__all__ = [
    "ABORT_ANNOTATION",
    "FINALIZER",
    "ChaosScenarioResource",
    "EventRecorder",
    "ObjectRef",
    "remove_annotation",
    "write_status",
]

FINALIZER = "chaos.tse.dev/finalizer"
ChaosScenarioResource = create_namespaced_resource(GROUP, VERSION, KIND, PLURAL)
_COMPONENT = "test-coordinator"
_MAX_MESSAGE = 1024  # what an Event's message keeps readable in `kubectl describe`

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ObjectRef:
    namespace: str
    name: str
    uid: str | None = None

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


def status_patch(status: ScenarioStatus) -> dict[str, Any]:
    """The merge patch that makes ``.status`` equal ``status``: fields now unset are removed
    (null), not left over from the previous run."""
    dumped: dict[str, Any] = status.model_dump(mode="json", by_alias=True, exclude_none=True)
    for name, field in type(status).model_fields.items():
        key = field.alias or name
        if key not in dumped and not field.exclude:
            dumped[key] = None
    return dumped


async def write_status(client: AsyncClient, ref: ObjectRef, status: ScenarioStatus) -> bool:
    """Patch the status subresource; False when the resource is gone."""
    try:
        await client.patch(
            ChaosScenarioResource.Status,
            ref.name,
            {"status": status_patch(status)},
            namespace=ref.namespace,
            patch_type=PatchType.MERGE,
        )
    except ApiError as error:
        if error.status.code == 404:
            return False
        raise _failure(f"cannot write the status of {ref}", error) from None
    except httpx2.HTTPError as error:
        raise _failure(f"cannot write the status of {ref}", error) from None
    return True


async def remove_annotation(client: AsyncClient, ref: ObjectRef, key: str) -> None:
    patch = {"metadata": {"annotations": {key: None}}}
    try:
        await client.patch(
            ChaosScenarioResource,
            ref.name,
            patch,
            namespace=ref.namespace,
            patch_type=PatchType.MERGE,
        )
    except ApiError as error:
        if error.status.code != 404:
            raise _failure(f"cannot remove the annotation {key} of {ref}", error) from None
    except httpx2.HTTPError as error:
        raise _failure(f"cannot remove the annotation {key} of {ref}", error) from None


def _failure(what: str, error: httpx2.HTTPError) -> PlatformError:
    """Passing (the API server's 429s and 5xx outlasted the client's retries, it did not
    answer): ``PlatformUnavailable``, which the status writer keeps retrying."""
    if isinstance(error, ApiError):
        code = error.status.code or 0
        kind = PlatformUnavailable if transient_status(code) else PlatformError
        return kind(f"{what}: {code} {error.status.reason or ''}: {error.status.message or ''}")
    if isinstance(error, httpx2.HTTPStatusError):
        code = error.response.status_code
        kind = PlatformUnavailable if transient_status(code) else PlatformError
        return kind(f"{what}: HTTP {code}")
    return PlatformUnavailable(f"{what}: {error or type(error).__name__}")


class EventRecorder:
    """Events on one resource, posted in the background: a run never waits for them, and
    ``drain`` waits for those still in flight (before a finalizer is released).

    Like client-go's recorder, it keeps a burst from flooding the API server: of one reason,
    ``_BURST`` Events go out at once and then one a second; the rest are told in one Event
    per second, "N more: …" (a scenario that kills 1,000 pods posts about 10 FaultApplied
    Events, not 1,000, and its faults are all in the status anyway). At most
    ``_IN_FLIGHT`` posts at a time, so that Events never take the connections the run needs."""

    _BURST = 10
    _IN_FLIGHT = 4

    def __init__(self, client: AsyncClient, ref: ObjectRef) -> None:
        self.client = client
        self.ref = ref
        self._pending: set[asyncio.Task[None]] = set()
        self._tokens: dict[str, tuple[float, float]] = {}  # reason → (tokens, as of when)
        self._held: dict[str, tuple[str, list[str]]] = {}  # reason → (kind, messages held)
        self._flushing: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(self._IN_FLIGHT)

    def normal(self, reason: str, message: str) -> None:
        self._emit("Normal", reason, message)

    def warning(self, reason: str, message: str) -> None:
        self._emit("Warning", reason, message)

    async def drain(self) -> None:
        for timer in list(self._flushing.values()):
            timer.cancel()
        self._flushing.clear()
        for reason in list(self._held):
            self._spawn(self._post_held(reason))
        await asyncio.gather(*self._pending, return_exceptions=True)

    def _emit(self, kind: str, reason: str, message: str) -> None:
        if self._take_token(reason):
            self._spawn(self._post(kind, reason, message))
            return
        held = self._held.setdefault(reason, (kind, []))[1]
        held.append(message)
        if reason not in self._flushing:
            self._flushing[reason] = self._spawn(self._post_held(reason, after=1.0))

    def _take_token(self, reason: str) -> bool:
        now = time.monotonic()
        tokens, then = self._tokens.get(reason, (float(self._BURST), now))
        tokens = min(float(self._BURST), tokens + (now - then))  # one more each second
        if tokens < 1.0:
            self._tokens[reason] = (tokens, now)
            return False
        self._tokens[reason] = (tokens - 1.0, now)
        return True

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return task

    async def _post_held(self, reason: str, *, after: float = 0.0) -> None:
        if after:
            await asyncio.sleep(after)
            self._flushing.pop(reason, None)
        kind, messages = self._held.pop(reason, ("Normal", []))
        if not messages:
            return
        told = "; ".join(messages)
        await self._post(kind, reason, f"{len(messages)} more: {told}", count=len(messages))

    async def _post(self, kind: str, reason: str, message: str, *, count: int = 1) -> None:
        async with self._slots:
            await self._create(kind, reason, message, count)

    async def _create(self, kind: str, reason: str, message: str, count: int) -> None:
        now = utcnow()
        event = Event(
            # Named as client-go's recorder names them: unique, and grouped by the object.
            metadata=ObjectMeta(
                name=f"{self.ref.name}.{uuid.uuid4().hex[:16]}", namespace=self.ref.namespace
            ),
            involvedObject=ObjectReference(
                apiVersion=API_VERSION,
                kind=KIND,
                name=self.ref.name,
                namespace=self.ref.namespace,
                uid=self.ref.uid,
            ),
            type=kind,
            reason=reason,
            message=message[:_MAX_MESSAGE],
            source=EventSource(component=_COMPONENT),
            reportingComponent=_COMPONENT,
            reportingInstance=socket.gethostname(),
            firstTimestamp=now,
            lastTimestamp=now,
            count=count,
        )
        try:
            await self.client.create(event)
        except ApiError as error:
            if error.status.code != 409:  # AlreadyExists: a retry of a create that had landed
                log.warning("could not post event %s on %s: %s", reason, self.ref, error)
        except Exception as error:  # an Event is a courtesy: never worth failing a run over
            log.warning("could not post event %s on %s: %s", reason, self.ref, error)
