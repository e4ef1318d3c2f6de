"""A during-check against a real process paused for 2 s: its success rate tells the pause."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from test_coordinator.engine import Abort, RunObserver, run_scenario
from test_coordinator.engine.journal import JournalEntry
from test_coordinator.platforms.local import LocalPlatform
from test_coordinator.scenario import ChaosScenario, Phase, When, parse_scenario

from tests.integration.stacks import alive, started_pids, tiny, tiny_stack

PAUSE = 2.0
INTERVAL = 0.1


def scenario(during: dict[str, Any]) -> ChaosScenario:
    """Pause another service 1 s, the api for 2 s, the other again 1 s: the during-check sees
    the api down for about half of the time it watches."""

    def pause(name: str, target: str, seconds: float) -> dict[str, Any]:
        fault = {"pause": {"target": target}}
        return {"name": name, "fault": fault, "duration": f"{seconds}s"}

    document = {
        "apiVersion": "chaos.tse.dev/v1alpha1",
        "kind": "ChaosScenario",
        "metadata": {"name": "pause"},
        "spec": {
            "targets": {
                "api": {"selector": {"app": "api"}},
                "other": {"selector": {"app": "other"}},
            },
            "during": [during],
            "steps": [
                pause("before", "other", 1),
                pause("api", "api", PAUSE),
                pause("after", "other", 1),
            ],
        },
    }
    return parse_scenario(document, source="test")


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[LocalPlatform]:
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    stack = tiny_stack(pid_dir, api=tiny("api", pid_dir), other=tiny("other", pid_dir))
    async with LocalPlatform(stack, log_dir=tmp_path / "logs") as platform:
        yield platform  # type: ignore[misc]
    assert not [pid for pid in started_pids(pid_dir) if alive(pid)], "a process outlived the run"


async def test_a_2s_pause_at_100ms_gives_a_success_rate_consistent_with_the_pause(
    platform: LocalPlatform,
) -> None:
    # A timeout longer than the interval: observations of the frozen service overlap, and each
    # interval still counts once. Those begun shortly before the resume are answered after it:
    # the latency bound counts such late answers as failures, as a user waiting would.
    check = {
        "name": "api answers",
        "http": {"target": "api", "port": "tcp", "maxLatency": "150ms"},
        "interval": f"{INTERVAL}s",
        "timeout": "500ms",
        "minSuccessRate": 0.9,
    }
    status = await run_scenario(scenario(check), platform)

    during = next(c for c in status.checks if c.when is When.DURING)
    [samples] = [s for s in status.samples if s.when is When.DURING]
    applied = [fault.applied_at for fault in status.faults]
    watched = (status.steps[-1].finished_at - applied[0]).total_seconds()  # type: ignore[operator]
    expected = 1 - PAUSE / watched
    failures = samples.passed.count("0")
    report = f"{during.observed}; watched {watched:.2f}s, expected rate {expected:.2f}"
    print(f"rate {during.success_rate}: {report}")  # the figures, for the log

    assert not during.passed
    assert during.success_rate is not None
    assert abs(during.success_rate - expected) <= 0.15, report
    assert during.observations == len(samples.offsets)
    assert 0.7 * watched / INTERVAL <= during.observations <= 1.1 * watched / INTERVAL + 2, report
    assert PAUSE / INTERVAL * 0.7 <= failures <= PAUSE / INTERVAL + 6, report
    # The longest outage is the pause, and it began when the api was frozen.
    assert during.longest_failure_seconds is not None
    assert PAUSE - 0.3 <= during.longest_failure_seconds <= PAUSE + 0.6, report
    assert during.longest_failure_at is not None
    began = (during.longest_failure_at - applied[1]).total_seconds()
    assert -0.05 <= began <= INTERVAL + 0.3, report
    assert "longest outage" in during.observed and "from " in during.observed


FREEZE = 5.0
SLOT = 0.25


def frozen_for_5s(during: dict[str, Any]) -> ChaosScenario:
    """The api frozen 5 s, then the other service for 1 s, so the check sees the api again."""
    document = {
        "apiVersion": "chaos.tse.dev/v1alpha1",
        "kind": "ChaosScenario",
        "metadata": {"name": "freeze"},
        "spec": {
            "targets": {
                "api": {"selector": {"app": "api"}},
                "other": {"selector": {"app": "other"}},
            },
            "during": [during],
            "steps": [
                {"name": "freeze", "fault": {"pause": {"target": "api"}}, "duration": f"{FREEZE}s"},
                {"name": "then", "fault": {"pause": {"target": "other"}}, "duration": "1s"},
            ],
        },
    }
    return parse_scenario(document, source="test")


def http_get(port: str) -> list[str]:
    """A command that GETs the api and waits for its answer (bash: it starts in milliseconds)."""
    script = (
        f"exec 3<>/dev/tcp/127.0.0.1/{port}; printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3; "
        "read -r line <&3; [[ $line == *200* ]]"
    )
    return ["bash", "-c", script]


@pytest.mark.parametrize(
    ("kind", "timeout"),
    [("http", "2s"), ("http", "10s"), ("command", "8s")],
)
async def test_a_5s_freeze_is_an_outage_of_5s_whatever_the_timeout_and_kind(
    platform: LocalPlatform, kind: str, timeout: str
) -> None:
    # Observations begun during the freeze are answered only after it, some within their
    # timeout: they must not count as passes, or the outage shrinks by up to the timeout.
    probe: dict[str, Any] = {"http": {"target": "api", "port": "tcp"}}
    if kind == "command":
        probe = {"command": {"argv": http_get(str(platform.ports["api"]["tcp"]))}}
    check = {"name": "api answers", **probe, "interval": f"{SLOT}s", "timeout": timeout}
    status = await run_scenario(frozen_for_5s(check), platform)

    during = next(c for c in status.checks if c.when is When.DURING)
    print(during.observed)  # the figures, for the log
    assert during.longest_failure_seconds is not None, during.observed
    # To within one interval (less a millisecond of rounding): the freeze began between two
    # observations and ended between two.
    low, high = FREEZE - SLOT - 0.001, FREEZE + SLOT
    assert low <= during.longest_failure_seconds <= high, during.observed
    frozen_at = status.faults[0].applied_at
    began = (during.longest_failure_at - frozen_at).total_seconds()  # type: ignore[operator]
    assert -0.05 <= began <= SLOT + 0.05, during.observed
    # The share of time seen passing: about the watched time without the freeze.
    watched = (status.steps[-1].finished_at - frozen_at).total_seconds()  # type: ignore[operator]
    assert during.success_rate is not None
    assert abs(during.success_rate - (1 - FREEZE / watched)) <= SLOT / watched + 0.02


async def test_an_aborted_run_counts_every_observation_it_began(
    platform: LocalPlatform,
) -> None:
    check = {
        "name": "api answers",
        "http": {"target": "api", "port": "tcp"},
        "interval": f"{SLOT}s",
        "timeout": "10s",
    }
    abort = Abort()
    frozen = asyncio.Event()

    class Watch(RunObserver):
        def fault_applied(self, entry: JournalEntry) -> None:
            frozen.set()

    run = asyncio.create_task(
        run_scenario(frozen_for_5s(check), platform, abort=abort, observer=Watch())
    )
    await asyncio.wait_for(frozen.wait(), timeout=10)
    await asyncio.sleep(2.0)  # two seconds into the freeze, as a user pressing Ctrl-C
    abort("interrupted by SIGINT")
    status = await asyncio.wait_for(run, timeout=10)

    assert status.phase is Phase.ABORTED
    during = next(c for c in status.checks if c.when is When.DURING)
    [samples] = [s for s in status.samples if s.when is When.DURING]
    print(during.observed, samples.passed)
    # Eight observations began in those two seconds; each counts, none of the frozen as a pass.
    assert 2.0 / SLOT - 1 <= during.observations <= 2.0 / SLOT + 2, during.observed
    assert samples.passed.count("1") <= 1, samples.passed  # at most the one before the freeze
    assert not during.passed
    assert during.longest_failure_seconds is not None
    assert during.longest_failure_seconds >= 2.0 - SLOT
    assert "cut off" in " ".join(samples.notes.values()) or during.observations == len(
        samples.passed
    )
