"""The Kubernetes platform's faults and ``workloadReady`` on a StatefulSet, whose pods keep their
names: ``ledger-0`` … ``ledger-2`` come back as themselves, one at a time, in order (the
simulated StatefulSet controller of ``tests/integration/kube.py``)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from test_coordinator.platforms.base import Workload
from test_coordinator.platforms.kubernetes import KubernetesPlatform
from test_coordinator.scenario.model import FaultSpec

from tests.integration.kube import REVISION, Cluster, until
from tests.integration.platforms.kubernetes.conftest import NS

LEDGER = [f"pod/ledger-{ordinal}" for ordinal in range(3)]


def fault(action: str, **params: object) -> FaultSpec:
    return FaultSpec.model_validate({action: {"target": "t", **params}})


async def ledger(kube: Cluster, *, ready_delay: float = 0.0) -> None:
    await kube.statefulset(NS, "ledger", replicas=3, ready_delay=ready_delay)
    await kube.ready(NS, "ledger", 3)


def pod_deletions(kube: Cluster, since: int) -> list[str]:
    """Pods deleted since the ``since``-th deletion, in order (each once: the controller's
    graceful delete and the kubelet's final one are the same pod going)."""
    names = [name for _, plural, name in kube.api.deletions[since:] if plural == "pods"]
    return list(dict.fromkeys(names))


async def ready_answers(platform: KubernetesPlatform, kube: Cluster) -> list[tuple[bool, str]]:
    """``workload_ready`` asked until it says ready; never while a pod has an old revision."""
    answers: list[tuple[bool, str]] = []
    deadline = time.monotonic() + 15
    while not (answers and answers[-1][0]):
        assert time.monotonic() < deadline, f"not ready within 15s: {answers[-3:]}"
        answers.append(await platform.workload_ready("StatefulSet", "ledger"))
        revision = kube.api.get("statefulsets", NS, "ledger")["status"]["updateRevision"]
        stale = [
            p for p in kube.pods(NS, "ledger") if p["metadata"]["labels"][REVISION] != revision
        ]
        assert not (answers[-1][0] and stale), f"ready with {len(stale)} old pods: {answers}"
        await asyncio.sleep(0.02)
    return answers


async def test_scale_acts_on_the_statefulset_and_its_revert_restores_the_count(
    kube: Cluster, platform: KubernetesPlatform
) -> None:
    await ledger(kube)
    chosen = await platform.select({"app": "ledger"})
    assert [w.id for w in chosen] == LEDGER
    [owner] = await platform.fault_targets(fault("scale", replicas=1), chosen)
    assert owner.id == "statefulset/ledger"
    seen = len(kube.api.deletions)

    message = (await platform.apply(fault("scale", replicas=1), owner)).message

    assert message == "statefulset/ledger scaled from 3 to 1 replicas"
    scaled = kube.api.get("statefulsets", NS, "ledger")
    assert scaled["metadata"]["annotations"]["chaos.tse.dev/original-replicas"] == "3"
    await until(lambda: len(kube.pods(NS, "ledger")) == 1, within=10, what="ledger scaled to 1")
    assert pod_deletions(kube, seen) == ["ledger-2", "ledger-1"]  # highest ordinal first
    assert (await platform.workload_ready("StatefulSet", "ledger"))[0] is True  # 1 of 1

    message = await platform.revert(fault("scale", replicas=1), Workload("statefulset/ledger"))

    assert message == "statefulset/ledger back to 3 replicas"
    restored = kube.api.get("statefulsets", NS, "ledger")
    assert restored["spec"]["replicas"] == 3
    assert "chaos.tse.dev/original-replicas" not in restored["metadata"]["annotations"]
    await kube.ready(NS, "ledger", 3)
    assert [name for _, name in kube.workloads.created[-2:]] == ["ledger-1", "ledger-2"]
    # The platform reads a watch-fed cache: the controller's status write (3 available) reaches
    # it a moment after the pods are Ready.
    answers = await ready_answers(platform, kube)
    assert answers[-1] == (True, "3/3 pods ready, 3 available")


async def test_rollout_restart_is_not_ready_until_every_pod_has_the_new_revision(
    kube: Cluster, platform: KubernetesPlatform
) -> None:
    await ledger(kube, ready_delay=0.2)
    uids = {p["metadata"]["uid"] for p in kube.pods(NS, "ledger")}
    [owner] = await platform.fault_targets(
        fault("rolloutRestart"), await platform.select({"app": "ledger"})
    )
    seen = len(kube.api.deletions)

    await platform.apply(fault("rolloutRestart"), owner)
    answers = await ready_answers(platform, kube)

    assert any(
        "rollout: " in observed and "pods at revision" in observed for _, observed in answers
    )
    assert answers[-1] == (True, "3/3 pods ready, 3 available")
    pods = kube.pods(NS, "ledger")
    assert sorted(p["metadata"]["name"] for p in pods) == ["ledger-0", "ledger-1", "ledger-2"]
    assert not uids & {p["metadata"]["uid"] for p in pods}  # every one of them replaced
    assert pod_deletions(kube, seen) == ["ledger-2", "ledger-1", "ledger-0"]
    status: dict[str, Any] = kube.api.get("statefulsets", NS, "ledger")["status"]
    assert status["currentRevision"] == status["updateRevision"]


async def test_workload_ready_waits_for_a_killed_pod_to_come_back_as_itself(
    kube: Cluster, platform: KubernetesPlatform
) -> None:
    await ledger(kube, ready_delay=0.5)
    before = {p["metadata"]["name"]: p["metadata"]["uid"] for p in kube.pods(NS, "ledger")}

    await platform.apply(fault("kill"), Workload("pod/ledger-1"))

    ready, observed = await platform.workload_ready("StatefulSet", "ledger")
    assert not ready and observed.startswith("2/3 pods ready")
    await until(
        lambda: "ledger-1" in {p["metadata"]["name"] for p in kube.pods(NS, "ledger")},
        within=10,
        what="ledger-1 recreated",
    )
    assert (await platform.workload_ready("StatefulSet", "ledger"))[0] is False  # not Ready yet
    await kube.ready(NS, "ledger", 3)
    assert await platform.workload_ready("StatefulSet", "ledger") == (
        True,
        "3/3 pods ready, 3 available",
    )
    after = {p["metadata"]["name"]: p["metadata"]["uid"] for p in kube.pods(NS, "ledger")}
    assert after.keys() == before.keys() and after["ledger-1"] != before["ledger-1"]
