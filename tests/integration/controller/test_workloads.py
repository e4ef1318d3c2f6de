"""Faults on workloads through the operator: ``restart`` with its grace period, and a StatefulSet
scaled, restored (also by an operator restarted after a crash), rolled and waited for. The
simulated StatefulSet controller (``tests/integration/kube.py``) brings pods back one at a time,
in order, under their own names; its kubelet removes a gracefully deleted pod only once its
container has exited."""

from __future__ import annotations

from typing import Any

from tests.integration.controller.conftest import NAMESPACE, StartOperator
from tests.integration.controller.scenarios import finished
from tests.integration.kube import REVISION, Cluster, until

READY, SHUTDOWN = 0.4, 0.6  # seconds a ledger pod takes to become Ready, and to stop


def ledger_spec(fault: dict[str, Any], *, duration: str | None = None) -> dict[str, Any]:
    step: dict[str, Any] = {
        "name": "ledger",
        "fault": fault,
        "after": [
            {
                "name": "ledger ready",
                "workloadReady": {"kind": "StatefulSet", "name": "ledger"},
                "within": "15s",
            }
        ],
    }
    if duration:
        step["duration"] = duration
    return {"targets": {"ledger": {"selector": {"app": "ledger"}}}, "steps": [step]}


def replicas(kube: Cluster) -> int:
    statefulset = kube.api.get("statefulsets", NAMESPACE, "ledger")
    assert statefulset is not None
    count: int = statefulset["spec"]["replicas"]
    return count


async def test_restart_deletes_the_pod_with_its_grace_period_and_measures_recovery(
    kube: Cluster, operator: StartOperator
) -> None:
    await kube.statefulset(NAMESPACE, "ledger", ready_delay=READY, shutdown_delay=SHUTDOWN)
    await kube.ready(NAMESPACE, "ledger", 1)
    await operator()

    restart = {"restart": {"target": "ledger", "gracePeriod": "5s"}}
    await kube.scenario(NAMESPACE, "restart", ledger_spec(restart))
    status = await finished(kube, "restart")

    assert (status["phase"], status["verdict"]) == ("Succeeded", "Pass"), status["message"]
    assert kube.api.grace_periods[0] == ("ledger-0", 5)
    assert "grace period 5s" in status["faults"][0]["message"]
    # A StatefulSet's pod comes back under its own name: only once the old one has stopped.
    assert (SHUTDOWN + READY) * 0.8 <= status["recoverySeconds"] <= SHUTDOWN + READY + 3.0
    assert status["checks"][0]["recoverySeconds"] == status["recoverySeconds"]


async def test_a_statefulset_scaled_down_is_restored_and_recovery_measured(
    kube: Cluster, operator: StartOperator
) -> None:
    await kube.statefulset(NAMESPACE, "ledger", replicas=3, ready_delay=READY)
    await kube.ready(NAMESPACE, "ledger", 3)
    await operator()

    scale = {"scale": {"target": "ledger", "replicas": 1}}
    await kube.scenario(NAMESPACE, "shrink", ledger_spec(scale, duration="1s"))
    status = await finished(kube, "shrink")

    assert (status["phase"], status["verdict"]) == ("Succeeded", "Pass"), status["message"]
    assert replicas(kube) == 3
    [fault] = status["faults"]
    assert fault["workload"] == "statefulset/ledger" and fault["revertedAt"]
    assert "back to 3 replicas" in fault["message"]
    # ledger-1, then ledger-2 once ledger-1 is Ready: two start-ups after the revert.
    assert 2 * READY * 0.8 <= status["recoverySeconds"] <= 2 * READY + 3.0
    assert len(kube.pods(NAMESPACE, "ledger")) == 3


async def test_a_restarted_operator_restores_a_statefulset_a_crashed_one_scaled(
    kube: Cluster, operator: StartOperator
) -> None:
    await kube.statefulset(NAMESPACE, "ledger", replicas=2)
    await kube.ready(NAMESPACE, "ledger", 2)
    first = await operator()
    scale = {"scale": {"target": "ledger", "replicas": 0}}
    await kube.scenario(NAMESPACE, "shrink", ledger_spec(scale, duration="60s"))
    await until(
        lambda: (
            replicas(kube) == 0
            and any(f.get("appliedAt") for f in kube.status(NAMESPACE, "shrink").get("faults", []))
        ),
        within=15,
        what="ledger scaled to 0 and recorded",
    )

    await first.crash()
    await until(lambda: not kube.pods(NAMESPACE, "ledger"), within=10, what="no ledger pods")
    await operator()
    status = await finished(kube, "shrink", within=20)

    assert status["phase"] == "Aborted"
    assert "1 of 1 recorded faults reverted" in status["message"]
    assert replicas(kube) == 2
    annotations = kube.api.get("statefulsets", NAMESPACE, "ledger")["metadata"]["annotations"]
    assert "chaos.tse.dev/original-replicas" not in annotations
    await kube.ready(NAMESPACE, "ledger", 2)


async def test_a_rollout_restart_of_a_statefulset_recovers_when_every_pod_is_replaced(
    kube: Cluster, operator: StartOperator
) -> None:
    await kube.statefulset(NAMESPACE, "ledger", replicas=2, ready_delay=READY)
    await kube.ready(NAMESPACE, "ledger", 2)
    uids = {p["metadata"]["uid"] for p in kube.pods(NAMESPACE, "ledger")}
    await operator()

    await kube.scenario(NAMESPACE, "roll", ledger_spec({"rolloutRestart": {"target": "ledger"}}))
    status = await finished(kube, "roll")

    assert (status["phase"], status["verdict"]) == ("Succeeded", "Pass"), status["message"]
    assert status["faults"][0]["workload"] == "statefulset/ledger"
    # One pod at a time, each Ready before the next goes: not before both have started anew.
    assert 2 * READY * 0.8 <= status["recoverySeconds"] <= 2 * READY + 3.0
    pods = kube.pods(NAMESPACE, "ledger")
    assert not uids & {p["metadata"]["uid"] for p in pods}
    revision = kube.api.get("statefulsets", NAMESPACE, "ledger")["status"]["updateRevision"]
    assert {p["metadata"]["labels"][REVISION] for p in pods} == {revision}
