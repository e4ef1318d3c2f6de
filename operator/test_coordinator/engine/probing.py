"""Observing a check over time: until it passes, or continuously while faults are active."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from test_coordinator.checks import Observation, ProbeContext, observe
from test_coordinator.checks.base import failed, format_elapsed, unavailable
from test_coordinator.scenario.durations import format_duration
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
    pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Polled:
    """Observe every ``interval`` until one passes or ``within`` has gone by (0: observe once).

    No observation outlasts the deadline: the last one gets the time left, not its whole
    timeout, so a check given 10 s is done in 10 s. ``pause`` waits between observations; it
    may end early (``Platform.between_observations``), and the next observation begins then.
    """
    deadline = time.monotonic() + within
    count = 0
    while True:
        began, began_wall = time.monotonic(), time.time()
        limit = min(probe.timeout, max(deadline - began, 0.01)) if within else probe.timeout
        observation = await observe(probe, context, limit=limit)
        count += 1
        if on_observation is not None:
            on_observation(began_wall, observation)
        if observation.passed:
            return Polled(observation, count, passed_at=began)
        if began + interval >= deadline:
            return Polled(observation, count, passed_at=None)
        await pause(max(0.0, began + interval - time.monotonic()))


@dataclass
class _Slot:
    """One interval of a during-check: the observation begun at its start judges all of it."""

    began: float  # monotonic
    began_wall: float
    due: float  # monotonic: when the next observation is due, and this one's answer at the latest
    observation: Observation | None = None  # as judged, once it is
    end: float | None = None  # monotonic: the next slot's start, or the last one's due time


@dataclass
class ContinuousCheck:
    """A during-check: begins an observation every interval until stopped, keeping each.

    Observations begin on a fixed cadence and may overlap, and each judges the interval it
    began: it passes only if it answered, passing, before the next one was due. An observation
    of a frozen service that is answered just after the service resumes says nothing of the
    seconds it waited, and counting it as a pass would shorten the outage by up to its timeout.
    So the success rate is the share of time the check was seen passing, and the longest
    outage is the longest time it was not.
    """

    check: DuringCheck
    context: ProbeContext
    on_observation: OnObservation | None = None
    slots: list[_Slot] = field(default_factory=list)
    _pending: set[asyncio.Task[None]] = field(default_factory=set)
    _cadence: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._cadence = asyncio.create_task(self._begin_every_interval(), name=self.check.name)

    async def _begin_every_interval(self) -> None:
        next_at = time.monotonic()
        while True:
            slot = _Slot(time.monotonic(), time.time(), due=next_at + self.check.interval)
            if self.slots:
                self.slots[-1].end = slot.began
            self.slots.append(slot)
            task = asyncio.create_task(self._observe(slot))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
            # After a stall of the event loop, carry on at the interval instead of bursting.
            next_at = max(next_at + self.check.interval, time.monotonic())
            await asyncio.sleep(next_at - time.monotonic())

    async def _observe(self, slot: _Slot) -> None:
        try:
            observation = await observe(self.check, self.context)
        except asyncio.CancelledError:
            if slot.observation is None:  # cut off by stop(): unanswered when it was due
                self._judge(slot, failed(f"no answer within the {_interval(self.check)} interval"))
            raise
        answered = time.monotonic()
        if observation.passed and answered > slot.due:
            took = format_elapsed(answered - slot.began)
            observation = failed(
                f"late: {observation.observed} after {took}, past the next observation "
                f"({_interval(self.check)} interval)"
            )
        self._judge(slot, observation)

    def _judge(self, slot: _Slot, observation: Observation) -> None:
        slot.observation = observation
        if self.on_observation is not None:
            self.on_observation(slot.began_wall, observation)

    async def stop(self) -> None:
        """Begin no more observations; give those in flight until their interval is over."""
        if self._cadence is not None:
            self._cadence.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._cadence
        if self.slots and self.slots[-1].end is None:
            self.slots[-1].end = self.slots[-1].due
        if self._pending:
            await asyncio.wait(
                set(self._pending), timeout=max(0.0, self.slots[-1].due - time.monotonic())
            )
        await self._cancel_pending()

    async def abort(self, reason: str) -> None:
        """Stop at once: an observation still in flight is cut off, and counts as a failure
        that says nothing of the system (never as a pass)."""
        if self._cadence is not None:
            self._cadence.cancel()
        for slot in self.slots:
            if slot.observation is None:
                slot.end = min(slot.end or slot.due, time.monotonic())
                self._judge(slot, unavailable(f"cut off: {reason} before it answered"))
        await self._cancel_pending()
        if self._cadence is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._cadence

    async def _cancel_pending(self) -> None:
        for task in self._pending:
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)

    def result(self) -> CheckStatus:
        slots = [slot for slot in self.slots if slot.observation is not None]
        judged = [(slot, slot.observation) for slot in slots if slot.observation is not None]
        total = sum(_length(slot) for slot, _ in judged)
        passing = sum(_length(slot) for slot, seen in judged if seen.passed)
        rate = passing / total if total else 0.0
        failures = [seen for _, seen in judged if not seen.passed]
        longest, longest_at = _longest_failure(judged)
        passes = len(judged) - len(failures)
        observed = f"{passes}/{len(judged)} passed"
        if failures and longest_at is not None:
            stamp = f"{longest_at:%H:%M:%S.%f}"[:-3]
            observed += f"; longest outage {longest:.2f}s from {stamp}; e.g. {failures[0].observed}"
        passed = bool(judged) and rate >= self.check.min_success_rate
        return CheckStatus(
            name=self.check.name,
            when=When.DURING,
            passed=passed,
            observed=observed if judged else "no observation made",
            observations=len(judged),
            success_rate=round(rate, 4),
            longest_failure_seconds=round(longest, 3) if failures else None,
            longest_failure_at=longest_at,
            at=judged[-1][1].at if judged else None,
            inconclusive=not passed and bool(failures) and all(f.inconclusive for f in failures),
        )


def _interval(check: DuringCheck) -> str:
    return format_duration(check.interval)


def _length(slot: _Slot) -> float:
    return max(0.0, (slot.end if slot.end is not None else slot.due) - slot.began)


def _longest_failure(judged: list[tuple[_Slot, Observation]]) -> tuple[float, datetime | None]:
    """Longest run of failing intervals, from the start of the first to the end of the last,
    and when it began."""
    longest, longest_at = 0.0, None
    streak: _Slot | None = None
    for index, (slot, seen) in enumerate(judged):
        if not seen.passed:
            streak = streak or slot
            following = judged[index + 1][1] if index + 1 < len(judged) else None
            if following is None or following.passed:
                end = slot.end if slot.end is not None else slot.due
                if end - streak.began > longest:
                    longest = end - streak.began
                    longest_at = datetime.fromtimestamp(streak.began_wall, UTC)
                streak = None
    return longest, longest_at
