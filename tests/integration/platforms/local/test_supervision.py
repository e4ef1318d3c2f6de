"""The local platform supervises real processes: faults are real signals to PIDs it started."""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from test_coordinator.errors import ServiceStartFailed
from test_coordinator.platforms import Workload
from test_coordinator.platforms.local import LocalPlatform
from test_coordinator.scenario.model import FaultSpec

from tests.integration.stacks import alive, process_state, started_pids, tiny, tiny_stack


def fault(action: str, **params: object) -> FaultSpec:
    return FaultSpec.model_validate({action: {"target": "t", **params}})


async def wait_until(condition: object, *, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.01)


def accepts(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=0.2):
            return True
    except OSError:
        return False


@pytest.fixture
async def platform(pid_dir: Path, tmp_path: Path) -> AsyncIterator[LocalPlatform]:
    stack = tiny_stack(
        pid_dir,
        api=tiny("api", pid_dir),
        stubborn=tiny("stubborn", pid_dir, "--ignore-term", stopGracePeriod="500ms"),
        once=tiny("once", pid_dir, restart="never"),
    )
    platform = LocalPlatform(stack, log_dir=tmp_path / "logs")
    async with platform:
        yield platform
    assert not [pid for pid in started_pids(pid_dir) if alive(pid)], "a process outlived close()"


API = Workload(id="api")


async def test_kill_is_a_crash_that_the_restart_policy_recovers_after_its_delay(
    platform: LocalPlatform,
) -> None:
    address = await platform.endpoint(API, "tcp")
    old_pid = platform.services["api"].pid
    began = time.monotonic()
    message = (await platform.apply(fault("kill"), API)).message
    assert f"SIGKILL to pid {old_pid}" in message
    assert not accepts(address)
    await wait_until(lambda: accepts(address))
    assert 1.5 <= time.monotonic() - began < 2.5  # the stack's restartDelay is 1500ms
    assert platform.services["api"].pid not in (None, old_pid)
    assert platform.services["api"].restarts == 1


async def test_kill_with_restart_never_stays_down(platform: LocalPlatform) -> None:
    once = Workload(id="once")
    await platform.apply(fault("kill"), once)
    await asyncio.sleep(2.0)  # longer than the restart delay a restarting policy would use
    assert platform.services["once"].pid is None
    assert not accepts(await platform.endpoint(once, "tcp"))


async def test_restart_reports_a_graceful_stop(platform: LocalPlatform) -> None:
    old_pid = platform.services["api"].pid
    message = (await platform.apply(fault("restart", gracePeriod="2s"), API)).message
    assert "stopped gracefully" in message
    new_pid = platform.services["api"].pid
    assert new_pid not in (None, old_pid)
    assert old_pid is not None and not alive(old_pid)


async def test_restart_of_a_service_ignoring_sigterm_reports_the_sigkill(
    platform: LocalPlatform,
) -> None:
    stubborn = Workload(id="stubborn")
    began = time.monotonic()
    message = (await platform.apply(fault("restart", gracePeriod="300ms"), stubborn)).message
    assert "SIGKILL after 0.3" in message
    assert 0.3 <= time.monotonic() - began < 1.5


async def test_stop_holds_the_service_down_until_reverted(platform: LocalPlatform) -> None:
    address = await platform.endpoint(API, "tcp")
    await platform.apply(fault("stop"), API)
    await asyncio.sleep(2.0)  # past the restart delay: the supervisor must not restart it
    assert platform.services["api"].pid is None
    await platform.revert(fault("stop"), API)
    await wait_until(lambda: accepts(address))


async def test_pause_stops_the_process_and_revert_resumes_it(platform: LocalPlatform) -> None:
    pid = platform.services["api"].pid
    assert pid is not None
    await platform.apply(fault("pause"), API)
    await wait_until(lambda: process_state(pid) == "T")
    await platform.revert(fault("pause"), API)
    await wait_until(lambda: process_state(pid) in ("S", "R"))


async def test_select_by_labels_and_named_ports(platform: LocalPlatform) -> None:
    assert [w.id for w in await platform.select({"app": "api"})] == ["api"]
    assert len(await platform.select({})) == 3
    assert await platform.select({"app": "nope"}) == []
    with pytest.raises(LookupError, match="has no port named 'grpc'"):
        await platform.endpoint(API, "grpc")


async def test_a_service_that_cannot_start_is_named_with_its_output(
    pid_dir: Path, tmp_path: Path
) -> None:
    stack = tiny_stack(
        pid_dir,
        base=tiny("base", pid_dir),
        broken=tiny("broken", pid_dir, "--exit-at-start", dependsOn=["base"]),
    )
    with pytest.raises(ServiceStartFailed) as failure:
        async with LocalPlatform(stack, log_dir=tmp_path / "logs"):
            pass
    assert failure.value.service == "broken"
    assert "configuration error: refusing to start" in str(failure.value)
    assert not [pid for pid in started_pids(pid_dir) if alive(pid)]


async def test_the_output_of_a_service_that_exits_at_start_is_read_to_its_end(
    pid_dir: Path, tmp_path: Path
) -> None:
    # The service is reaped at once; its last line comes later, from a process it left on its
    # output (in a session of its own, so not killed with the service): as any output still in
    # the pipe when the process is reaped, only later. The service exits once that process has
    # left its session: until then it would be killed with the service's leftovers (it was,
    # once, on a loaded machine).
    left = tmp_path / "left"
    script = (
        f"setsid sh -c 'touch {left}; sleep 0.2; echo the last word' & "
        f"until [ -e {left} ]; do sleep 0.01; done; echo starting; exit 4"
    )
    chatty = {"command": ["sh", "-c", script], "ports": {"tcp": 0}}
    stack = tiny_stack(pid_dir, chatty=chatty | {"ready": {"tcp": {"port": "tcp"}}})
    with pytest.raises(ServiceStartFailed) as failure:
        async with LocalPlatform(stack, log_dir=tmp_path / "logs"):
            pass
    assert "exited with code 4 before it was ready" in str(failure.value)
    assert "starting\nthe last word" in failure.value.output_tail


async def test_a_line_longer_than_a_pipe_holds_is_read_on(pid_dir: Path, tmp_path: Path) -> None:
    script = "print('x' * 300_000); print('after the long line'); raise SystemExit(5)"
    long_liner = {"command": [sys.executable, "-c", script], "ports": {"tcp": 0}}
    stack = tiny_stack(
        pid_dir, long=long_liner | {"ready": {"tcp": {"port": "tcp"}}, "startTimeout": "20s"}
    )
    with pytest.raises(ServiceStartFailed) as failure:
        async with LocalPlatform(stack, log_dir=tmp_path / "logs"):
            pass
    assert "exited with code 5 before it was ready" in str(failure.value)
    assert "after the long line" in failure.value.output_tail


async def test_what_a_service_left_running_when_it_exited_is_killed(
    pid_dir: Path, tmp_path: Path
) -> None:
    """As a container's end takes its other processes with it."""
    left = tmp_path / "left.pid"
    script = f"sleep 60 & echo $! > {left}; exec sleep 0.1"
    stack = tiny_stack(pid_dir, leaving={"command": ["sh", "-c", script], "restart": "never"})
    async with LocalPlatform(stack, log_dir=tmp_path / "logs") as platform:
        service = platform.services["leaving"]
        await wait_until(lambda: service.last_exit is not None)
        await wait_until(lambda: not alive(int(left.read_text())))
        said = f"killed what leaving left running: {left.read_text().strip()}"
        await wait_until(lambda: said in service.tail)  # once its last output is read


async def test_a_program_that_does_not_exist_is_named(pid_dir: Path, tmp_path: Path) -> None:
    stack = tiny_stack(pid_dir, ghost={"command": ["/nonexistent/ghost-service"]})
    with pytest.raises(
        ServiceStartFailed, match=r"'ghost'.*cannot run '/nonexistent/ghost-service'"
    ):
        async with LocalPlatform(stack, log_dir=tmp_path / "logs"):
            pass


async def test_teardown_says_which_service_needed_sigkill(pid_dir: Path, tmp_path: Path) -> None:
    stack = tiny_stack(
        pid_dir,
        api=tiny("api", pid_dir),
        stubborn=tiny("stubborn", pid_dir, "--ignore-term", stopGracePeriod="300ms"),
    )
    platform = LocalPlatform(stack, log_dir=tmp_path / "logs")
    async with platform:
        pass
    [note] = platform.forced_stops
    assert note.startswith("stubborn did not stop within its 300ms grace period: SIGKILL after 0.3")
    assert "stopGracePeriod" in note
