"""The status writer's coalesced writes: made when the status changed since the last write,
not made when they would write it again unchanged (each write is a request and an event)."""

from __future__ import annotations

import asyncio

from test_coordinator.reconcile.status import StatusWriter
from test_coordinator.scenario.status import Phase, ScenarioStatus


class Resource:
    """What the writer writes to, and what it shows now."""

    def __init__(self) -> None:
        self.shown = ScenarioStatus(phase=Phase.RUNNING, message="starting")
        self.written: list[ScenarioStatus] = []

    async def write(self, status: ScenarioStatus) -> None:
        self.written.append(status)

    def compose(self) -> ScenarioStatus:
        return self.shown.model_copy(deep=True)


async def coalesced(writer: StatusWriter) -> None:
    """Request a coalesced write and wait until it has been made (or let go)."""
    writer.request()
    pending = writer._pending
    assert pending is not None
    await pending


async def test_a_coalesced_write_of_an_unchanged_status_is_not_made() -> None:
    resource = Resource()
    writer = StatusWriter(resource.write, resource.compose, 0.0, where="test")
    await writer.write_now()
    await coalesced(writer)
    assert [status.message for status in resource.written] == ["starting"]


async def test_a_coalesced_write_of_a_changed_status_is_made() -> None:
    resource = Resource()
    writer = StatusWriter(resource.write, resource.compose, 0.0, where="test")
    await writer.write_now()
    resource.shown.message = "step kill: kill t"
    await coalesced(writer)
    resource.shown.phase = Phase.SUCCEEDED
    await coalesced(writer)
    assert [(s.phase, s.message) for s in resource.written] == [
        (Phase.RUNNING, "starting"),
        (Phase.RUNNING, "step kill: kill t"),
        (Phase.SUCCEEDED, "step kill: kill t"),
    ]


async def test_a_write_asked_for_at_once_is_made_even_if_unchanged() -> None:
    resource = Resource()
    writer = StatusWriter(resource.write, resource.compose, 0.0, where="test")
    await writer.write_now()
    await writer.write_now()
    assert len(resource.written) == 2


async def test_the_first_coalesced_write_is_made() -> None:
    resource = Resource()
    writer = StatusWriter(resource.write, resource.compose, 0.0, where="test")
    await coalesced(writer)
    assert [status.message for status in resource.written] == ["starting"]


class SlowResource(Resource):
    """Each write is on its way until the test lets it land."""

    def __init__(self) -> None:
        super().__init__()
        self.on_the_way: asyncio.Queue[asyncio.Event] = asyncio.Queue()

    async def write(self, status: ScenarioStatus) -> None:
        land = asyncio.Event()
        await self.on_the_way.put(land)
        await land.wait()
        await super().write(status)


async def test_a_change_asked_for_while_a_coalesced_write_is_on_its_way_is_written() -> None:
    # The status of a busy operator's run said for minutes that its fault was still being
    # applied: the fault had landed while the write before was on its way, and that write's
    # task, not done yet, took the request as its own.
    resource = SlowResource()
    writer = StatusWriter(resource.write, resource.compose, 0.0, where="test")
    writer.request()
    first = await asyncio.wait_for(resource.on_the_way.get(), timeout=5)  # "starting"
    resource.shown.message = "step kill: kill t"
    writer.request()
    first.set()
    second = await asyncio.wait_for(resource.on_the_way.get(), timeout=5)
    second.set()
    pending = writer._pending
    assert pending is not None
    await asyncio.wait_for(pending, timeout=5)
    assert [status.message for status in resource.written] == ["starting", "step kill: kill t"]
