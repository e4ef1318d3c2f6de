"""What a person watching the run sees: progress as it happens, then one table of checks.

On a terminal, rich colours and a spinner; elsewhere (CI logs, pipes) plain timestamped lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from rich.status import Status
from rich.table import Table

from test_coordinator.engine.journal import JournalEntry
from test_coordinator.engine.observer import RunObserver
from test_coordinator.report.text import Part, Printer, styled
from test_coordinator.scenario.durations import format_duration
from test_coordinator.scenario.status import CheckStatus, ScenarioStatus, Verdict

__all__ = ["TerminalObserver", "render_suite", "render_summary"]

# Every value here came from a scenario or a service: lines are Lines built by ``styled``, never
# a str a console would read as markup.

_VERDICT_STYLE = {Verdict.PASS: "bold green", Verdict.FAIL: "bold red"}


class TerminalObserver(RunObserver):
    def __init__(self, console: Printer, *, scenario: str) -> None:
        self.console = console
        self.scenario = scenario
        self._spinner: Status | None = None

    def _line(self, *parts: Part, style: str = "") -> None:
        stamp = datetime.now().strftime("%H:%M:%S.%f")[:-3]
        self.console.print(styled((stamp, "dim"), " ", *parts, style=style), soft_wrap=True)

    def run_started(self, status: ScenarioStatus) -> None:
        self._line(f"run {status.run_id} of scenario ", (self.scenario, "bold"), " started")
        if self.console.is_terminal:
            self._spinner = self.console.status(styled("starting").as_text())
            self._spinner.start()

    def stage(self, text: str) -> None:
        self._line(text)
        if self._spinner is not None:
            self._spinner.update(styled(text).as_text())

    def fault_applied(self, entry: JournalEntry) -> None:
        self._line(f"  {entry.fault.action} {entry.workload.id}: {entry.message}", style="yellow")

    def fault_reverted(self, entry: JournalEntry) -> None:
        self._line(f"  reverted {entry.fault.action} on {entry.workload.id}", style="yellow")

    def check_finished(self, check: CheckStatus) -> None:
        recovery = "" if check.recovery_seconds is None else f" after {check.recovery_seconds:.2f}s"
        self._line("  ", _result(check), f" {check.when} {check.name}{recovery}: {check.observed}")

    def run_finished(self, status: ScenarioStatus) -> None:
        if self._spinner is not None:
            self._spinner.stop()
            self._spinner = None


def _result(check: CheckStatus) -> tuple[str, str]:
    if check.passed:
        return ("pass", "green")
    return ("could not run", "yellow") if check.inconclusive else ("FAIL", "red")


def render_summary(console: Printer, name: str, status: ScenarioStatus) -> None:
    table = Table(title=styled(f"{name}: {status.phase}").as_text(), title_justify="left")
    for column in ("check", "when", "result", "observed", "recovery"):
        table.add_column(column, overflow="fold")
    for check in status.checks:
        table.add_row(
            styled(check.name),
            styled(check.when + (f" ({check.step})" if check.step else "")),
            styled(_result(check)),
            styled(check.observed),
            "" if check.recovery_seconds is None else format_duration(check.recovery_seconds),
        )
    if status.checks:
        console.print(table)
    for fault in status.faults:
        reverted = f", reverted {fault.reverted_at:%H:%M:%S}" if fault.reverted_at else ""
        console.print(
            styled(
                f"fault {fault.action} {fault.workload} at {fault.applied_at:%H:%M:%S}{reverted}: "
                f"{fault.message}"
            )
        )
    verdict = status.verdict.value if status.verdict else status.phase.value
    style = _VERDICT_STYLE.get(status.verdict, "bold yellow") if status.verdict else "bold red"
    recovery = (
        f"  recovery {status.recovery_seconds:.2f}s" if status.recovery_seconds is not None else ""
    )
    console.print(styled((verdict, style), f"{recovery}  {status.message}"))


_OUTCOME_BY_EXIT = {0: ("pass", "green"), 1: ("FAIL", "red"), 2: ("INVALID", "red")}


def render_suite(console: Printer, outcomes: Sequence[tuple[Path, int]]) -> None:
    """One line per scenario of a suite, after their own summaries."""
    table = Table(title=styled("resilience suite").as_text(), title_justify="left")
    table.add_column("scenario", overflow="fold")
    table.add_column("result")
    for path, code in outcomes:
        outcome = _OUTCOME_BY_EXIT.get(code, (f"ERROR (exit {code})", "red"))
        table.add_row(styled(str(path)), styled(outcome))
    console.print(table)
