"""The operator end to end: a ChaosScenario applied, run, written back, aborted, deleted,
recovered after a crash. The operator is the real process; the cluster is emulated (see
``tests/integration/kube.py``): pods come back and turn Ready as a ReplicaSet and kubelet would.
"""

from __future__ import annotations

import asyncio

import aiohttp
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.integration.controller.conftest import NAMESPACE, StartOperator
from tests.integration.controller.scenarios import (
    SCENARIOS,
    condition,
    finished,
    kill_spec,
    reasons,
    timed_spec,
)
from tests.integration.kube import Cluster, until

READY_DELAY = 1.0


async def test_a_killed_pod_comes_back_and_the_scenario_passes(
    kube: Cluster, operator: StartOperator
) -> None:
    await kube.deployment(NAMESPACE, "risk", replicas=2, ready_delay=READY_DELAY)
    await kube.ready(NAMESPACE, "risk", 2)
    before = {p["metadata"]["name"] for p in kube.pods(NAMESPACE, "risk")}
    running = await operator()

    await kube.scenario(NAMESPACE, "crash", kill_spec())
    status = await finished(kube, "crash")

    assert (status["phase"], status["verdict"]) == ("Succeeded", "Pass"), status["message"]
    # The pod was gone until the simulated kubelet made its successor Ready.
    assert READY_DELAY * 0.8 <= status["recoverySeconds"] <= READY_DELAY + 3.0
    assert status["observedGeneration"] == 1
    assert condition(status, "Ready")["status"] == "True"
    assert condition(status, "Reconciling")["status"] == "False"
    [fault] = status["faults"]
    assert fault["action"] == "kill" and fault["workload"].removeprefix("pod/") in before
    assert len(before & {p["metadata"]["name"] for p in kube.pods(NAMESPACE, "risk")}) == 1
    assert [h["verdict"] for h in status["history"]] == ["Pass"]
    await until(
        lambda: {"FaultApplied", "Succeeded"} <= set(reasons(kube, "crash")),
        within=5,
        what="events for the fault and the verdict",
    )
    async with aiohttp.ClientSession() as session:
        base = f"http://127.0.0.1:{running.health_port}"
        async with session.get(f"{base}/healthz") as response:
            assert response.status == 200
        async with session.get(f"{base}/metrics") as response:
            metrics = await response.text()
    assert 'test_coordinator_runs_total{phase="Succeeded",verdict="Pass"} 1.0' in metrics
    assert "test_coordinator_recovery_seconds_count 1.0" in metrics
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.grpc_port}") as channel:
        answer = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


async def test_a_pod_that_never_comes_back_fails_naming_the_check(
    kube: Cluster, operator: StartOperator
) -> None:
    await kube.deployment(NAMESPACE, "risk", recreate=False)
    await kube.ready(NAMESPACE, "risk", 1)
    await operator()

    await kube.scenario(NAMESPACE, "crash", kill_spec(within="2s"))
    status = await finished(kube, "crash")

    assert (status["phase"], status["verdict"]) == ("Failed", "Fail")
    assert "risk ready" in status["message"] and "0/1 pods ready" in status["message"]
    assert condition(status, "Ready") | {"status": "False", "reason": "ChecksFailed"} == (
        condition(status, "Ready")
    )
    assert status["steps"][0]["phase"] == "Failed"
    await until(lambda: "Failed" in reasons(kube, "crash"), within=5, what="a Failed event")


async def test_the_abort_annotation_reverts_the_fault_and_ends_aborted(
    kube: Cluster, operator: StartOperator
) -> None:
    await kube.deployment(NAMESPACE, "risk")
    await kube.ready(NAMESPACE, "risk", 1)
    await operator()
    await kube.scenario(NAMESPACE, "cut-off", timed_spec({"isolate": {"target": "risk"}}))
    await until(
        lambda: kube.api.list("networkpolicies", NAMESPACE), within=15, what="a NetworkPolicy"
    )

    await kube.patch(
        f"{SCENARIOS}/cut-off", {"metadata": {"annotations": {"chaos.tse.dev/abort": "true"}}}
    )
    status = await finished(kube, "cut-off", within=15)

    assert status["phase"] == "Aborted"
    assert "chaos.tse.dev/abort=true" in status["message"]
    assert kube.api.list("networkpolicies", NAMESPACE) == []
    [pod] = kube.pods(NAMESPACE, "risk")
    assert "chaos.tse.dev/isolated" not in pod["metadata"]["labels"]
    assert status["faults"][0]["revertedAt"]
    scenario = kube.api.get("chaosscenarios", NAMESPACE, "cut-off")
    assert scenario is not None
    assert "chaos.tse.dev/abort" not in scenario["metadata"].get("annotations", {})
    await until(
        lambda: {"FaultApplied", "FaultReverted", "Aborted"} <= set(reasons(kube, "cut-off")),
        within=5,
        what="events for apply, revert and verdict",
    )


async def test_deleting_a_scenario_mid_scale_restores_replicas_and_lets_go(
    kube: Cluster, operator: StartOperator
) -> None:
    await kube.deployment(NAMESPACE, "risk", replicas=3)
    await kube.ready(NAMESPACE, "risk", 3)
    await operator()
    await kube.scenario(
        NAMESPACE, "shrink", timed_spec({"scale": {"target": "risk", "replicas": 0}})
    )
    await until(
        lambda: kube.api.get("deployments", NAMESPACE, "risk")["spec"]["replicas"] == 0,
        within=15,
        what="risk scaled to 0",
    )
    await until(lambda: not kube.pods(NAMESPACE, "risk"), within=10, what="no risk pods")

    await kube.delete(f"{SCENARIOS}/shrink")
    await until(
        lambda: kube.api.get("chaosscenarios", NAMESPACE, "shrink") is None,
        within=15,
        what="the finalizer released and the scenario gone",
    )

    deployment = kube.api.get("deployments", NAMESPACE, "risk")
    assert deployment is not None
    assert deployment["spec"]["replicas"] == 3
    assert "chaos.tse.dev/original-replicas" not in deployment["metadata"].get("annotations", {})
    await kube.ready(NAMESPACE, "risk", 3)


async def test_a_restarted_operator_undoes_what_a_crashed_one_left(
    kube: Cluster, operator: StartOperator
) -> None:
    await kube.deployment(NAMESPACE, "risk")
    await kube.ready(NAMESPACE, "risk", 1)
    first = await operator()
    await kube.scenario(NAMESPACE, "cut-off", timed_spec({"isolate": {"target": "risk"}}))
    await until(
        lambda: (
            kube.api.list("networkpolicies", NAMESPACE)
            and any(f.get("appliedAt") for f in kube.status(NAMESPACE, "cut-off").get("faults", []))
        ),
        within=15,
        what="the isolation applied and recorded",
    )

    await first.crash()
    assert kube.api.list("networkpolicies", NAMESPACE), "nothing undid the fault without us"
    await operator()
    status = await finished(kube, "cut-off", within=20)

    assert kube.api.list("networkpolicies", NAMESPACE) == []
    assert status["phase"] == "Aborted"
    assert "operator restarted during the run" in status["message"]
    assert "1 of 1 recorded faults reverted" in status["message"]
    assert status["faults"][0]["revertedAt"]
    assert [h["phase"] for h in status["history"]] == ["Aborted"]


async def test_a_namespace_without_the_label_is_refused_and_nothing_is_touched(
    kube: Cluster, operator: StartOperator
) -> None:
    await kube.deployment("quiet", "risk")
    await until(lambda: kube.pods("quiet", "risk"), within=10, what="a risk pod in quiet")
    [pod] = kube.pods("quiet", "risk")
    await operator()
    path = "/apis/chaos.tse.dev/v1alpha1/namespaces/quiet/chaosscenarios"
    await kube.apply(
        path,
        {
            "apiVersion": "chaos.tse.dev/v1alpha1",
            "kind": "ChaosScenario",
            "metadata": {"name": "crash", "namespace": "quiet"},
            "spec": kill_spec(),
        },
    )

    status = await until(
        lambda: (
            (kube.api.get("chaosscenarios", "quiet", "crash") or {}).get("status", {}).get("phase")
            == "Invalid"
            and kube.api.get("chaosscenarios", "quiet", "crash")
        ),
        within=20,
        what="the scenario refused",
    )

    assert "chaos.tse.dev/enabled=true" in status["status"]["message"]
    assert condition(status["status"], "Stalled")["status"] == "True"
    assert [p["metadata"]["name"] for p in kube.pods("quiet", "risk")] == [pod["metadata"]["name"]]
    assert not status["status"].get("faults")


async def test_an_invalid_spec_stalls_naming_the_field_until_it_is_fixed(
    kube: Cluster, operator: StartOperator
) -> None:
    await kube.deployment(NAMESPACE, "risk")
    await kube.ready(NAMESPACE, "risk", 1)
    await operator()
    broken = kill_spec()
    broken["steps"][0]["fault"] = {"kill": {"target": "ghost"}}

    await kube.scenario(NAMESPACE, "crash", broken)
    status = await finished(kube, "crash")

    assert status["phase"] == "Invalid"
    assert "spec.steps[0].fault.kill.target" in status["message"]
    assert "ghost" in status["message"]
    assert condition(status, "Stalled")["status"] == "True"
    assert status["observedGeneration"] == 1
    await until(lambda: "Invalid" in reasons(kube, "crash"), within=5, what="an Invalid event")

    await kube.patch(f"{SCENARIOS}/crash", {"spec": kill_spec()})
    fixed = await until(
        lambda: (
            kube.status(NAMESPACE, "crash").get("phase") == "Succeeded"
            and kube.status(NAMESPACE, "crash")
        ),
        within=30,
        what="the fixed spec run",
    )
    assert fixed["observedGeneration"] == 2
    assert condition(fixed, "Stalled")["status"] == "False"


async def test_a_schedule_runs_the_scenario_again(kube: Cluster, operator: StartOperator) -> None:
    await kube.deployment(NAMESPACE, "risk")
    await kube.ready(NAMESPACE, "risk", 1)
    await operator()

    # Six fields: seconds last, so that the second run comes within the test's patience.
    await kube.scenario(NAMESPACE, "nightly", kill_spec(schedule="* * * * * */2", historyLimit=5))
    status = await until(
        lambda: (
            len(kube.status(NAMESPACE, "nightly").get("history", [])) >= 2
            and kube.status(NAMESPACE, "nightly")
        ),
        within=30,
        what="two runs in the history",
    )

    first, second = status["history"][:2]
    assert first["runId"] != second["runId"]
    assert {first["verdict"], second["verdict"]} == {"Pass"}
    assert status["observedGeneration"] == 1  # the spec did not change: the schedule ran it


async def test_a_vanished_target_is_given_up_on_and_the_finalizer_released(
    kube: Cluster, operator: StartOperator
) -> None:
    await kube.deployment(NAMESPACE, "risk", replicas=2)
    await kube.ready(NAMESPACE, "risk", 2)
    await operator()  # gives up after 3s (see tests/integration/kube.py)
    await kube.scenario(
        NAMESPACE, "shrink", timed_spec({"scale": {"target": "risk", "replicas": 1}})
    )
    await until(
        lambda: kube.api.get("deployments", NAMESPACE, "risk")["spec"]["replicas"] == 1,
        within=15,
        what="risk scaled to 1",
    )

    await kube.delete(f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/risk")
    await kube.delete(f"{SCENARIOS}/shrink")
    await until(
        lambda: kube.api.get("chaosscenarios", NAMESPACE, "shrink") is None,
        within=20,
        what="the finalizer released",
    )

    gave_up = [e for e in kube.events(NAMESPACE, "shrink") if e["reason"] == "GaveUp"]
    assert len(gave_up) == 1
    assert "deployment/risk" in gave_up[0]["message"] and "gave up" in gave_up[0]["message"]
    await asyncio.sleep(0)  # let the last event task settle before the cluster stops
