"""``test-coordinator get``: scenario files as ``kubectl get chaosscenarios`` lists resources.

The columns are the CRD's printer columns; AGE is the time since the written-back run ended
(a file has no creation timestamp), in kubectl's own rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from test_coordinator.scenario.model import ChaosScenario

__all__ = ["COLUMNS", "human_duration", "scenario_table"]

COLUMNS = ("NAME", "PHASE", "VERDICT", "RECOVERY", "AGE")
_GAP = "   "


def scenario_table(scenarios: Sequence[ChaosScenario], *, now: datetime) -> str:
    """One line per scenario under a header, columns padded as kubectl pads them."""
    rows = [COLUMNS, *(_row(scenario, now) for scenario in scenarios)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(COLUMNS))]
    lines = [
        _GAP.join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines)


def _row(scenario: ChaosScenario, now: datetime) -> tuple[str, str, str, str, str]:
    status = scenario.status
    if status is None:
        return (scenario.metadata.name, "", "", "", "")
    recovery = "" if status.recovery_seconds is None else f"{status.recovery_seconds:.2f}s"
    ended = status.finished_at or status.started_at
    return (
        scenario.metadata.name,
        status.phase.value,
        status.verdict.value if status.verdict else "",
        recovery,
        "" if ended is None else human_duration((now - ended).total_seconds()),
    )


def human_duration(seconds: float) -> str:
    """kubectl's ``HumanDuration``: ``45s``, ``3m12s``, ``25m``, ``5h3m``, ``30h``, ``3d5h``."""
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"  # clocks a second apart: as good as now
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        return _pair(minutes, "m", whole % 60, "s")
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return _pair(hours, "h", minutes % 60, "m")
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return _pair(days, "d", hours % 24, "h")
    if hours < 24 * 365 * 2:
        return f"{days}d"
    if hours < 24 * 365 * 8:
        return _pair(days // 365, "y", days % 365, "d")
    return f"{days // 365}y"


def _pair(major: int, major_unit: str, minor: int, minor_unit: str) -> str:
    return f"{major}{major_unit}" + (f"{minor}{minor_unit}" if minor else "")
