"""What the operator does when a run cannot go on yet: its targets are not there, or another
scenario holds the object its fault acts on. It waits, says so, and never reports a fault it
did not hold."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.integration.controller.conftest import NAMESPACE, StartOperator
from tests.integration.controller.scenarios import SCENARIOS, condition, finished, kill_spec
from tests.integration.kube import Cluster, until


def replicas(kube: Cluster, name: str) -> int:
    deployment = kube.api.get("deployments", NAMESPACE, name)
    assert deployment is not None
    return int(deployment["spec"]["replicas"])


def when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def hold(fault: dict[str, Any], duration: str) -> dict[str, Any]:
    return {
        "targets": {"web": {"selector": {"app": "web"}}},
        "steps": [{"name": "hold", "fault": fault, "duration": duration}],
        "timeout": "1m",
    }


async def test_a_selector_matching_no_pod_waits_pending_and_runs_once_pods_appear(
    kube: Cluster, operator: StartOperator
) -> None:
    # Another scenario has the Deployment at 0 replicas: no pod now, but not bad input.
    await kube.deployment(NAMESPACE, "risk", replicas=0)
    await kube.deployment(NAMESPACE, "other")
    await kube.ready(NAMESPACE, "other", 1)
    await operator()

    await kube.scenario(NAMESPACE, "crash", kill_spec(timeout="1m"))
    status = await until(
        lambda: (
            kube.status(NAMESPACE, "crash").get("phase") == "Pending"
            and kube.status(NAMESPACE, "crash")
        ),
        within=15,
        what="the scenario waiting for its targets",
    )
    message = status["message"]
    assert "spec.targets.risk.selector: app=risk matches no workload" in message, message
    assert "pod/other-" in message  # what is there instead
    assert "empty selector" not in message
    assert condition(status, "Reconciling")["reason"] == "WaitingForTargets"

    await kube.patch(
        f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/risk", {"spec": {"replicas": 1}}
    )
    status = await finished(kube, "crash", within=30)
    assert (status["phase"], status["verdict"]) == ("Succeeded", "Pass"), status["message"]


async def test_targets_that_never_appear_end_the_run_at_its_timeout_saying_why(
    kube: Cluster, operator: StartOperator
) -> None:
    await operator()
    await kube.scenario(NAMESPACE, "crash", kill_spec(within="2s", timeout="3s"))
    status = await finished(kube, "crash", within=20)

    assert (status["phase"], status["verdict"]) == ("Aborted", "Inconclusive")
    assert "timed out after 3s" in status["message"]
    assert "app=risk matches no workload" in status["message"]
    assert not status.get("faults")


async def test_a_scale_held_by_another_scenario_is_waited_for_not_cut_short(
    kube: Cluster, operator: StartOperator
) -> None:
    await kube.deployment(NAMESPACE, "web", replicas=3)
    await kube.ready(NAMESPACE, "web", 3)
    await operator()

    await kube.scenario(NAMESPACE, "a", hold({"scale": {"target": "web", "replicas": 1}}, "5s"))
    await until(lambda: replicas(kube, "web") == 1, within=15, what="a scaled web to 1")
    await kube.scenario(NAMESPACE, "b", hold({"scale": {"target": "web", "replicas": 2}}, "4s"))
    waiting = await until(
        lambda: (
            kube.status(NAMESPACE, "b").get("phase") == "Pending" and kube.status(NAMESPACE, "b")
        ),
        within=10,
        what="b waiting for a's scale",
    )
    assert "scaled by ChaosScenario a" in waiting["message"], waiting["message"]

    a, b = await finished(kube, "a"), await finished(kube, "b")

    assert (a["phase"], b["phase"]) == ("Succeeded", "Succeeded"), (a["message"], b["message"])
    [a_fault], [b_fault] = a["faults"], b["faults"]
    assert "scaled from 3 to 1" in a_fault["message"]
    assert "scaled from 3 to 2" in b_fault["message"]  # the true original, after a's revert
    # b held its scale only after a had let go of its own, and for its whole duration.
    assert when(b_fault["appliedAt"]) >= when(a_fault["revertedAt"])
    held = (when(b_fault["revertedAt"]) - when(b_fault["appliedAt"])).total_seconds()
    assert held >= 4.0
    assert replicas(kube, "web") == 3
    annotations = kube.api.get("deployments", NAMESPACE, "web")["metadata"].get("annotations", {})  # type: ignore[index]
    assert not {"chaos.tse.dev/original-replicas", "chaos.tse.dev/held-by"} & set(annotations)


async def test_an_isolation_held_by_another_scenario_is_waited_for_not_lifted(
    kube: Cluster, operator: StartOperator
) -> None:
    await kube.deployment(NAMESPACE, "web")
    await kube.ready(NAMESPACE, "web", 1)
    await operator()

    await kube.scenario(NAMESPACE, "a", hold({"isolate": {"target": "web"}}, "5s"))
    await until(lambda: kube.api.list("networkpolicies", NAMESPACE), within=15, what="a policy")
    await kube.scenario(NAMESPACE, "b", hold({"isolate": {"target": "web"}}, "4s"))
    waiting = await until(
        lambda: (
            kube.status(NAMESPACE, "b").get("phase") == "Pending" and kube.status(NAMESPACE, "b")
        ),
        within=10,
        what="b waiting for a's isolation",
    )
    assert "isolated by ChaosScenario a" in waiting["message"], waiting["message"]

    a, b = await finished(kube, "a"), await finished(kube, "b")

    assert (a["phase"], b["phase"]) == ("Succeeded", "Succeeded"), (a["message"], b["message"])
    [a_fault], [b_fault] = a["faults"], b["faults"]
    assert when(b_fault["appliedAt"]) >= when(a_fault["revertedAt"])
    held = (when(b_fault["revertedAt"]) - when(b_fault["appliedAt"])).total_seconds()
    assert held >= 4.0
    assert kube.api.list("networkpolicies", NAMESPACE) == []
    [pod] = kube.pods(NAMESPACE, "web")
    assert "chaos.tse.dev/isolated" not in pod["metadata"].get("labels", {})


async def test_ready_keeps_its_transition_time_while_it_stays_true(
    kube: Cluster, operator: StartOperator
) -> None:
    await kube.deployment(NAMESPACE, "risk")
    await kube.ready(NAMESPACE, "risk", 1)
    await operator()
    await kube.scenario(NAMESPACE, "crash", kill_spec())
    first = await finished(kube, "crash")
    assert condition(first, "Ready")["status"] == "True", first["message"]

    await kube.patch(f"{SCENARIOS}/crash", {"spec": {"description": "run again"}})
    second = await until(
        lambda: (
            kube.status(NAMESPACE, "crash").get("observedGeneration") == 2
            and kube.status(NAMESPACE, "crash").get("phase") == "Succeeded"
            and kube.status(NAMESPACE, "crash")
        ),
        within=30,
        what="the second run passed",
    )

    assert second["runId"] != first["runId"]
    ready = condition(second, "Ready")
    assert ready["status"] == "True"
    assert ready["lastTransitionTime"] == condition(first, "Ready")["lastTransitionTime"]
    # Reconciling did go True and back: its time is that of the latest transition.
    assert condition(second, "Reconciling")["lastTransitionTime"] > second["startedAt"]
