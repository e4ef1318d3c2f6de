"""The embedded default platform: a stack of local processes, supervised like compose would.

A service's ports listed under ``proxy`` get a fault proxy in this process, in front of them:
the other services and the checks reach such a port through it, and network faults act there.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from test_coordinator.checks import ProbeContext, observe
from test_coordinator.errors import PlatformError, ServiceStartFailed
from test_coordinator.platforms.base import Applied, Platform, Workload
from test_coordinator.platforms.local.stack import (
    STACK_ANNOTATION,
    StackSpec,
    allocate_ports,
    allocate_proxy_ports,
    resolve_placeholders,
    stack_for_scenario,
)
from test_coordinator.platforms.local.supervisor import ServiceProcess
from test_coordinator.platforms.network import (
    DEFAULT_LEASE_SECONDS,
    NETWORK_FAULTS,
    NetworkFaults,
    ProxyAt,
)
from test_coordinator.proxy.errors import Refused
from test_coordinator.scenario.model import ChaosScenario, FaultSpec, RestartFault, StopFault
from test_coordinator.watchdog import runner_watchdog

if TYPE_CHECKING:
    from test_coordinator.proxy.server import ProxyServer

__all__ = ["STACK_ANNOTATION", "LocalPlatform", "platform_for"]

READY_POLL_SECONDS = 0.01
"""How often a starting service's ready probe runs: a refused connection costs microseconds,
and every run waits for its stack at this grain, and sees a restarted service come back at it
(``between_observations``)."""

LOOPBACK = "127.0.0.1"


def platform_for(
    scenario: ChaosScenario,
    path: Path,
    *,
    stack: str | None = None,
    log_dir: Path | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> LocalPlatform:
    """The platform ``scenario`` (from the file ``path``) runs on: its stack as
    ``stack_for_scenario`` chooses it, the services' logs under ``log_dir`` if given."""
    chosen = stack_for_scenario(
        path, annotation=scenario.metadata.annotations.get(STACK_ANNOTATION), override=stack
    )
    platform = LocalPlatform(chosen, lease_seconds=lease_seconds)
    if log_dir is not None:
        platform.log_dir = log_dir / scenario.metadata.name
    return platform


class LocalPlatform(Platform):
    name = "local"
    owns_stack = True
    faults = frozenset({"kill", "restart", "stop", "pause"}) | NETWORK_FAULTS

    def __init__(
        self,
        stack: StackSpec,
        *,
        log_dir: Path | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self.stack = stack
        self.log_dir = log_dir or Path(tempfile.mkdtemp(prefix="test-coordinator-"))
        self.ports = allocate_ports(stack)  # where each service listens
        self.proxy_ports = allocate_proxy_ports(stack, taken=self.ports)  # where its proxies do
        self.services: dict[str, ServiceProcess] = {}
        self.proxies: ProxyServer | None = None  # once a service declares a proxy
        self.network = NetworkFaults(lease_seconds=lease_seconds)
        self._paused: set[str] = set()
        self.forced_stops: list[str] = []  # services the stack's teardown had to SIGKILL
        self.watchdog = runner_watchdog()  # ends what the services started, should the runner die
        self._ready_again = asyncio.Event()  # set, and replaced, as a service is ready again
        self._readiness: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start the proxies, then the services level by level; each level waits until its
        services are ready."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            await self._start_proxies()
            for level in self.stack.start_order():
                await asyncio.gather(*(self._start_service(name) for name in level))
        except BaseException:
            await self.close()
            raise

    async def _start_proxies(self) -> None:
        if not self.proxy_ports:
            return
        from test_coordinator.proxy.server import ProxyServer  # aiohttp's server, only then

        self.proxies = ProxyServer()
        for service, ports in self.proxy_ports.items():
            for port, number in ports.items():
                try:
                    await self.proxies.create_proxy(
                        _proxy_name(service, port),
                        listen=(LOOPBACK, number),
                        upstream=(LOOPBACK, self.ports[service][port]),
                    )
                except Refused as refused:
                    raise PlatformError(f"stack: services.{service}.proxy: {refused}") from None
        await self.proxies.start_control(LOOPBACK, 0)

    def ports_seen_by(self, service: str | None) -> dict[str, dict[str, int]]:
        """Every service's ports as ``service`` reaches them: its own directly, the others'
        through their proxies (None: a check, which reaches every port through its proxy)."""
        return {
            name: ports if name == service else ports | self.proxy_ports.get(name, {})
            for name, ports in self.ports.items()
        }

    async def _start_service(self, name: str) -> None:
        spec = self.stack.services[name]
        where = f"stack: services.{name}"
        ports = self.ports_seen_by(name)
        argv = [resolve_placeholders(arg, ports, where=f"{where}.command") for arg in spec.command]
        env = os.environ | {
            key: resolve_placeholders(value, ports, where=f"{where}.env.{key}")
            for key, value in spec.env.items()
        }
        service = ServiceProcess(
            name, spec, argv, env, self.log_dir / f"{name}.log", watchdog=self.watchdog
        )
        self.services[name] = service
        try:
            await service.start()
        except OSError as error:
            raise ServiceStartFailed(
                name, f"cannot run {argv[0]!r}: {error.strerror}", ""
            ) from None
        self.watchdog.start()  # while the service starts: it need not wait for this
        reason = await self._unready_reason(service)
        if reason is not None:
            raise ServiceStartFailed(service.name, reason, service.tail)
        watching = self._announce_ready_again(service)
        self._readiness.append(asyncio.create_task(watching, name=f"readiness of {name}"))

    async def _unready_reason(self, service: ServiceProcess) -> str | None:
        """Poll the ready probe of ``service``, just started: None once it passes (at once
        without a probe), else why it never did."""
        probe = service.spec.ready
        deadline = time.monotonic() + service.spec.start_timeout
        context = ProbeContext(resolver=_ServiceResolver(self, service.name))
        last = "not checked"
        while time.monotonic() < deadline:
            if not service.running:
                await service.exit_noted()  # its exit code, and its output to the end
                return f"exited with code {service.last_exit} before it was ready"
            if probe is None:
                return None
            observation = await observe(probe, context)
            if observation.passed:
                return None
            last = observation.observed
            await asyncio.sleep(READY_POLL_SECONDS)
        return f"not ready after {service.spec.start_timeout:g}s (last: {last})"

    async def _announce_ready_again(self, service: ServiceProcess) -> None:
        """Each time ``service`` runs again (its restart policy, a restart fault, a stop
        reverted), poll its ready probe as at its start; once it passes, wake the checks
        waiting between observations (``between_observations``), as a kubelet's readiness
        probe would tell the endpoints."""
        generation = await service.wait_started(after=0)
        while True:
            newer = await service.wait_started(after=generation)
            if newer == generation:  # its supervisor ended: nothing runs again
                return
            generation = newer
            if await self._unready_reason(service) is None:
                self._ready_again.set()
                self._ready_again = asyncio.Event()

    async def between_observations(self, seconds: float) -> None:
        ready_again = self._ready_again
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await ready_again.wait()

    async def close(self) -> None:
        """Stop every service, dependents first; nothing this platform started outlives it.
        A service that needed SIGKILL is noted in ``forced_stops``."""
        for watching in self._readiness:
            watching.cancel()
        await asyncio.gather(*self._readiness, return_exceptions=True)
        self._readiness.clear()
        for level in reversed(self.stack.start_order()):
            running = [self.services[name] for name in level if name in self.services]
            outcomes = await asyncio.gather(*(service.shutdown() for service in running))
            self.forced_stops += [
                f"{service.name} {outcome} (its stopGracePeriod)"
                for service, outcome in zip(running, outcomes, strict=True)
                if not outcome.graceful
            ]
        self._paused.clear()
        await self.network.close()
        if self.proxies is not None:
            await self.proxies.close()

    async def select(self, selector: Mapping[str, str]) -> list[Workload]:
        return [
            Workload(id=name, labels=self.stack.labels_of(name))
            for name in self.stack.select(selector)
        ]

    def _service(self, workload: Workload) -> ServiceProcess:
        try:
            return self.services[workload.id]
        except KeyError:
            raise PlatformError(f"service {workload.id!r} is not running on this stack") from None

    async def fault_problem(self, fault: FaultSpec, workload: Workload) -> str | None:
        network = fault.network
        if network is None or workload.id not in self.stack.services:
            return None
        return self.stack.proxy_problem(workload.id, network.port)

    def _proxy_at(self, workload: Workload, fault: FaultSpec) -> ProxyAt:
        network = fault.network
        assert network is not None
        problem = self.stack.proxy_problem(workload.id, network.port)
        if problem is not None:
            raise PlatformError(problem)
        assert self.proxies is not None, "a proxied port has a proxy once the stack started"
        return ProxyAt(self.proxies.control_url, _proxy_name(workload.id, network.port))

    async def apply(self, fault: FaultSpec, workload: Workload) -> Applied:
        if fault.action in NETWORK_FAULTS:
            return Applied(await self.network.apply(fault, self._proxy_at(workload, fault)))
        service = self._service(workload)
        params = fault.params
        match fault.action:
            case "kill":
                pid = service.pid
                if pid is None:
                    return Applied(
                        f"{service.name} was not running (last exit {service.last_exit})"
                    )
                await service.kill()
                return Applied(f"SIGKILL to pid {pid}; restart policy {service.spec.restart}")
            case "restart":
                assert isinstance(params, RestartFault)
                outcome = await service.restart(params.grace_period)
                return Applied(
                    f"restarted as pid {service.pid}: old process {outcome}",
                    graceful=outcome.graceful,
                )
            case "stop":
                assert isinstance(params, StopFault)
                outcome = await service.stop(params.grace_period)
                return Applied(f"stopped: {outcome}", graceful=outcome.graceful)
            case "pause":
                pid = service.pid
                service.signal(signal.SIGSTOP)
                self._paused.add(service.name)
                return Applied(f"SIGSTOP to process group {pid}")
        raise PlatformError(f"fault {fault.action!r} is not supported on the local platform")

    async def revert(self, fault: FaultSpec, workload: Workload) -> str:
        if fault.action in NETWORK_FAULTS:
            return await self.network.revert(fault, self._proxy_at(workload, fault))
        service = self._service(workload)
        match fault.action:
            case "stop":
                await service.resume_stopped()
                return f"started again as pid {service.pid}"
            case "pause":
                service.signal(signal.SIGCONT)
                self._paused.discard(service.name)
                return f"SIGCONT to process group {service.pid}"
        return "nothing to revert"

    async def endpoint(self, workload: Workload, port: int | str) -> str:
        return self._endpoint(workload.id, port, seen_by=None)

    async def workload_ready(self, kind: str, name: str) -> tuple[bool, str]:
        """A service is ready when it runs and its ``ready`` probe passes (``kind`` is moot)."""
        service = self.services.get(name)
        if service is None:
            return False, f"no service {name!r} runs in this stack"
        if not service.running:
            return False, f"{name} is not running (last exit {service.last_exit})"
        if service.spec.ready is None:
            return True, f"{name} runs as pid {service.pid}"
        context = ProbeContext(resolver=_ServiceResolver(self, name))
        observation = await observe(service.spec.ready, context)
        return observation.passed, f"{name}: {observation.observed}"

    def _endpoint(self, service: str, port: int | str, *, seen_by: str | None) -> str:
        """Where ``seen_by`` (a service, or None: a check) reaches ``port`` of ``service``: a
        proxied port through its proxy, unless the service looks at itself."""
        ports = self.ports_seen_by(seen_by).get(service, {})
        if isinstance(port, int):
            # A number is used as given, unless it is a port a proxy fronts.
            direct = self.ports.get(service, {})
            named = next((name for name, number in direct.items() if number == port), None)
            return f"{LOOPBACK}:{ports[named] if named is not None else port}"
        if port not in ports:
            known = ", ".join(ports) or "none"
            raise LookupError(f"service {service!r} has no port named {port!r} (has: {known})")
        return f"{LOOPBACK}:{ports[port]}"


def _proxy_name(service: str, port: str) -> str:
    return f"{service}.{port}"


class _ServiceResolver:
    """Resolves a stack service's readiness probe, which addresses the service itself."""

    def __init__(self, platform: LocalPlatform, service: str) -> None:
        self.platform = platform
        self.service = service

    async def endpoints(self, target: str | None, port: int | str) -> list[str]:
        return [self.platform._endpoint(target or self.service, port, seen_by=self.service)]

    async def workload_ready(self, kind: str, name: str) -> tuple[bool, str]:
        return await self.platform.workload_ready(kind, name)
