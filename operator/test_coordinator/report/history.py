"""``test-coordinator history``: stored runs as a table, newest first, and one scenario's trend;
or both as JSON for scripts. Plain text, padded like ``get``: nothing in it is markup."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, tzinfo
from typing import Any

from test_coordinator.history.records import RunRecord
from test_coordinator.history.trend import Trend
from test_coordinator.report.listing import human_duration

__all__ = ["history_document", "runs_table", "trend_lines"]

_GAP = "   "


def runs_table(
    runs: Sequence[RunRecord], *, now: datetime, zone: tzinfo | None = None, one_scenario: bool
) -> str:
    """One line per run under a header; times in ``zone`` (the local zone by default)."""
    header = ["RUN", "SCENARIO", "STARTED", "AGE", "PLATFORM", "VERDICT", "RECOVERY", "DURATION"]
    rows = [_row(run, now=now, zone=zone) for run in runs]
    if one_scenario:
        del header[1]
        for row in rows:
            del row[1]
    table = [header, *rows]
    widths = [max(len(row[column]) for row in table) for column in range(len(header))]
    lines = [
        _GAP.join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in table
    ]
    return "\n".join(line.rstrip() for line in lines)


def _row(run: RunRecord, *, now: datetime, zone: tzinfo | None) -> list[str]:
    name = f"{run.namespace}/{run.scenario}" if run.namespace else run.scenario
    return [
        run.run_id,
        name,
        f"{run.started_at.astimezone(zone):%Y-%m-%d %H:%M:%S}",
        human_duration((now - run.started_at).total_seconds()),
        run.platform,
        run.verdict.value if run.verdict else run.phase.value,
        _seconds(run.recovery_seconds),
        _duration(run.duration_seconds),
    ]


def trend_lines(trend: Trend, *, zone: tzinfo | None = None) -> list[str]:
    window = f"since {trend.since.astimezone(zone):%Y-%m-%d %H:%M}" if trend.since else "(all kept)"
    lines = [f"{trend.scenario}: {trend.runs} run{'s' * (trend.runs != 1)} {window}"]
    judged = trend.passed + trend.failed
    if trend.pass_rate is None:
        lines.append("  pass rate     none judged (every run inconclusive or invalid)")
    else:
        lines.append(
            f"  pass rate     {trend.pass_rate:.0%} ({trend.passed} of {judged} judged passed)"
        )
    if trend.recovery_max is not None:
        lines.append(
            f"  recovery      p50 {_seconds(trend.recovery_p50)}   "
            f"p95 {_seconds(trend.recovery_p95)}   max {_seconds(trend.recovery_max)}"
        )
    change = trend.last_change
    if change is None:
        lines.append("  last change   none: the same verdict throughout")
    else:
        lines.append(
            f"  last change   {change.before.value} -> {change.after.value} at "
            f"{change.at.astimezone(zone):%Y-%m-%d %H:%M:%S} (run {change.run_id})"
        )
    if trend.flaky:
        lines.append(
            f"  flaky         yes: the verdict flipped {trend.flips} times with the scenario "
            "unchanged"
        )
    else:
        lines.append("  flaky         no")
    return lines


def history_document(
    runs: Sequence[RunRecord], trend: Trend | None, *, history: str
) -> dict[str, Any]:
    """For ``--json``: the runs and the trend, camelCase like every other JSON result."""
    return {
        "history": history,
        "runs": [_camel(asdict(run)) for run in runs],
        "trend": None if trend is None else _camel(asdict(trend)),
    }


def _camel(value: Any) -> Any:
    if isinstance(value, dict):
        return {_camel_key(key): _camel(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_camel(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "value"):  # an enum: Phase, Verdict
        return value.value
    return value


def _camel_key(key: str) -> str:
    first, *rest = key.split("_")
    return first + "".join(part.capitalize() for part in rest)


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}s"


def _duration(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.1f}s" if value < 120 else human_duration(value)
