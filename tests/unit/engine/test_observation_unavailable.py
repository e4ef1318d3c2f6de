"""The coordinator's own failures are not the system's: where the platform cannot be read (its
API not answering the coordinator), a run waits instead of erring, and a check that could not
look is inconclusive, never failed. Against the engine's fake platform (``test_run.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from test_coordinator.engine import RunObserver
from test_coordinator.errors import ObservationUnavailable
from test_coordinator.platforms.base import Applied, Workload
from test_coordinator.scenario.model import FaultSpec
from test_coordinator.scenario.status import Phase, Verdict, When

from tests.unit.engine.test_run import FakePlatform, checks, fake, run, scenario, step, tcp


class BlindPlatform(FakePlatform):
    """A fake whose reads fail as an API server's would, when told to."""

    def __init__(self) -> None:
        super().__init__()
        self.blind_selects = 0  # this many selections fail first
        self.blind_after_apply = False  # every lookup fails once a fault has landed
        self.hang_after_apply = False  # every lookup hangs once a fault has landed
        self.landed = False

    async def select(self, selector: Mapping[str, str]) -> list[Workload]:
        if self.blind_selects:
            self.blind_selects -= 1
            raise ObservationUnavailable("cannot list Pods in namespace trading: 503")
        return await super().select(selector)

    async def apply(self, fault: FaultSpec, workload: Workload) -> Applied:
        applied = await super().apply(fault, workload)
        self.landed = True
        return applied

    async def endpoint(self, workload: Workload, port: int | str) -> str:
        if self.landed and self.hang_after_apply:
            await asyncio.Event().wait()
        if self.landed and self.blind_after_apply:
            raise ObservationUnavailable("the watch of Pods in namespace trading is broken")
        return await super().endpoint(workload, port)


class Stages(RunObserver):
    def __init__(self) -> None:
        self.seen: list[str] = []

    def stage(self, text: str) -> None:
        self.seen.append(text)


WORKLOADS = {"risk-0": {"app": "risk"}, "gateway-0": {"app": "gateway"}}


async def test_a_selection_that_cannot_be_read_is_waited_for_not_an_error() -> None:
    async with fake(WORKLOADS, BlindPlatform) as platform:
        assert isinstance(platform, BlindPlatform)
        platform.blind_selects = 2
        stages = Stages()
        chaos = scenario(step("crash", "kill", "risk", after=[tcp("back", "risk", within="2s")]))

        status, _ = await run(chaos, platform, observer=stages)

    assert (status.phase, status.verdict) == (Phase.SUCCEEDED, Verdict.PASS), status.message
    waited = [text for text in stages.seen if text.startswith("waiting: ")]
    assert waited and "cannot list Pods in namespace trading: 503" in waited[0]


async def test_an_after_check_that_could_not_observe_makes_the_run_inconclusive() -> None:
    async with fake(WORKLOADS, BlindPlatform) as platform:
        assert isinstance(platform, BlindPlatform)
        platform.blind_after_apply = True
        chaos = scenario(step("crash", "kill", "risk", after=[tcp("back", "risk", within="300ms")]))

        status, _ = await run(chaos, platform)

    assert (status.phase, status.verdict) == (Phase.FAILED, Verdict.INCONCLUSIVE)
    (after,) = checks(status, When.AFTER)
    assert not after.passed and after.inconclusive
    assert "could not observe: the watch of Pods in namespace trading is broken" in after.observed
    ready = next(c for c in status.conditions if c.type == "Ready")
    assert ready.reason == "ObservationUnavailable"


async def test_a_timeout_spent_on_the_coordinators_own_lookup_is_inconclusive() -> None:
    async with fake(WORKLOADS, BlindPlatform) as platform:
        assert isinstance(platform, BlindPlatform)
        platform.hang_after_apply = True
        back = tcp("back", "risk", within="300ms", timeout="100ms")
        chaos = scenario(step("crash", "kill", "risk", after=[back]), steady=[])

        status, _ = await run(chaos, platform)

    (after,) = checks(status, When.AFTER)
    assert after.inconclusive
    assert "last: timed out after " in after.observed
    assert after.observed.endswith("waiting for the endpoints of risk")
    assert status.verdict is Verdict.INCONCLUSIVE
