"""Observing a check over time: until it passes, or continuously while faults are active."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from test_coordinator.checks import Observation, ProbeContext, observe
from test_coordinator.scenario.model import DuringCheck, Probe
from test_coordinator.scenario.status import CheckStatus, When

__all__ = ["ContinuousCheck", "Polled", "poll_until_pass"]


@dataclass(frozen=True)
class Polled:
    last: Observation
    observations: int
    passed_at: float | None  # monotonic start of the first passing observation


async def poll_until_pass(
    probe: Probe, context: ProbeContext, *, within: float, interval: float
) -> Polled:
    """Observe every ``interval`` until one passes or ``within`` has gone by (0: observe once)."""
    deadline = time.monotonic() + within
    count = 0
    while True:
        began = time.monotonic()
        observation = await observe(probe, context)
        count += 1
        if observation.passed:
            return Polled(observation, count, passed_at=began)
        if began + interval >= deadline:
            return Polled(observation, count, passed_at=None)
        await asyncio.sleep(max(0.0, began + interval - time.monotonic()))


@dataclass
class ContinuousCheck:
    """A during-check: observes at its interval until cancelled, keeping every observation."""

    check: DuringCheck
    context: ProbeContext
    samples: list[tuple[float, Observation]] = field(default_factory=list)

    async def run(self) -> None:
        while True:
            began = time.monotonic()
            self.samples.append((began, await observe(self.check, self.context)))
            await asyncio.sleep(max(0.0, began + self.check.interval - time.monotonic()))

    def result(self) -> CheckStatus:
        total = len(self.samples)
        passes = sum(1 for _, observation in self.samples if observation.passed)
        rate = passes / total if total else 0.0
        failures = [observation for _, observation in self.samples if not observation.passed]
        longest, longest_at = self._longest_failure()
        observed = f"{passes}/{total} passed"
        if failures:
            observed += (
                f"; longest outage {longest:.2f}s from {longest_at}; e.g. {failures[0].observed}"
            )
        return CheckStatus(
            name=self.check.name,
            when=When.DURING,
            passed=total > 0 and rate >= self.check.min_success_rate,
            observed=observed if total else "no observation made",
            observations=total,
            success_rate=round(rate, 4),
            longest_failure_seconds=round(longest, 3) if failures else None,
            at=self.samples[-1][1].at if self.samples else None,
        )

    def _longest_failure(self) -> tuple[float, str]:
        """Longest run of failures, from its first failing observation to the next passing one."""
        longest, longest_at = 0.0, ""
        streak_start: tuple[float, Observation] | None = None
        for moment, observation in [*self.samples, (time.monotonic(), None)]:
            if observation is not None and not observation.passed:
                streak_start = streak_start or (moment, observation)
                continue
            if streak_start is not None:
                length = moment - streak_start[0]
                if length > longest:
                    longest, longest_at = length, streak_start[1].at.strftime("%H:%M:%S.%f")[:-3]
                streak_start = None
        return longest, longest_at
