"""Running scenarios: ``run`` and ``demo``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import os
import signal
import threading
import uuid
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from test_coordinator.cli.files import scenario_files
from test_coordinator.cli.options import history_url
from test_coordinator.cli.printing import error_line, stderr
from test_coordinator.engine.abort import Abort
from test_coordinator.errors import TestCoordinatorError
from test_coordinator.platforms.local import LocalPlatform, platform_for
from test_coordinator.platforms.local.stack import StackSpec
from test_coordinator.platforms.network import DEFAULT_LEASE_SECONDS
from test_coordinator.report.text import styled
from test_coordinator.scenario.loading import load_scenario
from test_coordinator.scenario.status import Phase, ScenarioStatus

if TYPE_CHECKING:
    from test_coordinator.cli.reports import Results
    from test_coordinator.engine.journal_file import JournalFile
    from test_coordinator.platforms.base import Platform
    from test_coordinator.report.text import Printer
    from test_coordinator.scenario.model import ChaosScenario

__all__ = ["demo_command", "run_command"]

# Built in start-up, as the scenario's is (cli/files.py): a local run reads a stack.
StackSpec.model_rebuild()

EXIT_INTERRUPTED = 130
_EXIT_BY_PHASE = {Phase.SUCCEEDED: 0, Phase.FAILED: 1, Phase.ABORTED: 1, Phase.INVALID: 2}

AFTER_START = (
    "test_coordinator.engine.run",
    "test_coordinator.report.terminal",
    "test_coordinator.report.files",
    "test_coordinator.report.status_file",
    "test_coordinator.cli.reports",
)
"""What a run needs only once its services are up: loaded while they start (``_run_on``)."""


def run_command(args: argparse.Namespace, console: Printer) -> int:
    return _run_suite(scenario_files(args.paths), args, console)


def demo_command(args: argparse.Namespace, console: Printer) -> int:
    scenario = resources.files("test_coordinator").joinpath("demo/scenario.yaml")
    with resources.as_file(scenario) as path:
        return _run_suite([path], args, console)


def _lease(args: argparse.Namespace) -> float:
    lease: float | None = getattr(args, "fault_lease", None)
    return DEFAULT_LEASE_SECONDS if lease is None else lease


def _platform(scenario: ChaosScenario, path: Path, args: argparse.Namespace) -> Platform:
    if args.platform == "compose":
        from test_coordinator.cli.recovering import compose_platform

        holder = f"{scenario.metadata.name} (run by pid {os.getpid()})"
        return compose_platform(args.project, lease=_lease(args), holder=holder)
    return platform_for(
        scenario, path, stack=args.stack, log_dir=args.log_dir, lease_seconds=_lease(args)
    )


def _run_suite(files: Sequence[Path], args: argparse.Namespace, console: Printer) -> int:
    """Run each scenario in turn; the exit code is the worst of them."""
    results: list[tuple[ChaosScenario, ScenarioStatus]] = []
    sources: list[Path] = []
    codes: list[int] = []
    history = history_url(args)  # before running: a bad TEST_COORDINATOR_HISTORY is exit 2
    later = ["test_coordinator.cli.history", "test_coordinator.history.recording"]
    for path in files:
        try:
            code, result = _run_file(path, args, console, later if history else [])
        except TestCoordinatorError as error:
            stderr().print(error_line(error))
            code, result = error.exit_code, None
        codes.append(code)
        if result is not None:
            results.append(result)
            sources.append(path)
        if code == EXIT_INTERRUPTED:
            break
    if len(files) > 1:
        from test_coordinator.report.terminal import render_suite

        render_suite(console, [(path, code) for path, code in zip(files, codes, strict=False)])
    if results and not _write_results(args, results, console):
        codes.append(TestCoordinatorError.exit_code)
    if results and history is not None:
        from test_coordinator.cli.history import record_history  # SQLAlchemy, only then

        recorded = [(*result, path) for result, path in zip(results, sources, strict=True)]
        record_history(history, args, recorded, console)
    return EXIT_INTERRUPTED if EXIT_INTERRUPTED in codes else max(codes, default=0)


def _write_results(args: argparse.Namespace, results: Results, console: Printer) -> bool:
    """Every report asked for, each tried even when another failed; False if one did."""
    from test_coordinator.cli.reports import write_reports, written
    from test_coordinator.report.files import write_json, write_junit

    machine = [
        written(path, results, write=write)
        for path, write in ((args.json, write_json), (args.junit, write_junit))
        if path is not None
    ]
    for_people = write_reports(args, results, console)
    return all(machine) and for_people


def _run_file(
    path: Path, args: argparse.Namespace, console: Printer, later: Sequence[str]
) -> tuple[int, tuple[ChaosScenario, ScenarioStatus] | None]:
    scenario = load_scenario(path)
    platform = _platform(scenario, path, args)
    if isinstance(platform, LocalPlatform):
        console.print(styled(f"service logs: {platform.log_dir}", style="dim"))
    status, interrupted = asyncio.run(_run_on(platform, scenario, console, later))
    if isinstance(platform, LocalPlatform):
        for note in platform.forced_stops:
            console.print(styled(f"stack stopped: {note}", style="yellow"))
    if status is None:
        touched = "everything started was stopped" if platform.owns_stack else "nothing touched"
        console.print(styled(f"interrupted before the run began; {touched}"))
        return EXIT_INTERRUPTED, None
    from test_coordinator.report.status_file import write_status
    from test_coordinator.report.terminal import render_summary

    if status.phase is not Phase.INVALID:  # an invalid run has only its message, printed below
        render_summary(console, scenario.metadata.name, status)
    if args.write_status:
        write_status(path, scenario, status)
        console.print(styled(f"status written to {path}", style="dim"))
    if status.phase is Phase.INVALID:
        console.print(error_line(f"{path}: {status.message}", "invalid"))
    if interrupted:
        return EXIT_INTERRUPTED, (scenario, status)
    return _EXIT_BY_PHASE.get(status.phase, 3), (scenario, status)


async def _run_on(
    platform: Platform, scenario: ChaosScenario, console: Printer, later: Sequence[str] = ()
) -> tuple[ScenarioStatus | None, bool]:
    """Start the platform, run, stop; SIGINT or SIGTERM aborts the run and undoes its faults.
    What the rest needs (``AFTER_START``, and ``later``) is imported while the services start."""
    abort = Abort()
    loop = asyncio.get_running_loop()
    starting = asyncio.current_task()
    running = False
    undoing = (
        "reverting faults and stopping the stack" if platform.owns_stack else "reverting faults"
    )

    def interrupt(signame: str) -> None:
        abort(f"interrupted by {signame}")
        console.print(styled(f"{signame}: aborting, {undoing}", style="yellow"))
        if not running and starting is not None:
            starting.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, interrupt, signum.name)
    try:
        console.print(styled(f"starting the {platform.name} platform", style="dim"))
        _import_in_background([*AFTER_START, *later])
        async with platform:
            from test_coordinator.engine.run import run_scenario
            from test_coordinator.report.terminal import TerminalObserver

            observer = TerminalObserver(console, scenario=scenario.metadata.name)
            journal = await _journal_for(platform, scenario, console)
            running = True
            status = await run_scenario(
                scenario,
                platform,
                observer=observer,
                abort=abort,
                run_id=None if journal is None else journal.run_id,
                persist=None if journal is None else journal.save,
            )
            if journal is not None:
                journal.close()
            for note in await platform.explain(status.faults):
                console.print(styled(f"note: {note}", style="yellow"))
        return status, abort.event.is_set() and abort.reason.startswith("interrupted")
    except asyncio.CancelledError:
        return None, True
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _import_in_background(modules: Sequence[str]) -> None:
    """Import ``modules`` in a thread: a run spends most of its time waiting (for its services
    to start, a restart, a recovery, a held fault), and what comes after (the run loop, the
    reports, the history's SQLAlchemy: ~0.35 s in all) then costs no time of its own. Imports
    hold the GIL, so this gains nothing while the run is busy, and costs a probe a few
    milliseconds at most (the GIL's switch interval). The main thread importing a module the
    thread is still on waits for it (the import lock): never half a module."""

    def load() -> None:
        for module in modules:
            with contextlib.suppress(Exception):  # the import that needs it says what failed
                importlib.import_module(module)

    if modules:
        threading.Thread(target=load, name="import-ahead", daemon=True).start()


async def _journal_for(
    platform: Platform, scenario: ChaosScenario, console: Printer
) -> JournalFile | None:
    """Where faults outlive a runner that dies (compose), first undo what dead runners left
    on this platform, then keep this run's journal on disk."""
    key = platform.journal_key()
    if key is None:
        return None
    from test_coordinator.cli.recovering import recover
    from test_coordinator.engine.journal_file import JournalFile, journal_directory, leftovers

    directory = journal_directory()
    for leftover in leftovers(directory, key=key):
        await recover(platform, leftover, console)
    return JournalFile(
        directory,
        platform=platform.name,
        key=key,
        where={"project": getattr(platform, "project", "")},
        scenario=scenario.metadata.name,
        holder=platform.holder,
        run_id=uuid.uuid4().hex[:12],
    )
