"""One self-contained HTML page per result (or suite): summary, a timeline chart, the checks.

No script, no external resource: inline CSS and SVG only, so the page opens from a CI artifact,
an e-mail or an air-gapped machine alike. In the chart, faults are bands (dark while the fault
is in effect, light until the step's checks saw the system recover) and each check is a row of
marks, one per observation, green when it passed and red when it failed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from html import escape
from itertools import pairwise
from pathlib import Path

from test_coordinator.report.timeline import Band, Row, Timeline, layout, ticks
from test_coordinator.scenario.durations import format_duration
from test_coordinator.scenario.model import ChaosScenario
from test_coordinator.scenario.status import CheckStatus, ScenarioStatus

__all__ = ["CSS", "render_html", "scenario_section", "timeline_chart", "write_html"]

_WIDTH = 1000
_LABEL = 270  # the label column; the plot takes the rest
_PLOT = _WIDTH - _LABEL - 20
_ROW = 22
_TOP = 44  # fault labels and the time axis
_MARK = 3

Scale = Callable[[float], float]
"""Seconds from the run's start to an x coordinate."""

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d232a;
  margin: 2em auto; max-width: 1060px; padding: 0 1em; }
h1 { font-size: 1.4em; } h2 { margin-top: 2em; border-bottom: 1px solid #d8dde3; }
.verdict { padding: .1em .55em; border-radius: .3em; color: #fff; font-size: .85em; }
.Pass { background: #23883f; } .Fail { background: #c62f2f; }
.Inconclusive, .none { background: #a86c00; }
table { border-collapse: collapse; width: 100%; margin: .6em 0 1.4em; }
th, td { text-align: left; padding: .3em .6em; border-bottom: 1px solid #e4e8ec;
  vertical-align: top; }
th { background: #f3f5f7; font-weight: 600; }
td.pass { color: #23883f; } td.fail { color: #c62f2f; font-weight: 600; }
td.unrun { color: #a86c00; font-weight: 600; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2em 1.2em; }
dt { color: #5b6671; } dd { margin: 0; }
svg { width: 100%; height: auto; font-size: 11px; }
svg .label { fill: #1d232a; } svg .axis { fill: #5b6671; }
svg .grid { stroke: #e4e8ec; } svg .lane { fill: #f7f8fa; }
svg .pass { fill: #23883f; } svg .fail { fill: #c62f2f; }
svg .run-pass { fill: #23883f; opacity: .16; } svg .run-fail { fill: #c62f2f; opacity: .2; }
svg .fault { fill: #e8901c; opacity: .35; } svg .fault-edge { stroke: #b86a00; }
svg .recovering { fill: #e8901c; opacity: .15; } svg .fault-label { fill: #8a5000; }
.chart { overflow-x: auto; }
td, dd { overflow-wrap: anywhere; }
@media (max-width: 640px) {
  .chart svg { min-width: 720px; }
  table { display: block; overflow-x: auto; }
}
.legend span { display: inline-block; margin-right: 1.2em; }
.legend i { display: inline-block; width: .9em; height: .9em; margin-right: .3em;
  vertical-align: -.1em; }
"""


def write_html(path: Path, results: Sequence[tuple[ChaosScenario, ScenarioStatus]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(results), encoding="utf-8")


def render_html(results: Sequence[tuple[ChaosScenario, ScenarioStatus]]) -> str:
    if len(results) == 1:
        title = f"{results[0][0].metadata.name}: {_verdict(results[0][1])}"
    else:
        title = f"resilience suite: {len(results)} scenarios"
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>test-coordinator: {escape(title)}</h1>",
    ]
    if len(results) > 1:
        parts.append(_suite_table(results))
    parts += [scenario_section(scenario, status) for scenario, status in results]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _verdict(status: ScenarioStatus) -> str:
    return status.verdict.value if status.verdict else status.phase.value


def _badge(status: ScenarioStatus) -> str:
    css = status.verdict.value if status.verdict else "none"
    return f'<span class="verdict {css}">{escape(_verdict(status))}</span>'


def _anchor(scenario: ChaosScenario) -> str:
    # The name's pattern keeps it safe in an attribute; escaped all the same, like every value.
    return escape(f"scenario-{scenario.metadata.name}")


def _suite_table(results: Sequence[tuple[ChaosScenario, ScenarioStatus]]) -> str:
    rows = []
    for scenario, status in results:
        rows.append(
            f'<tr><td><a href="#{_anchor(scenario)}">{escape(scenario.metadata.name)}</a></td>'
            f"<td>{_badge(status)}</td><td>{_seconds(status.recovery_seconds)}</td>"
            f"<td>{escape(status.message)}</td></tr>"
        )
    return (
        "<table><tr><th>scenario</th><th>verdict</th><th>recovery</th><th>message</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def scenario_section(scenario: ChaosScenario, status: ScenarioStatus) -> str:
    """One result: verdict, facts, the timeline chart, checks and faults (the dashboard's run
    page shows the same)."""
    name = escape(scenario.metadata.name)
    parts = [
        f'<section id="{_anchor(scenario)}">',
        f"<h2>{name} {_badge(status)}</h2>",
        f"<p>{escape(status.message)}</p>",
        _facts(scenario, status),
        "<h3>Timeline</h3>",
        timeline_chart(status),
        "<h3>Checks</h3>",
        _checks(status.checks),
    ]
    if status.faults:
        parts += ["<h3>Faults</h3>", _faults(status)]
    parts.append("</section>")
    return "\n".join(parts)


def timeline_chart(status: ScenarioStatus) -> str:
    """The chart and its legend alone (a run in progress has no verdict to head it)."""
    return f'<div class="chart">{_chart(layout(status))}</div>\n{_legend()}'


def _facts(scenario: ChaosScenario, status: ScenarioStatus) -> str:
    facts = [("phase", status.phase.value), ("recovery", _seconds(status.recovery_seconds))]
    if scenario.spec.description:
        facts.insert(0, ("scenario", scenario.spec.description))
    if status.run_id:
        facts.append(("run", status.run_id))
    if status.started_at:
        facts.append(("started", _time(status.started_at, seconds=True)))
    if status.started_at and status.finished_at:
        duration = (status.finished_at - status.started_at).total_seconds()
        facts.append(("duration", f"{duration:.2f}s"))
    if status.audit_sink:
        facts.append(("audit sink", status.audit_sink))
    rows = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts)
    return f"<dl>{rows}</dl>"


def _chart(timeline: Timeline) -> str:
    height = _TOP + max(1, len(timeline.rows)) * _ROW + 8
    scale = _PLOT / timeline.duration

    def x(seconds: float) -> float:
        return round(_LABEL + min(max(0.0, seconds), timeline.duration) * scale, 1)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {height}" '
        f'role="img" aria-label="timeline of faults and observations">'
    ]
    for index, row in enumerate(timeline.rows):
        y = _TOP + index * _ROW
        parts.append(
            f'<rect class="lane" x="{_LABEL}" y="{y + 2}" width="{_PLOT}" height="{_ROW - 4}"/>'
        )
        parts.append(
            f'<text class="label" x="{_LABEL - 8}" y="{y + _ROW / 2 + 4}" '
            f'text-anchor="end">{escape(_clip(row.label, 42))}<title>'
            f"{escape(row.label)}</title></text>"
        )
    for tick in ticks(timeline.duration):
        parts.append(
            f'<line class="grid" x1="{x(tick)}" x2="{x(tick)}" y1="{_TOP - 6}" y2="{height - 6}"/>'
        )
        parts.append(
            f'<text class="axis" x="{x(tick)}" y="{_TOP - 10}" '
            f'text-anchor="middle">{tick:g}s</text>'
        )
    parts += [_band(band, x, height) for band in timeline.bands]
    for index, row in enumerate(timeline.rows):
        parts += _row(row, _TOP + index * _ROW, x)
    parts.append("</svg>")
    return "\n".join(parts)


def _band(band: Band, x: Scale, height: int) -> str:
    top, bottom = _TOP - 4, height - 6
    parts = [f"<g><title>{escape(_band_title(band))}</title>"]
    if band.recovered is not None and band.recovered > band.end:
        parts.append(
            f'<rect class="recovering" x="{x(band.end)}" y="{top}" '
            f'width="{_width(x(band.recovered) - x(band.end), 1.0)}" '
            f'height="{bottom - top}"/>'
        )
    parts.append(
        f'<rect class="fault" x="{x(band.start)}" y="{top}" '
        f'width="{_width(x(band.end) - x(band.start), 2.0)}" height="{bottom - top}"/>'
    )
    parts.append(
        f'<line class="fault-edge" x1="{x(band.start)}" x2="{x(band.start)}" '
        f'y1="{top}" y2="{bottom}"/>'
    )
    parts.append(
        f'<text class="fault-label" x="{x(band.start) + 3}" y="12">'
        f"{escape(_clip(band.label, 40))}</text></g>"
    )
    return "".join(parts)


def _width(length: float, least: float) -> float:
    return round(max(least, length), 1)


def _band_title(band: Band) -> str:
    text = f"{band.label} at +{band.start:.2f}s"
    if band.end > band.start:
        text += f", reverted at +{band.end:.2f}s"
    if band.recovered is not None:
        text += f", recovered at +{band.recovered:.2f}s"
    return text


def _row(row: Row, y: int, x: Scale) -> list[str]:
    """A light bar per run of equal results (how long the system was down or up), and a mark
    per observation on top."""
    parts: list[str] = []
    marks = row.marks
    gaps = [b.at - a.at for a, b in pairwise(marks)]
    typical = sorted(gaps)[len(gaps) // 2] if gaps else 0.0
    start = 0
    for index in range(1, len(marks) + 1):
        if index < len(marks) and marks[index].passed is marks[start].passed:
            continue
        first, last = marks[start], marks[index - 1]
        until = marks[index].at if index < len(marks) else last.at + typical
        state = "pass" if first.passed else "fail"
        title = (
            f"{'passing' if first.passed else 'failing'} from +{first.at:.2f}s to "
            f"+{until:.2f}s ({index - start} observations): {first.note}"
        )
        parts.append(
            f'<rect class="run-{state}" x="{x(first.at)}" y="{y + 3}" '
            f'width="{_width(x(until) - x(first.at), 0.0)}" height="{_ROW - 6}">'
            f"<title>{escape(title)}</title></rect>"
        )
        start = index
    for mark in marks:
        state = "pass" if mark.passed else "fail"
        parts.append(
            f'<rect class="{state}" x="{x(mark.at) - _MARK / 2}" y="{y + 6}" '
            f'width="{_MARK}" height="{_ROW - 12}"><title>+{mark.at:.2f}s '
            f"{'pass' if mark.passed else 'FAIL'}: {escape(mark.note)}</title></rect>"
        )
    return parts


def _legend() -> str:
    items = [
        ("#23883f", "observation passed"),
        ("#c62f2f", "observation failed"),
        ("rgba(232,144,28,.6)", "fault in effect"),
        ("rgba(232,144,28,.2)", "until recovered"),
    ]
    spans = "".join(f'<span><i style="background:{c}"></i>{t}</span>' for c, t in items)
    return f'<p class="legend">{spans} · times in seconds from the start of the run</p>'


def _checks(checks: Sequence[CheckStatus]) -> str:
    head = (
        "<tr><th>check</th><th>when</th><th>result</th><th>observed</th>"
        "<th>success rate</th><th>recovery</th><th>longest outage</th></tr>"
    )
    rows = []
    for check in checks:
        if check.passed:
            result, css = "pass", "pass"
        elif check.inconclusive:
            result, css = "could not run", "unrun"
        else:
            result, css = "FAIL", "fail"
        when = check.when.value + (f" ({check.step})" if check.step else "")
        rate = "" if check.success_rate is None else f"{check.success_rate:.1%}"
        outage = ""
        if check.longest_failure_seconds is not None:
            outage = f"{check.longest_failure_seconds:.2f}s"
            if check.longest_failure_at is not None:
                outage += f" from {_time(check.longest_failure_at)}"
        cells = [check.name, when, result, check.observed, rate]
        cells += [_seconds(check.recovery_seconds), outage]
        tds = [f"<td>{escape(cell)}</td>" for cell in cells]
        tds[2] = f'<td class="{css}">{escape(result)}</td>'
        rows.append(f"<tr>{''.join(tds)}</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _faults(status: ScenarioStatus) -> str:
    head = (
        "<tr><th>step</th><th>fault</th><th>workload</th><th>applied</th><th>reverted</th>"
        "<th>what happened</th></tr>"
    )
    rows = []
    for fault in status.faults:
        reverted = _time(fault.reverted_at) if fault.reverted_at else ""
        cells = [fault.step, fault.action, fault.workload, _time(fault.applied_at), reverted]
        cells.append(fault.message)
        rows.append("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in cells) + "</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _seconds(value: float | None) -> str:
    return "" if value is None else format_duration(value)


def _time(moment: datetime, *, seconds: bool = False) -> str:
    if seconds:
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return moment.strftime("%H:%M:%S.%f")[:-3]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
