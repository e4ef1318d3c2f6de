"""Leases: a toxic whose holder died goes once its lease lapses; a live holder keeps it."""

from __future__ import annotations

import asyncio
import logging
import random
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from test_coordinator.proxy import (
    FaultProxy,
    ProxyControl,
    ProxyControlError,
    ProxyServer,
    Toxic,
    ToxicHeld,
)

from tests.integration.proxy.conftest import Upstream, close, connect, eventually, round_trip

REPOSITORY = Path(__file__).parents[3]


def toxic_names(proxy: FaultProxy) -> list[str]:
    return [toxic.name for toxic in proxy.toxics]


async def test_a_toxic_goes_when_its_lease_lapses(proxy: FaultProxy, control: ProxyControl) -> None:
    created = await control.add_toxic("svc", Toxic.timeout(0, lease_seconds=0.3))
    assert created.lease_seconds == 0.3
    assert 0 < (await control.toxic("svc", "timeout_downstream")).lease_seconds <= 0.3  # type: ignore[operator]
    assert 0 < proxy.lease_remaining("timeout_downstream") <= 0.3  # type: ignore[operator]
    await eventually(lambda: not proxy.toxics)


async def test_an_update_renews_the_lease(proxy: FaultProxy, control: ProxyControl) -> None:
    await control.add_toxic("svc", Toxic.latency(10, name="slow", lease_seconds=0.4))
    for _ in range(6):  # 1.2 s: three leases' worth, each renewed before it lapsed
        await asyncio.sleep(0.2)
        await control.update_toxic("svc", "slow", toxicity=1.0)  # renews by its own length
    assert toxic_names(proxy) == ["slow"]
    await control.update_toxic("svc", "slow", lease_seconds=0.2)  # a new length
    assert (await control.toxic("svc", "slow")).lease_seconds == 0.2
    await eventually(lambda: not proxy.toxics)


async def test_a_lapsed_partition_lets_the_held_data_through(
    proxy: FaultProxy, upstream: Upstream, control: ProxyControl
) -> None:
    reader, writer = await connect(proxy)
    await control.add_toxic("svc", Toxic.timeout(0, stream="upstream", lease_seconds=0.3))
    writer.write(b"late")
    assert await asyncio.wait_for(reader.readexactly(4), 10) == b"late"
    assert upstream.received == b"late"
    await close(writer)


async def test_hold_renews_until_exit_then_removes(
    proxy: FaultProxy, control: ProxyControl
) -> None:
    async with control.hold("svc", Toxic.latency(10, name="slow"), lease_seconds=0.3) as held:
        assert held.leased is True
        await asyncio.sleep(1.0)  # three leases
        assert toxic_names(proxy) == ["slow"]
        assert held.renewals >= 2
    assert proxy.toxics == []


async def test_hold_sets_again_a_toxic_removed_behind_its_back(
    proxy: FaultProxy, control: ProxyControl
) -> None:
    async with control.hold("svc", Toxic.timeout(0, name="cut"), lease_seconds=0.3):
        await control.remove_toxic("svc", "cut")
        await eventually(lambda: toxic_names(proxy) == ["cut"])
    assert proxy.toxics == []


@pytest.fixture
async def toxiproxy_like(upstream: Upstream) -> AsyncIterator[ProxyServer]:
    """A server that ignores leases as Toxiproxy does, with proxy ``svc``."""
    async with ProxyServer(leases=False) as server:
        await server.start_control("127.0.0.1", 0)
        await server.create_proxy(
            "svc", listen=("127.0.0.1", 0), upstream=("127.0.0.1", upstream.port)
        )
        yield server


async def test_without_leases_hold_still_works_and_says_so(
    toxiproxy_like: ProxyServer, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = toxiproxy_like.proxy("svc")
    async with ProxyControl(toxiproxy_like.control_url) as control:
        assert (await control.server_info()).leases is False
        with caplog.at_level(logging.WARNING, logger="test_coordinator.proxy.client"):
            async with control.hold("svc", Toxic.latency(300), lease_seconds=0.2) as held:
                assert held.leased is False
                reader, writer = await connect(proxy)
                assert await round_trip(reader, writer) >= 0.3
                await asyncio.sleep(0.5)  # past the lease: nobody removes it
                assert [toxic.lease_seconds for toxic in proxy.toxics] == [None]
                await close(writer)
        assert proxy.toxics == []
    assert "has no leases" in caplog.text
    assert "stays until removed" in caplog.text


async def spawn_holder(
    url: str, lease: float, name: str = "partition"
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.proxy.holder",
        url,
        "svc",
        str(lease),
        name,
        cwd=REPOSITORY,
        stdout=asyncio.subprocess.PIPE,
    )


async def held(holder: asyncio.subprocess.Process) -> None:
    assert holder.stdout is not None
    assert await asyncio.wait_for(holder.stdout.readline(), 30) == b"held\n"


async def start_holder(url: str, lease: float) -> asyncio.subprocess.Process:
    holder = await spawn_holder(url, lease)
    await held(holder)
    return holder


async def test_a_holder_killed_with_sigkill_leaves_nothing_after_the_lease(
    proxy_server: ProxyServer, proxy: FaultProxy
) -> None:
    lease = 1.0
    holder = await start_holder(proxy_server.control_url, lease)
    try:
        await asyncio.sleep(3 * lease)  # alive: it renews, the toxic stays
        assert toxic_names(proxy) == ["partition"]
    finally:
        holder.kill()  # SIGKILL to the PID this test started: no clean-up runs
        await holder.wait()
    assert toxic_names(proxy) == ["partition"]  # still there: the lease removes it, not the exit
    await eventually(lambda: not proxy.toxics, within=lease + 5)


async def test_a_holder_interrupted_removes_its_toxic_at_once(
    proxy_server: ProxyServer, proxy: FaultProxy
) -> None:
    holder = await start_holder(proxy_server.control_url, lease=60)
    try:
        holder.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(holder.wait(), 30) == 0
    finally:
        if holder.returncode is None:
            holder.kill()  # SIGKILL to the PID this test started, when SIGINT did not end it
            await holder.wait()
    assert proxy.toxics == []  # removed on the way out, long before its lease


async def test_hold_takes_over_a_toxic_of_its_name_left_behind(
    proxy: FaultProxy, control: ProxyControl
) -> None:
    await control.add_toxic("svc", Toxic.latency(10, name="slow"))  # no lease: left behind
    async with control.hold("svc", Toxic.latency(300, name="slow"), lease_seconds=5) as held:
        assert held.leased is True
        [toxic] = proxy.toxics
        assert (toxic.attributes["latency"], toxic.lease_seconds) == (300, 5.0)
    assert proxy.toxics == []


async def test_hold_waits_for_a_toxic_of_its_name_held_by_another_holder(
    proxy: FaultProxy, control: ProxyControl
) -> None:
    async with control.hold("svc", Toxic.latency(300, name="slow"), holder="run a"):
        with pytest.raises(ToxicHeld, match="toxic slow on proxy svc is held by run a"):
            await control.hold("svc", Toxic.latency(10, name="slow"), holder="run b").start()
        [toxic] = proxy.toxics  # the first one's, as it set it: not cut short, not changed
        assert (toxic.attributes["latency"], toxic.holder) == (300, "run a")
        async with control.hold("svc", Toxic.latency(20, name="slow"), holder="run a"):
            assert proxy.toxics[0].attributes["latency"] == 20  # its own: taken over
    assert proxy.toxics == []
    async with control.hold("svc", Toxic.latency(10, name="slow"), holder="run b"):
        assert proxy.toxics[0].holder == "run b"  # gone: the other may set it now


class RemovedWhileAsked(ProxyControl):
    """A client whose first look at an existing toxic comes just after its holder removed it:
    the moment between a 409 and the take-over, made to happen every time."""

    removed = False

    async def toxic(self, proxy: str, name: str) -> Toxic:
        if not self.removed:
            self.removed = True
            await self.remove_toxic(proxy, name)
        return await super().toxic(proxy, name)


async def test_hold_sets_a_toxic_removed_while_it_was_being_taken_over(
    proxy_server: ProxyServer, proxy: FaultProxy, control: ProxyControl
) -> None:
    await control.add_toxic("svc", Toxic.timeout(0, name="cut", lease_seconds=60))
    racing = RemovedWhileAsked(proxy_server.control_url)
    async with racing, racing.hold("svc", Toxic.timeout(0, name="cut"), holder="run a") as held:
        assert held.leased is True
        assert [(toxic.name, toxic.holder) for toxic in proxy.toxics] == [("cut", "run a")]
    assert proxy.toxics == []


async def test_a_removal_for_a_holder_spares_another_holders_toxic(
    proxy: FaultProxy, control: ProxyControl
) -> None:
    async with control.hold("svc", Toxic.timeout(0, name="cut"), holder="run b"):
        with pytest.raises(ProxyControlError, match="answered 409: toxic cut is held by run b"):
            await control.remove_toxic("svc", "cut", holder="run a")
        assert toxic_names(proxy) == ["cut"]
        await control.remove_toxic("svc", "cut", holder="run b")
        assert proxy.toxics == []
    await control.add_toxic("svc", Toxic.timeout(0, name="unheld"))
    await control.remove_toxic("svc", "unheld", holder="run a")  # nobody's: anyone's to remove
    assert proxy.toxics == []


async def test_a_holder_whose_lease_lapsed_leaves_the_next_holders_toxic(
    proxy: FaultProxy, control: ProxyControl
) -> None:
    """A holder that stalled past its lease finds another's toxic of its name on its way out."""
    stalled = control.hold("svc", Toxic.timeout(0, name="cut"), lease_seconds=60, holder="run a")
    await stalled.start()
    await control.remove_toxic("svc", "cut")  # as if its lease lapsed
    await control.add_toxic("svc", replace(Toxic.timeout(0, name="cut"), holder="run b"))
    await stalled.stop()
    assert [(toxic.name, toxic.holder) for toxic in proxy.toxics] == [("cut", "run b")]


async def test_hold_refuses_a_toxic_of_its_name_that_does_something_else(
    proxy: FaultProxy, control: ProxyControl
) -> None:
    await control.add_toxic("svc", Toxic.timeout(0, name="fault"))
    with pytest.raises(ProxyControlError, match="has a toxic fault already, of type timeout"):
        await control.hold("svc", Toxic.latency(300, name="fault")).start()
    assert [toxic.type for toxic in proxy.toxics] == ["timeout"]


async def test_holders_killed_at_random_points_leave_no_toxic(
    proxy_server: ProxyServer, proxy: FaultProxy
) -> None:
    """Killed while starting, while setting the toxic, while renewing: none is left behind."""
    lease = 1.0
    rng = random.Random()

    async def kill_at_random(number: int) -> None:
        name = f"partition-{number}"
        holder = await spawn_holder(proxy_server.control_url, lease, name)
        try:
            if number % 2 == 0:  # half killed once it holds its toxic, half at any point at all
                await held(holder)
            await asyncio.sleep(rng.uniform(0, 2 * lease))
            if number % 2 == 0:
                assert name in toxic_names(proxy)  # renewed past its first lease if need be
        finally:
            holder.kill()  # SIGKILL, by the PID this test started
            await holder.wait()

    await asyncio.gather(*(kill_at_random(number) for number in range(8)))
    await eventually(lambda: not proxy.toxics, within=lease + 10)
