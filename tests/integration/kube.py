"""A Kubernetes API for tests: kmock's emulator, made to behave like an API server, plus
simulated Deployment, StatefulSet and kubelet controllers.

Mocked here, because no cluster can run on this machine: the API server and what the cluster's
controllers do. ``ApiServer`` adds what the product relies on and kmock leaves out: uid,
generation (bumped on spec changes only), resourceVersion, creationTimestamp, the status
subresource (a main-resource patch cannot touch status, a status patch touches only status), 409
Conflict for a write with a stale resourceVersion, label selectors on list and watch, list
kinds, graceful pod deletion (a pod deleted with a grace period stays, Terminating, until
the kubelet removes it), and watches from a resourceVersion: a list's version is a consistent
cut (no write half done), every write and deletion bumps the object's version, and a watch from
a version replays what happened since (410 Gone once that is older than the log kept).
``Workloads`` plays the controllers and the kubelet (see there). Owners carry the simulation's
knobs as annotations: ``sim.test/ready-delay`` (seconds until a new pod
is Ready), ``sim.test/shutdown-delay`` (seconds its container takes to exit on SIGTERM), and on
a Deployment ``sim.test/recreate: "false"`` (a deleted pod is not replaced).

``Trouble`` makes it a busy, failing API server for the operator's own requests (kopf's and the
API client's, told apart by their User-Agent): latency added to every answer, a share answered
429 with Retry-After, 500 or 503 (a 500 on a write sometimes after the write landed, as when
etcd commits and the answer is lost), watches cut off mid-stream. Requests of the simulated
controllers and of the tests themselves are never troubled: they stand for the cluster.
``requests`` counts every request by client, verb and resource.

Where the emulator still differs: a write to a Terminating pod (kmock collects it then) removes
it at once.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import datetime
import hashlib
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import aiohttp.web
import attrs
import kmock
import yaml
from kmock._internal import aiobus, dicts

REPO = Path(__file__).resolve().parents[2]
CRD_FILE = REPO / "crds" / "chaosscenario.yaml"
SCENARIOS = ("chaos.tse.dev", "v1alpha1", "chaosscenarios")
READY_DELAY = "sim.test/ready-delay"
RECREATE = "sim.test/recreate"
SHUTDOWN_DELAY = "sim.test/shutdown-delay"
REVISION = "controller-revision-hash"
OPERATOR_NAMESPACE = "test-coordinator-system"


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _key(request: Any) -> tuple[Any, str | None, str | None]:
    """kmock's key of the object a request names: by its path, else (a create) by its body."""
    meta = (request.data.get("metadata") if isinstance(request.data, dict) else None) or {}
    return (
        request.resource,
        request.namespace or meta.get("namespace"),
        request.name or meta.get("name"),
    )


def _selected(labels: Mapping[str, str], selector: str) -> bool:
    """``labelSelector`` as the API server reads it (equality and existence terms)."""
    for term in filter(None, selector.split(",")):
        if "!=" in term:
            key, _, value = term.partition("!=")
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, _, value = term.partition("=")
            if labels.get(key) != value.lstrip("="):
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


@dataclass
class Trouble:
    """How busy and unreliable the API server is for the operator's requests."""

    latency: float = 0.0
    """Seconds added before every answer (a watch: before its stream begins)."""
    error_rate: float = 0.0
    """The share of requests answered with one of ``errors`` instead."""
    errors: Sequence[int] = (429, 500, 503)
    retry_after: int = 1
    """Seconds a 429 asks the client to wait (``Retry-After``), as API Priority and Fairness."""
    lost_answers: float = 0.5
    """The share of 500s on writes given after the write landed (its answer lost)."""
    cut_watches_after: float | None = None
    """Watch streams begun while it is set are broken off after this many seconds (a load
    balancer's idle cut)."""

    def error(self) -> int | None:
        if self.error_rate and random.random() < self.error_rate:
            return random.choice(list(self.errors))
        return None


def _client_of(user_agent: str) -> str:
    """Whose request: the operator's API client, kopf, or the cluster (the simulated
    controllers and the tests, through kmock's client)."""
    if user_agent.startswith("kopf/"):
        return "kopf"
    if user_agent.startswith("python-httpx"):
        return "operator"
    return "cluster"


def _status(code: int, message: str, *, retry_after: int | None = None) -> aiohttp.web.Response:
    reasons = {409: "Conflict", 410: "Expired", 429: "TooManyRequests", 500: "InternalError"}
    reasons |= {503: "ServiceUnavailable", 504: "Timeout"}
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reasons.get(code, "InternalError"),
        "code": code,
    }
    headers = {}
    if retry_after is not None:
        body["details"] = {"retryAfterSeconds": retry_after}
        headers["Retry-After"] = str(retry_after)
    response = aiohttp.web.json_response(body, status=code, headers=headers)
    response.charset = None  # "application/json", exactly, as an API server says it
    return response


@attrs.mutable(weakref_slot=True)
class _LoggedBus(aiobus.Bus[Any]):
    """kmock's event bus of one resource, keeping the events by resourceVersion, so that a
    watch from a version can be replayed what happened since."""

    log: collections.deque[tuple[int, Any]] = attrs.field(
        factory=lambda: collections.deque(maxlen=50_000)
    )

    async def put(self, *items: Any) -> None:
        for item in items:
            if not isinstance(item, dict):
                continue
            version = (item.get("object") or {}).get("metadata", {}).get("resourceVersion")
            if str(version).isdigit():
                self.log.append((int(version), item))
        await super().put(*items)


class _DirectDispatch(kmock.RawHandler):
    """Serves the emulator's API requests straight from its handlers. kmock matches each
    request against every request it has ever seen (quadratic: minutes for the benchmarks);
    this emulator defines no reactions of its own, so nothing needs matching."""

    _KEEP = 200  # requests kept for kmock's own (rare) matching: discovery

    async def _handle(self, request: Any) -> Any:
        serve = {
            kmock.action.LIST: "_serve_list",
            kmock.action.WATCH: "_serve_watch",
            kmock.action.FETCH: "_serve_fetch",
            kmock.action.CREATE: "_serve_create",
            kmock.action.UPDATE: "_serve_update",
            kmock.action.DELETE: "_serve_delete",
        }.get(request.action)
        requests = self._requests
        if len(requests) > 2 * self._KEEP:
            del requests[: -self._KEEP]
        if serve is None or request.resource is None or not request.resource.plural:
            return await super()._handle(request)  # API discovery
        return await kmock.Response(payload=getattr(self, serve))(request)


class ApiServer(kmock.KubernetesEmulator, _DirectDispatch):
    """kmock's emulator with the API-server behaviour the operator depends on."""

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.versions = itertools.count(1)
        self.admission = asyncio.Lock()
        self.mutated = asyncio.Event()  # set after every write: the simulated controllers wake
        self.changed: set[tuple[str, str | None, str]] = set()
        """(plural, namespace, name) of every pod, Deployment and StatefulSet written since the
        simulated controllers last took this set: what their next pass looks at."""
        self._live: dict[str, dict[Any, Any]] = {}  # plural → key → kmock's object, not deleted
        self.namespaces: dict[str, dict[str, Any]] = {}
        self.deletions: list[tuple[float, str, str]] = []  # (monotonic, plural, name)
        self.grace_periods: list[tuple[str, int | None]] = []  # (pod, gracePeriodSeconds asked)
        self.trouble = Trouble()
        self.requests: collections.Counter[tuple[str, str, str]] = collections.Counter()
        """(client, method, resource plural or path) → how many requests."""
        self.troubled: collections.Counter[int] = collections.Counter()  # injected answers
        self._buses = collections.defaultdict(_LoggedBus)
        self._resource_keys: dict[str, set[Any]] = {}  # plural → kmock's resource keys seen
        self.resources.load_bundled()
        crd = yaml.safe_load(CRD_FILE.read_text())["spec"]
        self.resources["/".join(SCENARIOS)] = kmock.ResourceInfo(
            kind=crd["names"]["kind"],
            singular=crd["names"]["singular"],
            namespaced=True,
            verbs={"get", "list", "watch", "create", "update", "patch", "delete"},
            shortnames=set(crd["names"]["shortNames"]),
            categories=set(crd["names"]["categories"]),
            subresources=set(crd["versions"][0]["subresources"]),
        )

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        client = _client_of(raw_request.headers.get("User-Agent", ""))
        self.requests[client, raw_request.method, _plural(raw_request.path)] += 1
        trouble = self.trouble
        if client == "cluster":
            return await self._answer(raw_request)
        if trouble.latency:
            await asyncio.sleep(trouble.latency)
        code = trouble.error()
        if code is None:
            return await self._answer(raw_request)
        self.troubled[code] += 1
        if code == 500 and raw_request.method != "GET" and random.random() < trouble.lost_answers:
            await self._answer(raw_request)  # it lands; its answer is lost
            return _status(500, "etcdserver: request timed out")
        if code == 429:
            return _status(429, "too many requests, try again", retry_after=trouble.retry_after)
        return _status(code, "the server is currently unable to handle the request")

    async def _answer(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        # kmock reads /api/v1/namespaces/NAME as "namespace NAME", not as the Namespace object.
        path = raw_request.path.rstrip("/")
        response: aiohttp.web.StreamResponse
        if path == "/api/v1/namespaces" or (
            path.startswith("/api/v1/namespaces/") and path.count("/") == 4
        ):
            response = await self._serve_namespace(raw_request, path.rpartition("/")[2])
        else:
            response = await super().__call__(raw_request)
        # An API server says "application/json" with no charset, and clients (lightkube) only
        # read an error's Status when it says exactly that.
        if not response.prepared and response.content_type == "application/json":
            response.charset = None
        return response

    async def _serve_namespace(
        self, raw_request: aiohttp.web.BaseRequest, name: str
    ) -> aiohttp.web.StreamResponse:
        if raw_request.method == "POST":
            body = await raw_request.json()
            body["metadata"].update(uid=str(uuid.uuid4()), creationTimestamp=_now())
            self.namespaces[body["metadata"]["name"]] = body
            return aiohttp.web.json_response(body, status=201)
        if name == "namespaces":
            items = list(self.namespaces.values())
            return aiohttp.web.json_response({"kind": "NamespaceList", "items": items})
        if name not in self.namespaces:
            status = {"kind": "Status", "apiVersion": "v1", "code": 404, "reason": "NotFound"}
            status["message"] = f'namespaces "{name}" not found'
            return aiohttp.web.json_response(status, status=404)
        return aiohttp.web.json_response(self.namespaces[name])

    async def _handle(self, request: Any) -> Any:
        if request.resource is None or request.action not in (
            kmock.action.CREATE,
            kmock.action.UPDATE,
            kmock.action.DELETE,
        ):
            return await super()._handle(request)
        async with self.admission:
            await self._admit(request)
            if await self._terminate_gracefully(request):
                response = await _DirectDispatch._handle(self, request)  # the pod, Terminating
            else:
                response = await super()._handle(request)
            self._note_write(request)
        return response

    def _note_write(self, request: Any) -> None:
        """Keep the index of live objects by kind, and tell the simulated controllers."""
        key = _key(request)
        _, namespace, name = key
        plural = request.resource.plural
        obj = self.objects._objects.get(key)
        if obj is None or obj.deleted:
            self._live.get(plural, {}).pop(key, None)
        else:
            self._live.setdefault(plural, {})[key] = obj
        if plural in ("pods", "deployments", "statefulsets"):
            self.changed.add((plural, namespace, name))
            self.mutated.set()

    async def _terminate_gracefully(self, request: Any) -> bool:
        """A pod deleted with a grace period (its own when the request names none) is marked
        Terminating and left for the kubelet to remove; with 0 it goes at once (True: marked)."""
        key = (request.resource, request.namespace, request.name)
        if request.action != kmock.action.DELETE or request.resource.plural != "pods":
            return False
        if key not in self.objects or self.objects[key].deleted:
            return False
        pod = self.objects[key].raw
        requested = request.params.get("gracePeriodSeconds")
        self.grace_periods.append((request.name, None if requested is None else int(requested)))
        own = pod.get("spec", {}).get("terminationGracePeriodSeconds", 30)
        grace = int(requested if requested is not None else own)
        if grace == 0:
            return False
        if pod["metadata"].get("deletionTimestamp"):
            return True  # already on its way out
        deadline = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=grace)
        stamp = {
            "deletionTimestamp": deadline.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "deletionGracePeriodSeconds": grace,
            "resourceVersion": str(next(self.versions)),
        }
        self.objects[key].patch({"metadata": stamp})
        await self._buses[request.resource].put(
            {"type": "MODIFIED", "object": self.objects[key].raw}
        )
        return True

    async def _admit(self, request: Any) -> None:
        # Not .get(): kmock's resource table makes up an entry for any key it is asked for.
        info = self.resources[request.resource] if request.resource in self.resources else None  # noqa: SIM401
        has_status = info is not None and "status" in info.subresources
        data = request.data
        if request.action == kmock.action.CREATE and isinstance(data, dict):
            meta = data.setdefault("metadata", {})
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
            meta.update(
                uid=str(uuid.uuid4()),
                resourceVersion=str(next(self.versions)),
                creationTimestamp=_now(),
                generation=1,
            )
            if has_status and request.resource.plural == SCENARIOS[2]:
                data.pop("status", None)  # a custom resource's status comes only via /status
            return
        key = (request.resource, request.namespace, request.name)
        if key not in self.objects or self.objects[key].deleted:
            return  # the emulator answers 404
        current = self.objects[key].raw
        if request.action == kmock.action.DELETE:
            self.deletions.append((time.monotonic(), request.resource.plural, request.name))
            # A deletion is a change: its DELETED event carries a version of its own.
            self.objects[key].patch({"metadata": {"resourceVersion": str(next(self.versions))}})
            current = self.objects[key].raw
            meta = current.get("metadata", {})
            if meta.get("finalizers") and not meta.get("deletionTimestamp"):
                stamp = {"deletionTimestamp": _now(), "resourceVersion": str(next(self.versions))}
                self.objects[key].patch({"metadata": stamp})
                event = {"type": "MODIFIED", "object": self.objects[key].raw}
                await self._buses[request.resource].put(event)
            return
        if isinstance(data, list):
            self._admit_json_patch(current, data)
            return
        # A write naming a resourceVersion is an optimistic lock: stale, it is a 409 Conflict.
        asked = (data.get("metadata") or {}).get("resourceVersion")
        held = current.get("metadata", {}).get("resourceVersion")
        if asked is not None and asked != held:
            raise kmock.KubernetesError(
                status=409, reason="Conflict", message="the object has been modified"
            )
        if request.subresource == "status":
            for key_name in list(data):
                if key_name != "status":
                    del data[key_name]
        elif has_status:
            data.pop("status", None)
        merged = dicts.merge_patch_dict(current, data)
        meta = data.setdefault("metadata", {})
        generation = int(current.get("metadata", {}).get("generation") or 1)
        if merged.get("spec") != current.get("spec"):
            generation += 1
        meta.update(resourceVersion=str(next(self.versions)), generation=generation)

    def _admit_json_patch(self, current: dict[str, Any], ops: list[dict[str, Any]]) -> None:
        """A failed ``test`` (kopf's optimistic lock on resourceVersion) is a 422, as on a real
        API server, so that the client re-reads and retries instead of repeating itself."""
        for op in ops:
            if op.get("op") != "test":
                continue
            node: Any = current
            for part in op["path"].strip("/").split("/"):
                node = node.get(part) if isinstance(node, dict) else None
            if node != op.get("value"):
                raise kmock.KubernetesError(
                    status=422, reason="Invalid", message=f"test of {op['path']} failed"
                )
        version = str(next(self.versions))
        ops.append({"op": "add", "path": "/metadata/resourceVersion", "value": version})

    # Reads and write answers by the object's key: kmock's own find every object by comparing
    # the request with each stored one, which makes a burst of 1,000 deletes quadratic.

    def _stored(self, request: Any) -> Any:
        """The stored object a request names (None when it never existed)."""
        return self.objects._objects.get(_key(request))

    async def _serve_fetch(self, request: Any) -> Any:
        obj = self._stored(request)
        if request.name is None or obj is None or obj.deleted:
            return await super()._serve_fetch(request)  # its 404
        return obj.raw

    async def _serve_create(self, request: Any) -> Any:
        return self._stored(request).raw  # stored by _handle() just before

    async def _serve_update(self, request: Any) -> Any:
        obj = self._stored(request)
        if request.name is None or obj is None:
            return await super()._serve_update(request)
        return obj.last.raw  # released by this very write (finalizers gone): its last state

    async def _serve_delete(self, request: Any) -> Any:
        obj = self._stored(request)
        if request.name is None or obj is None:
            return await super()._serve_delete(request)
        return obj.last.raw

    async def _serve_list(self, request: Any) -> Any:
        # A consistent cut: no write half done, every later write gets a later version.
        async with self.admission:
            listed = [
                obj.raw
                for (resource, namespace, _), obj in self.objects.items()
                if resource.plural == request.resource.plural
                and resource == request.resource
                and request.namespace in (None, namespace)
                and not obj.deleted
            ]
            if not listed:  # an unknown resource is kmock's 404
                listed = (await super()._serve_list(request))["items"]
            version = str(next(self.versions))
        selector = request.params.get("labelSelector", "")
        items = [
            item
            for item in listed
            if _selected(item.get("metadata", {}).get("labels") or {}, selector)
        ]
        kind = self.resources[request.resource].kind or "Object"
        return {"kind": f"{kind}List", "metadata": {"resourceVersion": version}, "items": items}

    async def _serve_watch(self, request: Any) -> AsyncIterator[Any]:
        """From a resourceVersion: what happened since, then what happens. Without one: every
        object as ADDED, then what happens."""
        selector = request.params.get("labelSelector", "")
        since = request.params.get("resourceVersion") or "0"
        bus = self._buses[request.resource]
        yield b""  # the headers go out at once, as a watch's do
        async with self.admission:  # replay and live stream meet exactly: no write in between
            mark = await bus.mark()
            if since == "0":
                replay = [
                    {"type": "ADDED", "object": obj.raw}
                    for (resource, namespace, _), obj in self.objects.items()
                    if resource == request.resource
                    and request.namespace in (None, namespace)
                    and not obj.deleted
                ]
            elif bus.log and len(bus.log) == bus.log.maxlen and int(since) < bus.log[0][0]:
                replay = [_expired(since)]
            else:
                replay = [event for version, event in bus.log if version > int(since)]
        began = time.monotonic()

        def wanted(event: Any) -> bool:
            obj = event.get("object", {}) if isinstance(event, dict) else {}
            meta = obj.get("metadata", {})
            if event.get("type") == "ERROR":
                return True
            return request.namespace in (None, meta.get("namespace")) and _selected(
                meta.get("labels") or {}, selector
            )

        try:
            for event in filter(wanted, replay):
                yield event
                if event.get("type") == "ERROR":
                    return
            cut = self.trouble.cut_watches_after  # as it is when the watch begins
            if cut is None:
                async for event in bus.stream(since=mark):
                    if wanted(event):
                        yield event
            live = bus.stream(since=mark).__aiter__()
            step: asyncio.Future[Any] | None = None
            try:
                while True:
                    # The next event is awaited in a task of its own, so that the wait can end
                    # at the cut without cancelling the stream inside this generator.
                    step = step or asyncio.ensure_future(anext(live))
                    left = began + (cut or 0.0) - time.monotonic()
                    await asyncio.wait({step}, timeout=max(0.0, left))
                    if not step.done():
                        raise ConnectionResetError("the watch was cut off")  # a broken stream
                    event, step = step.result(), None
                    if wanted(event):
                        yield event
            finally:
                if step is not None:
                    step.cancel()
        finally:
            await bus.unmark(mark)

    # reading state in tests, without going through HTTP

    def get(self, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.stored(plural, namespace, name))

    def stored(self, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The stored object itself, not a copy: for readers that never change it (a poll of a
        status with 1,000 faults, every 50 ms, would otherwise copy it each time)."""
        obj = self._find(plural, namespace, name)
        return None if obj is None or obj.deleted else obj.raw

    def _find(self, plural: str, namespace: str | None, name: str) -> Any:
        """The stored object by its key: one lookup, not a scan (the benchmarks hold
        thousands), once the key's resource has been seen."""
        stored = self.objects._objects  # kmock's dict behind the view, keyed by the address
        for resource in self._resource_keys.get(plural, ()):
            found = stored.get((resource, namespace, name))
            if found is not None:
                return found
        for (resource, ns, obj_name), obj in self.objects.items():
            if resource.plural == plural and ns == namespace and obj_name == name:
                self._resource_keys.setdefault(plural, set()).add(resource)
                return obj
        return None

    def list(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(obj.raw)
            for (_, ns, _), obj in self._live.get(plural, {}).items()
            if namespace in (None, ns)
        ]

    def raw(self, plural: str) -> list[dict[str, Any]]:
        """The stored objects themselves, not copies: for readers that never change them (by
        kind from an index: the store also holds every object ever deleted)."""
        return [obj.raw for obj in self._live.get(plural, {}).values()]

    def history(self, plural: str, namespace: str, name: str) -> list[dict[str, Any] | None]:
        obj = self._find(plural, namespace, name)
        if obj is None:
            return []
        return [None if v is None else copy.deepcopy(v.raw) for v in obj.history]


def _plural(path: str) -> str:
    """The resource a request is about (``pods``, ``chaosscenarios``, ``status``), by its path."""
    parts = [part for part in path.split("/") if part]
    if "namespaces" in parts:
        index = parts.index("namespaces")
        rest = parts[index + 2 :]
        if len(parts) == index + 2 and parts[:2] == ["api", "v1"]:
            return "namespaces"
        return "/".join(rest[:1] + rest[2:3]) if rest else "namespaces"
    return parts[-1] if parts else ""


def _expired(since: str) -> dict[str, Any]:
    return {
        "type": "ERROR",
        "object": {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "message": f"too old resource version: {since}",
            "reason": "Expired",
            "code": 410,
        },
    }


def _ready(pod: Mapping[str, Any]) -> bool:
    """Ready and staying: a terminating pod is on its way out, whatever its last condition."""
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return False
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _terminating(pod: Mapping[str, Any]) -> bool:
    return bool(pod.get("metadata", {}).get("deletionTimestamp"))


def _template_hash(template: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


def _matches(pod: Mapping[str, Any], namespace: str, selector: Mapping[str, str]) -> bool:
    meta = pod["metadata"]
    labels = meta.get("labels") or {}
    return meta["namespace"] == namespace and all(labels.get(k) == v for k, v in selector.items())


class Workloads:
    """The simulated controllers and kubelet, writing through the API like theirs.

    - ReplicaSet/Deployment controller: keeps a Deployment at its replica count (a deleted pod
      comes back under a new name); on a template change it rolls with one surge pod and none
      unavailable (what the defaults amount to for fewer than four replicas): a new pod first,
      an old one deleted once the new one is Ready.
    - StatefulSet controller (OrderedReady, RollingUpdate): pods ``NAME-0`` … ``NAME-N-1``,
      created one at a time in order, each once the one before is Ready; a deleted pod comes
      back under the same name once the old one is gone; scaled down from the highest ordinal;
      a template change replaces pods from the highest ordinal, one at a time, each once the
      others are Ready; ``currentRevision`` catches up with ``updateRevision`` when all are.
    - kubelet: marks a new pod Ready after its owner's ``sim.test/ready-delay``; a pod deleted
      gracefully stays Terminating until its container exits (``sim.test/shutdown-delay``) or
      its grace period runs out, whichever is first, then is removed.
    """

    def __init__(self, api: ApiServer) -> None:
        self.api = api
        self.tasks: dict[str, asyncio.Task[None]] = {}  # kubelet work: "start UID", "stop UID"
        self.created: list[tuple[float, str]] = []  # (monotonic, pod name) of every pod made
        self.deleted_pods: list[tuple[float, str]] = []  # noticed deletions (monotonic, name)
        self._known: set[tuple[str, str, str]] = set()
        self._labels: dict[tuple[str, str], dict[str, str]] = {}  # pod → its labels, last pass
        self._owners_created: set[tuple[str, str]] = set()  # (kind, name) that made a pod
        self._first_pass = True

    async def run(self) -> None:
        while True:
            self.api.mutated.clear()
            await self.reconcile()
            await self.api.mutated.wait()

    async def reconcile(self) -> None:
        """One pass over the owners that a write since the last pass concerns: the owner
        itself, or a pod that it selects (or selected, before a change of labels); not every
        owner on every write (a hundred Deployments in the benchmarks)."""
        changed, self.api.changed = self.api.changed, set()
        pods = self.api.raw("pods")
        alive = {
            (p["metadata"]["namespace"], p["metadata"]["name"], p["metadata"]["uid"]) for p in pods
        }
        for gone in self._known - alive:
            self.deleted_pods.append((time.monotonic(), gone[1]))
        self._known = alive
        by_label: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        labels_now: dict[tuple[str, str], dict[str, str]] = {}
        for pod in pods:
            if _terminating(pod) and f"stop {pod['metadata']['uid']}" not in self.tasks:
                self._kubelet(f"stop {pod['metadata']['uid']}", self._stop(pod))
            namespace = pod["metadata"]["namespace"]
            labels = pod["metadata"].get("labels") or {}
            labels_now[namespace, pod["metadata"]["name"]] = labels
            for pair in labels.items():
                by_label.setdefault((namespace, *pair), []).append(pod)
        touched = [  # (namespace, labels) of the pods written, as they are and as they were
            (pod[0], labels)
            for plural, *pod in changed
            if plural == "pods"
            for labels in (labels_now.get((pod[0], pod[1])), self._labels.get((pod[0], pod[1])))
            if labels is not None
        ]
        self._labels = labels_now
        first, self._first_pass = self._first_pass, False

        def concerned(owner: dict[str, Any], plural: str) -> bool:
            meta = owner["metadata"]
            if first or (plural, meta["namespace"], meta["name"]) in changed:
                return True
            wanted = owner["spec"]["selector"]["matchLabels"].items()
            return any(
                ns == meta["namespace"] and labels.items() >= wanted for ns, labels in touched
            )

        def candidates(owner: dict[str, Any]) -> list[dict[str, Any]]:
            # The pods with one of the owner's labels: not every pod for each owner (a
            # thousand Deployments of one pod each in the benchmarks).
            wanted = owner["spec"]["selector"]["matchLabels"]
            first = next(iter(wanted.items()), None)
            if first is None:
                return pods
            return by_label.get((owner["metadata"]["namespace"], *first), [])

        for deployment in self.api.raw("deployments"):
            if concerned(deployment, "deployments"):
                await self._reconcile_deployment(deployment, candidates(deployment))
        for statefulset in self.api.raw("statefulsets"):
            if concerned(statefulset, "statefulsets"):
                await self._reconcile_statefulset(statefulset, candidates(statefulset))

    # the Deployment controller

    async def _reconcile_deployment(
        self, deployment: dict[str, Any], pods: list[dict[str, Any]]
    ) -> None:
        meta, spec = deployment["metadata"], deployment["spec"]
        namespace, name = meta["namespace"], meta["name"]
        wanted = int(spec.get("replicas", 1))
        template_hash = _template_hash(spec["template"])
        selector = spec["selector"]["matchLabels"]
        current: list[dict[str, Any]] = []
        stale: list[dict[str, Any]] = []
        for pod in pods:
            if _matches(pod, namespace, selector) and not _terminating(pod):
                fresh = pod["metadata"]["labels"].get("pod-template-hash") == template_hash
                (current if fresh else stale).append(pod)
        for pod in current[wanted:]:
            await self._delete(pod)
        current = current[:wanted]
        # Old pods go while as many pods as wanted stay Ready; unready ones go at once.
        ready = sum(1 for p in current + stale if _ready(p))
        for pod in sorted(stale, key=_ready):
            if _ready(pod) and ready - 1 < wanted:
                break
            ready -= _ready(pod)
            await self._delete(pod)
            stale.remove(pod)
        recreate = (meta.get("annotations") or {}).get(RECREATE, "true") != "false"
        if recreate or ("Deployment", name) not in self._owners_created:
            most = wanted + (1 if stale else 0) - len(stale)  # one surge pod during a rollout
            while len(current) < min(wanted, most):
                labels = {
                    **spec["template"]["metadata"]["labels"],
                    "pod-template-hash": template_hash,
                }
                pod_name = f"{name}-{uuid.uuid4().hex[:10]}"  # 5 hex digits collide among 1,000
                current.append(await self._create_pod(deployment, pod_name, labels))
        ready = sum(1 for p in current + stale if _ready(p))
        await self._write_status(
            deployment,
            "deployments",
            {
                "observedGeneration": meta.get("generation", 1),
                "replicas": len(current) + len(stale),
                "updatedReplicas": len(current),
                "readyReplicas": ready,
                "availableReplicas": ready,
            },
        )

    # the StatefulSet controller

    async def _reconcile_statefulset(
        self, statefulset: dict[str, Any], pods: list[dict[str, Any]]
    ) -> None:
        meta, spec = statefulset["metadata"], statefulset["spec"]
        namespace, name = meta["namespace"], meta["name"]
        wanted = int(spec.get("replicas", 1))
        revision = f"{name}-{_template_hash(spec['template'])}"
        selector = spec["selector"]["matchLabels"]
        ordinals: dict[int, dict[str, Any]] = {}
        for pod in pods:
            prefix, _, ordinal = pod["metadata"]["name"].rpartition("-")
            if prefix == name and ordinal.isdigit() and _matches(pod, namespace, selector):
                ordinals[int(ordinal)] = pod
        await self._step_statefulset(statefulset, ordinals, wanted, revision)
        live = [p for p in ordinals.values() if not _terminating(p)]
        updated = sum(1 for p in live if p["metadata"]["labels"].get(REVISION) == revision)
        ready = sum(1 for p in live if _ready(p))
        current_revision = (statefulset.get("status") or {}).get("currentRevision") or revision
        if updated == ready == len(live) == wanted:
            current_revision = revision
        await self._write_status(
            statefulset,
            "statefulsets",
            {
                "observedGeneration": meta.get("generation", 1),
                "replicas": len(live),
                "readyReplicas": ready,
                "availableReplicas": ready,
                "updatedReplicas": updated,
                "currentReplicas": sum(
                    1 for p in live if p["metadata"]["labels"].get(REVISION) == current_revision
                ),
                "currentRevision": current_revision,
                "updateRevision": revision,
            },
        )

    async def _step_statefulset(
        self,
        statefulset: dict[str, Any],
        ordinals: dict[int, dict[str, Any]],
        wanted: int,
        revision: str,
    ) -> None:
        """One change at a time, as OrderedReady does; the next comes with the next event."""
        for ordinal in range(wanted):
            pod = ordinals.get(ordinal)
            if pod is None:
                name = f"{statefulset['metadata']['name']}-{ordinal}"
                labels = dict(statefulset["spec"]["template"]["metadata"]["labels"])
                labels.update({REVISION: revision, "statefulset.kubernetes.io/pod-name": name})
                await self._create_pod(statefulset, name, labels)
                return
            if not _ready(pod):
                return  # starting or terminating: the next one waits for it
        condemned = sorted((o for o in ordinals if o >= wanted), reverse=True)
        if condemned:
            if not _terminating(ordinals[condemned[0]]):
                await self._delete(ordinals[condemned[0]])
            return
        for ordinal in sorted(ordinals, reverse=True):
            if ordinals[ordinal]["metadata"]["labels"].get(REVISION) != revision:
                await self._delete(ordinals[ordinal])
                return

    # the kubelet

    async def _create_pod(
        self, owner: dict[str, Any], name: str, labels: dict[str, str]
    ) -> dict[str, Any]:
        meta, template = owner["metadata"], owner["spec"]["template"]
        namespace = meta["namespace"]
        annotations = meta.get("annotations") or {}
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": labels,
                "annotations": {
                    key: annotations[key]
                    for key in (READY_DELAY, SHUTDOWN_DELAY)
                    if key in annotations
                },
            },
            "spec": copy.deepcopy(template["spec"]),
            # Loopback: no check in these tests connects to a pod, and none ever leaves here.
            "status": {
                "phase": "Running",
                "podIP": "127.0.0.1",
                "conditions": [{"type": "Ready", "status": "False"}],
            },
        }
        created = await self._write("POST", f"/api/v1/namespaces/{namespace}/pods", pod)
        self.created.append((time.monotonic(), name))
        self._owners_created.add((owner["kind"], meta["name"]))
        delay = float(annotations.get(READY_DELAY, "0"))
        self._kubelet(f"start {created['metadata']['uid']}", self._start(created, delay))
        return created

    def _kubelet(self, key: str, work: Coroutine[Any, Any, None]) -> None:
        self.tasks[key] = asyncio.create_task(work)

    async def _start(self, pod: dict[str, Any], delay: float) -> None:
        await asyncio.sleep(delay)  # the simulated start-up time of the container
        meta = pod["metadata"]
        now = self.api.get("pods", meta["namespace"], meta["name"])
        if now is None or now["metadata"]["uid"] != meta["uid"] or _terminating(now):
            return  # gone, or going, before it ever became Ready
        ready = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
        path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/status"
        await self._write("PATCH", path, ready)

    async def _stop(self, pod: dict[str, Any]) -> None:
        """SIGTERM, then the pod is removed when its container exits or its grace runs out."""
        meta = pod["metadata"]
        shutdown = float((meta.get("annotations") or {}).get(SHUTDOWN_DELAY, "0"))
        await asyncio.sleep(min(shutdown, float(meta.get("deletionGracePeriodSeconds") or 0)))
        now = self.api.get("pods", meta["namespace"], meta["name"])
        if now is not None and now["metadata"]["uid"] == meta["uid"]:
            path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"
            await self._write("DELETE", f"{path}?gracePeriodSeconds=0", None)

    async def _delete(self, pod: dict[str, Any]) -> None:
        """As the controllers do: with the pod's own grace period."""
        meta = pod["metadata"]
        await self._write(
            "DELETE", f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}", None
        )

    async def _write_status(
        self, owner: dict[str, Any], plural: str, status: dict[str, Any]
    ) -> None:
        if {k: (owner.get("status") or {}).get(k) for k in status} == status:
            return
        meta = owner["metadata"]
        path = f"/apis/apps/v1/namespaces/{meta['namespace']}/{plural}/{meta['name']}/status"
        await self._write("PATCH", path, {"status": status})

    async def _write(self, method: str, path: str, body: Any) -> Any:
        headers = {"Content-Type": "application/merge-patch+json"} if method == "PATCH" else {}
        async with self.api.request(method, path, json=body, headers=headers) as response:
            if response.status >= 400 and response.status != 404:
                raise AssertionError(f"{method} {path}: {response.status} {await response.text()}")
            return await response.json() if response.status < 400 else None

    async def close(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)


@dataclass
class Cluster:
    """An API server on loopback with simulated workloads, and what tests do to it."""

    api: ApiServer
    url: str
    kubeconfig: Path
    workloads: Workloads
    scenarios: list[tuple[str, str]] = field(default_factory=list)

    async def apply(self, path: str, obj: dict[str, Any]) -> dict[str, Any]:
        async with self.api.post(path, json=obj) as response:
            body: dict[str, Any] = await response.json()
            assert response.status < 400, body
            return body

    async def patch(self, path: str, patch: dict[str, Any]) -> None:
        headers = {"Content-Type": "application/merge-patch+json"}
        async with self.api.patch(path, json=patch, headers=headers) as response:
            assert response.status < 400, await response.text()

    async def delete(self, path: str) -> None:
        async with self.api.delete(path) as response:
            assert response.status < 400, await response.text()

    async def namespace(self, name: str, *, enabled: bool = True) -> None:
        labels = {"chaos.tse.dev/enabled": "true"} if enabled else {}
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        body["metadata"]["labels"] = labels  # type: ignore[index]
        await self.apply("/api/v1/namespaces", body)

    async def deployment(
        self,
        namespace: str,
        name: str,
        *,
        replicas: int = 1,
        ready_delay: float = 0.0,
        shutdown_delay: float = 0.0,
        recreate: bool = True,
        ports: Mapping[str, int] | None = None,
    ) -> None:
        annotations = {RECREATE: "true" if recreate else "false"}
        await self._owner(
            namespace,
            name,
            "deployments",
            replicas=replicas,
            annotations=annotations,
            delays=(ready_delay, shutdown_delay),
            ports=ports,
        )

    async def statefulset(
        self,
        namespace: str,
        name: str,
        *,
        replicas: int = 1,
        ready_delay: float = 0.0,
        shutdown_delay: float = 0.0,
    ) -> None:
        await self._owner(
            namespace, name, "statefulsets", replicas=replicas, delays=(ready_delay, shutdown_delay)
        )

    async def _owner(
        self,
        namespace: str,
        name: str,
        plural: str,
        *,
        replicas: int,
        delays: tuple[float, float],
        annotations: Mapping[str, str] | None = None,
        ports: Mapping[str, int] | None = None,
    ) -> None:
        labels = {"app": name}
        container: dict[str, Any] = {"name": name, "image": "test-coordinator:dev"}
        if ports:
            container["ports"] = [{"name": n, "containerPort": p} for n, p in ports.items()]
        spec: dict[str, Any] = {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        }
        if plural == "statefulsets":
            spec["serviceName"] = name
        await self.apply(
            f"/apis/apps/v1/namespaces/{namespace}/{plural}",
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet" if plural == "statefulsets" else "Deployment",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "annotations": {
                        READY_DELAY: str(delays[0]),
                        SHUTDOWN_DELAY: str(delays[1]),
                        **(annotations or {}),
                    },
                },
                "spec": spec,
            },
        )

    async def scenario(self, namespace: str, name: str, spec: dict[str, Any], **meta: Any) -> None:
        body = {
            "apiVersion": "chaos.tse.dev/v1alpha1",
            "kind": "ChaosScenario",
            "metadata": {"name": name, "namespace": namespace, **meta},
            "spec": spec,
        }
        await self.apply(
            f"/apis/chaos.tse.dev/v1alpha1/namespaces/{namespace}/chaosscenarios", body
        )

    def status(self, namespace: str, name: str) -> dict[str, Any]:
        obj = self.api.get("chaosscenarios", namespace, name)
        return (obj or {}).get("status") or {}

    def pods(self, namespace: str, app: str) -> list[dict[str, Any]]:
        return [
            p
            for p in self.api.list("pods", namespace)
            if p["metadata"].get("labels", {}).get("app") == app
        ]

    def events(self, namespace: str, name: str) -> list[dict[str, Any]]:
        return [
            e
            for e in self.api.list("events", namespace)
            if e.get("involvedObject", {}).get("name") == name
        ]

    async def ready(self, namespace: str, app: str, count: int, *, within: float = 10.0) -> None:
        await until(
            lambda: sum(1 for p in self.pods(namespace, app) if _ready(p)) >= count,
            within=within,
            what=f"{count} ready pods of {app}",
        )


async def until(
    condition: Callable[[], Any], *, within: float, what: str, every: float = 0.05
) -> Any:
    """Poll ``condition`` until it is truthy (returned) or ``within`` seconds run out."""
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not true within {within}s: {what}")
        await asyncio.sleep(every)


def write_kubeconfig(path: Path, *, cluster: dict[str, Any], user: dict[str, Any]) -> Path:
    """A kubeconfig of one context: ``cluster`` (its server, its CA) and ``user`` (a token, a
    token file, a client certificate)."""
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "k", "cluster": cluster}],
                "users": [{"name": "u", "user": user}],
                "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
                "current-context": "c",
            }
        )
    )
    return path


@contextlib.asynccontextmanager
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    """The emulated API server on loopback, the simulated workloads running, and a kubeconfig."""
    async with ApiServer() as api, kmock.Server(api) as server:
        url = str(server.url).rstrip("/")
        kubeconfig = write_kubeconfig(
            tmp_path / "kubeconfig", cluster={"server": url}, user={"token": "unused"}
        )
        workloads = Workloads(api)
        simulation = asyncio.create_task(workloads.run())
        try:
            yield Cluster(api, url, kubeconfig, workloads)
        finally:
            simulation.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await simulation
            await workloads.close()


@dataclass
class Operator:
    """``test-coordinator operator`` as a process of its own, talking to the emulator."""

    proc: asyncio.subprocess.Process
    log: Path
    health_port: int
    grpc_port: int

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def crash(self) -> None:
        """SIGKILL: no clean-up of any kind, as when a node dies under the operator."""
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        """SIGTERM, as a rollout would: the operator undoes its faults on the way out."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout=20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def start_operator(
    cluster: Cluster,
    log: Path,
    *,
    ports: tuple[int, int],
    give_up_after: str = "3s",
    extra: Sequence[str] = (),
) -> Operator:
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    env.pop("POD_NAMESPACE", None)
    argv = [
        sys.executable,
        "-m",
        "test_coordinator.cli",
        "operator",
        "--bind",
        "127.0.0.1",
        "--health-port",
        str(ports[0]),
        "--grpc-health-port",
        str(ports[1]),
        "--operator-namespace",
        OPERATOR_NAMESPACE,
        "--give-up-after",
        give_up_after,
        "--log-format",
        "plain",
        *extra,
    ]
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=out, stderr=subprocess.STDOUT, env=env
        )
    operator = Operator(proc, log, *ports)
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as session:
        while True:
            if proc.returncode is not None:
                raise AssertionError(f"the operator exited:\n{operator.output()[-3000:]}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{ports[0]}/readyz") as response:
                    if response.status == 200:
                        return operator
            if time.monotonic() > deadline:
                await operator.stop()
                raise AssertionError(f"the operator is not ready:\n{operator.output()[-3000:]}")
            await asyncio.sleep(0.1)
