"""The operator's kill switch: a ConfigMap in its own namespace, watched live. Turned off, it
aborts a running scenario and undoes its fault; while off, a new scenario ends touching
nothing, saying why and where the setting came from."""

from __future__ import annotations

import time

from tests.integration.controller.conftest import NAMESPACE, StartOperator
from tests.integration.controller.scenarios import finished, kill_spec, timed_spec
from tests.integration.kube import OPERATOR_NAMESPACE, Cluster, until

CONFIG_MAPS = f"/api/v1/namespaces/{OPERATOR_NAMESPACE}/configmaps"


async def test_the_config_map_turns_chaos_off_live(kube: Cluster, operator: StartOperator) -> None:
    await kube.namespace(OPERATOR_NAMESPACE, enabled=False)
    await kube.deployment(NAMESPACE, "risk")
    await kube.ready(NAMESPACE, "risk", 1)
    await kube.apply(
        CONFIG_MAPS,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "test-coordinator-config", "namespace": OPERATOR_NAMESPACE},
            "data": {"chaos_injection_enabled": "true"},
        },
    )
    await operator()
    await kube.scenario(NAMESPACE, "cut-off", timed_spec({"isolate": {"target": "risk"}}))
    await until(
        lambda: kube.api.list("networkpolicies", NAMESPACE), within=15, what="a NetworkPolicy"
    )

    await kube.patch(
        f"{CONFIG_MAPS}/test-coordinator-config", {"data": {"chaos_injection_enabled": "false"}}
    )
    turned_off = time.monotonic()
    status = await finished(kube, "cut-off", within=5)

    assert time.monotonic() - turned_off < 2.5
    assert kube.api.list("networkpolicies", NAMESPACE) == []
    assert status["phase"] == "Aborted"
    where = f"chaos_injection_enabled in the ConfigMap {OPERATOR_NAMESPACE}/test-coordinator-config"
    assert status["message"] == f"aborted: chaos injection was disabled ({where} says false)"

    [pod] = kube.pods(NAMESPACE, "risk")
    await kube.scenario(NAMESPACE, "crash", kill_spec())
    refused = await finished(kube, "crash")
    assert refused["message"] == (
        f"chaos injection is disabled ({where} says false): no fault was applied"
    )
    assert not refused.get("faults")
    assert [p["metadata"]["name"] for p in kube.pods(NAMESPACE, "risk")] == [
        pod["metadata"]["name"]
    ]
