"""Each toxic's effect, measured by real clients through a real proxy; bounds are generous."""

from __future__ import annotations

import asyncio
import time

import pytest
from test_coordinator.proxy import FaultProxy, ProxyControl, Toxic

from tests.integration.proxy.conftest import Upstream, close, connect, eventually, round_trip


async def test_latency_delays_every_answer_then_goes(
    proxy: FaultProxy, control: ProxyControl
) -> None:
    reader, writer = await connect(proxy)  # open before the toxic: it applies to it too
    await round_trip(reader, writer)
    await control.add_toxic("svc", Toxic.latency(300))
    assert await round_trip(reader, writer) >= 0.3
    new_reader, new_writer = await connect(proxy)
    assert await round_trip(new_reader, new_writer) >= 0.3
    await control.remove_toxic("svc", "latency_downstream")
    assert await round_trip(reader, writer) < 0.3
    await close(writer)
    await close(new_writer)


async def test_latency_each_way_adds_up(proxy: FaultProxy, control: ProxyControl) -> None:
    await control.add_toxic("svc", Toxic.latency(200, stream="upstream"))
    await control.add_toxic("svc", Toxic.latency(200, stream="downstream"))
    reader, writer = await connect(proxy)
    assert await round_trip(reader, writer) >= 0.4
    await close(writer)


async def test_latency_upstream_delays_what_reaches_the_service(
    proxy: FaultProxy, upstream: Upstream, control: ProxyControl
) -> None:
    await control.add_toxic("svc", Toxic.latency(300, stream="upstream"))
    _reader, writer = await connect(proxy)
    began = time.monotonic()
    writer.write(b"order")
    await eventually(lambda: upstream.received == b"order")
    assert time.monotonic() - began >= 0.3
    await close(writer)


async def test_jitter_varies_the_delay_within_its_bounds(
    proxy: FaultProxy, control: ProxyControl
) -> None:
    await control.add_toxic("svc", Toxic.latency(150, 100))
    reader, writer = await connect(proxy)
    delays = [await round_trip(reader, writer) for _ in range(8)]
    assert min(delays) >= 0.05  # latency - jitter
    await close(writer)


async def test_an_updated_latency_takes_effect(proxy: FaultProxy, control: ProxyControl) -> None:
    await control.add_toxic("svc", Toxic.latency(50, name="slow"))
    reader, writer = await connect(proxy)
    await round_trip(reader, writer)
    await control.update_toxic("svc", "slow", attributes={"latency": 400})
    assert await round_trip(reader, writer) >= 0.4
    await close(writer)


async def test_bandwidth_bounds_the_rate(
    proxy: FaultProxy, upstream: Upstream, control: ProxyControl
) -> None:
    size, rate_kb = 300_000, 200  # 1.5 s at 200 KB/s

    async def send_a_lot(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readexactly(2)
        w.write(bytes(size))
        await w.drain()

    upstream.handler = send_a_lot
    await control.add_toxic("svc", Toxic.bandwidth(rate_kb))
    reader, writer = await connect(proxy)
    began = time.monotonic()
    writer.write(b"go")
    received = await asyncio.wait_for(reader.readexactly(size), 30)
    elapsed = time.monotonic() - began
    assert received == bytes(size)
    # The first tenth of a second's slice leaves at once; the rest at the rate.
    assert elapsed >= (size - rate_kb * 100) / (rate_kb * 1000) * 0.9
    await close(writer)


async def test_timeout_zero_holds_everything_until_removed(
    proxy: FaultProxy, upstream: Upstream, control: ProxyControl
) -> None:
    reader, writer = await connect(proxy)
    await round_trip(reader, writer)
    upstream.received.clear()
    await control.add_toxic("svc", Toxic.timeout(0, stream="upstream"))
    writer.write(b"held")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.readexactly(4), 0.5)  # the client times out
    assert upstream.received == b""  # nothing reached the service
    # New connections are accepted all the same: a blackhole, not a refusal.
    other_reader, other_writer = await connect(proxy)
    await control.remove_toxic("svc", "timeout_upstream")
    assert await asyncio.wait_for(reader.readexactly(4), 10) == b"held"  # held, not lost
    await round_trip(other_reader, other_writer)
    await close(writer)
    await close(other_writer)


async def test_timeout_downstream_lets_requests_in_but_no_answer_out(
    proxy: FaultProxy, upstream: Upstream, control: ProxyControl
) -> None:
    await control.add_toxic("svc", Toxic.timeout(0))
    reader, writer = await connect(proxy)
    writer.write(b"order")
    await eventually(lambda: upstream.received == b"order")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.readexactly(5), 0.5)
    await close(writer)


async def test_timeout_closes_the_connection_after_its_time(
    proxy: FaultProxy, control: ProxyControl
) -> None:
    await control.add_toxic("svc", Toxic.timeout(300))
    reader, writer = await connect(proxy)
    began = time.monotonic()
    writer.write(b"anyone?")
    assert await asyncio.wait_for(reader.read(-1), 10) == b""  # closed, nothing passed
    assert time.monotonic() - began >= 0.3
    await close(writer)


async def test_reset_peer_resets_open_and_new_connections(
    proxy: FaultProxy, control: ProxyControl
) -> None:
    reader, writer = await connect(proxy)
    await round_trip(reader, writer)
    await control.add_toxic("svc", Toxic.reset_peer())
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(-1), 10)
    new_reader, new_writer = await connect(proxy)  # accepted, then reset
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(new_reader.read(-1), 10)
    await close(writer)
    await close(new_writer)


async def test_reset_peer_waits_its_timeout(proxy: FaultProxy, control: ProxyControl) -> None:
    await control.add_toxic("svc", Toxic.reset_peer(300))
    reader, writer = await connect(proxy)
    began = time.monotonic()
    await round_trip(reader, writer)  # data passes until the reset
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(-1), 10)
    assert time.monotonic() - began >= 0.3
    await close(writer)


async def reset_count(proxy: FaultProxy, connections: int) -> int:
    """How many of ``connections`` new connections were reset rather than answered."""

    async def was_reset() -> bool:
        reader, writer = await connect(proxy)
        try:
            await round_trip(reader, writer)
            writer.write_eof()
            await asyncio.wait_for(reader.read(-1), 10)
        except ConnectionResetError:
            return True
        finally:
            await close(writer)
        return False

    return sum(await asyncio.gather(*(was_reset() for _ in range(connections))))


@pytest.mark.parametrize(("toxicity", "low", "high"), [(0.0, 0, 0), (0.5, 20, 80), (1.0, 100, 100)])
async def test_toxicity_is_the_share_of_connections_affected(
    proxy: FaultProxy, control: ProxyControl, toxicity: float, low: int, high: int
) -> None:
    await control.add_toxic("svc", Toxic.reset_peer(toxicity=toxicity))
    assert low <= await reset_count(proxy, 100) <= high  # 0.5: 20..80 fails once in 1e9


async def test_toxics_of_one_proxy_leave_another_alone(
    proxy: FaultProxy, upstream: Upstream, control: ProxyControl
) -> None:
    other = await control.create_proxy(
        "other", listen="127.0.0.1:0", upstream=f"127.0.0.1:{upstream.port}"
    )
    await control.add_toxic("svc", Toxic.timeout(0))
    host, port = other.listen.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    await round_trip(reader, writer)
    await close(writer)


async def test_one_toxic_set_both_ways_affects_the_same_connections_both_ways(
    proxy: FaultProxy, upstream: Upstream, control: ProxyControl
) -> None:
    """``partition_upstream`` and ``partition_downstream`` at toxicity 0.5: half the
    connections are cut both ways, never one way only (their draw is shared)."""
    for stream in ("upstream", "downstream"):
        await control.add_toxic(
            "svc", Toxic.timeout(0, name=f"partition_{stream}", stream=stream, toxicity=0.5)
        )
    messages = [f"c{number:03d}".encode() for number in range(40)]

    async def answered(message: bytes) -> bool:
        reader, writer = await connect(proxy)
        writer.write(message)
        try:
            return await asyncio.wait_for(reader.readexactly(4), 1.0) == message
        except TimeoutError:
            return False
        finally:
            await close(writer)

    answers = await asyncio.gather(*(answered(message) for message in messages))
    reached = [message in upstream.received for message in messages]
    assert answers == reached  # answered exactly where it got through: never one way only
    assert 5 <= sum(answers) <= 35  # 50% of 40: outside this about once in 10^5
