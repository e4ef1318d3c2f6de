"""Network faults on the local platform: a real fault proxy in the runner's process, in front of
a real echo service, and real clients that connect through it as the other services do."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from test_coordinator.engine import run_scenario
from test_coordinator.errors import PlatformError
from test_coordinator.platforms import Workload
from test_coordinator.platforms.local import LocalPlatform
from test_coordinator.platforms.local.stack import StackSpec
from test_coordinator.scenario import Phase, Verdict
from test_coordinator.scenario.model import FaultSpec

from tests.documents import chaos_scenario
from tests.integration.network import (
    ECHO_SERVICE,
    close,
    held,
    is_reset,
    open_connection,
    round_trip,
    stream_time,
)

ECHO = Workload(id="echo")


def stack(tmp_path: Path, **echo: Any) -> StackSpec:
    """An echo service whose port ``tcp`` a proxy fronts, and a peer given its ports."""
    return StackSpec.model_validate(
        {
            "services": {
                "echo": {
                    "command": [sys.executable, ECHO_SERVICE, "--port", "${echo.tcp}"],
                    "ports": {"tcp": 0, "plain": 0},
                    "proxy": ["tcp"],
                    "labels": {"app": "echo"},
                    "ready": {"tcp": {"port": "tcp"}},
                    "stopGracePeriod": "2s",
                    **echo,
                },
                "peer": {
                    "command": [
                        sys.executable,
                        "-c",
                        "import time; time.sleep(3600)",
                        "${echo.tcp} ${echo.plain}",
                    ],
                    "labels": {"app": "peer"},
                    "dependsOn": ["echo"],
                    "stopGracePeriod": "1s",
                },
            }
        }
    )


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[LocalPlatform]:
    async with LocalPlatform(stack(tmp_path), log_dir=tmp_path / "logs") as running:
        yield running


def fault(action: str, **params: object) -> FaultSpec:
    return FaultSpec.model_validate({action: {"target": "echo", "port": "tcp", **params}})


async def test_others_reach_a_proxied_port_through_the_proxy_and_the_service_listens_on_its_own(
    platform: LocalPlatform,
) -> None:
    direct, proxied = platform.ports["echo"]["tcp"], platform.proxy_ports["echo"]["tcp"]
    assert direct != proxied
    # The service's own placeholder is its own port; the peer's is the proxy's.
    assert platform.services["echo"].argv[-1] == str(direct)
    plain = platform.ports["echo"]["plain"]
    assert platform.services["peer"].argv[-1] == f"{proxied} {plain}"
    # Checks reach it through the proxy too, by name or by the service's own number.
    assert await platform.endpoint(ECHO, "tcp") == f"127.0.0.1:{proxied}"
    assert await platform.endpoint(ECHO, direct) == f"127.0.0.1:{proxied}"
    assert await platform.endpoint(ECHO, "plain") == f"127.0.0.1:{plain}"
    await round_trip(f"127.0.0.1:{proxied}")
    assert [proxy.name for proxy in platform.proxies.proxies.values()] == ["echo.tcp"]


async def test_latency_delays_each_way_and_goes_with_the_revert(platform: LocalPlatform) -> None:
    address = await platform.endpoint(ECHO, "tcp")
    assert await round_trip(address) < 0.15
    applied = await platform.apply(fault("latency", delay="200ms"), ECHO)
    assert "latency 200ms both ways on proxy echo.tcp" in applied.message
    assert 0.4 <= await round_trip(address) < 1.5  # 200 ms up, 200 ms down
    await platform.revert(fault("latency", delay="200ms"), ECHO)
    assert await round_trip(address) < 0.15

    await platform.apply(fault("latency", delay="300ms", direction="upstream"), ECHO)
    assert 0.3 <= await round_trip(address) < 0.6  # one way only
    await platform.revert(fault("latency", delay="300ms", direction="upstream"), ECHO)


async def test_bandwidth_limits_the_rate_until_reverted(platform: LocalPlatform) -> None:
    address = await platform.endpoint(ECHO, "tcp")
    size = 128 * 1024
    assert await stream_time(address, size) < 0.5
    limit = fault("bandwidth", rate="64KiB/s", direction="downstream")
    await platform.apply(limit, ECHO)
    assert 1.6 <= await stream_time(address, size) < 5  # 128 KiB at 64 KiB/s: about 2 s
    await platform.revert(limit, ECHO)
    assert await stream_time(address, size) < 0.5


async def test_a_partition_holds_everything_then_lets_it_through(platform: LocalPlatform) -> None:
    address = await platform.endpoint(ECHO, "tcp")
    await platform.apply(fault("partition"), ECHO)
    reader, writer = await held(address)  # accepted, and no answer
    await platform.revert(fault("partition"), ECHO)
    assert await asyncio.wait_for(reader.readexactly(4), 5) == b"ping"  # held, not lost
    await close(writer)
    await round_trip(address)


async def test_a_reset_resets_new_and_open_connections(platform: LocalPlatform) -> None:
    address = await platform.endpoint(ECHO, "tcp")
    reader, writer = await open_connection(address)
    await platform.apply(fault("reset"), ECHO)
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(reader.read(4), 5)  # the open one is reset
    await close(writer)
    assert await is_reset(address)
    await platform.revert(fault("reset"), ECHO)
    assert not await is_reset(address)


async def test_percent_affects_a_share_of_the_connections(platform: LocalPlatform) -> None:
    address = await platform.endpoint(ECHO, "tcp")
    await platform.apply(fault("reset", percent=50), ECHO)
    resets = sum(await asyncio.gather(*(is_reset(address) for _ in range(60))))
    await platform.revert(fault("reset", percent=50), ECHO)
    assert 10 <= resets <= 50  # 50% of 60: outside 10..50 about once in 10^9


async def test_reverting_what_is_not_applied_is_fine_and_a_port_without_proxy_is_refused(
    platform: LocalPlatform,
) -> None:
    assert "removed" in await platform.revert(fault("partition"), ECHO)
    plain = FaultSpec.model_validate({"partition": {"target": "echo", "port": "plain"}})
    problem = await platform.fault_problem(plain, ECHO)
    assert problem is not None
    assert "add `proxy: [tcp, plain]` to services.echo in the stack file" in problem
    with pytest.raises(PlatformError, match="no fault proxy fronts port plain"):
        await platform.apply(plain, ECHO)


ECHOES = (
    "import socket, sys; s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1); "
    "s.settimeout(0.5); s.sendall(b'x'); sys.exit(s.recv(1) != b'x')"
)


def partition_scenario(port: str, *, echo_at: int) -> dict[str, Any]:
    """A partition of ``port``, after which the echo must answer at ``echo_at`` again."""
    return {
        "targets": {"echo": {"selector": {"app": "echo"}}},
        "steadyState": [{"name": "echo answers", "tcp": {"target": "echo", "port": "tcp"}}],
        "steps": [
            {
                "name": "cut echo off",
                "fault": {"partition": {"target": "echo", "port": port}},
                "duration": "1s",
                "after": [
                    {
                        "name": "echo answers through the proxy",
                        "command": {"argv": [sys.executable, "-c", ECHOES, str(echo_at)]},
                        "within": "5s",
                    }
                ],
            }
        ],
        "timeout": "1m",
    }


async def test_a_run_journals_applies_and_reverts_a_partition(platform: LocalPlatform) -> None:
    spec = partition_scenario("tcp", echo_at=platform.proxy_ports["echo"]["tcp"])
    status = await run_scenario(chaos_scenario("net", spec), platform)
    assert (status.phase, status.verdict) == (Phase.SUCCEEDED, Verdict.PASS), status.message
    [applied] = status.faults
    assert (applied.action, applied.workload) == ("partition", "echo")
    assert applied.reverted_at is not None
    assert "partition both ways on proxy echo.tcp" in applied.message
    assert platform.proxies.proxy("echo.tcp").toxics == []


async def test_a_run_on_a_port_no_proxy_fronts_is_invalid_before_anything(
    platform: LocalPlatform,
) -> None:
    spec = partition_scenario("plain", echo_at=platform.ports["echo"]["plain"])
    status = await run_scenario(chaos_scenario("net", spec), platform)
    assert status.phase is Phase.INVALID
    assert "spec.steps[0].fault.partition: no fault proxy fronts port plain" in status.message
    assert status.faults == []
