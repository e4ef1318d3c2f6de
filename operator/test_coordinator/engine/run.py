"""One run of a scenario, top to bottom: the flow DESIGN.md describes, in one place.

resolve targets → steady state → steps (journal, apply, hold, revert, after-checks) with
during-checks alongside → final steady state → audit verification → verdict; every journaled
fault reverted whatever happens (abort, timeout, error).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, TypeVar

from test_coordinator.checks import Baseline, Observation, ProbeContext, take_baseline
from test_coordinator.engine.abort import Abort
from test_coordinator.engine.injection import InjectionDisabled, InjectionSwitch
from test_coordinator.engine.journal import Journal, JournalEntry
from test_coordinator.engine.observer import Observers, RunObserver
from test_coordinator.engine.probing import ContinuousCheck, OnObservation, poll_until_pass
from test_coordinator.engine.targets import TargetResolver
from test_coordinator.engine.timeline import SampleLog
from test_coordinator.engine.verdict import Ending, Outcome, finish
from test_coordinator.errors import ObservationUnavailable, ScenarioInvalid, TestCoordinatorError
from test_coordinator.platforms.base import Applied, FaultHeld, Platform, Workload
from test_coordinator.platforms.deadline import run_deadline
from test_coordinator.scenario.durations import format_duration
from test_coordinator.scenario.model import (
    AfterCheck,
    AuditCheck,
    ChaosScenario,
    CheckSpec,
    GracefulStop,
    SteadyStateCheck,
    Step,
)
from test_coordinator.scenario.status import (
    CheckStatus,
    Condition,
    FaultStatus,
    Phase,
    ScenarioStatus,
    StepStatus,
    When,
    utcnow,
)

if TYPE_CHECKING:
    from test_coordinator.engine.audit import AuditRecorder

__all__ = ["JournalSink", "run_scenario"]

JournalSink = Callable[[Journal], Awaitable[None]]
"""Writes the journal where it outlives this process (the operator: onto the resource). Called
before each fault is applied (a failure stops the fault) and after each revert."""

log = logging.getLogger(__name__)

# What every run makes, built as the engine loads rather than on first use (the status models
# defer their build: a command that loads no engine makes none): the CLI loads the engine while
# a run's services start, and a run's first status then costs it no time (2-4 ms, measured).
for _made_by_every_run in (ScenarioStatus, StepStatus, CheckStatus, FaultStatus, Condition):
    _made_by_every_run.model_rebuild()

T = TypeVar("T")
_FIRST_RETRY = 0.5  # seconds before looking again for targets, or at a fault held elsewhere
_LAST_RETRY = 5.0


async def run_scenario(
    scenario: ChaosScenario,
    platform: Platform,
    *,
    observer: RunObserver | None = None,
    abort: Abort | None = None,
    run_id: str | None = None,
    persist: JournalSink | None = None,
    switch: InjectionSwitch | None = None,
    time_limit: float | None = None,
) -> ScenarioStatus:
    """Run ``scenario`` on ``platform`` (already started) and return its final status.

    ``switch`` is the kill switch every fault asks first (default: ``CHAOS_INJECTION_ENABLED``
    from the environment); ``time_limit`` caps the spec's timeout (a front end's ceiling)."""
    run = _Run(
        scenario,
        platform,
        observer or RunObserver(),
        run_id=run_id or uuid.uuid4().hex[:12],
        persist=persist,
        switch=switch or InjectionSwitch.from_environment(),
    )
    limit = scenario.spec.timeout if time_limit is None else min(time_limit, scenario.spec.timeout)
    return await run.execute(abort or Abort(), limit)


class _SteadyStateNotMet(Exception):
    pass


class _Run:
    def __init__(
        self,
        scenario: ChaosScenario,
        platform: Platform,
        observer: RunObserver,
        *,
        run_id: str,
        persist: JournalSink | None,
        switch: InjectionSwitch,
    ) -> None:
        self.spec = scenario.spec
        self.switch = switch
        self.platform = platform
        self.observer = observer
        self.journal = Journal()
        self.persist = persist
        self.targets = TargetResolver(platform, self.spec.targets)
        started_at, self.started = utcnow(), time.monotonic()
        self.status = ScenarioStatus(
            phase=Phase.RUNNING,
            run_id=run_id,
            started_at=started_at,
            steps=[StepStatus(name=step.name) for step in self.spec.steps],
            conditions=[Condition(type="Reconciling", status="True", reason="Running")],
        )
        self.samples = SampleLog(started_at)
        self.baselines: dict[str, Baseline] = {}
        self.audit_recorder: AuditRecorder | None = None
        if self.spec.audit_sink is not None:
            # Redis and aiohttp load only for a scenario that writes an audit trail.
            from test_coordinator.checks.audit_sink import open_sink
            from test_coordinator.engine.audit import AuditRecorder

            self.audit_recorder = AuditRecorder(
                open_sink(self.spec.audit_sink, self.targets),
                scenario=scenario.metadata.name,
                source=self.spec.audit_sink.source,
            )
            self.observer = Observers([observer, self.audit_recorder])

    async def execute(self, abort: Abort, limit: float) -> ScenarioStatus:
        self.observer.run_started(self.status)
        if not self.switch.enabled:  # nothing resolved, nothing observed, nothing touched
            return await self._finish(Outcome(Ending.DISABLED, self.switch.refusal()))
        with run_deadline(limit):  # a platform retrying a call stops there (the flow inherits)
            return await self._execute(abort, limit)

    async def _execute(self, abort: Abort, limit: float) -> ScenarioStatus:
        flow = asyncio.create_task(self._flow(), name="scenario flow")
        aborted = asyncio.create_task(abort.event.wait(), name="abort watch")
        disabled = asyncio.create_task(self.switch.wait_disabled(), name="kill switch watch")
        try:
            done, _ = await asyncio.wait(
                {flow, aborted, disabled}, timeout=limit, return_when=asyncio.FIRST_COMPLETED
            )
            if flow in done:
                outcome = self._outcome_of(flow)
            elif disabled in done:
                reason = f"aborted: chaos injection was disabled ({self.switch.source})"
                outcome = Outcome(Ending.DISABLED, reason)
            else:
                reason = (
                    abort.reason
                    if aborted in done
                    else (f"timed out after {format_duration(limit)}")
                )
                if self.status.phase is Phase.PENDING:  # what it was still waiting for
                    reason += f" ({self.status.message})"
                outcome = Outcome(Ending.ABORTED, reason)
        finally:
            aborted.cancel()
            disabled.cancel()
            if not flow.done():
                flow.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await flow
            await self._revert_outstanding()
        return await self._finish(outcome)

    async def _finish(self, outcome: Outcome) -> ScenarioStatus:
        self.status.faults = [entry.to_status() for entry in self.journal.entries]
        for step in self.status.steps:
            if step.phase is Phase.RUNNING:
                step.phase, step.finished_at = Phase.ABORTED, utcnow()
        finish(self.status, outcome)
        self.status.samples = self.samples.samples()
        if self.audit_recorder is not None:
            self.status.audit_sink = await self.audit_recorder.finish(self.status)
        self.observer.run_finished(self.status)
        return self.status

    def _outcome_of(self, flow: asyncio.Task[None]) -> Outcome:
        error = flow.exception()
        if error is None:
            return Outcome(Ending.COMPLETED)
        if isinstance(error, _SteadyStateNotMet):
            return Outcome(Ending.STEADY_STATE_NOT_MET)
        if isinstance(error, ScenarioInvalid):
            return Outcome(Ending.INVALID, str(error))
        if isinstance(error, InjectionDisabled):
            return Outcome(Ending.DISABLED, f"aborted: {error}")
        if isinstance(error, TestCoordinatorError):
            return Outcome(Ending.ERROR, str(error))
        log.error("run failed unexpectedly", exc_info=error)
        return Outcome(Ending.ERROR, f"unexpected {type(error).__name__}: {error}")

    async def _flow(self) -> None:
        self.observer.stage("resolving targets")
        await self._check_selections()
        await self._take_baselines()
        self.observer.stage("checking steady state")
        if not await self._steady_state(When.STEADY_STATE):
            raise _SteadyStateNotMet
        async with self._during_checks():
            for step, step_status in zip(self.spec.steps, self.status.steps, strict=True):
                if not await self._step(step, step_status):
                    self._skip_rest(after=step_status)
                    break
        self.observer.stage("checking steady state again")
        await self._steady_state(When.FINAL_STEADY_STATE)
        if self.spec.audit:
            self.observer.stage("verifying the audit trail")
            await asyncio.gather(
                *(
                    self._poll(check, when=When.AUDIT, since=self.started)
                    for check in self.spec.audit
                )
            )

    async def _take_baselines(self) -> None:
        """Note where each record stands that a check judges from the run's start (noLoss)."""
        checks: list[CheckSpec] = [*self.spec.steady_state, *self.spec.during, *self.spec.audit]
        checks += [check for step in self.spec.steps for check in step.after]
        context = ProbeContext(resolver=self.targets)
        taken = await asyncio.gather(*(take_baseline(check, context) for check in checks))
        self.baselines = {
            check.name: baseline
            for check, baseline in zip(checks, taken, strict=True)
            if baseline is not None
        }

    def _recorder(self, name: str, when: When, step: str | None = None) -> OnObservation:
        def record(began: float, observation: Observation) -> None:
            self.samples.add(name, when, step, began, observation)

        return record

    async def _check_selections(self) -> None:
        """Refuse, before anything is touched, a fault the platform lacks, a selection that
        is empty or narrower than its mode, or a fault that cannot land on what is selected.
        Where workloads come and go on their own (pods), a selection that falls short is waited
        for instead, within the run's timeout."""
        problems = list(self._unsupported())
        if problems:
            raise ScenarioInvalid(problems)
        delay = _FIRST_RETRY
        while problems := await self._observed(self._selection_problems):
            if not self.platform.targets_may_appear:
                raise ScenarioInvalid(problems)
            self._waiting("WaitingForTargets", "waiting for targets: " + "; ".join(problems))
            await asyncio.sleep(delay)
            delay = min(delay * 2, _LAST_RETRY)
        self._resumed()
        problems = await self._observed(self._fault_problems)
        self._resumed()
        if problems:
            raise ScenarioInvalid(problems)

    async def _observed(self, problems: Callable[[], AsyncIterator[str]]) -> list[str]:
        """The problems ``problems`` finds, once the platform can be read: while it cannot
        (its API not answering, the coordinator's watch not listed), the run waits, Pending,
        instead of taking the coordinator's failure for a finding."""
        delay = _FIRST_RETRY
        while True:
            try:
                return [problem async for problem in problems()]
            except ObservationUnavailable as error:
                self._waiting("ObservationUnavailable", f"waiting: {error}")
            await asyncio.sleep(delay)
            delay = min(delay * 2, _LAST_RETRY)

    def _unsupported(self) -> Iterator[str]:
        for index, step in enumerate(self.spec.steps):
            where = f"spec.steps[{index}].fault"
            if step.fault.action not in self.platform.faults:
                supported = ", ".join(sorted(self.platform.faults))
                yield (
                    f"{where}: {step.fault.action} is not supported on the "
                    f"{self.platform.name} platform (supported: {supported})"
                )
            params = step.fault.params
            graceful = isinstance(params, GracefulStop) and params.require_graceful_stop
            if graceful and not self.platform.reports_graceful_stop:
                yield (
                    f"{where}.{step.fault.action}.requireGracefulStop: the {self.platform.name} "
                    "platform cannot tell whether a workload stopped gracefully (a deleted pod's "
                    "exit is gone with it); remove the field, or run on local or compose"
                )

    async def _fault_problems(self) -> AsyncIterator[str]:
        """What the platform says stands in a step's way (no proxy in front of the port of a
        network fault), for every workload its target selects: any of them may be chosen."""
        for index, step in enumerate(self.spec.steps):
            where = f"spec.steps[{index}].fault.{step.fault.action}"
            for workload in await self.targets.workloads(step.fault.target):
                problem = await self.platform.fault_problem(step.fault, workload)
                if problem is not None:
                    yield f"{where}: {problem}"

    async def _selection_problems(self) -> AsyncIterator[str]:
        for name, target in self.spec.targets.items():
            selected = await self.targets.workloads(name)
            selector = ",".join(f"{key}={value}" for key, value in target.selector.items())
            if not selected:
                there = ", ".join(w.id for w in (await self.platform.inventory())[:10]) or "none"
                yield (
                    f"spec.targets.{name}.selector: {selector} matches no workload on the "
                    f"{self.platform.name} platform (there: {there})"
                )
            elif target.count(len(selected)) > len(selected):
                yield (
                    f"spec.targets.{name}: mode {target.mode.value} {target.value} needs "
                    f"{target.count(len(selected))} workloads; {selector} selects only "
                    f"{len(selected)} ({', '.join(w.id for w in selected)})"
                )

    def _waiting(self, reason: str, message: str) -> None:
        """Nothing is wrong with the input, but the run cannot go on yet: say so in the status."""
        if self.status.message == message and self.status.phase is Phase.PENDING:
            return
        self.status.phase = Phase.PENDING
        self.status.conditions = [Condition(type="Reconciling", status="True", reason=reason)]
        self.observer.stage(message)

    def _resumed(self) -> None:
        if self.status.phase is Phase.PENDING:
            self.status.phase = Phase.RUNNING
            self.status.conditions = [
                Condition(type="Reconciling", status="True", reason="Running")
            ]

    async def _steady_state(self, when: When) -> bool:
        results = await asyncio.gather(
            *(self._poll(check, when=when) for check in self.spec.steady_state)
        )
        return all(result.passed for result in results)

    async def _poll(
        self,
        check: SteadyStateCheck | AfterCheck | AuditCheck,
        *,
        when: When,
        step: str | None = None,
        since: float | None = None,
    ) -> CheckStatus:
        """Poll ``check``; with ``since`` (monotonic), time to the first pass is recovery (for
        an after-check; an audit check's ``since`` is the run's start, for its window)."""
        wall_since = None if since is None else time.time() - (time.monotonic() - since)
        context = ProbeContext(
            resolver=self.targets, since=wall_since, baseline=self.baselines.get(check.name)
        )
        polled = await poll_until_pass(
            check,
            context,
            within=check.within,
            interval=check.interval,
            on_observation=self._recorder(check.name, when, step),
            pause=self.platform.between_observations,
        )
        recovery = None
        if since is not None and polled.passed_at is not None and when is When.AFTER:
            recovery = round(max(0.0, polled.passed_at - since), 3)
        observed = polled.last.observed
        if polled.passed_at is None and check.within:
            observed = f"not passing within {format_duration(check.within)}; last: {observed}"
        result = CheckStatus(
            name=check.name,
            when=when,
            step=step,
            passed=polled.passed_at is not None,
            observed=observed,
            observations=polled.observations,
            recovery_seconds=recovery,
            at=polled.last.at,
            inconclusive=polled.passed_at is None and polled.last.inconclusive,
        )
        self.status.checks.append(result)
        self.observer.check_finished(result)
        return result

    @contextlib.asynccontextmanager
    async def _during_checks(self) -> AsyncIterator[None]:
        monitors = [
            ContinuousCheck(
                check,
                ProbeContext(resolver=self.targets, baseline=self.baselines.get(check.name)),
                on_observation=self._recorder(check.name, When.DURING),
            )
            for check in self.spec.during
        ]
        for monitor in monitors:
            monitor.start()
        try:
            yield
        except BaseException:
            # Aborted (or failed): what was in flight is cut off, never counted as a pass.
            await asyncio.gather(*(monitor.abort("the run was cut short") for monitor in monitors))
            raise
        else:
            await asyncio.gather(*(monitor.stop() for monitor in monitors))
        finally:
            for monitor in monitors:
                result = monitor.result()
                self.status.checks.append(result)
                self.observer.check_finished(result)

    async def _step(self, step: Step, status: StepStatus) -> bool:
        """Apply the step's fault, hold and revert it, then wait for its after-checks."""
        status.phase, status.started_at = Phase.RUNNING, utcnow()
        self.observer.stage(f"step {step.name}: {step.fault.action} {step.fault.target}")
        self.switch.ensure_enabled()
        entries = [
            self.journal.record(
                step=step.name, target=step.fault.target, workload=w, fault=step.fault
            )
            for w in await self._choose(step)
        ]
        if self.persist is not None:
            await self.persist(self.journal)  # a crash after this still knows what to undo
        started = await _all_settled(self._apply(entry) for entry in entries)
        since = min(started, default=time.monotonic())  # recovery: from the first action
        if step.duration:
            # Held for its duration once in effect: a pause that took 200 ms to land is still
            # a 5 s freeze.
            await asyncio.sleep(step.duration)
            reverts = await _all_settled(self._revert(entry) for entry in entries)
            since = min(reverts, default=time.monotonic())
        forced = self._graceful_stop(step, entries)
        results = await asyncio.gather(
            *(self._poll(c, when=When.AFTER, step=step.name, since=since) for c in step.after)
        )
        # An audit check that could not read its trail says nothing about recovery: the steps
        # go on, and the verdict weighs it (Inconclusive if nothing else failed).
        failed = [result.name for result in results if not (result.passed or result.inconclusive)]
        status.finished_at = utcnow()
        status.phase = Phase.FAILED if failed or forced else Phase.SUCCEEDED
        status.message = "; ".join(entry.message for entry in entries)
        if failed:
            status.message = f"not recovered: {', '.join(failed)}; {status.message}"
        if forced:
            status.message = f"{forced}; {status.message}"
        return not (failed or forced)

    def _graceful_stop(self, step: Step, entries: list[JournalEntry]) -> str:
        """With ``requireGracefulStop``, a check of the fault itself: did every workload exit
        within its grace period? Returns what failed, or "" when it holds (or is not asked)."""
        params = step.fault.params
        if not (isinstance(params, GracefulStop) and params.require_graceful_stop):
            return ""
        forced = [entry for entry in entries if entry.graceful is False]
        grace = format_duration(params.grace_period)
        observed = (
            "; ".join(f"{entry.workload.id}: {entry.message}" for entry in forced)
            if forced
            else f"every workload stopped within the {grace} grace period"
        )
        result = CheckStatus(
            name=f"{step.name}: graceful stop",
            when=When.FAULT,
            step=step.name,
            passed=not forced,
            observed=observed,
            observations=len(entries),
            at=utcnow(),
        )
        self.status.checks.append(result)
        self.observer.check_finished(result)
        if not forced:
            return ""
        return f"needed SIGKILL after the {grace} grace period: " + ", ".join(
            entry.workload.id for entry in forced
        )

    async def _choose(self, step: Step) -> list[Workload]:
        target = self.spec.targets[step.fault.target]
        delay = _FIRST_RETRY
        while True:
            try:
                selected = await self.targets.workloads(step.fault.target)
                count = target.count(len(selected))
                if selected and count <= len(selected):
                    chosen = sorted(random.sample(selected, count), key=lambda w: w.id)
                    targets = await self.platform.fault_targets(step.fault, chosen)
                    break
            except ObservationUnavailable as error:
                self._waiting("ObservationUnavailable", f"waiting: {error}")
            else:
                problem = (
                    f"step {step.name!r}: target {step.fault.target!r} selects {len(selected)} "
                    f"workloads now; mode {target.mode.value} needs {count}"
                )
                if not self.platform.targets_may_appear:
                    raise ScenarioInvalid(problem)
                self._waiting("WaitingForTargets", f"waiting: {problem}")
            await asyncio.sleep(delay)
            delay = min(delay * 2, _LAST_RETRY)
        self._resumed()
        return targets

    async def _apply(self, entry: JournalEntry) -> float:
        """Apply one fault; returns the monotonic time of its first action. A fault another
        scenario holds on the same object is waited for, so that neither is cut short."""
        delay = _FIRST_RETRY
        while True:
            if not self.switch.enabled:  # the last moment to refuse: nothing has landed
                self.journal.entries.remove(entry)
                self.switch.ensure_enabled()
            began, entry.applied_at = time.monotonic(), utcnow()
            applying = asyncio.ensure_future(self.platform.apply(entry.fault, entry.workload))
            try:
                applied = await asyncio.shield(applying)
            except FaultHeld as held:
                entry.applied_at = None
                self._waiting("FaultHeld", f"waiting: {held}")
                await asyncio.sleep(delay)
                delay = min(delay * 2, _LAST_RETRY)
                continue
            except asyncio.CancelledError:
                # A call on its way lands even when its caller stops waiting (a request the API
                # server has read, a Docker call): the undo that follows must come after it, or
                # the fault would land after its undo and stay. So it is let finish first.
                await asyncio.wait([applying])
                if applying.cancelled() or applying.exception() is not None:
                    entry.message = "cut short while being applied (it may have landed)"
                else:  # it landed: on record as it did, then undone
                    self._landed(entry, applying.result())
                raise
            break
        self._resumed()
        self._landed(entry, applied)
        return began

    def _landed(self, entry: JournalEntry, applied: Applied) -> None:
        entry.completed_at = utcnow()
        entry.message, entry.graceful = applied.message, applied.graceful
        self.observer.fault_applied(entry)

    async def _revert(self, entry: JournalEntry) -> float:
        """Undo one timed fault; returns the monotonic time of the undo's first action."""
        began, began_at = time.monotonic(), utcnow()
        reverted = await self.platform.revert(entry.fault, entry.workload)
        entry.reverted_at = began_at
        entry.message = "; ".join(part for part in (entry.message, reverted) if part)
        self.observer.fault_reverted(entry)
        if self.persist is not None:
            try:
                await self.persist(self.journal)
            except Exception:  # the revert happened; a stale record only repeats an idempotent undo
                log.warning("could not record the revert of %s", entry.workload.id, exc_info=True)
        return began

    async def _revert_outstanding(self) -> None:
        """Undo whatever the journal says is still applied; an undo that fails is reported."""
        for entry in self.journal.outstanding():
            try:
                await self._revert(entry)
            except Exception as error:  # keep undoing the rest
                entry.message = f"{entry.message}; REVERT FAILED: {error}"

    def _skip_rest(self, *, after: StepStatus) -> None:
        for step in self.status.steps[self.status.steps.index(after) + 1 :]:
            step.message = f"skipped: step {after.name!r} did not recover"


async def _all_settled(actions: Iterable[Awaitable[T]]) -> list[T]:
    """Await every action, then raise the first failure: unlike a bare ``gather``, nothing is
    still in flight, about to apply a fault, when the caller goes on to revert."""
    results = await asyncio.gather(*actions, return_exceptions=True)
    settled: list[T] = []
    for result in results:
        if isinstance(result, BaseException):
            raise result
        settled.append(result)
    return settled
