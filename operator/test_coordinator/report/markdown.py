"""A short Markdown summary for CI job pages (a GitHub step summary, a merge-request note).

At a glance: a line per scenario with its verdict and recovery, the checks that failed; every
check in a collapsed ``<details>`` block below.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from test_coordinator.scenario.durations import format_duration
from test_coordinator.scenario.model import ChaosScenario
from test_coordinator.scenario.status import CheckStatus, ScenarioStatus

__all__ = ["render_markdown", "write_markdown"]


def write_markdown(path: Path, results: Sequence[tuple[ChaosScenario, ScenarioStatus]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_markdown(results), encoding="utf-8")


def render_markdown(results: Sequence[tuple[ChaosScenario, ScenarioStatus]]) -> str:
    lines = ["## Chaos scenarios", "", "| scenario | verdict | recovery | checks | message |"]
    lines.append("|---|---|---|---|---|")
    for scenario, status in results:
        passed = sum(1 for check in status.checks if check.passed)
        lines.append(
            _row(
                scenario.metadata.name,
                f"**{_verdict(status)}**",
                _seconds(status.recovery_seconds),
                f"{passed}/{len(status.checks)} passed",
                status.message,
            )
        )
    for scenario, status in results:
        lines += ["", f"### {_cell(scenario.metadata.name)}: {_verdict(status)}", ""]
        failed = [check for check in status.checks if not check.passed]
        if failed:
            lines += [*_checks(failed), ""]
        lines += ["<details><summary>every check</summary>", ""]
        lines += _checks(status.checks)
        lines += ["", "</details>"]
        if status.audit_sink:
            lines += ["", f"Audit sink: {_cell(status.audit_sink)}"]
    return "\n".join(lines) + "\n"


def _checks(checks: Sequence[CheckStatus]) -> list[str]:
    lines = ["| check | when | result | observed |", "|---|---|---|---|"]
    for check in checks:
        when = check.when.value + (f" ({check.step})" if check.step else "")
        result = "pass" if check.passed else "could not run" if check.inconclusive else "**FAIL**"
        lines.append(_row(check.name, when, result, check.observed))
    return lines


def _row(*cells: str) -> str:
    return "| " + " | ".join(_cell(cell) for cell in cells) + " |"


def _cell(text: str) -> str:
    """One table cell: no line breaks, no column separators, no stray HTML."""
    flat = " ".join(text.split())
    return flat.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")


def _verdict(status: ScenarioStatus) -> str:
    return status.verdict.value if status.verdict else status.phase.value


def _seconds(value: float | None) -> str:
    return "" if value is None else format_duration(value)
