"""Network faults on the Kubernetes platform: the proxy's Deployment and Service in the emulated
API server, found by label; its control API a real fault proxy in this process, reached through
the address the test maps the Service's DNS name to, in front of a real echo server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from lightkube import AsyncClient
from test_coordinator.engine import run_scenario
from test_coordinator.platforms.base import FaultHeld, Workload
from test_coordinator.platforms.kubernetes import KubernetesPlatform
from test_coordinator.proxy import FaultProxy, ProxyControl, ProxyServer, Toxic
from test_coordinator.scenario import Phase, Verdict
from test_coordinator.scenario.model import FaultSpec

from tests.documents import chaos_scenario
from tests.integration.kube import OPERATOR_NAMESPACE, Cluster
from tests.integration.network import round_trip
from tests.integration.platforms.kubernetes.conftest import NS

PROXY_SERVICE = "service/risk-proxy"


async def service(
    kube: Cluster, name: str, *, app: str, ports: dict[str, int], **labels: str
) -> None:
    await kube.apply(
        f"/api/v1/namespaces/{NS}/services",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": NS, "labels": labels},
            "spec": {
                "selector": {"app": app},
                "ports": [{"name": n, "port": p, "targetPort": n} for n, p in ports.items()],
            },
        },
    )


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


class RealProxy:
    """The proxy Deployment's process, here: a fault proxy ``grpc`` in front of an echo server
    (the risk pods' stand-in), its control API on loopback."""

    def __init__(self, server: ProxyServer, proxy: FaultProxy) -> None:
        self.server = server
        self.grpc = proxy

    def reach(self, address: str) -> str:
        """Where the cluster address of the proxy's control port is, from this process."""
        assert address == "risk-proxy.trading.svc:8474", address
        assert self.server.control_address is not None
        return f"127.0.0.1:{self.server.control_address[1]}"

    @property
    def listen(self) -> str:
        return f"127.0.0.1:{self.grpc.listen[1]}"


@pytest.fixture
async def real_proxy(kube: Cluster) -> AsyncIterator[RealProxy]:
    """What manifests/demo/risk-monitor-proxy.yaml makes, in front of the Service ``risk``."""
    await service(kube, "risk", app="risk", ports={"grpc": 50051})
    await kube.deployment(NS, "risk-proxy", ports={"grpc": 50051, "control": 8474})
    await service(
        kube,
        "risk-proxy",
        app="risk-proxy",
        ports={"grpc": 50051, "control": 8474},
        **{"chaos.tse.dev/proxy-for": "risk"},
    )
    upstream = await asyncio.start_server(echo, "127.0.0.1", 0)
    async with ProxyServer() as server:
        port = upstream.sockets[0].getsockname()[1]
        proxy = await server.create_proxy(
            "grpc", listen=("127.0.0.1", 0), upstream=("127.0.0.1", port)
        )
        await server.start_control("127.0.0.1", 0)
        yield RealProxy(server, proxy)
    upstream.close()
    await upstream.wait_closed()


@pytest.fixture
async def net_platform(
    client: AsyncClient, real_proxy: RealProxy
) -> AsyncIterator[KubernetesPlatform]:
    platform = KubernetesPlatform(
        client, NS, operator_namespace=OPERATOR_NAMESPACE, lease_seconds=5, reach=real_proxy.reach
    )
    await platform.start()
    yield platform
    await platform.close()


def fault(action: str, **params: object) -> FaultSpec:
    return FaultSpec.model_validate({action: {"target": "risk", "port": "grpc", **params}})


def toxics(proxy: RealProxy) -> list[tuple[str, str, str, dict[str, int]]]:
    return sorted(
        (t.name, t.type, t.stream, dict(t.attributes)) for t in proxy.server.proxy("grpc").toxics
    )


async def test_checks_reach_a_proxied_port_through_the_proxy_service(
    net_platform: KubernetesPlatform,
) -> None:
    [risk, _] = await net_platform.select({"app": "risk"})
    assert await net_platform.endpoint(risk, "grpc") == "risk-proxy.trading.svc:50051"


async def test_a_network_fault_lands_once_on_the_proxy_service_of_every_chosen_pod(
    net_platform: KubernetesPlatform,
) -> None:
    pods = await net_platform.select({"app": "risk"})
    assert len(pods) == 2
    targets = await net_platform.fault_targets(fault("partition"), pods)
    assert [target.id for target in targets] == [PROXY_SERVICE]


@pytest.mark.parametrize(
    ("action", "params", "expected"),
    [
        (
            "latency",
            {"delay": "500ms", "jitter": "10ms"},
            [
                (
                    "chaos-latency_downstream",
                    "latency",
                    "downstream",
                    {"latency": 500, "jitter": 10},
                ),
                ("chaos-latency_upstream", "latency", "upstream", {"latency": 500, "jitter": 10}),
            ],
        ),
        (
            "bandwidth",
            {"rate": "64KiB/s", "direction": "downstream"},
            [("chaos-bandwidth_downstream", "bandwidth", "downstream", {"rate": 66})],
        ),
        (
            "partition",
            {"direction": "upstream"},
            [("chaos-partition_upstream", "timeout", "upstream", {"timeout": 0})],
        ),
        ("reset", {}, [("chaos-reset_downstream", "reset_peer", "downstream", {"timeout": 0})]),
    ],
)
async def test_each_fault_is_its_toxics_on_the_proxy_until_reverted(
    net_platform: KubernetesPlatform,
    real_proxy: RealProxy,
    action: str,
    params: dict[str, Any],
    expected: list[Any],
) -> None:
    spec = fault(action, **params)
    applied = await net_platform.apply(spec, Workload(PROXY_SERVICE))
    assert f"on proxy grpc at http://{real_proxy.reach('risk-proxy.trading.svc:8474')}" in (
        applied.message
    )
    assert toxics(real_proxy) == expected
    assert all(t.lease_seconds == 5 for t in real_proxy.server.proxy("grpc").toxics)
    await net_platform.revert(spec, Workload(PROXY_SERVICE))
    assert toxics(real_proxy) == []


async def test_latency_reaches_a_client_of_the_proxy(
    net_platform: KubernetesPlatform, real_proxy: RealProxy
) -> None:
    await net_platform.apply(fault("latency", delay="200ms"), Workload(PROXY_SERVICE))
    assert await round_trip(real_proxy.listen) >= 0.4
    await net_platform.revert(fault("latency", delay="200ms"), Workload(PROXY_SERVICE))
    assert await round_trip(real_proxy.listen) < 0.2


async def test_an_operator_restarted_undoes_a_toxic_from_the_id_alone(
    client: AsyncClient, real_proxy: RealProxy
) -> None:
    async with ProxyControl(f"http://{real_proxy.reach('risk-proxy.trading.svc:8474')}") as api:
        left = Toxic.timeout(0, name="chaos-partition_downstream", lease_seconds=60)
        await api.add_toxic("grpc", left)
    fresh = KubernetesPlatform(client, NS, reach=real_proxy.reach)
    message = await fresh.revert(fault("partition"), Workload(PROXY_SERVICE))
    assert "where another process had set it" in message
    assert toxics(real_proxy) == []
    gone = await fresh.revert(fault("partition"), Workload("service/no-such-proxy"))
    assert "is gone" in gone


async def test_a_proxy_held_by_another_scenario_is_waited_for_not_taken_over(
    client: AsyncClient, real_proxy: RealProxy
) -> None:
    def platform_of(scenario: str) -> KubernetesPlatform:
        return KubernetesPlatform(client, NS, holder=scenario, reach=real_proxy.reach)

    def held() -> set[tuple[int, str | None]]:
        return {(t.attributes["latency"], t.holder) for t in real_proxy.server.proxy("grpc").toxics}

    first, second = platform_of("slow-a"), platform_of("slow-b")
    slow, slower = fault("latency", delay="10ms"), fault("latency", delay="300ms")
    await first.apply(slow, Workload(PROXY_SERVICE))
    with pytest.raises(FaultHeld, match=f"held by ChaosScenario {NS}/slow-a"):
        await second.apply(slower, Workload(PROXY_SERVICE))
    assert held() == {(10, f"ChaosScenario {NS}/slow-a")}  # not cut short, not changed
    await first.revert(slow, Workload(PROXY_SERVICE))
    await second.apply(slower, Workload(PROXY_SERVICE))
    assert held() == {(300, f"ChaosScenario {NS}/slow-b")}
    await first.close()
    await second.close()  # reverts what it still holds
    assert held() == set()


async def test_a_scenario_takes_over_its_own_toxic_left_by_a_dead_operator(
    client: AsyncClient, real_proxy: RealProxy
) -> None:
    async with ProxyControl(f"http://{real_proxy.reach('risk-proxy.trading.svc:8474')}") as api:
        left = Toxic.latency(10, name="chaos-latency_downstream", lease_seconds=60)
        await api.add_toxic("grpc", replace(left, holder=f"ChaosScenario {NS}/slow-a"))
    again = KubernetesPlatform(client, NS, holder="slow-a", reach=real_proxy.reach)
    await again.apply(fault("latency", delay="300ms"), Workload(PROXY_SERVICE))
    latencies = {t.attributes["latency"] for t in real_proxy.server.proxy("grpc").toxics}
    assert latencies == {300}
    await again.close()
    assert real_proxy.server.proxy("grpc").toxics == []


def scenario(target: dict[str, str], port: str = "grpc") -> dict[str, Any]:
    return {
        "targets": {"t": {"selector": target, "mode": "all"}},
        "steps": [
            {
                "name": "cut",
                "fault": {"partition": {"target": "t", "port": port}},
                "duration": "500ms",
            }
        ],
        "timeout": "1m",
    }


async def test_a_run_journals_the_proxy_service_and_leaves_no_toxic(
    net_platform: KubernetesPlatform, real_proxy: RealProxy
) -> None:
    status = await run_scenario(chaos_scenario("cut", scenario({"app": "risk"})), net_platform)
    assert (status.phase, status.verdict) == (Phase.SUCCEEDED, Verdict.PASS), status.message
    [applied] = status.faults
    assert (applied.action, applied.workload) == ("partition", PROXY_SERVICE)
    assert applied.reverted_at is not None
    assert toxics(real_proxy) == []


@pytest.mark.parametrize(
    ("target", "port", "expected"),
    [
        (
            {"app": "gateway"},
            "http",
            "pod/gateway-",  # no Service selects the gateway's pod
        ),
        (
            {"app": "risk"},
            "admin",
            "no Service selects it with a port named admin",
        ),
    ],
)
async def test_a_port_no_proxy_fronts_is_invalid_before_anything_is_touched(
    net_platform: KubernetesPlatform, target: dict[str, str], port: str, expected: str
) -> None:
    status = await run_scenario(chaos_scenario("cut", scenario(target, port)), net_platform)
    assert status.phase is Phase.INVALID
    assert "spec.steps[0].fault.partition: " in status.message
    assert expected in status.message
    assert status.faults == []


async def test_a_service_without_a_proxy_says_what_to_add(
    kube: Cluster, net_platform: KubernetesPlatform
) -> None:
    await service(kube, "gateway", app="gateway", ports={"http": 8080})
    status = await run_scenario(
        chaos_scenario("cut", scenario({"app": "gateway"}, "http")), net_platform
    )
    assert status.phase is Phase.INVALID
    assert "no fault proxy fronts port http of Service gateway: add a Deployment running " in (
        status.message
    )
    assert "labelled chaos.tse.dev/proxy-for: gateway, with the ports http and control" in (
        status.message
    )
