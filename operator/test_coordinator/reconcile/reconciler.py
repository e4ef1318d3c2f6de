"""One scenario's life under a front end: when to run it, its runs, and what they left behind.

Front-end-neutral: the kopf operator and ``serve`` each give a reconciler a host
(``host.py``: where the document comes from, where status, events and the journal go) and tell
it what the owner wants now (``observe``). Its loop starts a run when the spec's generation has
not been run yet (create, spec change) or when the schedule ticks, honours the concurrency
policy, and aborts on request. A run starts when the front end's bound on runs in progress lets
it (``slots.py``); until then it waits, Pending, saying how many runs are ahead of it. The
status shows the newest run; runs that overlap it
(``Allow``) are listed in ``history`` as Running, their faults in ``faults``, and keep
``Reconciling`` True until they end. Faults are journaled before they land (on the status, or
where the host keeps journals), so that a reconciler started after a crash can undo them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from croniter import croniter

from test_coordinator.engine import Abort, Journal, Observers, RunObserver, run_scenario
from test_coordinator.engine.injection import InjectionSwitch
from test_coordinator.engine.verdict import Ending, Outcome, finish
from test_coordinator.errors import ScenarioInvalid, TestCoordinatorError
from test_coordinator.platforms.base import Platform, Workload
from test_coordinator.reconcile.host import (
    ABORT_ANNOTATION,
    Desired,
    EventSink,
    ScenarioHost,
    outstanding,
)
from test_coordinator.reconcile.metrics import Metrics
from test_coordinator.reconcile.sharing import FaultHolders, SharedFaults
from test_coordinator.reconcile.slots import RunSlots
from test_coordinator.reconcile.status import RunStatusObserver, StatusWriter, ended
from test_coordinator.scenario.loading import parse_scenario
from test_coordinator.scenario.model import ChaosScenario, FaultSpec
from test_coordinator.scenario.status import (
    TERMINAL_PHASES,
    Condition,
    FaultStatus,
    Phase,
    RunSummary,
    ScenarioStatus,
    utcnow,
)

__all__ = ["ActiveRun", "Environment", "ScenarioReconciler"]

log = logging.getLogger(__name__)

_RETRY_AFTER = 5.0  # seconds before a reconciler whose step failed (an API error) tries again
_HISTORY_LIMIT = 10  # the model's default, for a spec that cannot be read
_QUEUE_REFRESH = 5.0  # seconds between writes of a waiting run's place in line, at least

Finished = Callable[[ChaosScenario, ScenarioStatus, str], None]
"""Told of every finished run (scenario, status, where it came from): the run history."""


def _no_observers(scenario: ChaosScenario) -> Sequence[RunObserver]:
    return ()


@dataclass(frozen=True)
class Environment:
    """What every reconciler of a front end shares."""

    metrics: Metrics
    front_end: str = "operator"
    """What restarts, in messages: "the operator restarted during the run"."""
    switch: InjectionSwitch = field(default_factory=InjectionSwitch)
    """The kill switch every run's faults ask first."""
    give_up_after: float = 60.0
    """How long to retry undoing a fault whose target has vanished before saying so and moving
    on (a deleted scenario is always let go)."""
    status_interval: float = 0.2
    """Progress writes of a status are coalesced to at most one per interval."""
    time_limit: Callable[[], float | None] = lambda: None
    """A ceiling on every run's timeout (the settings' ``scenario_timeout_seconds``, live)."""
    observers: Callable[[ChaosScenario], Sequence[RunObserver]] = _no_observers
    """More observers for each run (the dashboard's live board)."""
    finished: Finished | None = None
    slots: RunSlots = field(default_factory=RunSlots)
    """The bound on runs in progress (``max_concurrent_runs``) every reconciler shares."""


@dataclass
class ActiveRun:
    run_id: str
    generation: int
    scenario: ChaosScenario
    cause: str = "spec"  # why it runs: "spec" (new, changed) or "schedule"
    started_at: datetime = field(default_factory=utcnow)
    abort: Abort = field(default_factory=Abort)
    status: ScenarioStatus | None = None  # the engine's once it has begun; a stand-in before
    journal: Journal | None = None  # the engine's, once a fault is about to land
    task: asyncio.Task[None] | None = None

    def faults(self) -> list[FaultStatus]:
        if self.journal is not None:
            return [entry.to_status() for entry in self.journal.entries]
        # Copies: a composed status is a snapshot (the status writer compares it with the one
        # it wrote last), and a finished run's faults are undone in place once stranded.
        return [f.model_copy() for f in self.status.faults] if self.status else []

    def summary(self) -> RunSummary:
        return RunSummary(run_id=self.run_id, phase=Phase.RUNNING, started_at=self.started_at)


_outstanding = outstanding


class ScenarioReconciler:
    """``observe`` what the owner wants; ``start`` the loop; ``release`` when it is deleted,
    ``shutdown`` when the front end stops."""

    def __init__(
        self,
        host: ScenarioHost,
        desired: Desired,
        env: Environment,
        *,
        shown: ScenarioStatus,
        observed_generation: int | None = None,
    ) -> None:
        """``shown``: the status the host shows now (a previous process's); the generation
        last run is ``observed_generation`` where the host keeps it apart, else the status's."""
        self.host = host
        self.env = env
        self.desired = desired
        self.shown = shown  # what the host shows while no run is active
        self.observed_generation = (
            shown.observed_generation if observed_generation is None else observed_generation
        )
        self.last_started = self.shown.started_at
        self.history = list(self.shown.history)
        self.stranded: list[FaultStatus] = []  # faults a finished run could not undo
        self.scenario: ChaosScenario | None = None  # the current generation's, once valid
        self.runs: dict[str, ActiveRun] = {}
        self.latest: str | None = None  # the run the status is about, while it runs
        self.holders = FaultHolders()  # timed faults held by overlapping runs
        self.changed = asyncio.Event()
        self.writer = StatusWriter(
            host.write_status,
            self.compose,
            env.status_interval,
            where=str(host),
            shown=self.shown.conditions,
        )
        self._loop: asyncio.Task[None] | None = None

    @property
    def events(self) -> EventSink:
        return self.host.events

    def __str__(self) -> str:
        return str(self.host)

    # driven by the front end

    def start(self) -> None:
        self._loop = asyncio.create_task(self._supervise(), name=f"reconcile {self.host}")

    def observe(self, desired: Desired) -> None:
        self.desired = desired
        self.changed.set()

    def request_abort(self, reason: str) -> list[str]:
        """Abort every run in progress (an API's abort); the run ids aborted."""
        for run in self.runs.values():
            run.abort(reason)
        if self.runs:
            self.events.normal("AbortRequested", f"aborting run(s) {', '.join(self.runs)}")
        return list(self.runs)

    async def release(self, reason: str) -> None:
        """The scenario is being deleted: abort its runs, undo what is left, then let go."""
        await self._stop_loop()
        await self._abort_all(reason)
        leftovers = [f for f in [*self.stranded, *self.shown.faults] if _outstanding(f)]
        if leftovers:
            await self._revert_recorded(_unique(leftovers))
            await self.writer.write_now(quiet=True)
        await self.events.drain()

    async def shutdown(self, reason: str) -> None:
        """The front end is stopping: undo every fault now rather than leave it to a restart."""
        await self._stop_loop()
        await self._abort_all(reason)
        await self.events.drain()

    # the loop

    async def _supervise(self) -> None:
        try:
            await self._recover()
        except Exception:  # an API hiccup: the record stays, the next restart tries again
            log.exception("recovering %s failed", self.host)
        while True:
            self.changed.clear()
            try:
                await self._honour_abort_request()
                delay = await self._start_due_run()
            except Exception:
                log.exception("reconciling %s failed; trying again shortly", self.host)
                delay = _RETRY_AFTER
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self.changed.wait()

    async def _stop_loop(self) -> None:
        if self._loop is not None and not self._loop.done():
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop

    async def _recover(self) -> None:
        """Undo what the status says is still applied, and end a run a restart interrupted."""
        outstanding = self.host.recorded_faults(self.shown)  # may say which run it was
        interrupted = self.shown.phase in (Phase.RUNNING, Phase.PENDING) and bool(self.shown.run_id)
        overlapping = [h for h in self.history if h.phase is Phase.RUNNING]
        for summary in overlapping:  # runs beside the one shown (Allow): interrupted as well
            summary.phase, summary.finished_at = Phase.ABORTED, utcnow()
        if not interrupted and not outstanding and not overlapping:
            return
        reverted = await self._revert_recorded(outstanding)
        await self.host.recovered([f for f in outstanding if _outstanding(f)])
        if interrupted:
            for step in self.shown.steps:
                if step.phase is Phase.RUNNING:
                    step.phase, step.finished_at = Phase.ABORTED, utcnow()
            reason = f"the {self.env.front_end} restarted during the run"
            if outstanding:
                reason += f"; {reverted} of {len(outstanding)} recorded faults reverted"
            finish(self.shown, Outcome(Ending.ABORTED, reason))
            self._remember(self.shown)
            self.events.warning("RunInterrupted", self.shown.message)
        if overlapping:
            runs = ", ".join(summary.run_id for summary in overlapping)
            self.events.warning(
                "RunInterrupted", f"the {self.env.front_end} restarted during run(s) {runs}"
            )
        await self.writer.write_now(quiet=True)

    async def _honour_abort_request(self) -> None:
        if not self.desired.abort_requested:
            return
        reason = f"requested by the annotation {ABORT_ANNOTATION}=true"
        if self.runs:
            for run in self.runs.values():
                run.abort(reason)
            self.events.normal("AbortRequested", f"aborting run(s) {', '.join(self.runs)}")
        else:
            self.events.normal("AbortRequested", "no run in progress: nothing to abort")
        # Cleared so that the next run (a spec change, the schedule) is not aborted at once.
        await self.host.clear_abort_request()
        self.desired = dataclasses.replace(self.desired, abort_requested=False)

    def _due(self) -> tuple[float | None, str]:
        """Seconds until a run is due (None: not until something changes), and why."""
        if not self.desired.may_run:
            return None, ""  # no fault before the host guarantees it will be undone
        generation = self.desired.generation
        if generation != self.observed_generation:
            return 0.0, "spec"
        if self.scenario is None and self.observed_generation == generation:
            # Run before this process started: the schedule still holds if the spec is valid.
            with contextlib.suppress(ScenarioInvalid):
                self.scenario = parse_scenario(self.desired.document, source=str(self.host))
        schedule = self.scenario.spec.schedule if self.scenario else None
        if schedule is None:
            return None, ""
        base = self.last_started or self.desired.created_at or utcnow()
        tick: datetime = croniter(schedule, base).get_next(datetime)
        return max(0.0, (tick - utcnow()).total_seconds()), "schedule"

    async def _start_due_run(self) -> float | None:
        delay, cause = self._due()
        if delay != 0.0:
            return delay
        generation = self.desired.generation
        try:
            scenario = parse_scenario(self.desired.document, source=str(self.host))
        except ScenarioInvalid as error:
            await self._refuse(str(error), generation)
            return None
        self.scenario = scenario
        if self.runs:
            match scenario.spec.concurrency_policy:
                case "Forbid" if cause == "schedule":
                    self.last_started = utcnow()
                    running = ", ".join(self.runs)
                    self.events.normal("RunSkipped", f"run {running} still running (Forbid)")
                    return 0.0
                case "Forbid":
                    return None  # the spec change runs when the current run ends
                case "Replace":
                    await self._abort_all(f"replaced by a newer run ({cause})")
        self._launch(scenario, generation, cause)
        return 0.0

    def _launch(self, scenario: ChaosScenario, generation: int, cause: str) -> None:
        run = ActiveRun(uuid.uuid4().hex[:12], generation, scenario, cause)
        # The newest run from now on, shown as such also before the engine has begun it.
        run.status = ScenarioStatus(
            phase=Phase.RUNNING,
            run_id=run.run_id,
            started_at=run.started_at,
            observed_generation=generation,
            message="starting",
            conditions=[Condition(type="Reconciling", status="True", reason="Running")],
        )
        self.runs[run.run_id] = run
        self.observed_generation, self.last_started = generation, run.started_at
        self.host.generation_observed(generation)
        self.latest = run.run_id
        self.env.metrics.active_runs.inc()
        run.task = asyncio.create_task(self._execute(run), name=f"run {run.run_id} of {self.host}")

    async def _refuse(self, message: str, generation: int) -> None:
        self.observed_generation = generation
        self.host.generation_observed(generation)
        self.scenario = None
        self.latest = None  # the refusal is the newest news, even with a run still going
        self.shown = ended(Outcome(Ending.INVALID, message), history=self.shown.history)
        self.shown.observed_generation = generation
        self.events.warning("Invalid", message)
        await self.writer.write_now(quiet=True)

    # one run

    async def _execute(self, run: ActiveRun) -> None:
        queued_for = await self._take_slot(run)
        if queued_for is None:  # aborted while it waited: nothing was touched
            reason = run.abort.reason or "aborted"
            status = ended(Outcome(Ending.ABORTED, f"{reason} (while queued)"), history=[])
            await self._finished(run, status)
            return
        waited = f" after {queued_for:.1f}s queued" if queued_for else ""
        log.info(
            "run %s of %s started (generation %d, %s)%s",
            run.run_id,
            self.host,
            run.generation,
            run.cause,
            waited,
        )
        try:
            status = await self._run(run)
        finally:
            self.env.slots.release()
        await self._finished(run, status)

    async def _take_slot(self, run: ActiveRun) -> float | None:
        """Wait for a slot among the front end's runs in progress: the seconds waited, None
        when the run was aborted first."""
        slots = self.env.slots
        if slots.try_acquire():
            return 0.0
        began = time.monotonic()
        assert run.status is not None
        run.status.phase = Phase.PENDING
        run.status.conditions = [Condition(type="Reconciling", status="True", reason="Queued")]
        shown = _QueuePosition(run.status, self.writer)
        self.env.metrics.queued_runs.inc()
        waiting = asyncio.create_task(slots.acquire(shown.moved))
        aborted = asyncio.create_task(run.abort.event.wait())
        try:
            await asyncio.wait({waiting, aborted}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.env.metrics.queued_runs.dec()
            aborted.cancel()
            if not waiting.done():
                waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiting  # a slot granted as it was cancelled is handed on
        if waiting.cancelled():
            return None
        if run.abort.event.is_set():
            slots.release()
            return None
        run.status.phase, run.status.message = Phase.RUNNING, "starting"
        run.status.conditions = [Condition(type="Reconciling", status="True", reason="Running")]
        return time.monotonic() - began

    async def _run(self, run: ActiveRun) -> ScenarioStatus:
        platform = SharedFaults(
            self.host.platform(run.scenario), holders=self.holders, run_id=run.run_id
        )
        keeper = self.host.journal(run.run_id, run.scenario, platform)

        async def persist(journal: Journal) -> None:
            run.journal = journal
            if keeper is None:  # the status is the journal: it must be written first
                await self.writer.write_now()
            else:
                await keeper.save(journal)  # the journal first; then the status, where it can
                await self.writer.write_now(quiet=True)

        observers = [RunStatusObserver(self, run), *self.env.observers(run.scenario)]
        try:
            status = await self._run_on(platform, run, persist, Observers(observers))
        except ScenarioInvalid as error:
            status = ended(Outcome(Ending.INVALID, str(error)), history=[])
        except TestCoordinatorError as error:
            status = ended(Outcome(Ending.ERROR, str(error)), history=[])
        except Exception as error:
            log.exception("run %s of %s failed", run.run_id, self.host)
            status = ended(Outcome(Ending.ERROR, f"unexpected {type(error).__name__}: {error}"))
        if keeper is not None:
            keeper.close()
        return status

    async def _run_on(
        self,
        platform: Platform,
        run: ActiveRun,
        persist: Callable[[Journal], Any],
        observer: RunObserver,
    ) -> ScenarioStatus:
        started = self.env.switch.enabled  # off: the engine ends the run touching nothing
        try:
            if started:
                await platform.start()
            return await run_scenario(
                run.scenario,
                platform,
                observer=observer,
                abort=run.abort,
                run_id=run.run_id,
                persist=persist,
                switch=self.env.switch,
                time_limit=self.env.time_limit(),
            )
        finally:
            if started:
                await platform.close()

    async def _finished(self, run: ActiveRun, status: ScenarioStatus) -> None:
        status.run_id, status.observed_generation = run.run_id, run.generation
        status.started_at = status.started_at or run.started_at
        del self.runs[run.run_id]
        self.env.metrics.active_runs.dec()
        self.stranded += [f for f in status.faults if _outstanding(f)]
        if run.run_id == self.latest:
            self.shown, self.latest = status, None
        self._remember(status)
        self.env.metrics.run_finished(status)
        if self.env.finished is not None:
            self.env.finished(run.scenario, status, str(self.host))
        verdict = status.verdict.value if status.verdict else "no verdict"
        text = f"{status.phase.value}, {verdict}: {status.message}"
        took = (utcnow() - run.started_at).total_seconds()
        log.info("run %s of %s ended after %.1fs: %s", run.run_id, self.host, took, text)
        if status.phase is Phase.SUCCEEDED:
            self.events.normal("Succeeded", text)
        else:
            self.events.warning(status.phase.value, text)
        await self.writer.write_now(quiet=True)
        self.changed.set()  # a run deferred by the concurrency policy may start now

    def _remember(self, status: ScenarioStatus) -> None:
        if status.run_id is None:
            return
        self.history = [h for h in self.history if h.run_id != status.run_id]
        self.history.append(
            RunSummary(
                run_id=status.run_id,
                phase=status.phase,
                verdict=status.verdict,
                started_at=status.started_at,
                finished_at=status.finished_at,
                recovery_seconds=status.recovery_seconds,
            )
        )
        self.history.sort(key=_started)  # overlapping runs (Allow) may end out of order
        limit = self._history_limit()
        self.history = self.history[-limit:] if limit else []

    def _history_limit(self) -> int:
        if self.scenario is not None:
            return self.scenario.spec.history_limit
        # Not parsed yet (recovering after a restart), or invalid: the spec's word if it has one.
        limit = (self.desired.document.get("spec") or {}).get("historyLimit", _HISTORY_LIMIT)
        return limit if isinstance(limit, int) and limit >= 0 else _HISTORY_LIMIT

    async def _abort_all(self, reason: str) -> None:
        runs = list(self.runs.values())
        for run in runs:
            run.abort(reason)
        await asyncio.gather(*(run.task for run in runs if run.task), return_exceptions=True)

    # what the resource shows

    def compose(self) -> ScenarioStatus:
        latest = self.runs.get(self.latest) if self.latest else None
        base = latest.status if latest is not None and latest.status is not None else self.shown
        # The faults are copied on their own (flat models; a run's are made from its journal):
        # deep-copying a status of 1,000 faults for each write was most of a compose.
        status = base.model_copy(update={"faults": []}).model_copy(deep=True)
        if latest is not None:
            status.faults = latest.faults()
            status.observed_generation = latest.generation
        else:
            status.faults = [f.model_copy() for f in base.faults]
            if status.observed_generation is None:
                status.observed_generation = self.observed_generation
        # Faults still in effect elsewhere stay on record until undone: older runs (Allow)
        # and undos that failed.
        others = sorted((r for r in self.runs.values() if r is not latest), key=_started)
        status.faults += [f for r in others for f in r.faults() if _outstanding(f)]
        shown = {id(f) for f in base.faults}
        # Copies, for the same reason as in ``ActiveRun.faults``.
        status.faults += [
            f.model_copy() for f in self.stranded if _outstanding(f) and id(f) not in shown
        ]
        status.history = sorted([*self.history, *(r.summary() for r in others)], key=_started)
        if others and status.phase in TERMINAL_PHASES:
            _still_reconciling(status, others)
        return status

    # undoing from the record

    async def _revert_recorded(self, faults: list[FaultStatus]) -> int:
        """Undo recorded faults, retrying a vanished target until ``give_up_after``; returns
        how many were undone. Those given up on are said so in an event."""
        if not faults:
            return 0
        platform = self.host.undo_platform()
        if platform is None:  # nothing outlives its run here: the stack stopped with it
            for fault in faults:
                fault.reverted_at = utcnow()
                fault.message = f"{fault.message}; gone with its run".lstrip("; ")
            self.stranded = [f for f in self.stranded if _outstanding(f)]
            return len(faults)
        try:
            return await self._revert_on(platform, faults)
        finally:
            with contextlib.suppress(Exception):
                await platform.close()

    async def _revert_on(self, platform: Platform, faults: list[FaultStatus]) -> int:
        deadline = time.monotonic() + self.env.give_up_after
        started = False
        remaining, delay, done = list(faults), 0.25, 0
        problems: dict[int, str] = {}
        while remaining:
            failed = []
            for fault in remaining:
                try:
                    if not started:
                        await platform.start()
                        started = True
                    outcome = await platform.revert(self._fault_of(fault), Workload(fault.workload))
                except Exception as error:  # a vanished target, an API hiccup: try again
                    problems[id(fault)] = str(error)
                    failed.append(fault)
                    continue
                fault.reverted_at, done = utcnow(), done + 1
                fault.message = f"{fault.message}; {outcome}".lstrip("; ")
                self.events.normal("FaultReverted", f"{fault.action} {fault.workload}: {outcome}")
            remaining = failed
            if not remaining or time.monotonic() + delay > deadline:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
        for fault in remaining:
            give_up = self.env.give_up_after
            why = f"gave up undoing after {give_up:g}s: {problems.get(id(fault), 'unknown')}"
            fault.message = f"{fault.message}; {why}".lstrip("; ")
            self.events.warning("GaveUp", f"{fault.action} {fault.workload}: {why}")
        self.stranded = [f for f in self.stranded if _outstanding(f) and f not in remaining]
        return done

    def _fault_of(self, recorded: FaultStatus) -> FaultSpec:
        """The step's fault when the spec still has it; else the bare action, which is all a
        revert reads."""
        if self.scenario is not None:
            for step in self.scenario.spec.steps:
                if step.name == recorded.step and step.fault.action == recorded.action:
                    return step.fault
        params: dict[str, Any] = {"target": recorded.target}
        if recorded.action == "scale":
            params["replicas"] = 0
        return FaultSpec.model_validate({recorded.action: params})


class _QueuePosition:
    """A waiting run's place in line, in its status: written when it joins the line, then
    only once the line ahead of it has shrunk to a quarter (37 → 9 → 2 → 0), and no more often
    than every ``_QUEUE_REFRESH`` seconds. A write each time the line moves would be, each time
    any run ends, a write for every run waiting: the API requests per scenario would grow with
    the number of runs."""

    def __init__(self, status: ScenarioStatus, writer: StatusWriter) -> None:
        self.status = status
        self.writer = writer
        self.written: int | None = None
        self.written_at = 0.0

    def moved(self, ahead: int) -> None:
        self.status.message = f"queued: {ahead} ahead"  # shown with the next write, whatever
        now = time.monotonic()
        due = self.written is None or (
            ahead <= self.written // 4 and now - self.written_at >= _QUEUE_REFRESH
        )
        if due:
            self.written, self.written_at = ahead, now
            self.writer.request()


def _started(run: ActiveRun | RunSummary) -> datetime:
    return run.started_at or datetime.min.replace(tzinfo=UTC)


def _still_reconciling(status: ScenarioStatus, others: list[ActiveRun]) -> None:
    """The shown run has ended, older ones go on (Allow): not done, whatever its verdict."""
    running = ", ".join(run.run_id for run in others)
    status.conditions = [c for c in status.conditions if c.type != "Reconciling"]
    status.conditions.insert(
        0,
        Condition(
            type="Reconciling",
            status="True",
            reason="RunsInProgress",
            message=f"run {running} still running",
        ),
    )


def _unique(faults: list[FaultStatus]) -> list[FaultStatus]:
    return list({id(fault): fault for fault in faults}.values())
