"""Faults on a real compose project's containers, through the engine: crash, pause, stop,
restart, and undo. The demo stack's test variant runs on this machine's Docker engine."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_coordinator.engine import run_scenario
from test_coordinator.errors import PlatformError
from test_coordinator.platforms.base import Workload
from test_coordinator.platforms.compose import ComposePlatform
from test_coordinator.platforms.compose.faults import crash
from test_coordinator.scenario import (
    ChaosScenario,
    FaultSpec,
    ScenarioStatus,
    Verdict,
    When,
)

from tests.conftest import wait_for_port
from tests.documents import chaos_scenario
from tests.integration.platforms.compose.projects import (
    ComposeProject,
    demo_project,
    requires_engine,
    running,
    tiny_project,
)
from tests.integration.services import wait_until
from tests.integration.stacks import process_state

pytestmark = requires_engine

RISK_SERVING = {"name": "risk serving", "grpcHealth": {"target": "risk", "port": "grpc"}}
GATEWAY_HEALTH = {"target": "gateway", "port": "http", "path": "/api/v1/health"}


def scenario(spec: dict[str, Any]) -> ChaosScenario:
    targets = {
        "risk": {"selector": {"app": "risk-monitor"}},
        "gateway": {"selector": {"service": "order-gateway"}},
    }
    steady = [{**RISK_SERVING, "within": "30s"}]
    return chaos_scenario(
        "compose-test", {"targets": targets, "steadyState": steady, "timeout": "2m", **spec}
    )


async def run_on(project: ComposeProject, spec: dict[str, Any]) -> ScenarioStatus:
    async with ComposePlatform(project.name) as platform:
        return await run_scenario(scenario(spec), platform)


def check(status: ScenarioStatus, name: str) -> Any:
    return next(check for check in status.checks if check.name == name)


@pytest.fixture
def fragile_stack() -> Iterator[ComposeProject]:
    """The risk monitor (and Redis) alone, with no restart policy: a crash is final."""
    with running(demo_project(RISK_MONITOR_RESTART="no"), "risk-monitor") as project:
        wait_for_port(project.port("RISK_MONITOR_GRPC"), timeout=60)
        yield project


async def test_a_crash_the_restart_policy_recovers_passes_with_its_recovery_time(
    demo_stack: ComposeProject,
) -> None:
    before = demo_stack.inspect("risk-monitor")
    status = await run_on(
        demo_stack,
        {
            "steps": [
                {
                    "name": "crash",
                    "fault": {"kill": {"target": "risk"}},
                    "after": [{**RISK_SERVING, "name": "risk back", "within": "20s"}],
                }
            ]
        },
    )
    assert status.verdict is Verdict.PASS, status.message
    # Never less than the engine's first restart delay (100 ms): no dying process taken for a
    # recovered one.
    assert status.recovery_seconds is not None and status.recovery_seconds >= 0.1
    [fault] = status.faults
    pid = before["State"]["Pid"]
    assert fault.message == (
        f"SIGKILL to pid {pid}, the main process of {before['Name'].lstrip('/')}; "
        "restart policy always"
    )
    after = demo_stack.inspect("risk-monitor")
    # The engine restarted the same container: a crash, not a stop.
    assert after["Id"] == before["Id"]
    assert after["RestartCount"] == before["RestartCount"] + 1
    assert after["State"]["Pid"] != pid


async def test_a_crash_returns_once_the_process_is_dead(demo_stack: ComposeProject) -> None:
    kill = FaultSpec.model_validate({"kill": {"target": "gateway"}})
    pid = demo_stack.inspect("order-gateway")["State"]["Pid"]
    async with ComposePlatform(demo_stack.name) as platform:
        [gateway] = await platform.select({"app": "order-gateway"})
        await platform.apply(kill, gateway)
        assert process_state(pid) in (None, "Z")
    wait_for_port(demo_stack.port("ORDER_GATEWAY_HTTP"), timeout=30)


async def test_a_crash_nothing_recovers_fails_naming_the_check(
    fragile_stack: ComposeProject,
) -> None:
    status = await run_on(
        fragile_stack,
        {
            "targets": {"risk": {"selector": {"app": "risk-monitor"}}},
            "steadyState": [],  # checked again at the end, it would wait out its `within`
            "steps": [
                {
                    "name": "crash",
                    "fault": {"kill": {"target": "risk"}},
                    "after": [{**RISK_SERVING, "name": "risk back", "within": "3s"}],
                }
            ],
        },
    )
    assert status.verdict is Verdict.FAIL
    assert "risk back (after of step 'crash') failed: not passing within 3s" in status.message
    assert status.faults[0].message.startswith("SIGKILL to pid ")
    assert status.faults[0].message.endswith("; no restart policy")
    state = fragile_stack.inspect("risk-monitor")["State"]
    assert (state["Status"], state["ExitCode"]) == ("exited", 137)


async def test_a_pause_drops_the_during_checks_success_rate_and_is_undone(
    demo_stack: ComposeProject,
) -> None:
    status = await run_on(
        demo_stack,
        {
            "during": [
                {
                    "name": "gateway answers",
                    "http": GATEWAY_HEALTH,
                    "interval": "100ms",
                    "timeout": "300ms",
                    "minSuccessRate": 0.9,
                }
            ],
            "steps": [
                {
                    "name": "freeze gateway",
                    "fault": {"pause": {"target": "gateway"}},
                    "duration": "2s",
                    "after": [{"name": "gateway back", "http": GATEWAY_HEALTH, "within": "10s"}],
                }
            ],
        },
    )
    during = check(status, "gateway answers")
    assert during.when is When.DURING and not during.passed
    assert during.success_rate is not None and during.success_rate < 0.5
    assert during.longest_failure_seconds is not None and during.longest_failure_seconds >= 1.5
    assert "longest outage" in during.observed
    assert status.verdict is Verdict.FAIL
    assert "gateway answers" in status.message
    assert check(status, "gateway back").passed
    [fault] = status.faults
    assert fault.reverted_at is not None
    assert fault.message.startswith("paused ") and fault.message.endswith(
        "unpaused " + (demo_stack.inspect("order-gateway")["Name"].lstrip("/"))
    )
    assert not demo_stack.inspect("order-gateway")["State"]["Paused"]


async def test_a_stop_holds_the_container_down_then_starts_it(demo_stack: ComposeProject) -> None:
    status = await run_on(
        demo_stack,
        {
            "during": [{"name": "gateway answers", "http": GATEWAY_HEALTH, "minSuccessRate": 0.0}],
            "steps": [
                {
                    "name": "stop gateway",
                    "fault": {"stop": {"target": "gateway", "gracePeriod": "5s"}},
                    "duration": "1s",
                    "after": [{"name": "gateway back", "http": GATEWAY_HEALTH, "within": "20s"}],
                }
            ],
        },
    )
    assert status.verdict is Verdict.PASS, status.message
    message = status.faults[0].message
    assert message.startswith("stopped gracefully in "), message
    assert "(exit 0); started again as pid " in message
    assert "connection refused" in check(status, "gateway answers").observed
    assert demo_stack.inspect("order-gateway")["State"]["Running"]


async def test_a_restart_stops_gracefully_and_starts_again(demo_stack: ComposeProject) -> None:
    before = demo_stack.inspect("risk-monitor")["State"]["Pid"]
    status = await run_on(
        demo_stack,
        {
            "steps": [
                {
                    "name": "restart risk",
                    "fault": {"restart": {"target": "risk", "gracePeriod": "5s"}},
                    "after": [{**RISK_SERVING, "name": "risk back", "within": "20s"}],
                }
            ]
        },
    )
    assert status.verdict is Verdict.PASS, status.message
    after = demo_stack.inspect("risk-monitor")["State"]["Pid"]
    assert status.faults[0].message.startswith("stopped gracefully in ")
    assert status.faults[0].message.endswith(f"; started again as pid {after}")
    assert after != before


async def test_undoing_is_idempotent(demo_stack: ComposeProject) -> None:
    pause = FaultSpec.model_validate({"pause": {"target": "gateway"}})
    stop = FaultSpec.model_validate({"stop": {"target": "gateway"}})
    async with ComposePlatform(demo_stack.name) as platform:
        [gateway] = await platform.select({"app": "order-gateway"})
        assert (await platform.apply(pause, gateway)).message.startswith("paused ")
        assert demo_stack.inspect("order-gateway")["State"]["Paused"]
        assert await platform.revert(pause, gateway) == f"unpaused {gateway.id}"
        assert await platform.revert(pause, gateway) == f"{gateway.id} was not paused"
        assert await platform.revert(stop, gateway) == f"{gateway.id} was already running"
    assert demo_stack.inspect("order-gateway")["State"]["Running"]


async def test_targets_resolve_to_the_ports_their_labels_declare(
    demo_stack: ComposeProject,
) -> None:
    async with ComposePlatform(demo_stack.name) as platform:
        workloads = await platform.select({"tier": "trading"})
        assert sorted(w.labels["service"] for w in workloads) == ["order-gateway", "risk-monitor"]
        [risk] = await platform.select({"service": "risk-monitor"})
        http = demo_stack.port("RISK_MONITOR_HTTP")
        assert await platform.endpoint(risk, "http") == f"127.0.0.1:{http}"
        # Its grpc port has a fault proxy in front: reached through it, as the gateway does.
        proxied = demo_stack.port("RISK_PROXY_GRPC")
        assert await platform.endpoint(risk, "grpc") == f"127.0.0.1:{proxied}"
        with pytest.raises(LookupError, match="declares no port named 'redis'"):
            await platform.endpoint(risk, "redis")
        with pytest.raises(LookupError, match="is not a container of project"):
            await platform.endpoint(Workload(id="elsewhere"), "grpc")


async def test_a_service_is_ready_while_its_containers_run_unpaused(
    demo_stack: ComposeProject,
) -> None:
    pause = FaultSpec.model_validate({"pause": {"target": "gateway"}})
    async with ComposePlatform(demo_stack.name) as platform:
        assert await platform.workload_ready("Deployment", "order-gateway") == (
            True,
            "order-gateway: 1 of 1 containers ready",
        )
        [gateway] = await platform.select({"app": "order-gateway"})
        await platform.apply(pause, gateway)
        try:
            ready, observed = await platform.workload_ready("Deployment", "order-gateway")
        finally:
            await platform.revert(pause, gateway)
        assert not ready
        assert observed.startswith(f"{gateway.id}: paused, Up ")
        assert await platform.workload_ready("Deployment", "order-gw") == (
            False,
            f"compose project {demo_stack.name!r} has no service 'order-gw'",
        )


def test_a_pid_that_is_not_the_containers_own_is_never_signalled(
    demo_stack: ComposeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the engine reports when it runs elsewhere (a VM): a PID that means another process
    here. The Docker API's answer is replaced, the only thing this test fakes."""
    from test_coordinator.platforms.compose.docker_api import DockerApi

    api = DockerApi.connect()
    real_inspect = api.inspect

    def inspect_elsewhere(name: str) -> dict[str, Any]:
        info = real_inspect(name)
        info["State"]["Pid"] = os.getpid()  # this test's own process: it must survive
        return info

    monkeypatch.setattr(api, "inspect", inspect_elsewhere)
    name = demo_stack.inspect("risk-monitor")["Name"].lstrip("/")
    try:
        with pytest.raises(PlatformError, match="is not that container's process on this host"):
            crash(api, name)
    finally:
        api.close()


async def test_a_5s_freeze_of_redis_is_a_5s_outage_for_a_command_check(
    demo_stack: ComposeProject,
) -> None:
    # redis-cli connects to a frozen Redis (the kernel accepts) and gets its PONG only after the
    # resume: an answer that late must not count as a pass.
    ping = ["redis-cli", "-p", str(demo_stack.port("REDIS_PORT")), "ping"]
    status = await run_on(
        demo_stack,
        {
            "targets": {"redis": {"selector": {"app": "redis"}}},
            "steadyState": [],
            "during": [
                {
                    "name": "redis answers",
                    "command": {"argv": ping, "outputContains": "PONG"},
                    "interval": "250ms",
                    "timeout": "2s",
                }
            ],
            "steps": [
                {"name": "freeze redis", "fault": {"pause": {"target": "redis"}}, "duration": "5s"},
                {
                    "name": "then",
                    "fault": {"kill": {"target": "redis"}},
                    "after": [{"name": "redis back", "command": {"argv": ping}, "within": "20s"}],
                },
            ],
        },
    )
    during = check(status, "redis answers")
    print(during.observed)
    assert during.longest_failure_seconds is not None, during.observed
    # To within one interval: the outage began between two observations and ended between two
    # (less a millisecond of rounding).
    assert 4.749 <= during.longest_failure_seconds <= 5.25, during.observed
    assert not demo_stack.inspect("redis")["State"]["Paused"]


async def test_a_kill_of_a_paused_container_says_so_and_does_not_wait_for_it(
    demo_stack: ComposeProject,
) -> None:
    pause = FaultSpec.model_validate({"pause": {"target": "gateway"}})
    kill = FaultSpec.model_validate({"kill": {"target": "gateway"}})
    before = demo_stack.inspect("order-gateway")
    async with ComposePlatform(demo_stack.name) as platform:
        [gateway] = await platform.select({"app": "order-gateway"})
        await platform.apply(pause, gateway)
        try:
            began = time.monotonic()
            killed = await platform.apply(kill, gateway)
            took = time.monotonic() - began
        finally:
            await platform.revert(pause, gateway)
    assert killed.message.startswith(f"SIGKILL to pid {before['State']['Pid']}")
    if "paused" in killed.message:  # the cgroup v1 freezer holds even SIGKILL until the thaw
        assert killed.message.endswith(
            f"{gateway.id} is paused: the process dies when it is unpaused"
        )
    assert took < 2.0, f"{took:.2f}s: it waited for a frozen process to die"
    # Once thawed it dies, and the restart policy brings the container back: a crash.
    wait_until(
        lambda: demo_stack.inspect("order-gateway")["RestartCount"] > before["RestartCount"],
        "the gateway restarted",
        timeout=30,
    )
    wait_for_port(demo_stack.port("ORDER_GATEWAY_HTTP"), timeout=30)


@pytest.fixture
def stubborn_stack(tmp_path: Path) -> Iterator[ComposeProject]:
    """A container deaf to SIGTERM: each stop of it needs the engine's SIGKILL."""
    project = tiny_project(tmp_path)
    with running(project, "stubborn"):
        wait_for_port(int(project.env["STUBBORN_PORT"]), timeout=60)
        yield project


@pytest.mark.parametrize("action", ["restart", "stop"])
async def test_require_graceful_stop_fails_a_stop_that_needed_sigkill(
    stubborn_stack: ComposeProject, action: str
) -> None:
    tcp = {"tcp": {"target": "stubborn", "port": "tcp"}}
    step: dict[str, Any] = {
        "name": action,
        "fault": {action: {"target": "stubborn", "gracePeriod": "1s", "requireGracefulStop": True}},
        "after": [{"name": "back", **tcp, "within": "20s"}],
    }
    if action == "stop":
        step["duration"] = "1s"
    async with ComposePlatform(stubborn_stack.name) as platform:
        status = await run_scenario(
            chaos_scenario(
                "graceful",
                {"targets": {"stubborn": {"selector": {"app": "stubborn"}}}, "steps": [step]},
            ),
            platform,
        )
    assert status.verdict is Verdict.FAIL
    [graceful] = [c for c in status.checks if c.when is When.FAULT]
    assert not graceful.passed
    assert "did not stop within the 1s grace period: SIGKILL after 1." in graceful.observed
    assert check(status, "back").passed  # it did come back: only the stop was not graceful
