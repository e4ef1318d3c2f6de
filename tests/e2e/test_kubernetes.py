"""The operator's flows against a real cluster (``make kind-up && make e2e``): the same as
``tests/integration/controller`` runs against the emulator, with a real API server, real
controllers and a real kubelet, and the operator deployed by ``make deploy`` (restarted by
deleting its pod). Each test works in a namespace of its own, deleted at the end."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(
    not os.environ.get("KUBECONFIG"),
    reason="KUBECONFIG is not set: no cluster to run the end-to-end flows on (make kind-up)",
)

if os.environ.get("KUBECONFIG"):
    from lightkube import ApiError, AsyncClient, KubeConfig
    from lightkube.generic_resource import create_namespaced_resource
    from lightkube.resources.apps_v1 import Deployment
    from lightkube.resources.core_v1 import Namespace, Pod
    from lightkube.resources.networking_v1 import NetworkPolicy
    from lightkube.types import PatchType

    Scenario = create_namespaced_resource(
        "chaos.tse.dev", "v1alpha1", "ChaosScenario", "chaosscenarios"
    )

TERMINAL = ("Succeeded", "Failed", "Aborted", "Invalid", "Error")
IMAGE = os.environ.get("TEST_COORDINATOR_IMAGE", "test-coordinator:dev")
OPERATOR_NAMESPACE = os.environ.get("TEST_COORDINATOR_NAMESPACE", "test-coordinator-system")
OPERATOR_LABELS = {"app.kubernetes.io/name": "test-coordinator"}
EVERY_20S = "* * * * * */20"  # six fields, seconds last


async def until(condition: Callable[[], Any], *, within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = await condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within}s: {what}")
        await asyncio.sleep(0.5)


@pytest.fixture
async def client() -> AsyncIterator[AsyncClient]:
    api = AsyncClient(config=KubeConfig.from_env())
    try:
        async for _ in api.list(Scenario, namespace="default"):
            break
    except ApiError as error:
        pytest.fail(f"the ChaosScenario CRD is not installed ({error}): run `make kind-up`")
    yield api
    await api.close()


async def make_namespace(client: AsyncClient, *, enabled: bool = True) -> str:
    name = f"tc-e2e-{uuid.uuid4().hex[:6]}"
    labels = {"chaos.tse.dev/enabled": "true"} if enabled else {}
    await client.create(Namespace.from_dict({"metadata": {"name": name, "labels": labels}}))
    return name


@pytest.fixture
async def namespace(client: AsyncClient) -> AsyncIterator[str]:
    name = await make_namespace(client)
    yield name
    await client.delete(Namespace, name)


async def web(client: AsyncClient, namespace: str, *, replicas: int = 1) -> None:
    """A tiny workload from the project's image: Python's HTTP server, ready when it listens."""
    await client.create(
        Deployment.from_dict(
            {
                "metadata": {"name": "web", "namespace": namespace},
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"labels": {"app": "web"}},
                        "spec": {
                            "containers": [
                                {
                                    "name": "web",
                                    "image": IMAGE,
                                    "imagePullPolicy": "IfNotPresent",
                                    "command": ["python", "-m", "http.server", "8080"],
                                    "ports": [{"name": "http", "containerPort": 8080}],
                                    "readinessProbe": {
                                        "tcpSocket": {"port": 8080},
                                        "periodSeconds": 1,
                                    },
                                }
                            ]
                        },
                    },
                },
            }
        )
    )
    await until(lambda: ready(client, namespace, replicas), within=120, what="web ready")


async def ready(client: AsyncClient, namespace: str, replicas: int) -> bool:
    deployment = await client.get(Deployment, "web", namespace=namespace)
    return bool(deployment.status and (deployment.status.readyReplicas or 0) >= replicas)


async def apply(client: AsyncClient, namespace: str, name: str, spec: dict[str, Any]) -> None:
    body = {"metadata": {"name": name, "namespace": namespace}, "spec": spec}
    await client.create(
        Scenario.from_dict(
            {"apiVersion": "chaos.tse.dev/v1alpha1", "kind": "ChaosScenario", **body}
        )
    )


async def status(client: AsyncClient, namespace: str, name: str) -> dict[str, Any]:
    obj = await client.get(Scenario, name, namespace=namespace)
    return dict(obj.get("status") or {})


async def finished(client: AsyncClient, namespace: str, name: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        seen = await status(client, namespace, name)
        return seen if seen.get("phase") in TERMINAL else None

    result: dict[str, Any] = await until(done, within=180, what=f"{name} finished")
    return result


def kill_spec() -> dict[str, Any]:
    return {
        "targets": {"web": {"selector": {"app": "web"}}},
        "steps": [
            {
                "name": "crash",
                "fault": {"kill": {"target": "web"}},
                "after": [{"name": "web ready", "workloadReady": {"name": "web"}, "within": "90s"}],
            }
        ],
    }


def timed(fault: dict[str, Any]) -> dict[str, Any]:
    return {
        "targets": {"web": {"selector": {"app": "web"}}},
        "steps": [{"name": "hold", "fault": fault, "duration": "5m"}],
    }


async def test_kill_recovers_and_passes(client: AsyncClient, namespace: str) -> None:
    await web(client, namespace)
    await apply(client, namespace, "crash", kill_spec())

    result = await finished(client, namespace, "crash")

    assert (result["phase"], result["verdict"]) == ("Succeeded", "Pass"), result["message"]
    assert result["recoverySeconds"] > 0


async def test_unlabelled_namespace_is_refused(client: AsyncClient) -> None:
    quiet = await make_namespace(client, enabled=False)
    try:
        await web(client, quiet)
        pods = [p.metadata.name async for p in client.list(Pod, namespace=quiet)]
        await apply(client, quiet, "crash", kill_spec())

        result = await finished(client, quiet, "crash")

        assert result["phase"] == "Invalid"
        assert "chaos.tse.dev/enabled=true" in result["message"]
        assert [p.metadata.name async for p in client.list(Pod, namespace=quiet)] == pods
    finally:
        await client.delete(Namespace, quiet)


async def test_abort_annotation_reverts_isolation(client: AsyncClient, namespace: str) -> None:
    await web(client, namespace)
    await apply(client, namespace, "cut-off", timed({"isolate": {"target": "web"}}))

    async def isolated() -> bool:
        return bool([p async for p in client.list(NetworkPolicy, namespace=namespace)])

    await until(isolated, within=60, what="a NetworkPolicy")
    patch = {"metadata": {"annotations": {"chaos.tse.dev/abort": "true"}}}
    await client.patch(Scenario, "cut-off", patch, namespace=namespace, patch_type=PatchType.MERGE)

    result = await finished(client, namespace, "cut-off")

    assert result["phase"] == "Aborted"
    assert not await isolated()


async def test_delete_mid_scale_restores_replicas(client: AsyncClient, namespace: str) -> None:
    await web(client, namespace, replicas=2)
    await apply(client, namespace, "shrink", timed({"scale": {"target": "web", "replicas": 0}}))

    async def scaled() -> bool:
        deployment = await client.get(Deployment, "web", namespace=namespace)
        return deployment.spec is not None and deployment.spec.replicas == 0

    await until(scaled, within=60, what="web scaled to 0")
    await client.delete(Scenario, "shrink", namespace=namespace)

    async def gone() -> bool:
        try:
            await client.get(Scenario, "shrink", namespace=namespace)
        except ApiError as error:
            return error.status.code == 404
        return False

    await until(gone, within=60, what="the finalizer released")
    deployment = await client.get(Deployment, "web", namespace=namespace)
    assert deployment.spec is not None and deployment.spec.replicas == 2


async def test_invalid_spec_is_stalled_naming_the_field(
    client: AsyncClient, namespace: str
) -> None:
    spec = kill_spec()
    spec["steps"][0]["fault"] = {"kill": {"target": "ghost"}}
    await apply(client, namespace, "broken", spec)

    result = await finished(client, namespace, "broken")

    assert result["phase"] == "Invalid"
    assert "spec.steps[0].fault.kill.target" in result["message"]


async def operator_pods(client: AsyncClient) -> list[Pod]:
    return [
        pod
        async for pod in client.list(Pod, namespace=OPERATOR_NAMESPACE, labels=OPERATOR_LABELS)
        if pod.metadata is not None and pod.metadata.deletionTimestamp is None
    ]


async def restart_operator(client: AsyncClient) -> None:
    """Delete the operator's pod with grace period 0, as near a crash as the API allows (the
    kubelet may still give it a moment to undo its faults on the way out), and wait until the
    Deployment's next pod is Ready."""
    old = {pod.metadata.name for pod in await operator_pods(client) if pod.metadata}
    if not old:
        pytest.fail(f"no operator pod in namespace {OPERATOR_NAMESPACE}: run `make deploy`")
    for name in old:
        await client.delete(Pod, name, namespace=OPERATOR_NAMESPACE, grace_period=0)

    async def successor_ready() -> bool:
        return any(
            pod.metadata.name not in old
            and any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
            for pod in await operator_pods(client)
            if pod.metadata and pod.status
        )

    await until(successor_ready, within=120, what="the operator back and Ready")


async def test_operator_restart_mid_isolate_undoes_it(client: AsyncClient, namespace: str) -> None:
    await web(client, namespace)
    await apply(client, namespace, "cut-off", timed({"isolate": {"target": "web"}}))

    async def isolated_and_recorded() -> bool:
        faults = (await status(client, namespace, "cut-off")).get("faults", [])
        policies = [p async for p in client.list(NetworkPolicy, namespace=namespace)]
        return bool(policies and any(f.get("appliedAt") for f in faults))

    await until(isolated_and_recorded, within=60, what="the isolation applied and recorded")
    await restart_operator(client)

    result = await finished(client, namespace, "cut-off")

    assert result["phase"] == "Aborted"
    # Undone by the operator on its way out, or by the next one from the record.
    assert "the operator" in result["message"], result["message"]
    assert [p async for p in client.list(NetworkPolicy, namespace=namespace)] == []
    async for pod in client.list(Pod, namespace=namespace, labels={"app": "web"}):
        assert pod.metadata is not None
        assert "chaos.tse.dev/isolated" not in (pod.metadata.labels or {})


async def test_restart_fault_recovers_and_passes(client: AsyncClient, namespace: str) -> None:
    await web(client, namespace)
    spec = kill_spec()
    spec["steps"][0]["fault"] = {"restart": {"target": "web", "gracePeriod": "10s"}}
    await apply(client, namespace, "restart", spec)

    result = await finished(client, namespace, "restart")

    assert (result["phase"], result["verdict"]) == ("Succeeded", "Pass"), result["message"]
    assert "grace period 10s" in result["faults"][0]["message"]
    assert result["recoverySeconds"] > 0


async def test_schedule_runs_again_and_keeps_history_limit(
    client: AsyncClient, namespace: str
) -> None:
    await web(client, namespace)
    await apply(
        client, namespace, "nightly", {**kill_spec(), "schedule": EVERY_20S, "historyLimit": 1}
    )
    seen: set[str] = set()

    async def two_runs_seen() -> bool:
        history = (await status(client, namespace, "nightly")).get("history", [])
        assert len(history) <= 1, history
        seen.update(h["runId"] for h in history if h["verdict"] == "Pass")
        return len(seen) >= 2

    await until(two_runs_seen, within=180, what="two scheduled runs that passed")
    assert (await status(client, namespace, "nightly"))["observedGeneration"] == 1


async def test_schedule_goes_on_after_an_operator_restart(
    client: AsyncClient, namespace: str
) -> None:
    await web(client, namespace)
    await apply(client, namespace, "nightly", {**kill_spec(), "schedule": EVERY_20S})

    async def runs() -> set[str]:
        history = (await status(client, namespace, "nightly")).get("history", [])
        return {h["runId"] for h in history if h["phase"] in TERMINAL}

    before = await until(runs, within=120, what="a first run")
    await restart_operator(client)

    async def passed_since() -> bool:
        history = (await status(client, namespace, "nightly")).get("history", [])
        return any(h["runId"] not in before and h["verdict"] == "Pass" for h in history)

    await until(passed_since, within=180, what="a scheduled run after the restart")
