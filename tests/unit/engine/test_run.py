"""The engine against a fake platform whose workloads are real TCP listeners on loopback.

A fault closes a workload's listener; a restart or a revert opens it again on the same port.
Checks are ``tcp`` probes, so what the engine observes is what the fake did, at the moment it
did it. Nothing waits a fixed time for a condition: waits are on events, with deadlines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from test_coordinator.engine import Abort, Observers, RunObserver, run_scenario
from test_coordinator.engine.journal import JournalEntry
from test_coordinator.errors import PlatformError
from test_coordinator.platforms.base import Applied, Platform, Workload
from test_coordinator.scenario.loading import parse_scenario
from test_coordinator.scenario.model import API_VERSION, KIND, ChaosScenario, FaultSpec
from test_coordinator.scenario.status import (
    CheckStatus,
    Phase,
    ScenarioStatus,
    Verdict,
    When,
)

RESTART_DELAY = 0.3
RUN_LIMIT = 5.0  # no run here should come near it


# --- the fake platform -----------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    at: float  # monotonic, when the engine asked
    op: str  # "apply" or "revert"
    action: str
    workload: str


class FakePlatform(Platform):
    """Workloads in memory, each a TCP listener on 127.0.0.1; every call recorded."""

    name = "fake"
    faults = frozenset({"kill", "restart", "stop", "pause"})

    def __init__(self, *, restart_delay: float | None = RESTART_DELAY) -> None:
        self.restart_delay = restart_delay  # after a kill; None: nothing restarts it
        self.workloads: dict[str, Workload] = {}
        self.ports: dict[str, int] = {}
        self.servers: dict[str, asyncio.Server | None] = {}
        self.calls: list[Call] = []
        self.faulted: set[str] = set()  # stopped or paused, not yet reverted
        self.fail_apply: set[str] = set()  # workload ids whose apply raises PlatformError
        self.apply_delay: dict[str, float] = {}  # workload id -> seconds before apply acts
        self.in_flight = 0  # applies started and not yet finished
        self.applied = asyncio.Event()
        self.restarted: dict[str, float] = {}  # workload id -> monotonic time of the restart
        self._restarts: set[asyncio.Task[None]] = set()

    # set-up, as a test uses it

    async def add(self, workload_id: str, **labels: str) -> None:
        self.workloads[workload_id] = Workload(workload_id, labels)
        self.servers[workload_id] = None
        await self._open(workload_id)

    async def down(self, workload_id: str) -> None:
        await self._close(workload_id)

    def is_up(self, workload_id: str) -> bool:
        return self.servers[workload_id] is not None

    def ops(self, op: str) -> list[Call]:
        return [call for call in self.calls if call.op == op]

    # the Platform interface

    async def select(self, selector: Mapping[str, str]) -> list[Workload]:
        return [
            workload
            for workload_id, workload in sorted(self.workloads.items())
            if all(workload.labels.get(key) == value for key, value in selector.items())
        ]

    async def apply(self, fault: FaultSpec, workload: Workload) -> Applied:
        self.calls.append(Call(time.monotonic(), "apply", fault.action, workload.id))
        self.in_flight += 1
        try:
            if delay := self.apply_delay.get(workload.id):
                await asyncio.sleep(delay)
            if workload.id in self.fail_apply:
                raise PlatformError(f"cannot {fault.action} {workload.id}: permission denied")
            await self._close(workload.id)
            match fault.action:
                case "kill" if self.restart_delay is not None:
                    task = asyncio.create_task(self._restart_later(workload.id))
                    self._restarts.add(task)
                    task.add_done_callback(self._restarts.discard)
                case "restart":
                    await self._open(workload.id)
                case "stop" | "pause":
                    self.faulted.add(workload.id)
            self.applied.set()
            return Applied(f"{fault.action} {workload.id}")
        finally:
            self.in_flight -= 1

    async def revert(self, fault: FaultSpec, workload: Workload) -> str:
        self.calls.append(Call(time.monotonic(), "revert", fault.action, workload.id))
        self.faulted.discard(workload.id)
        if not self.is_up(workload.id):
            await self._open(workload.id)
        return f"resumed {workload.id}"

    async def endpoint(self, workload: Workload, port: int | str) -> str:
        assert port == "main", f"unexpected port {port!r}"
        return f"127.0.0.1:{self.ports[workload.id]}"

    async def close(self) -> None:
        for task in list(self._restarts):
            task.cancel()
        await asyncio.gather(*self._restarts, return_exceptions=True)
        for workload_id in self.servers:
            await self._close(workload_id)

    # listeners

    async def _open(self, workload_id: str) -> None:
        port = self.ports.get(workload_id, 0)
        server = await asyncio.start_server(_serve, "127.0.0.1", port)
        self.ports[workload_id] = server.sockets[0].getsockname()[1]
        self.servers[workload_id] = server

    async def _close(self, workload_id: str) -> None:
        server = self.servers[workload_id]
        if server is not None:
            self.servers[workload_id] = None
            server.close()
            await server.wait_closed()

    async def _restart_later(self, workload_id: str) -> None:
        assert self.restart_delay is not None
        await asyncio.sleep(self.restart_delay)
        await self._open(workload_id)
        self.restarted[workload_id] = time.monotonic()


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    # Wait for the prober to hang up first, so the listener's port is not left in TIME_WAIT.
    with contextlib.suppress(OSError):
        await reader.read()
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


class NoPausePlatform(FakePlatform):
    name = "nopause"
    faults = frozenset({"kill", "restart", "stop"})


@contextlib.asynccontextmanager
async def fake(
    workloads: Mapping[str, Mapping[str, str]], cls: type[FakePlatform] = FakePlatform
) -> AsyncIterator[FakePlatform]:
    """A fake with ``workloads`` (id -> labels) listening; closed on the way out."""
    platform = cls()
    try:
        for workload_id, labels in workloads.items():
            await platform.add(workload_id, **labels)
        yield platform
    finally:
        await platform.close()


@pytest.fixture
async def platform() -> AsyncIterator[FakePlatform]:
    """risk-0 (app=risk) and gateway-0 (app=gateway), both listening."""
    async with fake({"risk-0": {"app": "risk"}, "gateway-0": {"app": "gateway"}}) as platform:
        yield platform


# --- scenarios -------------------------------------------------------------------------------


def tcp(name: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "tcp": {"target": target, "port": "main"}, **extra}


def step(
    name: str,
    action: str,
    target: str,
    *,
    duration: str | None = None,
    after: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {"name": name, "fault": {action: {"target": target}}}
    if duration is not None:
        data["duration"] = duration
    if after:
        data["after"] = after
    return data


def scenario(
    *steps: dict[str, Any],
    targets: dict[str, Any] | None = None,
    steady: list[dict[str, Any]] | None = None,
    during: list[dict[str, Any]] | None = None,
    timeout: str = "2m",
    checked: bool = True,
) -> ChaosScenario:
    spec: dict[str, Any] = {
        "targets": targets
        or {"risk": {"selector": {"app": "risk"}}, "gateway": {"selector": {"app": "gateway"}}},
        "steadyState": [tcp("risk serving", "risk")] if steady is None else steady,
        "during": during or [],
        "steps": list(steps),
        "timeout": timeout,
    }
    data = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": "t"}, "spec": spec}
    # Unchecked: the model alone, for what the loader refuses across fields (a short timeout).
    return parse_scenario(data, source="test") if checked else ChaosScenario.model_validate(data)


async def run(
    chaos: ChaosScenario, platform: Platform, **kwargs: Any
) -> tuple[ScenarioStatus, float]:
    """The final status and how long the run took."""
    began = time.monotonic()
    async with asyncio.timeout(RUN_LIMIT):
        status = await run_scenario(chaos, platform, **kwargs)
    return status, time.monotonic() - began


async def eventually(predicate: Callable[[], bool], *, within: float = 2.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def checks(status: ScenarioStatus, when: When) -> list[CheckStatus]:
    return [check for check in status.checks if check.when is when]


# --- the happy path --------------------------------------------------------------------------


async def test_kill_and_recovery(platform: FakePlatform) -> None:
    chaos = scenario(
        step(
            "crash",
            "kill",
            "risk",
            after=[tcp("risk recovers", "risk", within="2s", interval="50ms")],
        ),
        during=[tcp("gateway keeps serving", "gateway", interval="50ms")],
    )

    status, _ = await run(chaos, platform, run_id="run-1")

    assert status.phase is Phase.SUCCEEDED, status.message
    assert status.verdict is Verdict.PASS
    assert status.run_id == "run-1"
    assert status.recovery_seconds is not None
    assert RESTART_DELAY <= status.recovery_seconds <= RESTART_DELAY + 0.5
    (after,) = checks(status, When.AFTER)
    assert after.passed
    assert after.step == "crash"
    assert after.recovery_seconds == status.recovery_seconds
    assert after.observations > 1  # it failed while the workload was down
    assert [c.passed for c in checks(status, When.STEADY_STATE)] == [True]
    assert [c.passed for c in checks(status, When.FINAL_STEADY_STATE)] == [True]
    (during,) = checks(status, When.DURING)
    assert during.passed
    assert during.success_rate == 1.0
    assert [(c.op, c.action, c.workload) for c in platform.calls] == [("apply", "kill", "risk-0")]
    (fault,) = status.faults
    assert (fault.step, fault.target, fault.workload, fault.action) == (
        "crash",
        "risk",
        "risk-0",
        "kill",
    )
    assert fault.applied_at is not None
    assert fault.reverted_at is None  # a kill is not undone
    assert status.model_dump(mode="json", by_alias=True)["faults"][0]["appliedAt"]
    assert status.steps[0].phase is Phase.SUCCEEDED
    assert status.steps[0].started_at is not None
    assert status.steps[0].finished_at is not None
    assert status.started_at is not None
    assert status.finished_at is not None
    assert status.started_at <= status.finished_at


async def test_restart_fault(platform: FakePlatform) -> None:
    chaos = scenario(
        step("bounce", "restart", "risk", after=[tcp("risk back", "risk", within="1s")])
    )

    status, _ = await run(chaos, platform)

    assert status.phase is Phase.SUCCEEDED, status.message
    assert [(c.op, c.action) for c in platform.calls] == [("apply", "restart")]
    assert status.faults[0].reverted_at is None


# --- steady state ----------------------------------------------------------------------------


async def test_steady_state_failing_applies_nothing(platform: FakePlatform) -> None:
    await platform.down("risk-0")
    chaos = scenario(step("crash", "kill", "risk", after=[tcp("risk recovers", "risk")]))

    status, _ = await run(chaos, platform)

    assert platform.calls == []
    assert status.phase is Phase.FAILED
    assert status.verdict is Verdict.INCONCLUSIVE
    assert "steady state not met" in status.message
    assert "risk serving" in status.message
    assert status.faults == []
    assert status.steps[0].phase is Phase.PENDING
    assert checks(status, When.AFTER) == []


# --- timed faults ----------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["pause", "stop"])
async def test_timed_fault_is_reverted_once_after_its_duration(
    platform: FakePlatform, action: str
) -> None:
    chaos = scenario(
        step(
            "freeze",
            action,
            "risk",
            duration="300ms",
            after=[tcp("risk answers", "risk", within="1s", interval="50ms")],
        )
    )

    status, _ = await run(chaos, platform)

    assert status.phase is Phase.SUCCEEDED, status.message
    (applied,) = platform.ops("apply")
    (reverted,) = platform.ops("revert")
    assert (applied.action, applied.workload) == (action, "risk-0")
    assert (reverted.action, reverted.workload) == (action, "risk-0")
    assert 0.3 <= reverted.at - applied.at <= 0.3 + 0.3
    (fault,) = status.faults
    assert fault.reverted_at is not None
    assert fault.applied_at <= fault.reverted_at
    assert platform.faulted == set()
    (after,) = checks(status, When.AFTER)
    assert after.recovery_seconds is not None
    assert after.recovery_seconds < 0.3  # measured from the revert, not from the apply


# --- abort and timeout -----------------------------------------------------------------------


async def test_abort_reverts_the_outstanding_fault(platform: FakePlatform) -> None:
    chaos = scenario(
        step("freeze", "pause", "risk", duration="10s", after=[tcp("risk answers", "risk")])
    )
    abort = Abort()

    async def abort_once_applied() -> None:
        await platform.applied.wait()
        abort("stopped by the operator")

    aborter = asyncio.create_task(abort_once_applied())
    try:
        status, took = await run(chaos, platform, abort=abort)
    finally:
        aborter.cancel()

    assert took < 2.0
    assert status.phase is Phase.ABORTED
    assert status.verdict is Verdict.INCONCLUSIVE
    assert status.message == "aborted: stopped by the operator"
    assert [(c.op, c.action, c.workload) for c in platform.calls] == [
        ("apply", "pause", "risk-0"),
        ("revert", "pause", "risk-0"),
    ]
    assert platform.faulted == set()
    assert platform.is_up("risk-0")
    (fault,) = status.faults
    assert fault.reverted_at is not None
    assert status.steps[0].phase is Phase.ABORTED


class RemotePlatform(FakePlatform):
    """Its apply is a call to a server (an API request): once sent, it lands whether or not
    the caller still waits for the answer."""

    async def apply(self, fault: FaultSpec, workload: Workload) -> Applied:
        return await asyncio.shield(super().apply(fault, workload))


async def test_an_abort_while_a_fault_is_on_its_way_undoes_it_after_it_lands() -> None:
    async with fake({"risk-0": {"app": "risk"}}, RemotePlatform) as platform:
        platform.apply_delay["risk-0"] = 0.3  # the request on its way
        chaos = scenario(
            step("freeze", "pause", "risk", duration="10s"),
            targets={"risk": {"selector": {"app": "risk"}}},
        )
        abort, observer = Abort(), Recording()

        async def abort_while_applying() -> None:
            await eventually(lambda: platform.in_flight == 1)
            abort("stopped by the operator")

        aborter = asyncio.create_task(abort_while_applying())
        try:
            status, _ = await run(chaos, platform, abort=abort, observer=observer)
        finally:
            aborter.cancel()
        assert platform.in_flight == 0  # landed before the run ended

        assert status.phase is Phase.ABORTED
        assert [(c.op, c.workload) for c in platform.calls] == [
            ("apply", "risk-0"),
            ("revert", "risk-0"),
        ]
        assert platform.faulted == set(), "the pause landed after its undo"
        assert platform.is_up("risk-0")
        [fault] = status.faults
        assert fault.reverted_at is not None
        # It landed: on record (and told) as applied, then undone.
        assert fault.completed_at is not None and fault.message.startswith("pause risk-0")
        assert (
            observer.events.count("fault_applied") == observer.events.count("fault_reverted") == 1
        )


async def test_abort_reason_is_kept_from_the_first_call() -> None:
    abort = Abort()

    abort("first")
    abort("second")

    assert abort.event.is_set()
    assert abort.reason == "first"


async def test_timeout_aborts_and_reverts(platform: FakePlatform) -> None:
    chaos = scenario(
        step("freeze", "pause", "risk", duration="10s", after=[tcp("risk answers", "risk")]),
        timeout="500ms",
        checked=False,  # the loader refuses a timeout shorter than the steps; the engine must too
    )

    status, took = await run(chaos, platform)

    assert 0.5 <= took < 2.0
    assert status.phase is Phase.ABORTED
    assert status.verdict is Verdict.INCONCLUSIVE
    assert "timed out" in status.message
    assert status.message == "aborted: timed out after 500ms"
    assert len(platform.ops("revert")) == 1
    assert platform.faulted == set()
    assert status.faults[0].reverted_at is not None


# --- platform errors -------------------------------------------------------------------------


async def test_apply_error_ends_in_error_and_still_reverts(platform: FakePlatform) -> None:
    platform.fail_apply.add("risk-0")
    chaos = scenario(
        step("freeze", "pause", "risk", duration="1s", after=[tcp("risk answers", "risk")])
    )

    status, _ = await run(chaos, platform)

    assert status.phase is Phase.ERROR
    assert status.verdict is Verdict.INCONCLUSIVE
    assert "cannot pause risk-0: permission denied" in status.message
    assert [(c.op, c.workload) for c in platform.calls] == [
        ("apply", "risk-0"),
        ("revert", "risk-0"),
    ]
    assert status.faults[0].reverted_at is not None


async def test_a_failed_apply_leaves_no_other_workload_faulted() -> None:
    # mode all: risk-0's apply fails at once while risk-1's is still on its way. Whatever the
    # engine does with the second (wait for it, or cancel it), once the run has returned no
    # fault may remain in effect.
    async with fake({"risk-0": {"app": "risk"}, "risk-1": {"app": "risk"}}) as platform:
        platform.fail_apply.add("risk-0")
        platform.apply_delay["risk-1"] = 0.2
        chaos = scenario(
            step("freeze", "pause", "risk", duration="1s"),
            targets={"risk": {"selector": {"app": "risk"}, "mode": "all"}},
        )

        status, _ = await run(chaos, platform)
        await eventually(lambda: platform.in_flight == 0)

        assert status.phase is Phase.ERROR
        assert platform.faulted == set(), f"left faulted; calls: {platform.calls}"
        assert platform.is_up("risk-1")


# --- invalid before anything is touched ------------------------------------------------------


async def test_unsupported_fault_is_invalid_before_any_apply() -> None:
    async with fake({"risk-0": {"app": "risk"}}, NoPausePlatform) as platform:
        chaos = scenario(
            step("crash", "kill", "risk"),
            step("freeze", "pause", "risk", duration="1s"),
            targets={"risk": {"selector": {"app": "risk"}}},
        )

        status, _ = await run(chaos, platform)

    assert platform.calls == []
    assert status.phase is Phase.INVALID
    assert status.verdict is None
    assert "spec.steps[1].fault: pause is not supported on the nopause platform" in status.message
    assert "supported: kill, restart, stop" in status.message
    stalled = next(c for c in status.conditions if c.type == "Stalled")
    assert stalled.status == "True"


class ProxylessPlatform(FakePlatform):
    """Has network faults, and no proxy in front of ``risk-1``'s port."""

    name = "proxyless"
    faults = FakePlatform.faults | {"partition"}

    async def fault_problem(self, fault: FaultSpec, workload: Workload) -> str | None:
        if fault.network is not None and workload.id == "risk-1":
            return f"no fault proxy fronts port {fault.network.port} of {workload.id}"
        return None


async def test_a_fault_the_platform_cannot_land_is_invalid_before_any_apply() -> None:
    """Every selected workload is asked about, since the mode may choose any of them."""
    async with fake({"risk-0": {"app": "risk"}, "risk-1": {"app": "risk"}}, ProxylessPlatform) as (
        platform
    ):
        cut = {"partition": {"target": "risk", "port": "main"}}
        chaos = scenario(
            step("crash", "kill", "risk"),
            {"name": "cut", "fault": cut, "duration": "1s"},
            targets={"risk": {"selector": {"app": "risk"}, "mode": "one"}},
        )

        status, _ = await run(chaos, platform)

    assert platform.calls == []
    assert status.phase is Phase.INVALID
    assert status.message == (
        "spec.steps[1].fault.partition: no fault proxy fronts port main of risk-1"
    )


class DeletingPlatform(FakePlatform):
    """Like Kubernetes: a stop is a deletion whose exit the platform cannot see."""

    name = "deleting"
    reports_graceful_stop = False


async def test_require_graceful_stop_is_invalid_where_it_cannot_be_observed() -> None:
    async with fake({"risk-0": {"app": "risk"}}, DeletingPlatform) as platform:
        crash = step("restart", "restart", "risk")
        crash["fault"]["restart"]["requireGracefulStop"] = True
        chaos = scenario(crash, targets={"risk": {"selector": {"app": "risk"}}})

        status, _ = await run(chaos, platform)

    assert platform.calls == []
    assert status.phase is Phase.INVALID
    assert (
        "spec.steps[0].fault.restart.requireGracefulStop: the deleting platform cannot tell "
        "whether a workload stopped gracefully"
    ) in status.message


async def test_selector_matching_nothing_is_invalid(platform: FakePlatform) -> None:
    chaos = scenario(
        step("crash", "kill", "ghost"),
        targets={
            "risk": {"selector": {"app": "risk"}},
            "ghost": {"selector": {"app": "ghost", "tier": "x"}},
        },
    )

    status, _ = await run(chaos, platform)

    assert platform.calls == []
    assert status.phase is Phase.INVALID
    assert "spec.targets.ghost.selector: app=ghost,tier=x matches no workload" in status.message
    assert "gateway-0" in status.message  # what there is instead
    assert "risk-0" in status.message


async def test_mode_fixed_wider_than_the_selection_is_invalid() -> None:
    async with fake({"risk-0": {"app": "risk"}, "risk-1": {"app": "risk"}}) as platform:
        chaos = scenario(
            step("crash", "kill", "risk"),
            targets={"risk": {"selector": {"app": "risk"}, "mode": "fixed", "value": 3}},
        )

        status, _ = await run(chaos, platform)

    assert platform.calls == []
    assert status.phase is Phase.INVALID
    assert "spec.targets.risk: mode fixed 3 needs 3 workloads" in status.message
    assert "selects only 2 (risk-0, risk-1)" in status.message


# --- modes -----------------------------------------------------------------------------------


async def test_mode_all_hits_every_workload() -> None:
    workloads = {f"risk-{i}": {"app": "risk"} for i in range(3)}
    async with fake({**workloads, "other-0": {"app": "other"}}) as platform:
        platform.restart_delay = 0.1
        chaos = scenario(
            step("crash", "kill", "risk", after=[tcp("all back", "risk", within="2s")]),
            targets={"risk": {"selector": {"app": "risk"}, "mode": "all"}},
        )

        status, _ = await run(chaos, platform)

    assert status.phase is Phase.SUCCEEDED, status.message
    assert sorted(c.workload for c in platform.ops("apply")) == ["risk-0", "risk-1", "risk-2"]
    assert sorted(f.workload for f in status.faults) == ["risk-0", "risk-1", "risk-2"]


async def test_mode_fixed_hits_that_many_distinct_workloads() -> None:
    async with fake({f"risk-{i}": {"app": "risk"} for i in range(4)}) as platform:
        chaos = scenario(
            step("bounce", "restart", "risk"),
            targets={"risk": {"selector": {"app": "risk"}, "mode": "fixed", "value": 2}},
            steady=[],
        )

        status, _ = await run(chaos, platform)

    assert status.phase is Phase.SUCCEEDED, status.message
    hit = [c.workload for c in platform.ops("apply")]
    assert len(hit) == 2
    assert len(set(hit)) == 2


# --- a failing step --------------------------------------------------------------------------


async def test_a_failed_step_skips_the_rest(platform: FakePlatform) -> None:
    platform.restart_delay = None  # a crash is final
    chaos = scenario(
        step("crash", "kill", "risk", after=[tcp("risk recovers", "risk", within="300ms")]),
        step("crash gateway", "kill", "gateway"),
        steady=[tcp("gateway serving", "gateway")],
    )

    status, _ = await run(chaos, platform)

    assert status.phase is Phase.FAILED
    assert status.verdict is Verdict.FAIL
    assert "risk recovers" in status.message
    assert [c.workload for c in platform.ops("apply")] == ["risk-0"]
    first, second = status.steps
    assert first.phase is Phase.FAILED
    assert "not recovered: risk recovers" in first.message
    assert second.phase is Phase.PENDING
    assert second.message.startswith("skipped")
    assert "'crash'" in second.message
    (after,) = checks(status, When.AFTER)
    assert not after.passed
    assert "not passing within 300ms" in after.observed


async def test_a_failed_during_check_fails_the_run(platform: FakePlatform) -> None:
    chaos = scenario(
        step("crash", "kill", "risk", after=[tcp("risk recovers", "risk", within="2s")]),
        during=[tcp("risk keeps serving", "risk", interval="50ms")],
    )

    status, _ = await run(chaos, platform)

    assert status.phase is Phase.FAILED
    assert status.verdict is Verdict.FAIL
    (during,) = checks(status, When.DURING)
    assert not during.passed
    assert during.success_rate is not None
    assert during.success_rate < 1.0
    assert "risk keeps serving" in status.message


# --- observers -------------------------------------------------------------------------------


class Recording(RunObserver):
    def __init__(self) -> None:
        self.events: list[str] = []
        self.checks: list[str] = []
        self.entries: list[JournalEntry] = []

    def run_started(self, status: ScenarioStatus) -> None:
        self.events.append("run_started")

    def fault_applied(self, entry: JournalEntry) -> None:
        self.events.append("fault_applied")
        self.entries.append(entry)

    def fault_reverted(self, entry: JournalEntry) -> None:
        self.events.append("fault_reverted")

    def check_finished(self, check: CheckStatus) -> None:
        self.events.append("check_finished")
        self.checks.append(check.name)

    def run_finished(self, status: ScenarioStatus) -> None:
        self.events.append("run_finished")


class Raising(RunObserver):
    def run_started(self, *args: object) -> None:
        raise RuntimeError("observer bug")

    def stage(self, *args: object) -> None:
        raise RuntimeError("observer bug")

    def fault_applied(self, *args: object) -> None:
        raise RuntimeError("observer bug")

    def fault_reverted(self, *args: object) -> None:
        raise RuntimeError("observer bug")

    def check_finished(self, *args: object) -> None:
        raise RuntimeError("observer bug")

    def run_finished(self, *args: object) -> None:
        raise RuntimeError("observer bug")


async def test_observers_see_the_run_and_a_raising_one_breaks_nothing(
    platform: FakePlatform, caplog: pytest.LogCaptureFixture
) -> None:
    chaos = scenario(
        step(
            "freeze",
            "pause",
            "risk",
            duration="100ms",
            after=[tcp("risk answers", "risk", within="1s")],
        )
    )
    recording = Recording()

    with caplog.at_level(logging.ERROR):
        status, _ = await run(chaos, platform, observer=Observers([Raising(), recording]))

    assert status.phase is Phase.SUCCEEDED, status.message
    events = recording.events
    assert events[0] == "run_started"
    assert events[-1] == "run_finished"
    assert events.count("fault_applied") == 1
    assert events.count("fault_reverted") == 1
    assert events.index("fault_applied") < events.index("fault_reverted")
    assert sorted(recording.checks) == sorted(check.name for check in status.checks)
    assert recording.entries[0].workload.id == "risk-0"
    assert "observer Raising failed" in caplog.text
