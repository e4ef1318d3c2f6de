"""A scenario's recent recoveries as a tiny inline SVG: a line through each run's recovery
time, a red dot on the baseline for a run that failed, a gap for a run that measured none."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from test_coordinator.history.records import RunRecord
from test_coordinator.scenario.status import Verdict

__all__ = ["sparkline"]


def sparkline(runs: Sequence[RunRecord], *, width: int = 120, height: int = 24) -> str:
    """``runs`` oldest first."""
    if not runs:
        return ""
    pad = 3.0
    highest = max((run.recovery_seconds or 0.0 for run in runs), default=0.0) or 1.0
    step = (width - 2 * pad) / max(1, len(runs) - 1)

    def x(index: int) -> float:
        return round(pad + index * step if len(runs) > 1 else width / 2, 1)

    def y(seconds: float) -> float:
        return round(height - pad - (seconds / highest) * (height - 2 * pad), 1)

    lines: list[list[str]] = [[]]
    marks = []
    for index, run in enumerate(runs):
        if run.recovery_seconds is None:
            if lines[-1]:
                lines.append([])
        else:
            lines[-1].append(f"{x(index)},{y(run.recovery_seconds)}")
        if run.verdict is Verdict.FAIL:
            marks.append(
                f'<circle class="spark-fail" cx="{x(index)}" cy="{height - pad}" r="2">'
                f"<title>{escape(run.run_id)}: Fail</title></circle>"
            )
    parts = [
        f'<svg class="spark" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(_label(runs), quote=True)}"><title>{escape(_label(runs))}</title>'
    ]
    for points in lines:
        if len(points) == 1:
            cx, cy = points[0].split(",")
            parts.append(f'<circle class="spark-point" cx="{cx}" cy="{cy}" r="1.5"/>')
        elif points:
            parts.append(f'<polyline class="spark-line" points="{" ".join(points)}"/>')
    parts += marks
    parts.append("</svg>")
    return "".join(parts)


def _label(runs: Sequence[RunRecord]) -> str:
    measured = [run.recovery_seconds for run in runs if run.recovery_seconds is not None]
    if not measured:
        return f"recovery of the last {len(runs)} runs: none measured"
    return (
        f"recovery of the last {len(runs)} runs: from {min(measured):.2f}s to "
        f"{max(measured):.2f}s, latest {measured[-1]:.2f}s"
    )
