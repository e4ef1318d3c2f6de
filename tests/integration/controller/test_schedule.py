"""``spec.schedule`` through the operator: what each concurrency policy does with a tick that comes
while a run is still going, how much history is kept, and that the schedule outlives an operator
restart. Schedules here have six fields, seconds last, so that ticks come within a test's
patience."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from tests.integration.controller.conftest import NAMESPACE, StartOperator
from tests.integration.controller.scenarios import (
    SCENARIOS,
    condition,
    events,
    kill_spec,
    timed_spec,
    versions,
)
from tests.integration.kube import Cluster, until

EVERY_SECOND = "* * * * * *"


def isolate_spec(duration: str, **extra: Any) -> dict[str, Any]:
    return {**timed_spec({"isolate": {"target": "risk"}}, duration), **extra}


def history(kube: Cluster, name: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = kube.status(NAMESPACE, name).get("history", [])
    return entries


def at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


async def risk(kube: Cluster, **options: Any) -> None:
    await kube.deployment(NAMESPACE, "risk", **options)
    await kube.ready(NAMESPACE, "risk", options.get("replicas", 1))


async def remove(kube: Cluster, name: str) -> dict[str, Any]:
    """Delete the scenario (which stops its schedule) and wait until its finalizer has undone
    every fault; the last status it had."""
    await kube.delete(f"{SCENARIOS}/{name}")
    await until(
        lambda: kube.api.get("chaosscenarios", NAMESPACE, name) is None,
        within=15,
        what=f"{name} deleted, its faults undone",
    )
    return versions(kube, name)[-1]


async def test_forbid_skips_a_tick_while_a_run_is_going_and_says_so(
    kube: Cluster, operator: StartOperator
) -> None:
    await risk(kube)
    await operator()

    await kube.scenario(NAMESPACE, "nightly", isolate_spec("2500ms", schedule=EVERY_SECOND))
    await until(lambda: len(history(kube, "nightly")) >= 2, within=20, what="two runs")
    skipped = events(kube, "nightly", "RunSkipped")

    runs = history(kube, "nightly")
    assert skipped, "no RunSkipped Event for the ticks that came during a run"
    assert all(s.endswith("still running (Forbid)") for s in skipped)
    assert any(runs[0]["runId"] in s for s in skipped)
    # Never two at once: each run began after the one before had ended.
    for earlier, later in itertools.pairwise(runs):
        assert at(earlier["finishedAt"]) <= at(later["startedAt"])
    for status in versions(kube, "nightly"):
        assert len([f for f in status.get("faults", []) if not f.get("revertedAt")]) <= 1
    await remove(kube, "nightly")


async def test_replace_aborts_the_running_run_and_starts_the_new_one(
    kube: Cluster, operator: StartOperator
) -> None:
    await risk(kube)
    await operator()

    spec = isolate_spec("60s", schedule="* * * * * */2", concurrencyPolicy="Replace")
    await kube.scenario(NAMESPACE, "nightly", spec)
    replaced = await until(
        lambda: (
            history(kube, "nightly")
            and kube.status(NAMESPACE, "nightly").get("phase") == "Running"
            and kube.status(NAMESPACE, "nightly").get("faults")
            and kube.api.list("networkpolicies", NAMESPACE)
            and kube.status(NAMESPACE, "nightly")
        ),
        within=20,
        what="a second run isolating the pod after the first was replaced",
    )

    first = replaced["history"][0]
    assert first["phase"] == "Aborted" and first["runId"] != replaced["runId"]
    assert at(first["finishedAt"]) <= at(replaced["startedAt"])
    await until(
        lambda: any(
            "replaced by a newer run (schedule)" in m for m in events(kube, "nightly", "Aborted")
        ),
        within=5,
        what="an Aborted Event naming the replacement",
    )
    # Each run's isolation was undone before the next isolated the pod again: every create of
    # the policy made it anew, none found one left behind (409) to take over. (The first run
    # may have been replaced before it isolated anything: a tick can come right after apply.)
    [policy] = kube.api.list("networkpolicies", NAMESPACE)
    lives = kube.api.history("networkpolicies", NAMESPACE, policy["metadata"]["name"])
    born = [v for i, v in enumerate(lives) if v is not None and (i == 0 or lives[i - 1] is None)]
    assert lives[-1] is not None
    assert len(born) == kube.api.requests["operator", "POST", "networkpolicies"], lives
    for status in versions(kube, "nightly"):
        assert len([f for f in status.get("faults", []) if not f.get("revertedAt")]) <= 1
    final = await remove(kube, "nightly")
    assert final["phase"] == "Aborted"
    assert kube.api.list("networkpolicies", NAMESPACE) == []


async def test_allow_overlaps_runs_and_shows_each_honestly(
    kube: Cluster, operator: StartOperator
) -> None:
    await risk(kube)
    await operator()

    # Each run holds the isolation for 2.5s and one starts every second: they always overlap.
    spec = isolate_spec("2500ms", schedule=EVERY_SECOND, concurrencyPolicy="Allow")
    await kube.scenario(NAMESPACE, "nightly", spec)
    await until(
        lambda: len([h for h in history(kube, "nightly") if h["phase"] != "Running"]) >= 2,
        within=20,
        what="two runs ended",
    )
    final = await remove(kube, "nightly")

    statuses = versions(kube, "nightly")
    # While two runs overlapped, the newer was on top and the older listed as Running.
    overlapping = [
        s
        for s in statuses
        if s.get("phase") == "Running"
        and any(
            h["phase"] == "Running" and h["runId"] != s.get("runId") for h in s.get("history", [])
        )
    ]
    assert overlapping, "no status ever showed two runs at once"
    assert any(len([f for f in s["faults"] if not f.get("revertedAt")]) >= 2 for s in overlapping)
    # The top never went back to an older run once a newer one was shown.
    shown: list[str] = []
    for status in statuses:
        if status.get("runId") and (not shown or shown[-1] != status["runId"]):
            shown.append(status["runId"])
    assert len(shown) == len(set(shown)), shown
    # The pod stayed isolated while any run held it: one deny-all policy, removed once.
    assert [plural for _, plural, _ in kube.api.deletions].count("networkpolicies") == 1
    assert kube.api.list("networkpolicies", NAMESPACE) == []
    runs = final["history"]
    assert [h["startedAt"] for h in runs] == sorted(h["startedAt"] for h in runs)
    assert all(h["phase"] != "Running" for h in runs)
    left = [e for e in events(kube, "nightly", "FaultReverted") if "left in place" in e]
    assert left, "no run said it left the isolation to another"


async def test_allow_keeps_a_newer_run_that_ended_on_top_while_an_older_goes_on(
    kube: Cluster, operator: StartOperator
) -> None:
    await risk(kube, replicas=2)
    await operator()
    await kube.scenario(NAMESPACE, "overlap", isolate_spec("60s", concurrencyPolicy="Allow"))
    await until(
        lambda: kube.api.list("networkpolicies", NAMESPACE), within=15, what="the isolation"
    )
    older = kube.status(NAMESPACE, "overlap")["runId"]

    # A spec change under Allow runs beside the run still going; this one ends quickly.
    await kube.patch(f"{SCENARIOS}/overlap", {"spec": kill_spec(concurrencyPolicy="Allow")})
    status = await until(
        lambda: (
            kube.status(NAMESPACE, "overlap").get("phase") == "Succeeded"
            and kube.status(NAMESPACE, "overlap")
        ),
        within=20,
        what="the newer run passed",
    )

    assert status["runId"] != older and status["observedGeneration"] == 2
    assert [(h["runId"], h["phase"]) for h in status["history"]] == [
        (older, "Running"),
        (status["runId"], "Succeeded"),
    ]
    [isolation] = [f for f in status["faults"] if f["action"] == "isolate"]
    assert not isolation.get("revertedAt")  # still in effect, so still on record
    assert condition(status, "Reconciling") | {"status": "True", "reason": "RunsInProgress"} == (
        condition(status, "Reconciling")
    )
    assert older in condition(status, "Reconciling")["message"]
    assert kube.api.list("networkpolicies", NAMESPACE)

    await kube.patch(
        f"{SCENARIOS}/overlap", {"metadata": {"annotations": {"chaos.tse.dev/abort": "true"}}}
    )
    final = await until(
        lambda: (
            all(h["phase"] != "Running" for h in history(kube, "overlap"))
            and kube.status(NAMESPACE, "overlap")
        ),
        within=15,
        what="the older run aborted",
    )

    assert (final["runId"], final["phase"]) == (status["runId"], "Succeeded")
    assert [(h["runId"], h["phase"]) for h in final["history"]] == [
        (older, "Aborted"),
        (status["runId"], "Succeeded"),
    ]
    assert condition(final, "Reconciling")["status"] == "False"
    assert kube.api.list("networkpolicies", NAMESPACE) == []


async def test_history_limit_caps_the_history(kube: Cluster, operator: StartOperator) -> None:
    await risk(kube)
    await operator()

    await kube.scenario(NAMESPACE, "nightly", kill_spec(schedule=EVERY_SECOND, historyLimit=2))
    await until(lambda: len(events(kube, "nightly", "Succeeded")) >= 4, within=20, what="four runs")

    statuses = versions(kube, "nightly")
    assert {len(s.get("history", [])) for s in statuses} <= {0, 1, 2}
    runs = list(dict.fromkeys(s["runId"] for s in statuses if s.get("runId")))
    assert len(runs) >= 4
    status = statuses[-1]
    newest = runs[-3:-1] if status["phase"] == "Running" else runs[-2:]
    assert [h["runId"] for h in status["history"]] == newest  # the newest finished, in order


async def test_the_schedule_goes_on_after_an_operator_restart(
    kube: Cluster, operator: StartOperator
) -> None:
    await risk(kube, ready_delay=0.5)
    first = await operator()
    await kube.scenario(NAMESPACE, "nightly", kill_spec(schedule="* * * * * */2", historyLimit=2))
    await until(
        lambda: (
            len(history(kube, "nightly")) >= 2
            and kube.status(NAMESPACE, "nightly").get("phase") == "Running"
            and kube.status(NAMESPACE, "nightly").get("faults")
        ),
        within=20,
        what="a third run under way, two in the history",
    )
    interrupted = kube.status(NAMESPACE, "nightly")["runId"]

    await first.crash()
    await operator()
    status = await until(
        lambda: (
            any(h["phase"] == "Succeeded" for h in history(kube, "nightly")[-1:])
            and interrupted in {h["runId"] for h in history(kube, "nightly")}
            and kube.status(NAMESPACE, "nightly")
        ),
        within=20,
        what="a scheduled run after the restart",
    )

    ended, after = status["history"]
    assert (ended["runId"], ended["phase"]) == (interrupted, "Aborted")
    assert after["verdict"] == "Pass" and at(after["startedAt"]) > at(ended["startedAt"])
    assert {len(s.get("history", [])) for s in versions(kube, "nightly")} <= {0, 1, 2}
