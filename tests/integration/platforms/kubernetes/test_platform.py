"""The Kubernetes platform against the emulated API server (``tests/integration/kube.py``): what
it selects, what each fault does to the cluster's objects, how it undoes them from an id alone,
where it points checks, and where it refuses to go."""

from __future__ import annotations

import asyncio
import time

import pytest
from lightkube import AsyncClient
from test_coordinator.errors import ScenarioInvalid
from test_coordinator.platforms.base import Workload
from test_coordinator.platforms.kubernetes import KubernetesPlatform, WorkloadGone
from test_coordinator.scenario.model import FaultSpec

from tests.integration.kube import OPERATOR_NAMESPACE, Cluster, until
from tests.integration.platforms.kubernetes.conftest import NS


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

    message = (await platform.apply(fault("kill"), victim)).message

    assert "grace period 0s" in message
    name = victim.id.removeprefix("pod/")
    assert kube.api.grace_periods == [(name, 0)]
    assert name not in {p["metadata"]["name"] for p in kube.pods(NS, "risk")}
    await kube.ready(NS, "risk", 2)  # the simulated ReplicaSet replaced it


async def test_restart_deletes_the_pod_with_the_fault_grace_period(
    kube: Cluster, platform: KubernetesPlatform
) -> None:
    await kube.deployment(NS, "ledger", shutdown_delay=0.5)
    await kube.ready(NS, "ledger", 1)
    [victim] = await platform.select({"app": "ledger"})
    name = victim.id.removeprefix("pod/")
    restart = FaultSpec.model_validate({"restart": {"target": "t", "gracePeriod": "2500ms"}})

    message = (await platform.apply(restart, victim)).message

    assert "grace period 3s" in message  # whole seconds, rounded up: never less than asked
    assert kube.api.grace_periods[0] == (name, 3)
    # Terminating, no longer selected, while its container shuts down (the simulated 0.5s).
    [leaving] = [p for p in kube.pods(NS, "ledger") if p["metadata"]["name"] == name]
    assert leaving["metadata"]["deletionGracePeriodSeconds"] == 3
    assert victim not in await platform.select({"app": "ledger"})
    assert (await platform.workload_ready("Deployment", "ledger"))[0] is False
    await until(
        lambda: name not in {p["metadata"]["name"] for p in kube.pods(NS, "ledger")},
        within=10,
        what="the restarted pod removed by the kubelet",
    )
    await kube.ready(NS, "ledger", 1)


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


async def test_rollout_restart_is_not_ready_until_every_pod_is_replaced(
    kube: Cluster, platform: KubernetesPlatform
) -> None:
    await kube.deployment(NS, "web", replicas=2, ready_delay=0.4)
    await kube.ready(NS, "web", 2)
    before = {p["metadata"]["name"] for p in kube.pods(NS, "web")}
    chosen = await platform.select({"app": "web"})
    [owner] = await platform.fault_targets(fault("rolloutRestart"), chosen)

    await platform.apply(fault("rolloutRestart"), owner)

    # One surge pod at a time, the old ones Ready meanwhile: "ready" only when none is left.
    answers: list[tuple[bool, str]] = []
    deadline = time.monotonic() + 10
    while not (answers and answers[-1][0]):
        assert time.monotonic() < deadline, f"not ready within 10s: {answers[-3:]}"
        answers.append(await platform.workload_ready("Deployment", "web"))
        # A pod being deleted is out of its Service's endpoints: gone, as kubectl judges it.
        serving = [p for p in kube.pods(NS, "web") if "deletionTimestamp" not in p["metadata"]]
        old = before & {p["metadata"]["name"] for p in serving}
        assert not (answers[-1][0] and old), f"ready with old pods {old} left: {answers}"
        await asyncio.sleep(0.02)
    assert any("rollout: 1 of 2 replicas updated" in observed for _, observed in answers)
    assert answers[-1] == (True, "2/2 pods ready, 2 available")
    assert not before & {p["metadata"]["name"] for p in kube.pods(NS, "web")}


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
