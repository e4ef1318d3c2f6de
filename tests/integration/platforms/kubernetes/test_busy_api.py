"""The Kubernetes platform against a slow, failing API server (the emulator's ``Trouble``): its
calls retried where the failure passes, its reads from watch-fed caches that are listed before
they are trusted, see the platform's own writes at once, survive broken watches, and say so
(``ObservationUnavailable``) when they cannot be trusted, instead of answering wrong."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from lightkube import AsyncClient
from test_coordinator.errors import ObservationUnavailable
from test_coordinator.platforms.kubernetes import (
    CacheTiming,
    ClusterCache,
    KubernetesPlatform,
    RetryPolicy,
    connect,
)
from test_coordinator.scenario.model import FaultSpec

from tests.integration.kube import OPERATOR_NAMESPACE, Cluster, until
from tests.integration.platforms.kubernetes.conftest import NS


def fault(action: str, **params: object) -> FaultSpec:
    return FaultSpec.model_validate({action: {"target": "t", **params}})


@pytest.fixture
async def retrying(kube: Cluster, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AsyncClient]:
    """The operator's client: every call retried where its failure passes."""
    monkeypatch.setenv("KUBECONFIG", str(kube.kubeconfig))
    client = connect(policy=RetryPolicy(budget=20.0))
    yield client
    await client.close()


async def eventually(check: Callable[[], Awaitable[bool]], *, within: float, what: str) -> None:
    """Poll an async ``check`` until it holds, or fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"not true within {within}s: {what}")
        await asyncio.sleep(0.05)


def operator_requests(kube: Cluster, method: str, plural: str) -> int:
    return kube.api.requests["operator", method, plural]


async def test_every_call_lands_against_a_slow_failing_api_server(
    kube: Cluster, retrying: AsyncClient
) -> None:
    random.seed(9)
    kube.api.trouble.latency = 0.02
    kube.api.trouble.error_rate = 0.3
    platform = KubernetesPlatform(retrying, NS, operator_namespace=OPERATOR_NAMESPACE, holder="s")
    try:
        await platform.start()
        risk = await platform.select({"app": "risk"})
        assert len(risk) == 2
        message = (await platform.apply(fault("kill"), risk[0])).message
        assert message.startswith(("deleted pod", f"pod {risk[0].id[4:]} was already gone"))
        [owner] = await platform.fault_targets(fault("scale", replicas=0), risk)
        await platform.apply(fault("scale", replicas=0), owner)
        assert "back to 2 replicas" in await platform.revert(fault("scale", replicas=0), owner)
        isolated = await platform.apply(fault("isolate"), risk[1])
        assert "isolated" in isolated.message or "already gone" in isolated.message
        await platform.revert(fault("isolate"), risk[1])
    finally:
        await platform.close()

    kube.api.trouble.error_rate = 0.0
    assert sum(kube.api.troubled.values()) > 0, "no request was failed: the test proves nothing"
    assert kube.api.get("deployments", NS, "risk")["spec"]["replicas"] == 2
    assert not kube.api.list("networkpolicies", NS)
    await kube.ready(NS, "risk", 2)


async def test_a_cache_is_listed_before_it_is_trusted(kube: Cluster, retrying: AsyncClient) -> None:
    kube.api.trouble.latency = 0.4  # the first listing takes a while
    platform = KubernetesPlatform(retrying, NS)
    try:
        ready, seen = await platform.workload_ready("Deployment", "risk")
    finally:
        await platform.close()

    assert ready, seen  # never "0/2 pods ready" because the pods were not listed yet
    assert seen.startswith("2/2 pods ready")


async def test_reads_come_from_one_watch_not_a_request_each(
    kube: Cluster, retrying: AsyncClient
) -> None:
    cache = ClusterCache(retrying)
    runs = [KubernetesPlatform(retrying, NS, cache=cache, holder=f"s{i}") for i in range(5)]
    try:
        for run in runs:
            assert len(await run.select({"app": "risk"})) == 2
            assert (await run.workload_ready("Deployment", "risk"))[0]
            await run.endpoint((await run.select({"app": "risk"}))[0], "grpc")
        # One list and one watch of each kind the runs read, for all of them.
        await until(
            lambda: all(
                operator_requests(kube, "GET", plural) == 2
                for plural in ("pods", "deployments", "services")
            ),
            within=5,
            what="one list and one watch of pods, Deployments and Services",
        )
        reads = sum(kube.api.requests[key] for key in kube.api.requests if key[0] == "operator")
        for _ in range(100):
            for run in runs:
                await run.select({"app": "gateway"})
                await run.workload_ready("Deployment", "gateway")
                await run.endpoint((await run.select({"app": "risk"}))[0], "grpc")

        after = sum(kube.api.requests[key] for key in kube.api.requests if key[0] == "operator")
        assert after == reads  # 2,000 reads, not one request
    finally:
        for run in runs:
            await run.close()
        await cache.close()


async def test_the_platform_reads_its_own_writes_at_once(
    kube: Cluster, retrying: AsyncClient
) -> None:
    await kube.deployment(NS, "solo", recreate=False)
    await kube.ready(NS, "solo", 1)
    cache = ClusterCache(retrying)
    platform = KubernetesPlatform(retrying, NS, cache=cache, holder="s")
    try:
        [victim] = await platform.select({"app": "solo"})
        assert (await platform.workload_ready("Deployment", "risk"))[0]

        await platform.apply(fault("kill"), victim)
        # Before the watch tells of the delete, the reads already do not show the victim.
        assert await platform.select({"app": "solo"}) == []
        assert (await platform.workload_ready("Deployment", "solo"))[0] is False

        risk = await platform.select({"app": "risk"})
        [owner] = await platform.fault_targets(fault("scale", replicas=1), risk)
        await platform.apply(fault("scale", replicas=1), owner)
        # The scale's answer is read at once: its new generation, not yet rolled out.
        ready, seen = await platform.workload_ready("Deployment", "risk")
        assert ready is False, seen
        assert "not yet observed" in seen or "1/1" in seen or "2/1" in seen, seen
        await platform.revert(fault("scale", replicas=0), owner)
    finally:
        await platform.close()
        await cache.close()


async def test_a_watch_cut_off_is_listed_again_and_misses_nothing(
    kube: Cluster, retrying: AsyncClient
) -> None:
    kube.api.trouble.cut_watches_after = 0.3
    platform = KubernetesPlatform(retrying, NS)
    try:
        assert len(await platform.inventory()) == 3
        await until(
            lambda: operator_requests(kube, "GET", "pods") >= 4,
            within=10,
            what="the pods' watch cut off and listed again",
        )
        await kube.deployment(NS, "late")
        await kube.ready(NS, "late", 1)

        async def late_seen() -> bool:
            return any(w.id.startswith("pod/late-") for w in await platform.inventory())

        await eventually(late_seen, within=10, what="the pod created after the cuts, seen")
    finally:
        await platform.close()


async def test_a_cache_that_cannot_list_is_unavailable_never_empty(
    kube: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kube.kubeconfig))
    client = connect(policy=RetryPolicy(budget=0.3, minimum=0.3))
    kube.api.trouble.error_rate = 1.0
    kube.api.trouble.errors = (503,)
    cache = ClusterCache(client, timing=CacheTiming(sync_timeout=1.0))
    platform = KubernetesPlatform(client, NS, cache=cache)
    try:
        with pytest.raises(ObservationUnavailable, match="cannot list Deployments in namespace"):
            await platform.workload_ready("Deployment", "risk")
        with pytest.raises(ObservationUnavailable, match="Pods in namespace trading"):
            await platform.select({"app": "risk"})
    finally:
        await platform.close()
        await cache.close()
        await client.close()


async def test_a_watch_broken_for_too_long_is_unavailable_until_it_is_back(
    kube: Cluster, retrying: AsyncClient
) -> None:
    # As the operator's: the watches' client gives up sooner, so that a cache knows its watch
    # is broken while the client would still be retrying.
    watching = connect(policy=RetryPolicy(budget=0.5, minimum=0.5))
    cache = ClusterCache(watching, timing=CacheTiming(stale_after=0.5, max_retry=0.5))
    platform = KubernetesPlatform(retrying, NS, cache=cache)
    kube.api.trouble.cut_watches_after = 0.2  # every watch, from the first
    try:
        assert (await platform.workload_ready("Deployment", "risk"))[0]
        kube.api.trouble.error_rate = 1.0
        kube.api.trouble.errors = (503,)

        async def unavailable() -> bool:
            try:
                await platform.workload_ready("Deployment", "risk")
            except ObservationUnavailable as error:
                return "has been broken for" in str(error)
            return False

        async def available() -> bool:
            return not await unavailable()

        await eventually(unavailable, within=15, what="reads refused while the watch is broken")
        kube.api.trouble.error_rate = 0.0
        kube.api.trouble.cut_watches_after = None
        await eventually(available, within=15, what="reads trusted again once it is back")
        assert (await platform.workload_ready("Deployment", "risk"))[0]
    finally:
        await platform.close()
        await cache.close()
        await watching.close()
