"""Pods in one namespace as workloads: faults by the Kubernetes API, never by node access.

A workload's id names its kind: ``pod/risk-7d9f``, or for faults that act on what owns the pods
(``scale``, ``rolloutRestart``) ``deployment/risk`` or ``statefulset/ledger``, or for network
faults the fault proxy's Service in front of the pods' Service, ``service/risk-monitor-proxy``
(``proxies.py``). Every revert works from the id alone, so that an operator restarted after a
crash can undo what its status recorded.

Reads (selection, owners, Services, ``endpoint``, ``workloadReady``) come from watch-fed caches
(``cache.py``) that a whole operator shares; what the platform writes goes to the API server,
after a fresh read where a write depends on what is there (the held-by lock). A read that
cannot be made is ``ObservationUnavailable``: the coordinator's failure, not the system's.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import httpx2
from lightkube import ApiError
from lightkube.models.apps_v1 import DeploymentStatus, StatefulSetStatus
from lightkube.models.core_v1 import PodStatus, ServicePort
from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
from lightkube.models.networking_v1 import NetworkPolicySpec
from lightkube.resources.apps_v1 import Deployment, StatefulSet
from lightkube.resources.core_v1 import Namespace, Pod, Service
from lightkube.resources.networking_v1 import NetworkPolicy
from lightkube.types import PatchType

from test_coordinator.errors import (
    ObservationUnavailable,
    PlatformError,
    PlatformUnavailable,
    ScenarioInvalid,
)
from test_coordinator.platforms.base import Applied, FaultHeld, Platform, Workload
from test_coordinator.platforms.kubernetes.cache import Cached, ClusterCache, WatchCache
from test_coordinator.platforms.kubernetes.client import ApiClient
from test_coordinator.platforms.kubernetes.proxies import (
    CONTROL_PORT,
    missing_proxy,
    port_number,
    proxies_of,
)
from test_coordinator.platforms.kubernetes.retry import transient_status
from test_coordinator.platforms.kubernetes.safety import refusal
from test_coordinator.platforms.network import (
    DEFAULT_LEASE_SECONDS,
    NETWORK_FAULTS,
    NetworkFaults,
    ProxyAt,
)
from test_coordinator.scenario.model import FaultSpec, NetworkFault, RestartFault, ScaleFault
from test_coordinator.scenario.status import utcnow

__all__ = [
    "HELD_BY",
    "ISOLATED_LABEL",
    "ORIGINAL_REPLICAS",
    "KubernetesPlatform",
    "WorkloadGone",
]

ORIGINAL_REPLICAS = "chaos.tse.dev/original-replicas"
"""Annotation a ``scale`` writes in the same patch as the new count: the count to go back to."""
ISOLATED_LABEL = "chaos.tse.dev/isolated"
"""Label an ``isolate`` puts on a pod, which its deny-all NetworkPolicy selects."""
HELD_BY = "chaos.tse.dev/held-by"
"""Annotation naming the ChaosScenario whose timed fault holds an object (a scaled Deployment,
an isolation's NetworkPolicy): another scenario waits until it is released, and only its
holder undoes it, so that neither cuts the other's fault short."""
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
MANAGED_BY = {"app.kubernetes.io/managed-by": "test-coordinator"}
_OWNER_KINDS: dict[str, type[Deployment] | type[StatefulSet]] = {
    "deployment": Deployment,
    "statefulset": StatefulSet,
}
_OWNER_FAULTS = frozenset({"scale", "rolloutRestart"})


class WorkloadGone(PlatformError):
    """The thing a revert must restore no longer exists (it may yet come back)."""


Owner = Deployment | StatefulSet
R = TypeVar("R", Pod, Deployment, StatefulSet, Service)


class KubernetesPlatform(Platform):
    name = "kubernetes"
    faults = frozenset({"kill", "restart", "rolloutRestart", "scale", "isolate"}) | NETWORK_FAULTS
    targets_may_appear = True  # controllers recreate pods
    reports_graceful_stop = False  # a deleted pod's exit is gone with the pod

    def __init__(
        self,
        client: ApiClient,
        namespace: str,
        *,
        operator_namespace: str | None = None,
        holder: str = "",
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        reach: Callable[[str], str] | None = None,
        cache: ClusterCache | None = None,
    ) -> None:
        self.client = client
        self._own_cache = cache is None
        self.cache = cache if cache is not None else ClusterCache(client)
        """What reads come from: the operator's shared caches, else this platform's own."""
        self.namespace = namespace
        self.operator_namespace = operator_namespace
        self.holder = holder
        """The ChaosScenario on whose behalf timed faults are held (``HELD_BY``)."""
        self.network = NetworkFaults(
            lease_seconds=lease_seconds,
            holder=f"ChaosScenario {namespace}/{holder}" if holder else None,
        )
        self.reach = reach or _as_it_is
        """Turns a Service's ``host:port`` into one this process can connect to (a fault
        proxy's control API): as it is in the cluster; a test maps it to loopback."""

    async def start(self) -> None:
        """Refuse, before anything is touched, a namespace that chaos must not enter."""
        labels: Mapping[str, str] | None = None
        try:
            found = await self.client.get(Namespace, self.namespace)
            labels = (found.metadata.labels if found.metadata else None) or {}
        except ApiError as error:
            if error.status.code != 404:
                raise _failure(f"cannot read namespace {self.namespace}", error) from None
        except httpx2.HTTPError as error:
            raise _failure(f"cannot read namespace {self.namespace}", error) from None
        problem = refusal(self.namespace, labels, operator_namespace=self.operator_namespace)
        if problem is not None:
            raise problem

    # selection

    async def select(self, selector: Mapping[str, str]) -> list[Workload]:
        """Running pods that carry every label of ``selector`` (terminating ones are leaving)."""
        if not selector:
            raise ScenarioInvalid("an empty selector would select every pod in the namespace")
        pods = [pod for pod in (await self._cached(Pod)).matching(selector) if _is_live(pod)]
        if not pods:  # the watch may not have told of a pod just created: ask the API server
            pods = [pod for pod in await self._listed(Pod, selector) if _is_live(pod)]
        workloads = [Workload(f"pod/{_name(pod.metadata)}", _labels(pod.metadata)) for pod in pods]
        return sorted(workloads, key=lambda workload: workload.id)

    async def inventory(self) -> list[Workload]:
        """The namespace's live pods, to name when a selector matches none (read only)."""
        workloads = [
            Workload(f"pod/{_name(pod.metadata)}", _labels(pod.metadata))
            for pod in (await self._cached(Pod)).items()
            if _is_live(pod)
        ]
        return sorted(workloads, key=lambda workload: workload.id)

    async def close(self) -> None:
        await self.network.close()
        if self._own_cache:
            await self.cache.close()

    # reading: the caches, else the API server where the caches cannot know yet

    async def _cached(self, kind: type[R]) -> WatchCache[R]:
        cache = self.cache.of(kind, self.namespace)
        await cache.ready()
        return cache

    async def _listed(self, kind: type[R], selector: Mapping[str, str] | None = None) -> list[R]:
        """A fresh list from the API server (one request): only where a cache may lag."""
        labels: dict[str, Any] | None = dict(selector) if selector else None
        try:
            found = [
                item
                async for item in self.client.list(kind, namespace=self.namespace, labels=labels)
            ]
        except (ApiError, httpx2.HTTPError) as error:
            raise ObservationUnavailable(
                f"cannot list {kind.__name__}s in namespace {self.namespace}: {_reason(error)}"
            ) from None
        # The API server filters; this is for sure.
        wanted = (selector or {}).items()
        return [item for item in found if _labels(item.metadata).items() >= wanted]

    async def _fetched(self, kind: type[R], name: str) -> R | None:
        """One object, fresh from the API server; None when it does not exist."""
        try:
            return await self.client.get(kind, name, namespace=self.namespace)
        except ApiError as error:
            if error.status.code == 404:
                return None
            raise ObservationUnavailable(
                f"cannot read {kind.__name__} {name}: {_reason(error)}"
            ) from None
        except httpx2.HTTPError as error:
            raise ObservationUnavailable(
                f"cannot read {kind.__name__} {name}: {_reason(error)}"
            ) from None

    async def _read(self, kind: type[R], name: str) -> R | None:
        """One object from the cache, else (not seen yet) from the API server."""
        found = (await self._cached(kind)).get(name)
        return found if found is not None else await self._fetched(kind, name)

    def _wrote(self, obj: Cached) -> None:
        cache: WatchCache[Any] | None = self.cache.started(type(obj), self.namespace)
        if cache is not None:
            cache.wrote(obj)

    async def fault_targets(self, fault: FaultSpec, chosen: Sequence[Workload]) -> list[Workload]:
        if fault.network is not None:
            return await self._proxy_targets(fault.network, chosen)
        if fault.action not in _OWNER_FAULTS:
            return list(chosen)
        owners: dict[str, Workload] = {}
        candidates = await self._owners()
        for pod in chosen:
            owner = next((o for o in candidates if _selects(o, pod.labels)), None)
            if owner is None:  # one just created, perhaps, that the watch has not told of
                candidates = await self._owners(fresh=True)
                owner = next((o for o in candidates if _selects(o, pod.labels)), None)
            if owner is None:
                raise ScenarioInvalid(
                    f"{pod.id} has no Deployment or StatefulSet to {fault.action}: select pods "
                    "that a Deployment or StatefulSet owns"
                )
            owner_id = f"{type(owner).__name__.lower()}/{_name(owner.metadata)}"
            owners.setdefault(owner_id, Workload(owner_id, _labels(owner.metadata)))
        return list(owners.values())

    async def _owners(self, *, fresh: bool = False) -> list[Owner]:
        if fresh:
            return [*await self._listed(Deployment), *await self._listed(StatefulSet)]
        found: list[Owner] = [*(await self._cached(Deployment)).items()]
        found += (await self._cached(StatefulSet)).items()
        return found

    # network faults, through the fault proxies in front of the pods' Services

    async def _services(self) -> list[Service]:
        return (await self._cached(Service)).items()

    @staticmethod
    def _fronting(
        pod: Workload, port: str, services: Sequence[Service]
    ) -> tuple[list[str], list[Service]]:
        """The Services that select ``pod`` with a port named ``port``, and the proxies in
        front of that port of theirs."""
        fronted = [
            _name(service.metadata)
            for service in services
            if _service_selects(service, pod.labels) and port_number(service, port) is not None
        ]
        proxies = [proxy for name in fronted for proxy in proxies_of(name, port, services)]
        return fronted, proxies

    async def _proxy_targets(
        self, network: NetworkFault, chosen: Sequence[Workload]
    ) -> list[Workload]:
        services = await self._services()
        targets: dict[str, Workload] = {}
        for pod in chosen:
            fronted, proxies = self._fronting(pod, network.port, services)
            if not proxies:
                raise ScenarioInvalid(self._no_proxy(pod, network.port, fronted))
            for proxy in proxies:
                workload_id = f"service/{_name(proxy.metadata)}"
                targets.setdefault(workload_id, Workload(workload_id, _labels(proxy.metadata)))
        return list(targets.values())

    def _no_proxy(self, pod: Workload, port: str, fronted: list[str]) -> str:
        if not fronted:
            return (
                f"{pod.id}: no Service selects it with a port named {port}, for a fault proxy "
                "to front: network faults act on a Service's named port"
            )
        return missing_proxy(fronted[0], port)

    async def fault_problem(self, fault: FaultSpec, workload: Workload) -> str | None:
        """A network fault needs a proxy Service in front of the port, whose control API
        answers and serves a proxy named after the port."""
        network = fault.network
        if network is None:
            return None
        services = await self._services()
        fronted, proxies = self._fronting(workload, network.port, services)
        if not proxies:
            return self._no_proxy(workload, network.port, fronted)
        for proxy in proxies:
            at = self._control_of(proxy, network)
            served = await self.network.proxy_names(at.control_url)
            if network.port not in served:
                return (
                    f"the fault proxy of Service {_name(proxy.metadata)} ({at.control_url}) "
                    f"serves no proxy named {network.port} (it serves: "
                    f"{', '.join(served) or 'none'}): name the proxy after the port it fronts "
                    f"(--proxy {network.port}=LISTEN,UPSTREAM)"
                )
        return None

    def _control_of(self, proxy: Service, network: NetworkFault) -> ProxyAt:
        name = _name(proxy.metadata)
        number = port_number(proxy, CONTROL_PORT)
        if number is None:
            raise PlatformError(
                f"fault proxy Service {name} has no port named {CONTROL_PORT} for its control API"
            )
        address = self.reach(f"{name}.{self.namespace}.svc:{number}")
        return ProxyAt(f"http://{address}", network.port)

    async def _proxy_at(self, name: str, network: NetworkFault) -> ProxyAt | None:
        """The control API of the proxy Service ``name``; None when the Service is gone."""
        proxy = await self._read(Service, name)
        return None if proxy is None else self._control_of(proxy, network)

    async def _apply_network(self, name: str, fault: FaultSpec, network: NetworkFault) -> str:
        at = await self._proxy_at(name, network)
        if at is None:
            raise WorkloadGone(f"fault proxy Service {name} not found")
        return await self.network.apply(fault, at)

    async def _revert_network(self, name: str, fault: FaultSpec, network: NetworkFault) -> str:
        at = await self._proxy_at(name, network)
        if at is None:
            return f"fault proxy Service {name} is gone: nothing to revert"
        return await self.network.revert(fault, at)

    # faults

    async def apply(self, fault: FaultSpec, workload: Workload) -> Applied:
        kind, name = _split(workload)
        if fault.network is not None and kind == "service":
            return Applied(await self._apply_network(name, fault, fault.network))
        match fault.action, fault.params:
            case "kill", _:
                return Applied(await self._delete_pod(name, grace=0))
            case "restart", RestartFault(grace_period=grace):
                return Applied(await self._delete_pod(name, grace=math.ceil(grace)))
            case "rolloutRestart", _:
                template = {"metadata": {"annotations": {RESTARTED_AT: utcnow().isoformat()}}}
                await self._patch_owner(kind, name, {"spec": {"template": template}})
                return Applied(f"rollout restart of {workload.id}")
            case "scale", ScaleFault(replicas=replicas):
                return Applied(await self._scale(kind, name, replicas))
            case "isolate", _:
                return Applied(await self._isolate(name))
        raise PlatformError(f"fault {fault.action!r} is not supported on the kubernetes platform")

    async def revert(self, fault: FaultSpec, workload: Workload) -> str:
        kind, name = _split(workload)
        if fault.network is not None and kind == "service":
            return await self._revert_network(name, fault, fault.network)
        match fault.action:
            case "scale":
                return await self._unscale(kind, name)
            case "isolate":
                return await self._unisolate(name)
        return "nothing to revert"

    async def _delete_pod(self, name: str, *, grace: int) -> str:
        try:
            await self.client.delete_pod(name, namespace=self.namespace, grace_period=grace)
        except ApiError as error:
            if error.status.code == 404:
                self._deleting(name)
                return f"pod {name} was already gone"
            raise _failure(f"cannot delete pod {name}", error) from None
        except httpx2.HTTPError as error:
            raise _failure(f"cannot delete pod {name}", error) from None
        self._deleting(name)
        return f"deleted pod {name} (grace period {grace}s)"

    def _deleting(self, pod: str) -> None:
        cache = self.cache.started(Pod, self.namespace)
        if cache is not None:
            cache.deleting(pod)

    async def _scale(self, kind: str, name: str, replicas: int) -> str:
        while True:
            owner = await self._get_owner(kind, name)
            annotations = _annotations(owner.metadata)
            holder = annotations.get(HELD_BY)
            if ORIGINAL_REPLICAS in annotations and holder not in (None, self.holder):
                raise FaultHeld(
                    f"{kind}/{name} is scaled by ChaosScenario {holder} (from "
                    f"{annotations[ORIGINAL_REPLICAS]} replicas) until it reverts that"
                )
            current = owner.spec.replicas if owner.spec and owner.spec.replicas is not None else 1
            # A scale left by a crashed run of this scenario keeps the count it recorded: that
            # one is the original.
            original = int(annotations.get(ORIGINAL_REPLICAS, current))
            patch = {
                "metadata": {
                    "annotations": {ORIGINAL_REPLICAS: str(original), HELD_BY: self.holder},
                    # Optimistic lock: another scenario scaling it meanwhile makes this a 409.
                    "resourceVersion": owner.metadata.resourceVersion if owner.metadata else None,
                },
                "spec": {"replicas": replicas},
            }
            if await self._patch_owner(kind, name, patch, conflict_ok=True):
                return f"{kind}/{name} scaled from {original} to {replicas} replicas"

    async def _unscale(self, kind: str, name: str) -> str:
        try:
            owner = await self._get_owner(kind, name)
        except WorkloadGone:
            message = f"{kind}/{name} is gone: its replica count cannot be restored"
            raise WorkloadGone(message) from None
        annotations = _annotations(owner.metadata)
        recorded = annotations.get(ORIGINAL_REPLICAS)
        if recorded is None:
            return f"{kind}/{name} was not scaled: nothing to revert"
        holder = annotations.get(HELD_BY)
        if holder is not None and holder != self.holder:
            return f"{kind}/{name} is scaled by ChaosScenario {holder}, not by this one: left as is"
        patch = {
            "metadata": {"annotations": {ORIGINAL_REPLICAS: None, HELD_BY: None}},
            "spec": {"replicas": int(recorded)},
        }
        await self._patch_owner(kind, name, patch)
        return f"{kind}/{name} back to {recorded} replicas"

    async def _isolate(self, pod: str) -> str:
        mark = _isolation_mark(pod)
        policy = NetworkPolicy(
            metadata=ObjectMeta(
                name=f"chaos-isolate-{mark}",
                namespace=self.namespace,
                labels={**MANAGED_BY, ISOLATED_LABEL: mark},
                annotations={"chaos.tse.dev/pod": pod, HELD_BY: self.holder},
            ),
            # No rule at all, for both directions: nothing in, nothing out.
            spec=NetworkPolicySpec(
                podSelector=LabelSelector(matchLabels={ISOLATED_LABEL: mark}),
                policyTypes=["Ingress", "Egress"],
            ),
        )
        try:
            await self.client.create(policy)
        except ApiError as error:
            if error.status.code != 409:
                raise _failure("cannot create a NetworkPolicy", error) from None
            # AlreadyExists: left by an earlier run of this scenario, by another scenario, or
            # by this very create, answered 500 after it landed and repeated.
            holder = await self._policy_holder(mark)
            if holder not in (None, self.holder):  # else left by an earlier run of this one
                raise FaultHeld(
                    f"pod {pod} is isolated by ChaosScenario {holder} until it reverts that"
                ) from None
        except httpx2.HTTPError as error:
            raise _failure("cannot create a NetworkPolicy", error) from None
        label = {"metadata": {"labels": {ISOLATED_LABEL: mark}}}
        try:
            labelled = await self.client.patch(
                Pod, pod, label, namespace=self.namespace, patch_type=PatchType.MERGE
            )
        except (ApiError, httpx2.HTTPError) as error:
            await self._unisolate(pod)
            if isinstance(error, ApiError) and error.status.code == 404:
                return f"pod {pod} was already gone"
            raise _failure(f"cannot label pod {pod}", error) from None
        self._wrote(labelled)
        return f"pod {pod} isolated by NetworkPolicy chaos-isolate-{mark}"

    async def _policy_holder(self, mark: str) -> str | None:
        """Who holds the isolation's NetworkPolicy; None when it is gone or names no one."""
        try:
            found = await self.client.get(
                NetworkPolicy, f"chaos-isolate-{mark}", namespace=self.namespace
            )
        except ApiError as error:
            if error.status.code == 404:
                return None
            raise _failure(f"cannot read NetworkPolicy chaos-isolate-{mark}", error) from None
        except httpx2.HTTPError as error:
            raise _failure(f"cannot read NetworkPolicy chaos-isolate-{mark}", error) from None
        return _annotations(found.metadata).get(HELD_BY)

    async def _unisolate(self, pod: str) -> str:
        mark = _isolation_mark(pod)
        holder = await self._policy_holder(mark)
        if holder is not None and holder != self.holder:
            return f"pod {pod} is isolated by ChaosScenario {holder}, not by this one: left as is"
        removed = await _ignore_missing(
            self.client.delete(NetworkPolicy, f"chaos-isolate-{mark}", namespace=self.namespace)
        )
        unlabel = {"metadata": {"labels": {ISOLATED_LABEL: None}}}
        unlabelled = await _ignore_missing(
            self.client.patch(
                Pod, pod, unlabel, namespace=self.namespace, patch_type=PatchType.MERGE
            )
        )
        if isinstance(unlabelled, Pod):
            self._wrote(unlabelled)
        if not removed:
            return f"NetworkPolicy chaos-isolate-{mark} was already gone"
        return f"NetworkPolicy chaos-isolate-{mark} removed"

    async def _get_owner(self, kind: str, name: str) -> Owner:
        """Fresh from the API server: the scale's lock needs its current resourceVersion."""
        try:
            return await self.client.get(_owner_kind(kind), name, namespace=self.namespace)
        except ApiError as error:
            if error.status.code == 404:
                raise WorkloadGone(f"{kind}/{name} not found") from None
            raise _failure(f"cannot read {kind}/{name}", error) from None
        except httpx2.HTTPError as error:
            raise _failure(f"cannot read {kind}/{name}", error) from None

    async def _patch_owner(
        self, kind: str, name: str, patch: dict[str, Any], *, conflict_ok: bool = False
    ) -> bool:
        """Merge-patch a Deployment or StatefulSet; False on a conflict, where allowed (the
        patch's resourceVersion was stale: read again and decide again)."""
        try:
            patched = await self.client.patch(
                _owner_kind(kind), name, patch, namespace=self.namespace, patch_type=PatchType.MERGE
            )
        except ApiError as error:
            if error.status.code == 404:
                raise WorkloadGone(f"{kind}/{name} not found") from None
            if error.status.code == 409 and conflict_ok:
                return False
            raise _failure(f"cannot patch {kind}/{name}", error) from None
        except httpx2.HTTPError as error:
            raise _failure(f"cannot patch {kind}/{name}", error) from None
        self._wrote(patched)  # a workloadReady right after reads the new replica count
        return True

    # observation

    async def endpoint(self, workload: Workload, port: int | str) -> str:
        """The cluster DNS name of the Service that selects the pod, else the pod's IP."""
        _, name = _split(workload)
        pod = await self._read(Pod, name)
        if pod is None:
            raise LookupError(f"pod {name}: not found")
        number = _container_port(pod, port)
        services = await self._services()
        for service in services:
            declared = _service_port(service, port, number)
            if declared is not None and _service_selects(service, _labels(pod.metadata)):
                # A port a fault proxy fronts is reached through it, as the clients reach it.
                proxies = proxies_of(_name(service.metadata), declared.name or "", services)
                if proxies:
                    proxy, proxied = proxies[0], port_number(proxies[0], declared.name or "")
                    return f"{_name(proxy.metadata)}.{self.namespace}.svc:{proxied}"
                return f"{_name(service.metadata)}.{self.namespace}.svc:{declared.port}"
        ip = pod.status.podIP if pod.status else None
        if not ip:
            raise LookupError(f"pod {name} has no IP yet")
        if number is None:
            raise LookupError(f"pod {name} declares no container port named {port!r}")
        return f"{ip}:{number}"

    async def workload_ready(self, kind: str, name: str) -> tuple[bool, str]:
        """All replicas available, as many of the pods it selects Ready and not leaving, and
        its rollout finished (as ``kubectl rollout status`` judges it): right after a
        ``rolloutRestart`` the old pods are still Ready, and recovery is the new ones'."""
        owner: Owner | None
        if _owner_kind(kind.lower()) is Deployment:
            owner = await self._read(Deployment, name)
        else:
            owner = await self._read(StatefulSet, name)
        if owner is None:
            return False, f"{kind} {name} not found"
        wanted = owner.spec.replicas if owner.spec and owner.spec.replicas is not None else 1
        status = owner.status
        available = _available(status)
        generation = owner.metadata.generation if owner.metadata else None
        observed = status.observedGeneration if status else None
        selector = owner.spec.selector if owner.spec else None
        # The index narrows by matchLabels; _selects() applies the whole selector.
        narrowed = dict(selector.matchLabels or {}) if selector else {}
        pods = [
            pod
            for pod in (await self._cached(Pod)).matching(narrowed)
            if _selects(owner, _labels(pod.metadata)) and _is_live(pod)
        ]
        ready = sum(1 for pod in pods if _pod_ready(pod.status))
        text = f"{ready}/{wanted} pods ready, {available} available"
        if generation is not None and observed is not None and observed < generation:
            return False, f"{text}; rollout of generation {generation} not yet observed"
        pending = _rollout_pending(owner, wanted)
        if pending is not None:
            return False, f"{text}; {pending}"
        return ready >= wanted and available >= wanted and len(pods) >= wanted, text


# helpers: the models' optional fields, read without a wall of None checks


def _name(meta: ObjectMeta | None) -> str:
    return (meta.name if meta else None) or ""


def _labels(meta: ObjectMeta | None) -> dict[str, str]:
    return dict((meta.labels if meta else None) or {})


def _annotations(meta: ObjectMeta | None) -> dict[str, str]:
    return dict((meta.annotations if meta else None) or {})


def _split(workload: Workload) -> tuple[str, str]:
    kind, _, name = workload.id.partition("/")
    if not name:
        raise PlatformError(f"not a Kubernetes workload id: {workload.id!r}")
    return kind, name


def _owner_kind(kind: str) -> type[Deployment] | type[StatefulSet]:
    try:
        return _OWNER_KINDS[kind]
    except KeyError:
        raise PlatformError(f"{kind!r} is not a Deployment or StatefulSet") from None


def _is_live(pod: Pod) -> bool:
    leaving = pod.metadata is not None and pod.metadata.deletionTimestamp is not None
    finished = pod.status is not None and pod.status.phase in ("Succeeded", "Failed")
    return not leaving and not finished


def _pod_ready(status: PodStatus | None) -> bool:
    conditions = (status.conditions if status else None) or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


def _available(status: DeploymentStatus | StatefulSetStatus | None) -> int:
    if status is None:
        return 0
    return status.availableReplicas or 0


def _rollout_pending(owner: Owner, wanted: int) -> str | None:
    """What a rollout still has to do, or None when it is done (or cannot be told)."""
    if isinstance(owner, Deployment):
        status = owner.status
        updated = (status.updatedReplicas if status else None) or 0
        total = (status.replicas if status else None) or 0
        if updated < wanted:
            return f"rollout: {updated} of {wanted} replicas updated"
        if total > updated:
            return f"rollout: {total - updated} old replicas pending termination"
        return None
    spec, sts_status = owner.spec, owner.status
    strategy = spec.updateStrategy if spec else None
    if strategy is not None and strategy.type == "OnDelete":
        return None  # pods change only when deleted: no rollout to wait for
    partition = (
        strategy.rollingUpdate.partition if strategy and strategy.rollingUpdate else 0
    ) or 0
    updated = (sts_status.updatedReplicas if sts_status else None) or 0
    if partition:
        if updated < wanted - partition:
            return f"rollout: {updated} of {wanted - partition} replicas updated (partition)"
        return None
    current = sts_status.currentRevision if sts_status else None
    update = sts_status.updateRevision if sts_status else None
    if update and current != update:
        return f"rollout: {updated} of {wanted} pods at revision {update}"
    return None


def _selects(owner: Owner, labels: Mapping[str, str]) -> bool:
    selector = owner.spec.selector if owner.spec else None
    return selector is not None and _matches(selector, labels)


def _matches(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    """A label selector as the API server reads it; an empty one selects nothing here."""
    wanted = selector.matchLabels or {}
    expressions = selector.matchExpressions or []
    if not wanted and not expressions:
        return False
    if any(labels.get(key) != value for key, value in wanted.items()):
        return False
    for expression in expressions:
        value, values = labels.get(expression.key), expression.values or []
        match expression.operator:
            case "In" if value not in values:
                return False
            case "NotIn" if value in values:
                return False
            case "Exists" if value is None:
                return False
            case "DoesNotExist" if value is not None:
                return False
    return True


def _service_selects(service: Service, labels: Mapping[str, str]) -> bool:
    selector = (service.spec.selector if service.spec else None) or {}
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def _container_port(pod: Pod, port: int | str) -> int | None:
    if isinstance(port, int):
        return port
    containers = pod.spec.containers if pod.spec else []
    for container in containers:
        for declared in container.ports or []:
            if declared.name == port:
                return declared.containerPort
    return None


def _service_port(service: Service, port: int | str, number: int | None) -> ServicePort | None:
    """The Service's port that reaches the pod's ``port`` (by name, or by target number)."""
    for declared in (service.spec.ports if service.spec else None) or []:
        target = declared.targetPort if declared.targetPort is not None else declared.port
        if declared.name == port or target == port or (number is not None and target == number):
            return declared
    return None


def _as_it_is(address: str) -> str:
    return address


def _isolation_mark(pod: str) -> str:
    """A label value (≤ 63 characters) that names one pod, however long its name."""
    return hashlib.sha256(pod.encode()).hexdigest()[:16]


async def _ignore_missing(call: Awaitable[object]) -> object:
    """Await an API call: its answer (True when there is none), False when its object was
    already gone."""
    try:
        answer = await call
    except ApiError as error:
        if error.status.code == 404:
            return False
        raise _failure("API call failed", error) from None
    except httpx2.HTTPError as error:
        raise _failure("API call failed", error) from None
    return True if answer is None else answer


def _reason(error: ApiError | httpx2.HTTPError) -> str:
    if isinstance(error, ApiError):
        return f"{error.status.code} {error.status.reason or ''}: {error.status.message or ''}"
    return str(error) or type(error).__name__


def _failure(what: str, error: ApiError | httpx2.HTTPError) -> PlatformError:
    """A write or fresh read that failed: passing (retried to no avail) or for good."""
    if isinstance(error, ApiError):
        passing = transient_status(error.status.code or 0)
    elif isinstance(error, httpx2.HTTPStatusError):
        passing = transient_status(error.response.status_code)
    else:
        passing = isinstance(error, httpx2.TransportError)
    kind = PlatformUnavailable if passing else PlatformError
    return kind(f"{what}: {_reason(error)}")
