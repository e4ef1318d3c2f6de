"""The status writer's coalesced writes: made when the status changed since the last write,
not made when they would write it again unchanged (each write is a request and an event)."""

from __future__ import annotations

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
