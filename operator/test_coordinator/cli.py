"""``test-coordinator``: run, validate, demo, get, history, recover and proxy; a thin front end
over the engine.

Exit codes: 0 pass, 1 fail (or inconclusive, or aborted), 2 invalid input, 3 platform or
runtime error, 130 interrupted.

Every line printed is ``rich.text.Text`` built by ``styled`` on a ``text_console``: names, file
names, messages and service output are shown as they are, never read as markup.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from test_coordinator.controller.settings import OperatorSettings
from test_coordinator.controller.settings import add_arguments as add_operator_arguments
from test_coordinator.engine import Abort, run_scenario
from test_coordinator.engine.journal_file import (
    JournalFile,
    Leftover,
    journal_directory,
    leftovers,
    repair,
)
from test_coordinator.errors import ScenarioInvalid, TestCoordinatorError
from test_coordinator.history.config import ENVIRONMENT_VARIABLE as HISTORY_VARIABLE
from test_coordinator.history.config import (
    HistoryUrl,
    history_url_from,
    parse_age,
    parse_history_url,
)
from test_coordinator.platforms import Platform
from test_coordinator.platforms.local import STACK_ANNOTATION, LocalPlatform, platform_for
from test_coordinator.platforms.local.stack import network_fault_problems
from test_coordinator.platforms.network import DEFAULT_LEASE_SECONDS
from test_coordinator.report import (
    TerminalObserver,
    read_results,
    render_suite,
    render_summary,
    scenario_table,
    write_html,
    write_json,
    write_junit,
    write_markdown,
    write_status,
)
from test_coordinator.report.text import styled, text_console
from test_coordinator.scenario import (
    KIND,
    ChaosScenario,
    Phase,
    ScenarioStatus,
    load_scenario,
    parse_duration,
)
from test_coordinator.scenario.crd import render_crd
from test_coordinator.scenario.reading import read_yaml
from test_coordinator.service import commands as service_commands

if TYPE_CHECKING:
    from test_coordinator.history import RunRecord, Trend

__all__ = ["main"]

DEMO_REPORT = Path("reports/risk-monitor-crash.html")
EXIT_INTERRUPTED = 130
_EXIT_BY_PHASE = {Phase.SUCCEEDED: 0, Phase.FAILED: 1, Phase.ABORTED: 1, Phase.INVALID: 2}
Results = Sequence[tuple[ChaosScenario, ScenarioStatus]]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    console = text_console()
    try:
        code: int = args.command(args, console)
    except TestCoordinatorError as error:
        _stderr().print(_error(error))
        return error.exit_code
    return code


def _stderr() -> Console:
    return text_console(stderr=True)


def _error(error: object, label: str = "error:") -> Text:
    return styled((label, "red"), f" {error}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="test-coordinator", description="Chaos scenarios that prove a system recovers."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run scenarios, one after another")
    run.add_argument(
        "paths", type=Path, nargs="+", help="ChaosScenario YAML files, or directories of them"
    )
    _add_run_options(run)
    run.set_defaults(command=_run_command)

    validate = commands.add_parser("validate", help="check scenario files without running them")
    validate.add_argument("paths", type=Path, nargs="+", help="files or directories")
    validate.set_defaults(command=_validate_command)

    demo = commands.add_parser(
        "demo", help="start the demo trading stack locally and crash its risk monitor"
    )
    _add_run_options(demo)
    demo.set_defaults(
        command=_demo_command, platform="local", stack=None, project=None, write_status=False
    )

    demo.set_defaults(html=DEMO_REPORT)

    report = commands.add_parser(
        "report",
        help="render a result saved with --json, or a stored run, as HTML or Markdown",
    )
    report.add_argument(
        "result", type=Path, nargs="?", help="the JSON result (one run, or a suite's)"
    )
    report.add_argument("--run", metavar="RUN_ID", help="a run from the history instead")
    _add_history_option(report)
    _add_report_options(report)
    report.set_defaults(command=_report_command)

    history = commands.add_parser(
        "history", help="recorded runs, newest first; for one scenario, its trend"
    )
    history.add_argument("name", nargs="?", help="one scenario's runs and trend")
    _add_history_option(history)
    history.add_argument(
        "--since", type=_option(parse_age), metavar="AGE", help="only runs this recent (7d, 12h)"
    )
    history.add_argument("--limit", type=int, default=20, help="runs listed (default 20)")
    history.add_argument("--json", action="store_true", help="runs and trend as JSON")
    history.set_defaults(command=_history_command)

    get = commands.add_parser(
        "get", help="list scenario files with their written-back status, like kubectl get"
    )
    get.add_argument(
        "paths", type=Path, nargs="*", default=[Path()], help="files or directories (default: .)"
    )
    service_commands.add_remote_arguments(get, required=False)
    get.set_defaults(command=_get_command)

    serve = commands.add_parser(
        "serve", help="reconcile the scenario files of a directory, with an HTTP API"
    )
    service_commands.add_serve_arguments(serve, history=_add_serve_history_options)
    serve.set_defaults(command=_serve_command)

    apply = commands.add_parser("apply", help="create or change a scenario on a serve (--server)")
    apply.add_argument("-f", "--filename", type=Path, required=True, metavar="FILE")
    service_commands.add_remote_arguments(apply, required=True)
    apply.set_defaults(command=service_commands.apply_command)

    delete = commands.add_parser(
        "delete", help="delete a scenario on a serve (--server): its run aborted, faults undone"
    )
    delete.add_argument("name")
    service_commands.add_remote_arguments(delete, required=True)
    delete.set_defaults(command=service_commands.delete_command)

    crd = commands.add_parser("crd", help="print the ChaosScenario CRD, generated from the model")
    crd.set_defaults(command=_crd_command)

    recover = commands.add_parser(
        "recover", help="undo the faults of runs whose runner died (compose projects)"
    )
    recover.add_argument("--project", help="only this compose project's runs")
    recover.set_defaults(command=_recover_command)

    operator = commands.add_parser("operator", help="run the Kubernetes operator (kopf)")
    add_operator_arguments(operator)
    _add_serve_history_options(operator)
    operator.set_defaults(command=_operator_command)

    proxy = commands.add_parser(
        "proxy", help="run fault proxies and their control API (Toxiproxy's, with leases)"
    )
    proxy.add_argument("--listen", metavar="HOST:PORT", help="where the proxy listens")
    proxy.add_argument("--upstream", metavar="HOST:PORT", help="where it forwards to")
    proxy.add_argument("--name", help="the proxy's name in the control API (default: proxy)")
    proxy.add_argument(
        "--proxy",
        action="append",
        default=[],
        metavar="NAME=LISTEN,UPSTREAM",
        help="one more proxy, e.g. grpc=127.0.0.1:7001,127.0.0.1:50051 (repeatable)",
    )
    proxy.add_argument(
        "--control",
        metavar="HOST:PORT",
        help="where the control API listens (default: 127.0.0.1:8474; PORT alone: 127.0.0.1)",
    )
    proxy.set_defaults(command=_proxy_command)
    return parser


def _crd_command(args: argparse.Namespace, console: Console) -> int:
    sys.stdout.write(render_crd())
    return 0


def _operator_command(args: argparse.Namespace, console: Console) -> int:
    from test_coordinator.controller.main import run_operator  # kopf loads for this command only

    # In a pod the per-user default file would be on a read-only root: off unless asked for.
    asked = args.history is not None or os.environ.get(HISTORY_VARIABLE)
    history = _history_url(args) if asked else None
    return run_operator(OperatorSettings.from_args(args, history=history))


def _serve_command(args: argparse.Namespace, console: Console) -> int:
    return service_commands.serve_command(args, _history_url(args))


def _add_serve_history_options(parser: argparse.ArgumentParser) -> None:
    _add_history_option(parser)
    parser.add_argument(
        "--history-retention",
        type=_option(_retention),
        default="90d",
        metavar="AGE",
        help="delete recorded runs older than this, or off (default 90d)",
    )


def _proxy_command(args: argparse.Namespace, console: Console) -> int:
    from test_coordinator.proxy import run_proxy_command  # aiohttp loads for this command only

    return run_proxy_command(
        listen=args.listen,
        upstream=args.upstream,
        name=args.name,
        proxies=args.proxy,
        control=args.control,
    )


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    if parser.prog.endswith(" run"):
        parser.add_argument("--platform", choices=sorted(PLATFORMS), default="local")
        parser.add_argument(
            "--stack",
            help=f"local stack file (default: the scenario's {STACK_ANNOTATION} "
            "annotation, else the bundled demo stack)",
        )
        parser.add_argument(
            "--project",
            help="compose project (default: COMPOSE_PROJECT_NAME, else the project of the "
            "compose file in the working directory or above it)",
        )
        parser.add_argument(
            "--write-status",
            action="store_true",
            help="write the run's status into each scenario file, keeping the rest of it",
        )
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the result as JSON")
    parser.add_argument("--junit", type=Path, metavar="OUT", help="write JUnit XML")
    _add_report_options(parser)
    parser.add_argument("--log-dir", type=Path, help="where service output goes (local)")
    parser.add_argument(
        "--fault-lease",
        type=_option(_lease),
        default=DEFAULT_LEASE_SECONDS,
        metavar="DURATION",
        help="how long a network fault outlives this runner if it is killed (default 10s): "
        "the proxy removes what a runner stopped renewing",
    )
    _add_history_option(parser)
    parser.add_argument(
        "--history-retention",
        type=_option(_retention),
        default="90d",
        metavar="AGE",
        help="delete recorded runs older than this, or off (default 90d)",
    )


def _run_command(args: argparse.Namespace, console: Console) -> int:
    return _run_suite(_scenario_files(args.paths), args, console)


def _demo_command(args: argparse.Namespace, console: Console) -> int:
    scenario = resources.files("test_coordinator").joinpath("demo/scenario.yaml")
    with resources.as_file(scenario) as path:
        return _run_suite([path], args, console)


def _validate_command(args: argparse.Namespace, console: Console) -> int:
    code = 0
    for path in _scenario_files(args.paths):
        try:
            scenario = load_scenario(path)
            local = _local_platform(scenario, path, args=None)
            _check_local_network_faults(scenario, path, local)
        except ScenarioInvalid as error:
            console.print(_error(error, "invalid"))
            code = ScenarioInvalid.exit_code
            continue
        spec = scenario.spec
        checks = len(spec.steady_state) + len(spec.during) + sum(len(s.after) for s in spec.steps)
        checks += len(spec.audit)
        steps = len(spec.steps)
        console.print(
            styled(
                ("valid", "green"),
                f" {path}: {steps} step{'s' * (steps != 1)}, {checks} check{'s' * (checks != 1)}",
            )
        )
    return code


def _check_local_network_faults(scenario: ChaosScenario, path: Path, local: LocalPlatform) -> None:
    """A scenario that names its local stack: every network fault on a port a proxy fronts.
    (Other scenarios may be for compose or Kubernetes, where a run checks it as it starts.)"""
    if STACK_ANNOTATION not in scenario.metadata.annotations:
        return
    problems = network_fault_problems(scenario.spec, local.stack)
    if problems:
        raise ScenarioInvalid([f"{path}: {problem}" for problem in problems])


def _scenario_files(paths: Sequence[Path]) -> list[Path]:
    """Files as given; in a directory, its YAML files that hold a ChaosScenario (not stacks).

    A directory without one is an error: a CI job must not pass having tested nothing.
    """
    files: list[Path] = []
    for path in paths:
        if not path.is_dir():
            files.append(path)
            continue
        found = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
        scenarios = [file for file in found if _holds_scenario(file)]
        if not scenarios:
            raise ScenarioInvalid(f"no {KIND} in {path} ({_found_in(path)})")
        files += scenarios
    return files


def _found_in(directory: Path, shown: int = 5) -> str:
    try:
        names = sorted(entry.name for entry in directory.iterdir())
    except OSError as error:
        return f"cannot list it: {error.strerror or error}"
    if not names:
        return "it is empty"
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return f"found: {', '.join(names[:shown])}{more}"


def _holds_scenario(path: Path) -> bool:
    try:
        document = read_yaml(path)
    except ScenarioInvalid:
        return True  # let loading report it, with its line
    return isinstance(document, Mapping) and document.get("kind") == KIND


def _local_platform(
    scenario: ChaosScenario, path: Path, *, args: argparse.Namespace | None
) -> LocalPlatform:
    log_dir = args.log_dir if args is not None else None
    return platform_for(
        scenario,
        path,
        stack=getattr(args, "stack", None),
        log_dir=log_dir,
        lease_seconds=getattr(args, "fault_lease", DEFAULT_LEASE_SECONDS),
    )


def _compose_platform(args: argparse.Namespace) -> Platform:
    # The Docker SDK loads only for the platform that uses it.
    from test_coordinator.platforms.compose import ComposePlatform, project_name

    lease = getattr(args, "fault_lease", DEFAULT_LEASE_SECONDS)  # `recover` has no lease
    return ComposePlatform(args.project or project_name(Path()), lease_seconds=lease)


PLATFORMS: dict[str, Callable[[ChaosScenario, Path, argparse.Namespace], Platform]] = {
    "local": lambda scenario, path, args: _local_platform(scenario, path, args=args),
    "compose": lambda scenario, path, args: _compose_platform(args),
}


def _run_suite(files: Sequence[Path], args: argparse.Namespace, console: Console) -> int:
    """Run each scenario in turn; the exit code is the worst of them."""
    results: list[tuple[ChaosScenario, ScenarioStatus]] = []
    sources: list[Path] = []
    codes: list[int] = []
    history = _history_url(args)  # before running: a bad TEST_COORDINATOR_HISTORY is exit 2
    for path in files:
        try:
            code, result = _run_file(path, args, console)
        except TestCoordinatorError as error:
            _stderr().print(_error(error))
            code, result = error.exit_code, None
        codes.append(code)
        if result is not None:
            results.append(result)
            sources.append(path)
        if code == EXIT_INTERRUPTED:
            break
    if len(files) > 1:
        render_suite(console, [(path, code) for path, code in zip(files, codes, strict=False)])
    if results:
        machine = [
            _written(path, results, write=write)
            for path, write in ((args.json, write_json), (args.junit, write_junit))
            if path is not None
        ]
        for_people = _write_reports(args, results, console)  # also when a file above failed
        if not (all(machine) and for_people):
            codes.append(TestCoordinatorError.exit_code)
    if results and history is not None:
        recorded = [(*result, path) for result, path in zip(results, sources, strict=True)]
        _record_history(history, args, recorded, console)
    return EXIT_INTERRUPTED if EXIT_INTERRUPTED in codes else max(codes, default=0)


def _add_report_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--html", type=Path, metavar="OUT", help="write one HTML page with a timeline chart"
    )
    parser.add_argument(
        "--markdown", type=Path, metavar="OUT", help="write a short Markdown summary (for CI)"
    )


def _report_command(args: argparse.Namespace, console: Console) -> int:
    if not args.html and not args.markdown:
        raise ScenarioInvalid("report: nothing to write: give --html OUT, --markdown OUT or both")
    if (args.result is None) == (args.run is None):
        raise ScenarioInvalid("report: give a result file (saved with --json) or --run RUN_ID")
    results = read_results(args.result) if args.run is None else [_stored_run(args)]
    return 0 if _write_reports(args, results, console) else TestCoordinatorError.exit_code


def _write_reports(
    args: argparse.Namespace,
    results: Sequence[tuple[ChaosScenario, ScenarioStatus]],
    console: Console,
) -> bool:
    """The reports for people, and where they went; False when one could not be written."""
    written = True
    for path, write, what in (
        (args.html, write_html, "HTML report"),
        (args.markdown, write_markdown, "Markdown summary"),
    ):
        if path is None:
            continue
        if _written(path, results, write=write):
            console.print(styled(f"{what}: {path.resolve()}"))
        else:
            written = False
    return written


def _written(path: Path, results: Results, *, write: Callable[[Path, Results], None]) -> bool:
    """Whether ``write`` wrote ``path``; if not, why, on stderr (a directory, no permission)."""
    try:
        write(path, results)
    except OSError as error:
        _stderr().print(_error(f"cannot write {path}: {error.strerror or error}"))
        return False
    return True


def _run_file(
    path: Path, args: argparse.Namespace, console: Console
) -> tuple[int, tuple[ChaosScenario, ScenarioStatus] | None]:
    scenario = load_scenario(path)
    platform = PLATFORMS[args.platform](scenario, path, args)
    if isinstance(platform, LocalPlatform):
        console.print(styled(f"service logs: {platform.log_dir}", style="dim"))
    status, interrupted = asyncio.run(_run_on(platform, scenario, console))
    if isinstance(platform, LocalPlatform):
        for note in platform.forced_stops:
            console.print(styled(f"stack stopped: {note}", style="yellow"))
    if status is None:
        touched = "everything started was stopped" if _owns_stack(platform) else "nothing touched"
        console.print(styled(f"interrupted before the run began; {touched}"))
        return EXIT_INTERRUPTED, None
    if status.phase is not Phase.INVALID:  # an invalid run has only its message, printed below
        render_summary(console, scenario.metadata.name, status)
    if args.write_status:
        write_status(path, scenario, status)
        console.print(styled(f"status written to {path}", style="dim"))
    if status.phase is Phase.INVALID:
        console.print(_error(f"{path}: {status.message}", "invalid"))
    if interrupted:
        return EXIT_INTERRUPTED, (scenario, status)
    return _EXIT_BY_PHASE.get(status.phase, 3), (scenario, status)


def _get_command(args: argparse.Namespace, console: Console) -> int:
    if args.server is not None:
        return service_commands.remote_get(args, console)
    scenarios, code = [], 0
    for path in _scenario_files(args.paths):
        try:
            scenarios.append(load_scenario(path))
        except ScenarioInvalid as error:
            _stderr().print(_error(error, "invalid"))
            code = ScenarioInvalid.exit_code
    if scenarios:
        console.print(styled(scenario_table(scenarios, now=datetime.now(UTC))))
    return code


async def _run_on(
    platform: Platform, scenario: ChaosScenario, console: Console
) -> tuple[ScenarioStatus | None, bool]:
    """Start the platform, run, stop; SIGINT or SIGTERM aborts the run and undoes its faults."""
    abort = Abort()
    loop = asyncio.get_running_loop()
    starting = asyncio.current_task()
    running = False
    undoing = (
        "reverting faults and stopping the stack" if _owns_stack(platform) else ("reverting faults")
    )

    def interrupt(signame: str) -> None:
        abort(f"interrupted by {signame}")
        console.print(styled(f"{signame}: aborting, {undoing}", style="yellow"))
        if not running and starting is not None:
            starting.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, interrupt, signum.name)
    observer = TerminalObserver(console, scenario=scenario.metadata.name)
    try:
        console.print(styled(f"starting the {platform.name} platform", style="dim"))
        async with platform:
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
        return status, abort.event.is_set() and abort.reason.startswith("interrupted")
    except asyncio.CancelledError:
        return None, True
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _owns_stack(platform: Platform) -> bool:
    """Whether the platform started what it runs on (the local stack), and stops it after."""
    return isinstance(platform, LocalPlatform)


async def _journal_for(
    platform: Platform, scenario: ChaosScenario, console: Console
) -> JournalFile | None:
    """Where faults outlive a runner that dies (compose), first undo what dead runners left
    on this platform, then keep this run's journal on disk."""
    key = platform.journal_key()
    if key is None:
        return None
    directory = journal_directory()
    for leftover in leftovers(directory, key=key):
        await _recover(platform, leftover, console)
    return JournalFile(
        directory,
        platform=platform.name,
        key=key,
        where={"project": getattr(platform, "project", "")},
        scenario=scenario.metadata.name,
        run_id=uuid.uuid4().hex[:12],
    )


async def _recover(platform: Platform, leftover: Leftover, console: Console) -> bool:
    """Undo what a dead runner left; False when something could not be undone."""
    console.print(
        styled(
            f"run {leftover.run_id} of {leftover.scenario} ended without undoing its faults "
            f"(runner pid {leftover.runner_pid} is gone):",
            style="yellow",
        )
    )
    lines = await repair(platform, leftover)
    for line in lines or ["nothing was still applied"]:
        console.print(styled(f"  {line}", style="yellow"))
    return not any(line.startswith("could not") for line in lines)


def _recover_command(args: argparse.Namespace, console: Console) -> int:
    """Undo the faults of every run whose runner died (compose projects on this engine)."""

    async def recover_all() -> int:
        found = [
            leftover
            for leftover in leftovers(journal_directory())
            if args.project in (None, leftover.where.get("project"))
        ]
        if not found:
            console.print(styled("nothing to recover: no run left a fault behind"))
            return 0
        code = 0
        for leftover in found:
            platform = _compose_platform(argparse.Namespace(project=leftover.where.get("project")))
            if leftover.platform != platform.name or platform.journal_key() != leftover.key:
                console.print(
                    styled(f"skipped run {leftover.run_id}: {leftover.key} is not reachable here")
                )
                code = TestCoordinatorError.exit_code
                continue
            async with platform:
                if not await _recover(platform, leftover, console):
                    code = TestCoordinatorError.exit_code
        return code

    return asyncio.run(recover_all())


def _option(parse: Callable[[str], object]) -> Callable[[str], object]:
    """``parse`` for argparse: its ValueError's message becomes the usage error."""

    def convert(text: str) -> object:
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


def _lease(text: str) -> float:
    seconds = parse_duration(text)
    if seconds < 1:
        raise ValueError(f"expected a lease of at least 1s, got {text!r}")
    return seconds


def _retention(text: str) -> timedelta | None:
    return None if text.strip().lower() == "off" else parse_age(text)


def _add_history_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--history",
        type=_option(_history_text),
        metavar="URL",
        help="the run history: sqlite:///PATH, postgresql://USER@HOST/DB or off (default: "
        "$TEST_COORDINATOR_HISTORY, else history.db in the XDG state directory)",
    )


def _history_text(text: str) -> str:
    parse_history_url(text)  # checked now; resolved with the environment in _history_url
    return text


def _history_url(args: argparse.Namespace) -> HistoryUrl | None:
    try:
        return history_url_from(args.history)
    except ValueError as error:
        raise ScenarioInvalid(str(error)) from None


def _record_history(
    url: HistoryUrl,
    args: argparse.Namespace,
    results: Sequence[tuple[ChaosScenario, ScenarioStatus, Path]],
    console: Console,
) -> None:
    """Each finished run into the history; a history that fails says so in one line and
    changes nothing else (the exit code is the run's)."""
    from test_coordinator.history import Recorded, open_store, record_results  # SQLAlchemy

    async def record() -> Recorded:
        async with open_store(url) as store:
            runs = [(scenario, status, str(path.resolve())) for scenario, status, path in results]
            return await record_results(
                store, runs, platform=args.platform, retention=args.history_retention
            )

    recorded = asyncio.run(record())
    if recorded.run_ids:
        console.print(styled(f"history: {url.display} (test-coordinator history)", style="dim"))
    for problem in recorded.problems:
        _stderr().print(styled(problem, style="yellow"))


def _history_command(args: argparse.Namespace, console: Console) -> int:
    url = _history_url(args)
    if url is None:
        raise ScenarioInvalid("history: the history is off (--history off, or in the environment)")
    since = datetime.now(UTC) - args.since if args.since else None
    if url.path is not None and not url.path.exists():
        runs: list[RunRecord] = []
        trend = None
    else:
        runs, trend = asyncio.run(_read_history(url, args.name, since=since, limit=args.limit))
    if args.json:
        from test_coordinator.report.history import history_document

        document = history_document(runs, trend, history=url.display)
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return 0
    if not runs:
        what = f"of {args.name} " if args.name else ""
        console.print(styled(f"no runs {what}recorded in {url.display}"))
        return 0
    from test_coordinator.report.history import runs_table, trend_lines

    if trend is not None:
        console.print(styled("\n".join(trend_lines(trend))))
        console.print()
    table = runs_table(runs, now=datetime.now(UTC), one_scenario=args.name is not None)
    console.print(styled(table))
    return 0


async def _read_history(
    url: HistoryUrl, name: str | None, *, since: datetime | None, limit: int
) -> tuple[list[RunRecord], Trend | None]:
    from test_coordinator.history import open_store

    async with open_store(url, timeout=30) as store:
        runs = await store.runs(name, since=since, limit=limit)
        trend = await store.trend(name, since=since) if name and runs else None
    return runs, trend


def _stored_run(args: argparse.Namespace) -> tuple[ChaosScenario, ScenarioStatus]:
    url = _history_url(args)
    if url is None:
        raise ScenarioInvalid(
            "report --run: the history is off (--history off, or in the environment)"
        )
    from test_coordinator.history import RunNotFound, open_store

    if url.path is not None and not url.path.exists():
        raise RunNotFound(f"no run {args.run!r}: nothing recorded in {url.display}")

    async def load() -> tuple[ChaosScenario, ScenarioStatus]:
        async with open_store(url, timeout=30) as store:
            return await store.load_run(args.run)

    return asyncio.run(load())


if __name__ == "__main__":
    sys.exit(main())
