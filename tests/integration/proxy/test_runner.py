"""``test-coordinator proxy`` as a user runs it: a real process, real signals, exit codes."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from test_coordinator.proxy import ProxyControl, Toxic

from tests.integration.proxy.conftest import Upstream, close, round_trip

CLI = [sys.executable, "-m", "test_coordinator.cli", "proxy"]
PROXY_LINE = re.compile(r"proxy (\S+) listening on (\S+):(\d+), upstream (\S+)")


class ProxyProcess:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.ports: dict[str, int] = {}
        self.control_url = ""

    async def wait_ready(self) -> None:
        """Read the start-up lines: one per proxy, then the control API's."""
        assert self.process.stdout is not None
        while not self.control_url:
            line = (await asyncio.wait_for(self.process.stdout.readline(), 30)).decode()
            assert line, "the proxy exited before it was ready"
            if match := PROXY_LINE.match(line):
                self.ports[match[1]] = int(match[3])
            elif line.startswith("control API on "):
                self.control_url = line.removeprefix("control API on ").strip()


Start = Callable[..., Awaitable[ProxyProcess]]


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    started: list[asyncio.subprocess.Process] = []

    async def start(*args: str) -> ProxyProcess:
        process = await asyncio.create_subprocess_exec(
            *CLI, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        started.append(process)
        proxy = ProxyProcess(process)
        await proxy.wait_ready()
        return proxy

    yield start
    for process in started:
        if process.returncode is None:
            process.kill()  # by the PID this fixture started
            await process.wait()


async def test_one_proxy_forwards_takes_toxics_and_stops_on_sigterm(
    start: Start, upstream: Upstream
) -> None:
    proxy = await start(
        "--listen", "127.0.0.1:0", "--upstream", f"127.0.0.1:{upstream.port}",
        "--control", "127.0.0.1:0", "--name", "risk",
    )  # fmt: skip
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.ports["risk"])
    await round_trip(reader, writer)
    async with ProxyControl(proxy.control_url) as control:
        assert list(await control.proxies()) == ["risk"]
        await control.add_toxic("risk", Toxic.latency(200))
        assert await round_trip(reader, writer) >= 0.2
    proxy.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proxy.process.wait(), 30) == 0
    assert await asyncio.wait_for(reader.read(-1), 10) == b""  # its connections were closed
    await close(writer)


async def test_several_proxies_and_a_control_port_alone(start: Start, upstream: Upstream) -> None:
    target = f"127.0.0.1:{upstream.port}"
    proxy = await start(
        "--proxy", f"a=127.0.0.1:0,{target}", "--proxy", f"b=127.0.0.1:0,{target}",
        "--control", "0",
    )  # fmt: skip
    assert proxy.control_url.startswith("http://127.0.0.1:")  # loopback unless asked
    for name in ("a", "b"):
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.ports[name])
        await round_trip(reader, writer, name.encode())
        await close(writer)
    proxy.process.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(proxy.process.wait(), 30) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--listen", "nowhere", "--upstream", "127.0.0.1:1"], "--listen/--upstream: expected"),
        (["--listen", "127.0.0.1:0"], "--listen and --upstream go together"),
        (["--proxy", "a=127.0.0.1:0"], "--proxy: expected NAME=LISTEN_HOST:PORT"),
        (["--proxy", "a=127.0.0.1:0,127.0.0.1:1", "--control", "x:y"], "--control: expected"),
        ([], "nothing to proxy"),
    ],
)
def test_bad_arguments_exit_2_naming_the_option(args: list[str], message: str) -> None:
    result = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


async def test_a_port_in_use_exits_3_with_a_message(upstream: Upstream) -> None:
    result = await asyncio.to_thread(
        subprocess.run,
        [*CLI, "--listen", f"127.0.0.1:{upstream.port}", "--upstream", "127.0.0.1:1",
         "--control", "0"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 3
    assert f"cannot listen on 127.0.0.1:{upstream.port}" in result.stderr
    assert "Traceback" not in result.stderr
