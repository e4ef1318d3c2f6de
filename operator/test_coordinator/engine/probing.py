"""Observing a check over time: until it passes, or continuously while faults are active."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from test_coordinator.checks import Observation, ProbeContext, observe
from test_coordinator.scenario.model import DuringCheck, Probe
from test_coordinator.scenario.status import CheckStatus, When

__all__ = ["ContinuousCheck", "OnObservation", "Polled", "poll_until_pass"]

OnObservation = Callable[[float, Observation], None]
"""Told of every observation, with the wall-clock time (unix seconds) at which it began."""


@dataclass(frozen=True)
class Polled:
    last: Observation
    observations: int
    passed_at: float | None  # monotonic start of the first passing observation


async def poll_until_pass(
    probe: Probe,
    context: ProbeContext,
    *,
    within: float,
    interval: float,
    on_observation: OnObservation | None = None,
) -> Polled:
    """Observe every ``interval`` until one passes or ``within`` has gone by (0: observe once)."""
    deadline = time.monotonic() + within
    count = 0
    while True:
        began, began_wall = time.monotonic(), time.time()
        observation = await observe(probe, context)
        count += 1
        if on_observation is not None:
            on_observation(began_wall, observation)
        if observation.passed:
            return Polled(observation, count, passed_at=began)
        if began + interval >= deadline:
            return Polled(observation, count, passed_at=None)
        await asyncio.sleep(max(0.0, began + interval - time.monotonic()))


@dataclass(frozen=True)
class _Sample:
    began: float  # monotonic
    began_wall: float
    observation: Observation


@dataclass
class ContinuousCheck:
    """A during-check: begins an observation every interval until cancelled, keeping each.

    Observations begin on a fixed cadence and may overlap. One after another, an observation of
    a hung service would last its whole timeout while those around it take milliseconds, and
    the success rate would count an outage as a handful of failures among many successes.
    """

    check: DuringCheck
    context: ProbeContext
    on_observation: OnObservation | None = None
    samples: list[_Sample] = field(default_factory=list)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as observations:
            next_at = time.monotonic()
            while True:
                observations.create_task(self._observe())
                # After a stall of the event loop, carry on at the interval instead of bursting.
                next_at = max(next_at + self.check.interval, time.monotonic())
                await asyncio.sleep(next_at - time.monotonic())

    async def _observe(self) -> None:
        began, began_wall = time.monotonic(), time.time()
        observation = await observe(self.check, self.context)
        self.samples.append(_Sample(began, began_wall, observation))
        if self.on_observation is not None:
            self.on_observation(began_wall, observation)

    def result(self) -> CheckStatus:
        samples = sorted(self.samples, key=lambda sample: sample.began)
        total = len(samples)
        passes = sum(1 for sample in samples if sample.observation.passed)
        rate = passes / total if total else 0.0
        failures = [sample.observation for sample in samples if not sample.observation.passed]
        longest, longest_at = _longest_failure(samples)
        observed = f"{passes}/{total} passed"
        if failures and longest_at is not None:
            stamp = f"{longest_at:%H:%M:%S.%f}"[:-3]
            observed += f"; longest outage {longest:.2f}s from {stamp}; e.g. {failures[0].observed}"
        passed = total > 0 and rate >= self.check.min_success_rate
        return CheckStatus(
            name=self.check.name,
            when=When.DURING,
            passed=passed,
            observed=observed if total else "no observation made",
            observations=total,
            success_rate=round(rate, 4),
            longest_failure_seconds=round(longest, 3) if failures else None,
            longest_failure_at=longest_at,
            at=samples[-1].observation.at if samples else None,
            inconclusive=not passed and bool(failures) and all(f.inconclusive for f in failures),
        )


def _longest_failure(samples: list[_Sample]) -> tuple[float, datetime | None]:
    """Longest run of failures, from the start of its first failing observation to the start of
    the next passing one (or now, if it has not ended), and when it began."""
    longest, longest_at = 0.0, None
    streak: _Sample | None = None
    for moment, sample in [*((s.began, s) for s in samples), (time.monotonic(), None)]:
        if sample is not None and not sample.observation.passed:
            streak = streak or sample
            continue
        if streak is not None:
            if moment - streak.began > longest:
                longest = moment - streak.began
                longest_at = datetime.fromtimestamp(streak.began_wall, UTC)
            streak = None
    return longest, longest_at
