"""Docker Compose: a project's containers, found by compose's labels, faulted through the
Docker Engine API.

The platform starts and stops nothing: the project is up before the run (``docker compose up
-d``) and stays up after it. The SDK is synchronous, so every call runs in a worker thread and
the during-checks keep their pace while a ``stop`` waits out its grace period.

Network faults land on the fault proxy containers in front of the selected containers' service
(``proxies.py``): the workload a network fault is journaled against is the proxy container.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TypeVar

from test_coordinator.errors import PlatformError, ScenarioInvalid
from test_coordinator.platforms.base import Applied, Platform, Workload
from test_coordinator.platforms.compose import faults
from test_coordinator.platforms.compose.containers import (
    ONEOFF_LABEL,
    PROJECT_LABEL,
    Container,
    endpoint,
)
from test_coordinator.platforms.compose.docker_api import DockerApi, engine_address
from test_coordinator.platforms.compose.proxies import (
    control_url,
    fronted_ports,
    missing_proxy,
    proxies_of,
)
from test_coordinator.platforms.network import (
    DEFAULT_LEASE_SECONDS,
    NETWORK_FAULTS,
    NetworkFaults,
    ProxyAt,
)
from test_coordinator.scenario.model import FaultSpec, NetworkFault, RestartFault, StopFault
from test_coordinator.scenario.status import FaultStatus

__all__ = ["ComposePlatform"]

_NOTABLE_BACKOFF = 1.0  # seconds: Docker's first restarts come after 0.1, 0.2, 0.4, 0.8 s

T = TypeVar("T")
_WORKERS = 32

R = TypeVar("R")


class ComposePlatform(Platform):
    name = "compose"
    faults = frozenset({"kill", "restart", "stop", "pause"}) | NETWORK_FAULTS

    def __init__(
        self,
        project: str,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        holder: str | None = None,
    ) -> None:
        """``holder``: the run on whose behalf network faults are held (who another scenario
        waiting for the same proxy is told it waits for)."""
        self.project = project
        self.network = NetworkFaults(lease_seconds=lease_seconds, holder=holder)
        self.holder = self.network.holder
        self._api: DockerApi | None = None
        self._executor = ThreadPoolExecutor(_WORKERS, thread_name_prefix=f"compose-{project}")
        self._seen: dict[str, Container] = {}
        # One per container: an undo waits for a fault still in flight (an aborted `stop`).
        self._locks: dict[str, threading.Lock] = {}

    @property
    def api(self) -> DockerApi:
        assert self._api is not None, "ComposePlatform.start() was not awaited"
        return self._api

    async def start(self) -> None:
        """Reach the engine and make sure the project is there."""
        try:
            self._api = await self._blocking(DockerApi.connect)
            if not await self._containers():
                raise ScenarioInvalid(await self._no_such_project())
        except BaseException:
            await self.close()
            raise

    async def _no_such_project(self) -> str:
        entries = await self._blocking(self.api.containers, PROJECT_LABEL)
        projects = sorted({entry["Labels"][PROJECT_LABEL] for entry in entries})
        return (
            f"compose project {self.project!r} has no containers on the Docker engine at "
            f"{self.api.address} (projects there: {', '.join(projects) or 'none'}); "
            "start it with `docker compose up -d`, or name another with --project"
        )

    async def close(self) -> None:
        # Waits for a fault still in flight, so that nothing acts after the run has ended.
        await asyncio.to_thread(self._executor.shutdown)
        await self.network.close()
        if self._api is not None:
            self._api.close()
            self._api = None

    async def select(self, selector: Mapping[str, str]) -> list[Workload]:
        containers = await self._containers()
        services = sorted({container.labels["service"] for container in containers})
        service = selector.get("service")
        if service is not None and containers and service not in services:
            raise ScenarioInvalid(
                f"selector service={service}: compose project {self.project!r} has no service "
                f"{service!r} (its services: {', '.join(services)})"
            )
        return [
            Workload(id=container.name, labels=container.labels)
            for container in containers
            if all(container.labels.get(key) == value for key, value in selector.items())
        ]

    async def _containers(self) -> list[Container]:
        """The project's containers in any state, by name; one-off `compose run` ones aside."""
        entries = await self._blocking(self.api.containers, f"{PROJECT_LABEL}={self.project}")
        containers = sorted(
            (
                Container.from_api(entry)
                for entry in entries
                if (entry.get("Labels") or {}).get(ONEOFF_LABEL) != "True"
            ),
            key=lambda container: container.name,
        )
        self._seen.update((container.name, container) for container in containers)
        return containers

    async def fault_targets(self, fault: FaultSpec, chosen: Sequence[Workload]) -> list[Workload]:
        """For a network fault, the proxy containers in front of the chosen containers' port
        (one proxy fronts every container of its service); else the chosen containers."""
        network = fault.network
        if network is None:
            return list(chosen)
        containers = await self._containers()
        proxies: dict[str, Workload] = {}
        for workload in chosen:
            service = self._container(workload).service
            found = proxies_of(service, network.port, containers)
            if not found:
                raise ScenarioInvalid(missing_proxy(service, network.port))
            for proxy in found:
                proxies.setdefault(proxy.name, Workload(proxy.name, proxy.labels))
        return list(proxies.values())

    async def fault_problem(self, fault: FaultSpec, workload: Workload) -> str | None:
        """A network fault needs a proxy in front of the port whose control API serves a proxy
        named after it."""
        network = fault.network
        container = self._seen.get(workload.id)
        if network is None or container is None:
            return None
        proxies = proxies_of(container.service, network.port, self._seen.values())
        if not proxies:
            return missing_proxy(container.service, network.port)
        for proxy in proxies:
            try:
                url = control_url(proxy)
            except LookupError as error:
                return f"fault proxy {proxy.name}: {error}"
            served = await self.network.proxy_names(url)
            if network.port not in served:
                return (
                    f"fault proxy {proxy.name} (control API {url}) serves no proxy named "
                    f"{network.port} (it serves: {', '.join(served) or 'none'}): name the proxy "
                    f"after the port it fronts (--proxy {network.port}=LISTEN,UPSTREAM)"
                )
        return None

    async def _proxy_at(self, workload: Workload, network: NetworkFault) -> ProxyAt | None:
        """The control API of the proxy container ``workload``; None when it is gone (its
        toxics went with it)."""
        if workload.id not in self._seen:
            await self._containers()  # a journal's proxy, from a run that died
        proxy = self._seen.get(workload.id)
        if proxy is None:
            return None
        return ProxyAt(control_url(proxy), network.port)

    def _container(self, workload: Workload) -> Container:
        container = self._seen.get(workload.id)
        if container is None:
            raise PlatformError(f"{workload.id} is not a container of project {self.project!r}")
        return container

    async def apply(self, fault: FaultSpec, workload: Workload) -> Applied:
        network = fault.network
        if network is not None:
            proxy = await self._proxy_at(workload, network)
            if proxy is None:
                raise PlatformError(f"fault proxy container {workload.id} is gone")
            return Applied(await self.network.apply(fault, proxy))
        params = fault.params
        action: Callable[[DockerApi, str], Applied]
        match fault.action:
            case "kill":
                action = faults.crash
            case "restart":
                assert isinstance(params, RestartFault)
                action = functools.partial(_with_grace, faults.restart, params.grace_period)
            case "stop":
                assert isinstance(params, StopFault)
                action = functools.partial(_with_grace, faults.stop, params.grace_period)
            case "pause":
                action = faults.freeze
            case _:
                raise PlatformError(f"fault {fault.action!r} is not supported on compose")
        return await self._on_container(workload.id, action)

    async def revert(self, fault: FaultSpec, workload: Workload) -> str:
        return await self.revert_left(fault, workload, holder=None)

    async def revert_left(self, fault: FaultSpec, workload: Workload, *, holder: str | None) -> str:
        network = fault.network
        if network is not None:
            proxy = await self._proxy_at(workload, network)
            if proxy is None:
                return f"fault proxy container {workload.id} is gone, and its toxics with it"
            return await self.network.revert(fault, proxy, holder=holder)
        match fault.action:
            case "stop" | "restart":  # a restart cut short may have stopped and not started it
                return await self._on_container(workload.id, faults.start)
            case "pause":
                return await self._on_container(workload.id, faults.thaw)
        return "nothing to revert"

    def journal_key(self) -> str:
        return f"compose project {self.project} at {engine_address()}"

    async def endpoint(self, workload: Workload, port: int | str) -> str:
        # The engine selects right before it asks, so the container's ports are current.
        container = self._seen.get(workload.id)
        if container is None:
            raise LookupError(f"{workload.id} is not a container of project {self.project!r}")
        return endpoint(*self._through_proxy(container, port))

    def _through_proxy(self, container: Container, port: int | str) -> tuple[Container, int | str]:
        """The proxy container in front of ``port`` of ``container``'s service and the port's
        name, if one is: checks reach a proxied port as the other services do. Else the
        container itself and ``port``."""
        declared = container.declared_ports()
        name = (
            port
            if isinstance(port, str)
            else next((name for name, number in declared.items() if number == str(port)), None)
        )
        if name is None or name in fronted_ports(container.labels):  # a proxy's own port
            return container, port
        proxies = proxies_of(container.service, name, self._seen.values())
        return (proxies[0], name) if proxies else (container, port)

    async def explain(self, faults: Sequence[FaultStatus]) -> list[str]:
        """A crashed container that Docker restarted only seconds later: its restart backoff
        (doubled at each restart of a container that ran less than 10 s), not the service,
        took most of the recovery. The figure is true; this says where it went."""
        notes = []
        for fault in faults:
            if fault.action != "kill" or fault.completed_at is None:
                continue
            info = await self._blocking(self.api.inspect, fault.workload)
            started = _moment(info["State"].get("StartedAt"))
            if started is None or started <= fault.completed_at:
                continue
            waited = (started - fault.completed_at).total_seconds()
            if waited >= _NOTABLE_BACKOFF:
                notes.append(
                    f"{fault.workload} was started again {waited:.1f}s after its crash: Docker's "
                    f"restart backoff (restart {info.get('RestartCount', '?')}; it doubles while "
                    "a container keeps failing within 10 s of starting), not the service, took "
                    "that long; space the runs out, or let it run 10 s, to measure the service"
                )
        return notes

    async def workload_ready(self, kind: str, name: str) -> tuple[bool, str]:
        """A compose service is ready when every container of it runs, and is healthy if it has
        a healthcheck (``kind``, a Kubernetes notion, is moot)."""
        containers = [c for c in await self._containers() if c.service == name]
        if not containers:
            return False, f"compose project {self.project!r} has no service {name!r}"
        waiting = [f"{c.name}: {c.state}, {c.status}" for c in containers if not c.ready]
        if waiting:
            return False, "; ".join(waiting)
        return True, f"{name}: {len(containers)} of {len(containers)} containers ready"

    async def _on_container(self, name: str, action: Callable[[DockerApi, str], R]) -> R:
        lock = self._locks.setdefault(name, threading.Lock())

        def locked() -> R:
            with lock:
                return action(self.api, name)

        return await self._blocking(locked)

    async def _blocking(self, call: Callable[..., T], *args: object) -> T:
        """``call`` in a worker thread; if the caller is cancelled, the call still completes."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(call, *args))


def _moment(text: str | None) -> datetime | None:
    """A time the engine reports (RFC 3339 with nanoseconds), else None."""
    if not text or text.startswith("0001-"):
        return None
    whole, _, fraction = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{whole}.{fraction[:6].ljust(6, '0')}+00:00")


def _with_grace(
    action: Callable[[DockerApi, str, float], Applied],
    grace_period: float,
    api: DockerApi,
    name: str,
) -> Applied:
    return action(api, name, grace_period)
