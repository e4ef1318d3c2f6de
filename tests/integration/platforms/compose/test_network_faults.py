"""Network faults on a real compose project: an echo service, a fault proxy container in front of
its port found by labels, real clients through it, and runners killed with SIGKILL."""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_coordinator.engine import run_scenario
from test_coordinator.platforms import Workload
from test_coordinator.platforms.compose import ComposePlatform
from test_coordinator.proxy import ProxyControl, Toxic
from test_coordinator.scenario import Phase, Verdict
from test_coordinator.scenario.model import FaultSpec

from tests.conftest import wait_for_port
from tests.documents import chaos_scenario, scenario_document
from tests.integration.network import close, held, is_reset, round_trip, stream_time
from tests.integration.platforms.compose.projects import (
    REPO,
    ComposeProject,
    network_project,
    requires_engine,
    running,
)

pytestmark = requires_engine


@pytest.fixture(scope="module")
def project() -> Iterator[ComposeProject]:
    with running(network_project()) as up:
        for port in ("ECHO_TCP", "PROXY_TCP", "PROXY_CONTROL"):
            wait_for_port(up.port(port), timeout=60)
        yield up


@pytest.fixture
async def platform(project: ComposeProject) -> AsyncIterator[ComposePlatform]:
    async with ComposePlatform(project.name, lease_seconds=5) as running_platform:
        yield running_platform


@pytest.fixture
async def control(project: ComposeProject) -> AsyncIterator[ProxyControl]:
    async with ProxyControl(f"http://127.0.0.1:{project.port('PROXY_CONTROL')}") as client:
        yield client


def proxy_container(project: ComposeProject) -> str:
    """The proxy's container name (compose v1 and v2 name containers differently)."""
    return str(project.inspect("echo-proxy")["Name"]).lstrip("/")


def fault(action: str, **params: object) -> FaultSpec:
    return FaultSpec.model_validate({action: {"target": "echo", "port": "tcp", **params}})


async def echo_and_proxy(platform: ComposePlatform, spec: FaultSpec) -> tuple[str, Workload]:
    """Where a check reaches the echo service's port, and the workload the fault lands on."""
    [echo] = await platform.select({"app": "echo"})
    [proxy] = await platform.fault_targets(spec, [echo])
    return await platform.endpoint(echo, "tcp"), proxy


async def test_checks_and_faults_go_through_the_proxy_container(
    platform: ComposePlatform, project: ComposeProject
) -> None:
    [echo] = await platform.select({"app": "echo"})
    proxied = f"127.0.0.1:{project.port('PROXY_TCP')}"
    assert await platform.endpoint(echo, "tcp") == proxied
    assert await platform.endpoint(echo, project.port("ECHO_TCP")) == proxied  # by number too
    assert await platform.endpoint(echo, "plain") == f"127.0.0.1:{project.port('ECHO_PLAIN')}"
    [proxy] = await platform.fault_targets(fault("partition"), [echo])
    assert proxy.id == proxy_container(project)
    assert await platform.fault_targets(FaultSpec.model_validate({"kill": {"target": "e"}}), [echo])
    await round_trip(proxied)


async def test_latency_each_way_then_gone(platform: ComposePlatform) -> None:
    slow = fault("latency", delay="200ms")
    address, proxy = await echo_and_proxy(platform, slow)
    applied = await platform.apply(slow, proxy)
    assert "latency 200ms both ways on proxy tcp at http://127.0.0.1:" in applied.message
    assert "lease 5s" in applied.message
    assert 0.4 <= await round_trip(address) < 1.5
    await platform.revert(slow, proxy)
    assert await round_trip(address) < 0.2


async def test_bandwidth_limits_the_rate_until_reverted(platform: ComposePlatform) -> None:
    limit = fault("bandwidth", rate="64KiB/s", direction="upstream")
    address, proxy = await echo_and_proxy(platform, limit)
    await platform.apply(limit, proxy)
    assert 1.6 <= await stream_time(address, 128 * 1024) < 5  # about 2 s
    await platform.revert(limit, proxy)
    assert await stream_time(address, 128 * 1024) < 0.5


async def test_a_partition_holds_the_traffic_until_reverted(platform: ComposePlatform) -> None:
    cut = fault("partition")
    address, proxy = await echo_and_proxy(platform, cut)
    await platform.apply(cut, proxy)
    reader, writer = await held(address)
    await platform.revert(cut, proxy)
    assert await asyncio.wait_for(reader.readexactly(4), 5) == b"ping"
    await close(writer)


async def test_a_reset_resets_connections_until_reverted(platform: ComposePlatform) -> None:
    reset = fault("reset")
    address, proxy = await echo_and_proxy(platform, reset)
    await platform.apply(reset, proxy)
    assert await is_reset(address)
    await platform.revert(reset, proxy)
    assert not await is_reset(address)


async def test_a_fresh_platform_undoes_what_a_dead_runner_left(
    project: ComposeProject, control: ProxyControl
) -> None:
    """The toxics' names are fixed: a revert needs only the journal's fault and workload."""
    left = Toxic.timeout(0, name="chaos-partition_upstream", stream="upstream", lease_seconds=60)
    await control.add_toxic("tcp", left)
    async with ComposePlatform(project.name) as fresh:
        message = await fresh.revert(fault("partition"), Workload(proxy_container(project)))
    assert "where another process had set it" in message
    assert await control.toxics("tcp") == []


async def test_undoing_a_dead_runners_partition_spares_the_one_another_run_set_since(
    project: ComposeProject, control: ProxyControl
) -> None:
    """The dead runner's lease lapsed and another run partitioned the proxy: a third process
    undoing the dead one's journal leaves the live run's fault alone; undone for its real
    holder, or by that holder, it goes."""
    cut, proxy = fault("partition"), Workload(proxy_container(project))
    async with ComposePlatform(project.name, holder="cut (run by pid 2)") as live:
        await live.apply(cut, proxy)
        async with ComposePlatform(project.name, holder="cut (run by pid 3)") as third:
            message = await third.revert_left(cut, proxy, holder="cut (run by pid 1)")
            assert "left as is: toxic chaos-partition_upstream is held by cut (run by pid 2)" in (
                message
            )
            assert len(await control.toxics("tcp")) == 2
            message = await third.revert(cut, proxy)  # its own undo of a fault it never held
            assert "not by cut (run by pid 3)" in message
            assert len(await control.toxics("tcp")) == 2
        message = await live.revert(cut, proxy)
    assert message.startswith("partition removed from proxy tcp at "), message
    assert "another process" not in message  # its own, held: undone as such
    assert await control.toxics("tcp") == []


def partition(port: str, *, duration: str = "2s") -> dict[str, Any]:
    return {
        "targets": {"echo": {"selector": {"app": "echo"}}},
        "steadyState": [{"name": "echo answers", "tcp": {"target": "echo", "port": "tcp"}}],
        "steps": [
            {
                "name": "cut echo off",
                "fault": {"partition": {"target": "echo", "port": port}},
                "duration": duration,
                "after": [
                    {"name": "echo back", "tcp": {"target": "echo", "port": "tcp"}, "within": "5s"}
                ],
            }
        ],
        "timeout": "1m",
    }


async def test_a_run_applies_and_reverts_through_the_proxy(
    platform: ComposePlatform, control: ProxyControl, project: ComposeProject
) -> None:
    status = await run_scenario(chaos_scenario("cut", partition("tcp", duration="1s")), platform)
    assert (status.phase, status.verdict) == (Phase.SUCCEEDED, Verdict.PASS), status.message
    [applied] = status.faults
    assert (applied.action, applied.workload) == ("partition", proxy_container(project))
    assert applied.reverted_at is not None
    assert await control.toxics("tcp") == []


async def test_a_port_no_proxy_fronts_is_invalid_before_anything_is_touched(
    platform: ComposePlatform,
) -> None:
    status = await run_scenario(chaos_scenario("cut", partition("plain")), platform)
    assert status.phase is Phase.INVALID
    assert "spec.steps[0].fault.partition: no fault proxy fronts port plain of compose " in (
        status.message
    )
    assert "chaos.tse.dev/proxy-for: echo, chaos.tse.dev/proxy-ports: plain" in status.message
    assert status.faults == []


async def test_a_proxy_not_named_after_its_port_is_invalid(
    platform: ComposePlatform, control: ProxyControl, project: ComposeProject
) -> None:
    upstream = f"127.0.0.1:{project.port('ECHO_TCP')}"
    await control.create_proxy("renamed", listen="127.0.0.1:0", upstream=upstream)
    await control.delete_proxy("tcp")
    try:
        status = await run_scenario(chaos_scenario("cut", partition("tcp")), platform)
    finally:
        listen = f"127.0.0.1:{project.port('PROXY_TCP')}"
        await control.create_proxy("tcp", listen=listen, upstream=upstream)
        await control.delete_proxy("renamed")
    assert status.phase is Phase.INVALID
    assert "serves no proxy named tcp (it serves: renamed)" in status.message


# -- a runner killed with SIGKILL -----------------------------------------------------------


RUNNERS, AT_ONCE, LEASE = 20, 5, 2.0


async def test_runners_killed_at_random_points_of_a_partition_leave_no_toxic(
    project: ComposeProject, control: ProxyControl, tmp_path: Path
) -> None:
    """The goal: 20 runners SIGKILLed at random points during a partition, 0 toxics left once
    the lease lapses. Half are killed at any moment at all (starting, applying, holding,
    reverting, done); half while they hold the partition, after it was seen to land."""
    scenario = tmp_path / "cut.yaml"
    scenario.write_text(json.dumps(scenario_document("cut", partition("tcp", duration="3s"))))
    state = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}  # the runners' journals
    rng = random.Random()
    killed_holding = 0

    async def runner(number: int) -> None:
        nonlocal killed_holding
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "test_coordinator.cli", "run", str(scenario)),
            *("--platform", "compose", "--project", project.name, "--history", "off"),
            *("--fault-lease", f"{LEASE:g}s"),
            cwd=REPO,
            env=state,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert process.stdout is not None
        output = bytearray()
        try:
            if number % 2 == 0:
                while b"partition both ways on proxy tcp" not in output:
                    line = await asyncio.wait_for(process.stdout.readline(), 60)
                    assert line, f"runner {number} ended before its partition:\n{output.decode()}"
                    output += line
                await asyncio.sleep(rng.uniform(0, 2.5))  # within its 3 s hold
                if process.returncode is None and await control.toxics("tcp"):
                    killed_holding += 1
            else:
                await asyncio.sleep(rng.uniform(0, 7))  # anywhere from start-up to its end
        finally:
            if process.returncode is None:
                process.kill()  # SIGKILL, to the PID this test started: no clean-up runs
            await process.communicate()

    for first in range(0, RUNNERS, AT_ONCE):
        await asyncio.gather(*(runner(number) for number in range(first, first + AT_ONCE)))
    assert killed_holding >= AT_ONCE  # most of the even ones, at least
    deadline = asyncio.get_running_loop().time() + LEASE + 10
    while toxics := await control.toxics("tcp"):
        assert asyncio.get_running_loop().time() < deadline, f"left behind: {toxics}"
        await asyncio.sleep(0.1)
    await round_trip(f"127.0.0.1:{project.port('PROXY_TCP')}")
    # What the dead runners journaled is undone by name, with nothing left to undo.
    recover = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "test_coordinator.cli", "recover", "--project", project.name),
        env=state,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await recover.communicate()
    assert recover.returncode == 0, output.decode()
    assert not list((tmp_path / "state").glob("test-coordinator/journal/*.json")), output.decode()
    assert await control.toxics("tcp") == []
