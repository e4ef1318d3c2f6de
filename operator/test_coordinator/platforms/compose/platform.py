"""Docker Compose: a project's containers, found by compose's labels, faulted through the
Docker Engine API.

The platform starts and stops nothing: the project is up before the run (``docker compose up
-d``) and stays up after it. The SDK is synchronous, so every call runs in a worker thread and
the during-checks keep their pace while a ``stop`` waits out its grace period.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
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
from test_coordinator.scenario.model import FaultSpec, RestartFault, StopFault

__all__ = ["ComposePlatform"]

T = TypeVar("T")
_WORKERS = 32

R = TypeVar("R")


class ComposePlatform(Platform):
    name = "compose"
    faults = frozenset({"kill", "restart", "stop", "pause"})

    def __init__(self, project: str) -> None:
        self.project = project
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

    async def apply(self, fault: FaultSpec, workload: Workload) -> Applied:
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
        return endpoint(container, port)

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


def _with_grace(
    action: Callable[[DockerApi, str, float], Applied],
    grace_period: float,
    api: DockerApi,
    name: str,
) -> Applied:
    return action(api, name, grace_period)
