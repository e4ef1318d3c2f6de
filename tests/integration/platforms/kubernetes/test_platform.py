"""The Kubernetes platform against the emulated API server (``tests/integration/kube.py``): what
it selects, what each fault does to the cluster's objects, how it undoes them from an id alone,
where it points checks, and where it refuses to go."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from lightkube import AsyncClient, KubeConfig
from test_coordinator.errors import ScenarioInvalid
from test_coordinator.platforms.base import Workload
from test_coordinator.platforms.kubernetes import KubernetesPlatform, WorkloadGone
from test_coordinator.scenario.model import FaultSpec

from tests.integration.kube import OPERATOR_NAMESPACE, Cluster, cluster, until

NS = "trading"


@pytest.fixture
async def kube(tmp_path: Path) -> AsyncIterator[Cluster]:
    async with cluster(tmp_path) as running:
        await running.namespace(NS)
        await running.namespace("quiet", enabled=False)
        await running.namespace(OPERATOR_NAMESPACE)
        await running.deployment(NS, "risk", replicas=2, ports={"grpc": 50051})
        await running.deployment(NS, "gateway", ports={"http": 8080})
        await running.ready(NS, "risk", 2)
        await running.ready(NS, "gateway", 1)
        yield running


@pytest.fixture
async def client(kube: Cluster) -> AsyncIterator[AsyncClient]:
    api = AsyncClient(config=KubeConfig.from_file(kube.kubeconfig))
    yield api
    await api.close()


@pytest.fixture
async def platform(client: AsyncClient) -> KubernetesPlatform:
    platform = KubernetesPlatform(client, NS, operator_namespace=OPERATOR_NAMESPACE)
    await platform.start()
    return platform


def fault(action: str, **params: object) -> FaultSpec:
    return FaultSpec.model_validate({action: {"target": "t", **params}})


async def test_select_finds_the_pods_with_every_label(
    kube: Cluster, platform: KubernetesPlatform
) -> None:
    selected = await platform.select({"app": "risk"})

    names = sorted(p["metadata"]["name"] for p in kube.pods(NS, "risk"))
    assert [w.id for w in selected] == [f"pod/{name}" for name in names]
    assert await platform.select({"app": "risk", "tier": "none"}) == []


async def test_kill_deletes_the_pod_at_once(kube: Cluster, platform: KubernetesPlatform) -> None:
    [victim, _] = await platform.select({"app": "risk"})

    message = await platform.apply(fault("kill"), victim)

    assert "grace period 0s" in message
    assert victim.id.removeprefix("pod/") not in {
        p["metadata"]["name"] for p in kube.pods(NS, "risk")
    }
    await kube.ready(NS, "risk", 2)  # the simulated ReplicaSet replaced it


async def test_scale_records_the_original_count_and_its_revert_restores_it(
    kube: Cluster, platform: KubernetesPlatform
) -> None:
    chosen = await platform.select({"app": "risk"})
    [owner] = await platform.fault_targets(fault("scale", replicas=0), chosen)
    assert owner.id == "deployment/risk"  # both pods, one Deployment: scaled once

    await platform.apply(fault("scale", replicas=0), owner)
    # A second scale (a rerun after a crash) keeps the first original, not the scaled count.
    await platform.apply(fault("scale", replicas=1), owner)
    scaled = kube.api.get("deployments", NS, "risk")
    assert scaled is not None
    assert scaled["spec"]["replicas"] == 1
    assert scaled["metadata"]["annotations"]["chaos.tse.dev/original-replicas"] == "2"

    message = await platform.revert(fault("scale", replicas=1), Workload("deployment/risk"))

    restored = kube.api.get("deployments", NS, "risk")
    assert restored is not None
    assert restored["spec"]["replicas"] == 2
    assert "chaos.tse.dev/original-replicas" not in restored["metadata"]["annotations"]
    assert "back to 2 replicas" in message
    assert "nothing to revert" in await platform.revert(fault("scale", replicas=1), owner)


async def test_a_vanished_deployment_cannot_be_restored(
    kube: Cluster, platform: KubernetesPlatform
) -> None:
    await platform.apply(fault("scale", replicas=0), Workload("deployment/gateway"))
    await kube.delete(f"/apis/apps/v1/namespaces/{NS}/deployments/gateway")

    with pytest.raises(WorkloadGone, match="deployment/gateway is gone"):
        await platform.revert(fault("scale", replicas=0), Workload("deployment/gateway"))


async def test_isolate_adds_a_deny_all_policy_and_its_revert_removes_it(
    kube: Cluster, platform: KubernetesPlatform
) -> None:
    [pod] = await platform.select({"app": "gateway"})

    await platform.apply(fault("isolate"), pod)

    [policy] = kube.api.list("networkpolicies", NS)
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in policy["spec"] and "egress" not in policy["spec"]
    [labelled] = kube.pods(NS, "gateway")
    mark = labelled["metadata"]["labels"]["chaos.tse.dev/isolated"]
    assert policy["spec"]["podSelector"]["matchLabels"] == {"chaos.tse.dev/isolated": mark}

    await platform.revert(fault("isolate"), Workload(pod.id))  # from the id alone

    assert kube.api.list("networkpolicies", NS) == []
    [unlabelled] = kube.pods(NS, "gateway")
    assert "chaos.tse.dev/isolated" not in unlabelled["metadata"]["labels"]
    assert "already gone" in await platform.revert(fault("isolate"), pod)


async def test_rollout_restart_replaces_every_pod(
    kube: Cluster, platform: KubernetesPlatform
) -> None:
    before = {p["metadata"]["name"] for p in kube.pods(NS, "risk")}
    chosen = await platform.select({"app": "risk"})
    [owner] = await platform.fault_targets(fault("rolloutRestart"), chosen)

    await platform.apply(fault("rolloutRestart"), owner)

    await until(
        lambda: not before & {p["metadata"]["name"] for p in kube.pods(NS, "risk")},
        within=10,
        what="every risk pod replaced",
    )
    await kube.ready(NS, "risk", 2)
    assert await platform.workload_ready("Deployment", "risk") == (
        True,
        "2/2 pods ready, 2 available",
    )


async def test_workload_ready_sees_a_missing_pod(
    kube: Cluster, platform: KubernetesPlatform
) -> None:
    await kube.deployment(NS, "ledger", recreate=False)
    await kube.ready(NS, "ledger", 1)
    [pod] = await platform.select({"app": "ledger"})

    await platform.apply(fault("kill"), pod)

    ready, observed = await platform.workload_ready("Deployment", "ledger")
    assert not ready
    assert observed.startswith("0/1 pods ready")
    assert await platform.workload_ready("StatefulSet", "nothing") == (
        False,
        "StatefulSet nothing not found",
    )


async def test_endpoint_prefers_the_service_dns_name(
    kube: Cluster, platform: KubernetesPlatform
) -> None:
    await kube.apply(
        f"/api/v1/namespaces/{NS}/services",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "risk-monitor", "namespace": NS},
            "spec": {
                "selector": {"app": "risk"},
                "ports": [{"name": "grpc", "port": 9000, "targetPort": "grpc"}],
            },
        },
    )
    [risk, _] = await platform.select({"app": "risk"})
    [gateway] = await platform.select({"app": "gateway"})

    assert await platform.endpoint(risk, "grpc") == "risk-monitor.trading.svc:9000"
    # No Service selects the gateway: its pod's address, the port number from the pod spec.
    assert await platform.endpoint(gateway, "http") == "127.0.0.1:8080"
    with pytest.raises(LookupError, match="no container port named 'admin'"):
        await platform.endpoint(gateway, "admin")


@pytest.mark.parametrize(
    ("namespace", "expected"),
    [
        ("quiet", "kubectl label namespace quiet chaos.tse.dev/enabled=true"),
        ("kube-system", "kube-system is a system namespace"),
        (OPERATOR_NAMESPACE, "the operator's own namespace"),
        ("nowhere", "namespace nowhere does not exist"),
    ],
)
async def test_refused_namespaces_say_what_to_change(
    client: AsyncClient, namespace: str, expected: str
) -> None:
    platform = KubernetesPlatform(client, namespace, operator_namespace=OPERATOR_NAMESPACE)

    with pytest.raises(ScenarioInvalid, match=expected.replace(".", r"\.")):
        await platform.start()


async def test_an_empty_selector_is_refused(platform: KubernetesPlatform) -> None:
    with pytest.raises(ScenarioInvalid, match="empty selector"):
        await platform.select({})
