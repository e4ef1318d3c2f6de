"""The kill switch in the engine: no fault while it is off; turned off mid-run, the run ends
and its faults are reverted."""

from __future__ import annotations

import asyncio

import pytest
from test_coordinator.engine.injection import InjectionSwitch, parse_enabled
from test_coordinator.scenario.status import Phase, Verdict

from tests.unit.engine.test_run import FakePlatform, platform, run, scenario, step, tcp

__all__ = ["platform"]  # the fixture, shared with test_run


async def test_a_run_while_injection_is_off_touches_nothing(platform: FakePlatform) -> None:
    switch = InjectionSwitch(enabled=False, source="chaos_injection_enabled=false in Redis")

    status, _ = await run(scenario(step("crash", "kill", "risk")), platform, switch=switch)

    assert platform.calls == []
    assert status.phase is Phase.ABORTED
    assert status.verdict is Verdict.INCONCLUSIVE
    assert status.message == (
        "chaos injection is disabled (chaos_injection_enabled=false in Redis): no fault was applied"
    )
    assert status.checks == []  # not even the steady state was looked at
    ready = next(c for c in status.conditions if c.type == "Ready")
    assert ready.reason == "InjectionDisabled"


async def test_turning_it_off_mid_run_aborts_and_reverts(platform: FakePlatform) -> None:
    switch = InjectionSwitch()
    chaos = scenario(step("freeze", "pause", "risk", duration="10s"))

    async def turn_off_once_applied() -> None:
        await platform.applied.wait()
        switch.set(False, source="CHAOS_INJECTION_ENABLED=false in the environment")

    turning = asyncio.create_task(turn_off_once_applied())
    status, _ = await run(chaos, platform, switch=switch)
    await turning

    assert [(c.op, c.action) for c in platform.calls] == [("apply", "pause"), ("revert", "pause")]
    assert platform.faulted == set()
    assert status.phase is Phase.ABORTED
    assert status.message == (
        "aborted: chaos injection was disabled (CHAOS_INJECTION_ENABLED=false in the environment)"
    )
    assert status.faults[0].reverted_at is not None


async def test_the_environment_variable_is_the_default(
    platform: FakePlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAOS_INJECTION_ENABLED", "false")

    status, _ = await run(scenario(step("crash", "kill", "risk")), platform)

    assert platform.calls == []
    assert "CHAOS_INJECTION_ENABLED=false in the environment" in status.message


async def test_a_run_ceiling_caps_the_spec_timeout(platform: FakePlatform) -> None:
    chaos = scenario(step("freeze", "pause", "risk", duration="10s"), timeout="1m")

    status, _ = await run(chaos, platform, time_limit=0.3)

    assert status.message == "aborted: timed out after 300ms"
    assert platform.faulted == set()


def test_unreadable_environment_values_keep_injection_off() -> None:
    assert InjectionSwitch.from_environment({"CHAOS_INJECTION_ENABLED": "maybe"}).enabled is False
    assert InjectionSwitch.from_environment({}).enabled is True
    assert parse_enabled(" Off ") is False
    with pytest.raises(ValueError, match="expected true or false"):
        parse_enabled("perhaps")


async def test_steps_after_it_is_turned_off_apply_nothing(platform: FakePlatform) -> None:
    switch = InjectionSwitch()
    chaos = scenario(
        step("first", "kill", "gateway", after=[tcp("gateway back", "gateway")]),
        step("second", "kill", "risk"),
    )

    async def turn_off_after_first() -> None:
        await platform.applied.wait()
        switch.set(False, source="a test")

    turning = asyncio.create_task(turn_off_after_first())
    status, _ = await run(chaos, platform, switch=switch)
    await turning

    assert [c.workload for c in platform.ops("apply")] == ["gateway-0"]
    assert status.phase is Phase.ABORTED
