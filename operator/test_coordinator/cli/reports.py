"""The reports of runs for people and for machines, and ``report``."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

from test_coordinator.cli.printing import error_line, stderr
from test_coordinator.errors import ScenarioInvalid, TestCoordinatorError
from test_coordinator.report.text import Printer, styled
from test_coordinator.scenario.model import ChaosScenario
from test_coordinator.scenario.status import ScenarioStatus

__all__ = ["Results", "report_command", "write_reports", "written"]

Results = Sequence[tuple[ChaosScenario, ScenarioStatus]]


def report_command(args: argparse.Namespace, console: Printer) -> int:
    from test_coordinator.cli.history import stored_run
    from test_coordinator.report.files import read_results

    if not args.html and not args.markdown:
        raise ScenarioInvalid("report: nothing to write: give --html OUT, --markdown OUT or both")
    if (args.result is None) == (args.run is None):
        raise ScenarioInvalid("report: give a result file (saved with --json) or --run RUN_ID")
    results = read_results(args.result) if args.run is None else [stored_run(args)]
    return 0 if write_reports(args, results, console) else TestCoordinatorError.exit_code


def write_reports(args: argparse.Namespace, results: Results, console: Printer) -> bool:
    """The reports for people, and where they went; False when one could not be written."""
    done = True
    for path, write, what in (
        (args.html, _write_html, "HTML report"),
        (args.markdown, _write_markdown, "Markdown summary"),
    ):
        if path is None:
            continue
        if written(path, results, write=write):
            console.print(styled(f"{what}: {path.resolve()}"))
        else:
            done = False
    return done


# Each imported only when its report is asked for: a run without one ends sooner.
def _write_html(path: Path, results: Results) -> None:
    from test_coordinator.report.html_report import write_html

    write_html(path, results)


def _write_markdown(path: Path, results: Results) -> None:
    from test_coordinator.report.markdown import write_markdown

    write_markdown(path, results)


def written(path: Path, results: Results, *, write: Callable[[Path, Results], None]) -> bool:
    """Whether ``write`` wrote ``path``; if not, why, on stderr (a directory, no permission)."""
    try:
        write(path, results)
    except OSError as error:
        stderr().print(error_line(f"cannot write {path}: {error.strerror or error}"))
        return False
    return True
