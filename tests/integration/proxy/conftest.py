"""An upstream on loopback, a fault proxy in front of it, and the control API's client."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from test_coordinator.proxy import FaultProxy, ProxyControl, ProxyServer

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Upstream:
    """A real TCP server on a free loopback port: echoes by default, and records what came."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.connections = 0
        self.handler: Handler = self.echo
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in self._writers:
                writer.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            await self.handler(reader, writer)
        except ConnectionError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def echo(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Echo until EOF, then say ``<eof>`` and close: a half-close is seen both ways."""
        while data := await reader.read(256 * 1024):
            self.received += data
            writer.write(data)
            await writer.drain()
        writer.write(b"<eof>")
        await writer.drain()


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    server = Upstream()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def proxy_server() -> AsyncIterator[ProxyServer]:
    async with ProxyServer() as server:
        await server.start_control("127.0.0.1", 0)
        yield server


@pytest.fixture
async def proxy(proxy_server: ProxyServer, upstream: Upstream) -> FaultProxy:
    """Proxy ``svc`` in front of ``upstream``, on a free port."""
    return await proxy_server.create_proxy(
        "svc", listen=("127.0.0.1", 0), upstream=("127.0.0.1", upstream.port)
    )


@pytest.fixture
async def control(proxy_server: ProxyServer) -> AsyncIterator[ProxyControl]:
    async with ProxyControl(proxy_server.control_url) as client:
        yield client


async def connect(proxy: FaultProxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(*proxy.listen)


async def round_trip(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, message: bytes = b"ping"
) -> float:
    """Seconds from sending ``message`` to reading its echo back."""
    began = time.monotonic()
    writer.write(message)
    assert await asyncio.wait_for(reader.readexactly(len(message)), 10) == message
    return time.monotonic() - began


async def eventually(condition: Callable[[], object], *, within: float = 10.0) -> None:
    """Wait until ``condition()`` is true, failing after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()
