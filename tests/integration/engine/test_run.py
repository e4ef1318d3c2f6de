"""Whole runs on the local platform: real processes, real signals, measured recovery."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from test_coordinator.engine import Abort, RunObserver, run_scenario
from test_coordinator.engine.journal import JournalEntry
from test_coordinator.platforms.local import LocalPlatform
from test_coordinator.scenario import ChaosScenario, Phase, Verdict, When, parse_scenario

from tests.documents import chaos_scenario, unchecked_scenario
from tests.integration.stacks import (
    alive,
    listening_since,
    process_state,
    started_pids,
    tiny,
    tiny_stack,
)

RESTART_DELAY = 1.5  # the tiny stack's restartDelay


TARGETS = {name: {"selector": {"app": name}} for name in ("api", "fragile", "steady")}


def scenario(**spec: Any) -> ChaosScenario:
    return chaos_scenario("test", {"targets": TARGETS, **spec})


def tcp(target: str, **check: Any) -> dict[str, Any]:
    return {"tcp": {"target": target, "port": "tcp"}, **check}


def http(target: str, **check: Any) -> dict[str, Any]:
    return {"http": {"target": target, "port": "tcp"}, **check}


@pytest.fixture
async def platform(pid_dir: Path, tmp_path: Path) -> AsyncIterator[LocalPlatform]:
    stack = tiny_stack(
        pid_dir,
        api=tiny("api", pid_dir),
        fragile=tiny("fragile", pid_dir, restart="never"),
        steady=tiny("steady", pid_dir),
    )
    async with LocalPlatform(stack, log_dir=tmp_path / "logs") as platform:
        yield platform  # type: ignore[misc]
    assert not [pid for pid in started_pids(pid_dir) if alive(pid)], "a process outlived the run"


async def test_crash_and_recovery_passes_with_the_restart_delay_as_recovery(
    platform: LocalPlatform,
) -> None:
    status = await run_scenario(
        scenario(
            steadyState=[{"name": "api up", **tcp("api")}],
            during=[{"name": "steady up", **tcp("steady"), "interval": "100ms"}],
            steps=[
                {
                    "name": "crash api",
                    "fault": {"kill": {"target": "api"}},
                    "after": [{"name": "api back", **tcp("api"), "within": "10s"}],
                }
            ],
        ),
        platform,
    )
    assert status.phase is Phase.SUCCEEDED, status.message
    assert status.verdict is Verdict.PASS
    assert status.recovery_seconds is not None
    # The supervisor waits 1.5 s, the service listens ~0.1 s after exec; polls are 100 ms apart.
    assert RESTART_DELAY <= status.recovery_seconds <= RESTART_DELAY + 0.6
    after = next(check for check in status.checks if check.when is When.AFTER)
    assert after.observations > 5  # it was seen failing before it was seen passing
    during = next(check for check in status.checks if check.when is When.DURING)
    assert during.success_rate == 1.0 and during.observations >= 10
    [fault] = status.faults
    assert fault.action == "kill" and fault.workload == "api" and "SIGKILL" in fault.message


async def test_a_recovery_is_seen_when_the_service_is_ready_again_not_an_interval_later(
    platform: LocalPlatform, pid_dir: Path
) -> None:
    """The local platform probes a restarted service's readiness as it does at its start, and
    the after-check observes as that passes: with 5 s between observations, the recovery is
    still when the new process began to listen, to the ready probe's 10 ms grain."""
    status = await run_scenario(
        scenario(
            steps=[
                {
                    "name": "crash api",
                    "fault": {"kill": {"target": "api"}},
                    "after": [
                        {"name": "api back", **tcp("api"), "within": "20s", "interval": "5s"}
                    ],
                }
            ],
        ),
        platform,
    )
    assert status.verdict is Verdict.PASS, status.message
    [fault] = status.faults
    restarted = platform.services["api"].pid
    assert restarted is not None
    listening = listening_since(pid_dir, restarted)
    assert listening is not None
    recovery = status.recovery_seconds
    assert recovery is not None
    back = listening - fault.applied_at.timestamp()
    assert back <= recovery <= back + 0.15, (back, recovery)
    [after] = [check for check in status.checks if check.when is When.AFTER]
    assert after.observations == 2  # at the fault, and as the new process was ready


async def test_restart_policy_never_fails_naming_the_check(platform: LocalPlatform) -> None:
    status = await run_scenario(
        scenario(
            steps=[
                {
                    "name": "crash fragile",
                    "fault": {"kill": {"target": "fragile"}},
                    "after": [{"name": "fragile back", **tcp("fragile"), "within": "2s"}],
                }
            ]
        ),
        platform,
    )
    assert status.phase is Phase.FAILED
    assert status.verdict is Verdict.FAIL
    assert "fragile back" in status.message
    assert "not passing within 2s; last: connection refused" in status.message
    assert status.steps[0].phase is Phase.FAILED


async def test_failing_steady_state_stops_the_run_before_any_fault(
    platform: LocalPlatform,
) -> None:
    pid = platform.services["api"].pid
    status = await run_scenario(
        scenario(
            steadyState=[{"name": "nothing there", "tcp": {"address": "127.0.0.1:1"}}],
            steps=[{"name": "crash api", "fault": {"kill": {"target": "api"}}}],
        ),
        platform,
    )
    assert status.phase is Phase.FAILED
    assert status.verdict is Verdict.INCONCLUSIVE
    assert "no fault was applied" in status.message and "nothing there" in status.message
    assert status.faults == []
    assert platform.services["api"].pid == pid


class _AbortWhenPaused(RunObserver):
    def __init__(self, abort: Abort) -> None:
        self.abort = abort
        self.paused_pids: list[int] = []

    def fault_applied(self, entry: JournalEntry) -> None:
        self.abort("stopped by the test")


async def test_abort_during_a_pause_resumes_the_process(platform: LocalPlatform) -> None:
    pid = platform.services["api"].pid
    assert pid is not None
    abort = Abort()
    status = await run_scenario(
        scenario(
            steps=[{"name": "freeze api", "fault": {"pause": {"target": "api"}}, "duration": "1m"}]
        ),
        platform,
        observer=_AbortWhenPaused(abort),
        abort=abort,
    )
    assert status.phase is Phase.ABORTED
    assert status.message == "aborted: stopped by the test"
    assert process_state(pid) in ("S", "R")
    [fault] = status.faults
    assert fault.reverted_at is not None and "SIGCONT" in fault.message


async def test_timeout_aborts_and_reverts_a_stop(platform: LocalPlatform) -> None:
    # The loader refuses a timeout shorter than the steps; the engine must still enforce it.
    spec = {
        "targets": TARGETS,
        "steps": [{"name": "stop api", "fault": {"stop": {"target": "api"}}, "duration": "1m"}],
        "timeout": "2s",
    }
    status = await run_scenario(unchecked_scenario("test", spec), platform)
    assert status.phase is Phase.ABORTED
    assert "timed out after 2s" in status.message
    assert status.faults[0].reverted_at is not None
    assert platform.services["api"].running


async def test_pause_shows_in_a_during_check_success_rate(platform: LocalPlatform) -> None:
    status = await run_scenario(
        scenario(
            during=[
                {
                    "name": "api answers",
                    **http("api"),
                    "interval": "100ms",
                    "timeout": "50ms",
                    "minSuccessRate": 0.9,
                }
            ],
            steps=[
                {
                    "name": "freeze api",
                    "fault": {"pause": {"target": "api"}},
                    "duration": "2s",
                    "after": [{"name": "api answers again", **http("api"), "within": "2s"}],
                }
            ],
        ),
        platform,
    )
    during = next(check for check in status.checks if check.when is When.DURING)
    assert not during.passed and status.verdict is Verdict.FAIL
    # HTTP, not TCP: the kernel completes a paused listener's handshakes into its backlog.
    assert during.success_rate is not None and during.success_rate < 0.9
    assert during.longest_failure_seconds is not None
    assert 1.5 <= during.longest_failure_seconds <= 2.5


async def test_mode_wider_than_the_selection_is_invalid_and_touches_nothing(
    platform: LocalPlatform,
) -> None:
    pids = {name: service.pid for name, service in platform.services.items()}
    document = scenario(steps=[{"name": "crash", "fault": {"kill": {"target": "api"}}}]).dump()
    document["spec"]["targets"]["api"] = {"selector": {"app": "api"}, "mode": "fixed", "value": 2}
    status = await run_scenario(parse_scenario(document, source="test"), platform)
    assert status.phase is Phase.INVALID
    assert "spec.targets.api: mode fixed 2 needs 2 workloads" in status.message
    assert status.conditions[-1].type == "Stalled" and status.conditions[-1].status == "True"
    assert {name: service.pid for name, service in platform.services.items()} == pids


async def test_restart_fault_measures_from_the_sigterm(platform: LocalPlatform) -> None:
    status = await run_scenario(
        scenario(
            steps=[
                {
                    "name": "restart api",
                    "fault": {"restart": {"target": "api", "gracePeriod": "2s"}},
                    "after": [{"name": "api back", **tcp("api"), "within": "5s"}],
                }
            ]
        ),
        platform,
    )
    assert status.verdict is Verdict.PASS, status.message
    assert "stopped gracefully" in status.faults[0].message
    # No restart delay for an asked-for restart: the service is back as soon as it listens.
    assert status.recovery_seconds is not None and status.recovery_seconds < 1.5


async def test_runs_reuse_nothing_between_them(platform: LocalPlatform) -> None:
    first, second = await asyncio.gather(
        run_scenario(
            scenario(steps=[{"name": "s", "fault": {"kill": {"target": "steady"}}}]), platform
        ),
        run_scenario(
            scenario(steps=[{"name": "s", "fault": {"kill": {"target": "api"}}}]), platform
        ),
    )
    assert first.run_id != second.run_id
    assert first.faults[0].workload == "steady" and second.faults[0].workload == "api"


@pytest.fixture
async def stubborn_platform(pid_dir: Path, tmp_path: Path) -> AsyncIterator[LocalPlatform]:
    """A service deaf to SIGTERM, as the seed's real risk monitor is: a stop needs SIGKILL."""
    stack = tiny_stack(pid_dir, api=tiny("api", pid_dir, "--ignore-term", stopGracePeriod="1s"))
    async with LocalPlatform(stack, log_dir=tmp_path / "logs") as platform:
        yield platform  # type: ignore[misc]


def restart_scenario(**restart: Any) -> ChaosScenario:
    return chaos_scenario(
        "restart",
        {
            "targets": {"api": {"selector": {"app": "api"}}},
            "steps": [
                {
                    "name": "restart api",
                    "fault": {"restart": {"target": "api", "gracePeriod": "1s", **restart}},
                    "after": [{"name": "api back", **tcp("api"), "within": "10s"}],
                }
            ],
        },
    )


async def test_a_restart_is_stamped_at_its_sigterm_and_completed_after_the_sigkill(
    stubborn_platform: LocalPlatform,
) -> None:
    status = await run_scenario(restart_scenario(), stubborn_platform)

    assert status.verdict is Verdict.PASS, status.message  # a forced stop is not asked about
    [fault] = status.faults
    assert fault.completed_at is not None
    waited = (fault.completed_at - fault.applied_at).total_seconds()
    assert 1.0 <= waited < 2.0, f"applied {fault.applied_at}, completed {fault.completed_at}"
    assert "did not stop within its 1s grace period: SIGKILL after 1.0" in fault.message
    # Recovery counts from the SIGTERM, when the service began to go away: past the grace.
    assert status.recovery_seconds is not None and status.recovery_seconds >= 1.0


async def test_require_graceful_stop_fails_a_restart_that_needed_sigkill(
    stubborn_platform: LocalPlatform,
) -> None:
    status = await run_scenario(restart_scenario(requireGracefulStop=True), stubborn_platform)

    assert status.verdict is Verdict.FAIL
    assert status.phase is Phase.FAILED
    [graceful] = [check for check in status.checks if check.when is When.FAULT]
    assert graceful.name == "restart api: graceful stop" and not graceful.passed
    assert "did not stop within its 1s grace period: SIGKILL after 1.0" in graceful.observed
    assert "needed SIGKILL after the 1s grace period: api" in status.steps[0].message
    # The service itself recovered: its after-check passed and the recovery is still known.
    assert status.recovery_seconds is not None


async def test_require_graceful_stop_passes_a_graceful_restart(platform: LocalPlatform) -> None:
    status = await run_scenario(
        scenario(
            steps=[
                {
                    "name": "restart api",
                    "fault": {"restart": {"target": "api", "requireGracefulStop": True}},
                    "after": [{"name": "api back", **tcp("api"), "within": "10s"}],
                }
            ]
        ),
        platform,
    )
    assert status.verdict is Verdict.PASS, status.message
    [graceful] = [check for check in status.checks if check.when is When.FAULT]
    assert graceful.passed and "within the 10s grace period" in graceful.observed
