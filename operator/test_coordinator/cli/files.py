"""Scenario files: finding them in directories, ``validate`` and ``get``."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from test_coordinator.cli.printing import error_line, stderr
from test_coordinator.errors import ScenarioInvalid
from test_coordinator.report.text import Printer, styled
from test_coordinator.scenario.loading import load_scenario
from test_coordinator.scenario.model import KIND, ChaosScenario
from test_coordinator.scenario.reading import read_yaml

__all__ = ["get_command", "scenario_files", "validate_command"]


def _without_pydantic_plugins() -> None:
    """pydantic looks for plugins of its own the first time it builds a validator, through the
    entry points of every installed distribution: 34 million instructions, 3% of a run's
    start-up (measured with 88 distributions installed). The CLI's models are validated with
    none. ``PYDANTIC_DISABLE_PLUGINS`` would say so too, but the services a run starts would
    inherit it. Should pydantic rename its cache, the search just happens again."""
    from pydantic.plugin import _loader

    if _loader._plugins is None:
        _loader._plugins = {}


_without_pydantic_plugins()
# Every command that imports this module reads scenarios: their validator is built now, in
# start-up, where a Ctrl-C is caught even when pydantic turns it into a SchemaError (entry.py).
ChaosScenario.model_rebuild()


def validate_command(args: argparse.Namespace, console: Printer) -> int:
    from test_coordinator.platforms.local.stack import (
        STACK_ANNOTATION,
        network_fault_problems,
        stack_for_scenario,
    )

    code = 0
    for path in scenario_files(args.paths):
        try:
            scenario = load_scenario(path)
            annotation = scenario.metadata.annotations.get(STACK_ANNOTATION)
            if annotation is not None:  # the bundled demo stack needs no checking
                # The stack it names, and every network fault on a port a proxy fronts
                # there. (Other scenarios may be for compose, checked with --compose-file, or
                # for Kubernetes, whose runs check that as they start.)
                stack = stack_for_scenario(path, annotation=annotation, override=None)
                if problems := network_fault_problems(scenario.spec, stack):
                    raise ScenarioInvalid([f"{path}: {problem}" for problem in problems])
            if args.compose_file is not None:
                from test_coordinator.platforms.compose.compose_file import (
                    network_fault_problems as compose_problems,
                )

                if problems := compose_problems(scenario.spec, args.compose_file):
                    raise ScenarioInvalid([f"{path}: {problem}" for problem in problems])
        except ScenarioInvalid as error:
            console.print(error_line(error, "invalid"))
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


def get_command(args: argparse.Namespace, console: Printer) -> int:
    if args.server is not None:
        from test_coordinator.service.commands import remote_get

        return remote_get(args, console)
    from test_coordinator.report.listing import scenario_table

    scenarios, code = [], 0
    for path in scenario_files(args.paths):
        try:
            scenarios.append(load_scenario(path))
        except ScenarioInvalid as error:
            stderr().print(error_line(error, "invalid"))
            code = ScenarioInvalid.exit_code
    if scenarios:
        console.print(styled(scenario_table(scenarios, now=datetime.now(UTC))))
    return code


def scenario_files(paths: Sequence[Path]) -> list[Path]:
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
