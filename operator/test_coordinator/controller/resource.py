"""The ChaosScenario resource as the operator writes it: status, annotations and Events."""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
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
    ``drain`` waits for those still in flight (before a finalizer is released)."""

    def __init__(self, client: AsyncClient, ref: ObjectRef) -> None:
        self.client = client
        self.ref = ref
        self._pending: set[asyncio.Task[None]] = set()

    def normal(self, reason: str, message: str) -> None:
        self._emit("Normal", reason, message)

    def warning(self, reason: str, message: str) -> None:
        self._emit("Warning", reason, message)

    async def drain(self) -> None:
        await asyncio.gather(*self._pending, return_exceptions=True)

    def _emit(self, kind: str, reason: str, message: str) -> None:
        task = asyncio.create_task(self._post(kind, reason, message))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _post(self, kind: str, reason: str, message: str) -> None:
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
            count=1,
        )
        try:
            await self.client.create(event)
        except ApiError as error:
            if error.status.code != 409:  # AlreadyExists: a retry of a create that had landed
                log.warning("could not post event %s on %s: %s", reason, self.ref, error)
        except Exception as error:  # an Event is a courtesy: never worth failing a run over
            log.warning("could not post event %s on %s: %s", reason, self.ref, error)
