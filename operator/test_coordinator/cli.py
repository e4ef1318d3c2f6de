"""``test-coordinator``: run, validate and demo; a thin front end over the engine.

Exit codes: 0 pass, 1 fail (or inconclusive, or aborted), 2 invalid input, 3 platform or
runtime error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path

from rich.console import Console

from test_coordinator.engine import Abort, run_scenario
from test_coordinator.errors import ScenarioInvalid, TestCoordinatorError
from test_coordinator.platforms import Platform
from test_coordinator.platforms.local import LocalPlatform, load_stack
from test_coordinator.report import (
    TerminalObserver,
    render_suite,
    render_summary,
    write_json,
    write_junit,
)
from test_coordinator.scenario import KIND, ChaosScenario, Phase, ScenarioStatus, load_scenario
from test_coordinator.scenario.loading import read_yaml

__all__ = ["main"]

STACK_ANNOTATION = "chaos.tse.dev/local-stack"
EXIT_INTERRUPTED = 130
_EXIT_BY_PHASE = {Phase.SUCCEEDED: 0, Phase.FAILED: 1, Phase.ABORTED: 1, Phase.INVALID: 2}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Off a terminal (CI logs, pipes) rich would wrap at 80 columns; logs read better wider.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120, soft_wrap=True)
    try:
        code: int = args.command(args, console)
    except TestCoordinatorError as error:
        _stderr().print(f"[red]error:[/red] {error}")
        return error.exit_code
    return code


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


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
    demo.set_defaults(command=_demo_command, platform="local", stack=None)
    return parser


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    if parser.prog.endswith(" run"):
        parser.add_argument("--platform", choices=sorted(PLATFORMS), default="local")
        parser.add_argument(
            "--stack",
            help=f"local stack file (default: the scenario's {STACK_ANNOTATION} "
            "annotation, else the bundled demo stack)",
        )
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the result as JSON")
    parser.add_argument("--junit", type=Path, metavar="OUT", help="write JUnit XML")
    parser.add_argument("--log-dir", type=Path, help="where service output goes (local)")


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
            _local_platform(scenario, path, args=None)
        except ScenarioInvalid as error:
            console.print(f"[red]invalid[/red] {error}")
            code = ScenarioInvalid.exit_code
            continue
        spec = scenario.spec
        checks = len(spec.steady_state) + len(spec.during) + sum(len(s.after) for s in spec.steps)
        console.print(f"[green]valid[/green] {path}: {len(spec.steps)} steps, {checks} checks")
    return code


def _scenario_files(paths: Sequence[Path]) -> list[Path]:
    """Files as given; in a directory, its YAML files that hold a ChaosScenario (not stacks)."""
    files: list[Path] = []
    for path in paths:
        if not path.is_dir():
            files.append(path)
            continue
        found = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
        files += [file for file in found if _holds_scenario(file)]
        if not found:
            raise ScenarioInvalid(f"{path}: no scenario files (*.yaml) in this directory")
    return files


def _holds_scenario(path: Path) -> bool:
    try:
        document = read_yaml(path)
    except ScenarioInvalid:
        return True  # let loading report it, with its line
    return isinstance(document, Mapping) and document.get("kind") == KIND


def _local_platform(
    scenario: ChaosScenario, path: Path, *, args: argparse.Namespace | None
) -> LocalPlatform:
    override = getattr(args, "stack", None)
    reference = override or scenario.metadata.annotations.get(STACK_ANNOTATION)
    if reference is not None and reference != "demo" and override is None:
        reference = str(path.parent / reference)  # relative to the scenario, like an include
    platform = LocalPlatform(load_stack(reference))
    if args is not None and args.log_dir:
        platform.log_dir = args.log_dir / scenario.metadata.name
    return platform


PLATFORMS: dict[str, Callable[[ChaosScenario, Path, argparse.Namespace], Platform]] = {
    "local": lambda scenario, path, args: _local_platform(scenario, path, args=args),
}


def _run_suite(files: Sequence[Path], args: argparse.Namespace, console: Console) -> int:
    """Run each scenario in turn; the exit code is the worst of them."""
    results: list[tuple[ChaosScenario, ScenarioStatus]] = []
    codes: list[int] = []
    for path in files:
        try:
            code, result = _run_file(path, args, console)
        except TestCoordinatorError as error:
            _stderr().print(f"[red]error:[/red] {error}")
            code, result = error.exit_code, None
        codes.append(code)
        if result is not None:
            results.append(result)
        if code == EXIT_INTERRUPTED:
            break
    if len(files) > 1:
        render_suite(console, [(path, code) for path, code in zip(files, codes, strict=False)])
    if args.json and results:
        write_json(args.json, results)
    if args.junit and results:
        write_junit(args.junit, results)
    return EXIT_INTERRUPTED if EXIT_INTERRUPTED in codes else max(codes, default=0)


def _run_file(
    path: Path, args: argparse.Namespace, console: Console
) -> tuple[int, tuple[ChaosScenario, ScenarioStatus] | None]:
    scenario = load_scenario(path)
    platform = PLATFORMS[args.platform](scenario, path, args)
    if isinstance(platform, LocalPlatform):
        console.print(f"service logs: {platform.log_dir}", style="dim")
    status, interrupted = asyncio.run(_run_on(platform, scenario, console))
    if status is None:
        console.print("interrupted before the run began; everything started was stopped")
        return EXIT_INTERRUPTED, None
    render_summary(console, scenario.metadata.name, status)
    if status.phase is Phase.INVALID:
        console.print(f"[red]invalid[/red] {path}: {status.message}")
    if interrupted:
        return EXIT_INTERRUPTED, (scenario, status)
    return _EXIT_BY_PHASE.get(status.phase, 3), (scenario, status)


async def _run_on(
    platform: Platform, scenario: ChaosScenario, console: Console
) -> tuple[ScenarioStatus | None, bool]:
    """Start the platform, run, stop; SIGINT or SIGTERM aborts the run and undoes its faults."""
    abort = Abort()
    loop = asyncio.get_running_loop()
    starting = asyncio.current_task()
    running = False

    def interrupt(signame: str) -> None:
        abort(f"interrupted by {signame}")
        console.print(f"[yellow]{signame}: aborting, reverting faults and stopping the stack[/]")
        if not running and starting is not None:
            starting.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, interrupt, signum.name)
    observer = TerminalObserver(console, scenario=scenario.metadata.name)
    try:
        console.print(f"starting the {platform.name} platform", style="dim")
        async with platform:
            running = True
            status = await run_scenario(scenario, platform, observer=observer, abort=abort)
        return status, abort.event.is_set() and abort.reason.startswith("interrupted")
    except asyncio.CancelledError:
        return None, True
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


if __name__ == "__main__":
    sys.exit(main())
