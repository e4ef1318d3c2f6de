"""The operator with many scenarios at once, and an API server that is slow, failing or busy
(the emulator's ``Trouble``): every run ends as the system deserves, none Error because the
API server failed a call; runs beyond ``--max-concurrent-runs`` wait in line, first due first
started; the API requests per scenario stay few; one log line per run start and end."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from typing import Any

from tests.integration.controller.conftest import NAMESPACE, StartOperator
from tests.integration.controller.scenarios import TERMINAL, condition, versions
from tests.integration.kube import Cluster, Operator, until


def kill_spec(app: str, *, within: str = "30s") -> dict[str, Any]:
    return {
        "targets": {"t": {"selector": {"app": app}}},
        "steps": [
            {
                "name": "kill",
                "fault": {"kill": {"target": "t"}},
                "after": [{"name": "back", "workloadReady": {"name": app}, "within": within}],
            }
        ],
        "timeout": "2m",
    }


async def deployments(kube: Cluster, count: int, *, ready_delay: float = 0.2) -> None:
    for i in range(count):
        await kube.deployment(NAMESPACE, f"svc-{i}", ready_delay=ready_delay)
    await until(
        lambda: len(kube.api.list("pods", NAMESPACE)) >= count,
        within=30,
        what=f"{count} pods",
    )


async def all_finished(kube: Cluster, names: list[str], *, within: float) -> list[dict[str, Any]]:
    def statuses() -> list[dict[str, Any]] | None:
        found = [kube.status(NAMESPACE, name) for name in names]
        return found if all(s.get("phase") in TERMINAL for s in found) else None

    done: list[dict[str, Any]] = await until(
        statuses, within=within, what=f"{len(names)} scenarios finished", every=0.2
    )
    return done


def run_lines(operator: Operator) -> list[tuple[str, str]]:
    """("started" | "ended", scenario name) for every run line the operator logged, in order."""
    pattern = re.compile(rf"run [0-9a-f]{{12}} of {NAMESPACE}/(\S+) (started|ended)")
    return [(m[2], m[1]) for m in pattern.finditer(operator.output())]


def operator_requests(kube: Cluster) -> int:
    return sum(n for (client, _, _), n in kube.api.requests.items() if client != "cluster")


async def test_twenty_scenarios_pass_against_a_slow_failing_api_server(
    kube: Cluster, operator: StartOperator
) -> None:
    await deployments(kube, 20)
    trouble = kube.api.trouble
    trouble.latency, trouble.error_rate = 0.05, 0.1  # 429 (Retry-After: 1), 500, 503
    running = await operator()
    names = [f"s-{i}" for i in range(20)]

    await asyncio.gather(
        *(kube.scenario(NAMESPACE, n, kill_spec(f"svc-{i}")) for i, n in enumerate(names))
    )
    statuses = await all_finished(kube, names, within=90)

    outcomes = Counter((s["phase"], s.get("verdict")) for s in statuses)
    assert outcomes == {("Succeeded", "Pass"): 20}, [s["message"] for s in statuses]
    assert sum(kube.api.troubled.values()) >= 10, "too few failed requests to prove anything"
    lines = Counter(run_lines(running))
    assert lines == Counter({("started", n): 1 for n in names} | {("ended", n): 1 for n in names})


async def test_the_api_requests_per_scenario_stay_few(
    kube: Cluster, operator: StartOperator
) -> None:
    await deployments(kube, 30)
    await operator()
    counted = operator_requests(kube)
    names = [f"s-{i}" for i in range(30)]

    await asyncio.gather(
        *(kube.scenario(NAMESPACE, n, kill_spec(f"svc-{i}")) for i, n in enumerate(names))
    )
    statuses = await all_finished(kube, names, within=60)
    # The status writes still in flight: the last one of each run is the terminal one.
    per_scenario = (operator_requests(kube) - counted) / len(names)

    assert all(s["verdict"] == "Pass" for s in statuses)
    assert per_scenario <= 15, kube.api.requests


async def test_runs_beyond_the_bound_wait_in_line_first_due_first_started(
    kube: Cluster, operator: StartOperator
) -> None:
    await kube.deployment(NAMESPACE, "slow-0", ready_delay=3.0)
    await kube.deployment(NAMESPACE, "slow-1", ready_delay=3.0)
    await deployments(kube, 4)
    running = await operator("--max-concurrent-runs", "2")

    for i in range(2):  # two long runs take both slots
        await kube.scenario(NAMESPACE, f"long-{i}", kill_spec(f"slow-{i}"))
        await until(
            lambda i=i: ("started", f"long-{i}") in run_lines(running),
            within=10,
            what=f"long-{i} started",
        )
    queued = [f"s-{i}" for i in range(4)]
    for place, name in enumerate(queued):
        await kube.scenario(NAMESPACE, name, kill_spec(f"svc-{place}"))
        await until(
            lambda name=name: kube.status(NAMESPACE, name).get("phase") == "Pending",
            within=10,
            what=f"{name} waiting in line",
        )

    statuses = await all_finished(kube, ["long-0", "long-1", *queued], within=60)

    assert all(s["verdict"] == "Pass" for s in statuses), [s["message"] for s in statuses]
    for place, name in enumerate(queued):  # each said where it stood as it joined the line
        waiting = next(v for v in versions(kube, name) if v.get("phase") == "Pending")
        assert waiting["message"] == f"queued: {place} ahead"
        reconciling = condition(waiting, "Reconciling")
        assert (reconciling["status"], reconciling["reason"]) == ("True", "Queued")
    lines = run_lines(running)
    assert [name for kind, name in lines if kind == "started"] == ["long-0", "long-1", *queued]
    in_progress, most = 0, 0
    for kind, _ in lines:
        in_progress += 1 if kind == "started" else -1
        most = max(most, in_progress)
    assert most == 2
