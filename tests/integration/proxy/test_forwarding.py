"""With no toxic, the proxy is a wire: every byte both ways, half-closes, many connections."""

from __future__ import annotations

import asyncio
import hashlib
import os

from test_coordinator.proxy import FaultProxy, ProxyServer

from tests.integration.proxy.conftest import Upstream, close, connect, eventually, round_trip


async def test_bytes_pass_both_ways_unchanged(proxy: FaultProxy, upstream: Upstream) -> None:
    payload = os.urandom(8 * 1024 * 1024 + 17)  # several buffers' worth, and an odd tail
    reader, writer = await connect(proxy)

    async def send() -> None:
        for start in range(0, len(payload), 100_000):
            writer.write(payload[start : start + 100_000])
            await writer.drain()
        writer.write_eof()

    sending = asyncio.create_task(send())
    echoed = await asyncio.wait_for(reader.read(-1), 30)  # to EOF
    await sending
    assert hashlib.sha256(echoed).digest() == hashlib.sha256(payload + b"<eof>").digest()
    assert upstream.received == payload
    await close(writer)


async def test_a_half_close_passes_and_the_other_way_stays_open(
    proxy: FaultProxy, upstream: Upstream
) -> None:
    reader, writer = await connect(proxy)
    writer.write(b"question")
    writer.write_eof()  # the client is done sending, not done reading
    assert await asyncio.wait_for(reader.read(-1), 10) == b"question<eof>"
    await close(writer)


async def test_the_upstream_may_half_close_first(proxy: FaultProxy, upstream: Upstream) -> None:
    heard = asyncio.get_running_loop().create_future()

    async def greet_then_listen(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"hello")
        w.write_eof()
        heard.set_result(await r.read(-1))

    upstream.handler = greet_then_listen
    reader, writer = await connect(proxy)
    assert await asyncio.wait_for(reader.read(-1), 10) == b"hello"  # EOF from the upstream
    writer.write(b"still talking")
    writer.write_eof()
    assert await asyncio.wait_for(heard, 10) == b"still talking"
    await close(writer)


async def test_many_connections_at_once(proxy: FaultProxy, upstream: Upstream) -> None:
    async def one(number: int) -> bool:
        reader, writer = await connect(proxy)
        message = f"connection {number};".encode() * 50
        writer.write(message)
        writer.write_eof()
        echoed = await reader.read(-1)
        await close(writer)
        return echoed.removesuffix(b"<eof>") == message

    results = await asyncio.wait_for(asyncio.gather(*(one(n) for n in range(300))), 60)
    assert all(results)
    assert upstream.connections == 300
    await eventually(lambda: proxy.connections == 0)


async def test_closing_either_side_closes_the_other(proxy: FaultProxy, upstream: Upstream) -> None:
    upstream_gone = asyncio.Event()

    async def hold_open(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.read(-1)
        upstream_gone.set()

    upstream.handler = hold_open
    _reader, writer = await connect(proxy)
    await eventually(lambda: upstream.connections == 1)
    await close(writer)
    await asyncio.wait_for(upstream_gone.wait(), 10)
    await eventually(lambda: proxy.connections == 0)


async def test_an_unreachable_upstream_closes_the_client(proxy_server: ProxyServer) -> None:
    nothing = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = nothing.sockets[0].getsockname()[1]
    nothing.close()
    await nothing.wait_closed()  # the port is free: connections to it are refused
    proxy = await proxy_server.create_proxy(
        "nowhere", listen=("127.0.0.1", 0), upstream=("127.0.0.1", port)
    )
    reader, writer = await connect(proxy)
    assert await asyncio.wait_for(reader.read(-1), 10) == b""
    await close(writer)


async def test_several_proxies_in_one_process(
    proxy_server: ProxyServer, upstream: Upstream
) -> None:
    other = Upstream()
    await other.start()
    try:
        first = await proxy_server.create_proxy(
            "first", listen=("127.0.0.1", 0), upstream=("127.0.0.1", upstream.port)
        )
        second = await proxy_server.create_proxy(
            "second", listen=("127.0.0.1", 0), upstream=("127.0.0.1", other.port)
        )
        for proxy, server in ((first, upstream), (second, other)):
            reader, writer = await connect(proxy)
            await round_trip(reader, writer, proxy.name.encode())
            await close(writer)
            assert server.received == proxy.name.encode()
    finally:
        await other.close()


async def test_a_disabled_proxy_refuses_and_comes_back(
    proxy: FaultProxy, upstream: Upstream
) -> None:
    reader, writer = await connect(proxy)
    await round_trip(reader, writer)
    await proxy.update(enabled=False)
    assert await asyncio.wait_for(reader.read(-1), 10) == b""  # open connections closed
    await close(writer)
    try:
        await connect(proxy)
    except ConnectionRefusedError:
        pass
    else:
        raise AssertionError("a disabled proxy accepted a connection")
    await proxy.update(enabled=True)
    reader, writer = await connect(proxy)
    await round_trip(reader, writer)
    await close(writer)


async def test_stopping_does_not_hang_on_a_client_that_does_not_read(
    proxy: FaultProxy, upstream: Upstream
) -> None:
    async def flood(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while True:
            w.write(bytes(1024 * 1024))
            await w.drain()

    upstream.handler = flood
    _reader, writer = await connect(proxy)  # and never reads
    await eventually(lambda: upstream.connections == 1)
    await asyncio.sleep(0.3)  # the buffers on the way fill up
    await asyncio.wait_for(proxy.stop(), 10)
    assert proxy.connections == 0
    writer.transport.abort()
