"""The dashboard's pages as HTML text: every scenario, one scenario's runs, one run (the HTML
report's own section, timeline chart included), and a run in progress.

Self-contained like the report: inline CSS and SVG, one small script served by the dashboard
itself (live updates), nothing from elsewhere. Every value that came from a scenario or a run
goes through ``escape``; names in links are percent-encoded as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from urllib.parse import quote

from test_coordinator.history.records import RunRecord, ScenarioSummary
from test_coordinator.history.trend import Trend
from test_coordinator.report.html_report import CSS, scenario_section, timeline_chart
from test_coordinator.report.listing import human_duration
from test_coordinator.scenario.model import ChaosScenario
from test_coordinator.scenario.status import Phase, ScenarioStatus, Verdict
from test_coordinator.web.live import LiveRun
from test_coordinator.web.sparkline import sparkline

__all__ = [
    "LIVE_SCRIPT",
    "index_page",
    "live_list",
    "live_run_page",
    "live_run_section",
    "message_page",
    "run_page",
    "run_url",
    "scenario_page",
    "scenario_url",
]

SCRIPT_PATH = "/_dashboard/live.js"

# Follows a server-sent event stream named by the element's data-events: each "update" is a
# fragment the server rendered (and escaped); "finished" reloads the page, now a stored run.
LIVE_SCRIPT = """\
"use strict";
for (const box of document.querySelectorAll("[data-events]")) {
  const events = new EventSource(box.dataset.events);
  events.addEventListener("update", (event) => { box.innerHTML = event.data; });
  events.addEventListener("finished", () => {
    events.close();
    setTimeout(() => location.reload(), 500);
  });
}
"""

_DASHBOARD_CSS = """
nav { margin: .4em 0 1em; color: #5b6671; } nav a { color: inherit; }
a { color: #1f5fa8; }
.scroll { overflow-x: auto; }
svg.spark { width: auto; height: auto; max-width: 100%; vertical-align: middle; }
.spark-line { fill: none; stroke: #1f5fa8; stroke-width: 1.5; }
.spark-point { fill: #1f5fa8; } .spark-fail { fill: #c62f2f; }
.live { border-left: 4px solid #e8901c; padding: .1em .9em; margin: 1em 0; background: #fffaf2; }
.step { font-weight: 600; }
.muted { color: #5b6671; }
.problem { border-left: 4px solid #c62f2f; padding: .3em .9em; background: #fff4f4; }
@media (max-width: 640px) {
  body { margin: .6em auto; font-size: 15px; }
  .wide { display: none; }
  th, td { padding: .25em .35em; }
}
"""


def scenario_url(name: str) -> str:
    return "/scenarios/" + quote(name, safe="")


def run_url(run_id: str) -> str:
    return "/runs/" + quote(run_id, safe="")


def _page(title: str, body: str, *, crumbs: Sequence[tuple[str, str]] = (), live: bool) -> str:
    links = ['<a href="/">scenarios</a>']
    links += [f'<a href="{escape(href)}">{escape(text)}</a>' for text, href in crumbs]
    script = f'<script src="{SCRIPT_PATH}" defer></script>' if live else ""
    # Without scripts, a page that follows a run refreshes itself instead.
    fallback = '<noscript><meta http-equiv="refresh" content="3"></noscript>' if live else ""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · test-coordinator</title>{fallback}"
        f"<style>{CSS}{_DASHBOARD_CSS}</style>{script}</head><body>"
        f"<nav>{' &rsaquo; '.join(links)}</nav>\n{body}\n</body></html>\n"
    )


def index_page(
    summaries: Sequence[ScenarioSummary],
    live: Sequence[LiveRun],
    *,
    now: datetime,
    problem: str | None = None,
) -> str:
    parts = ["<h1>Chaos scenarios</h1>"]
    parts.append(
        f'<section id="live" data-events="/_dashboard/live">{live_list(live, now=now)}</section>'
    )
    if problem is not None:
        parts.append(f'<p class="problem">history unavailable: {escape(problem)}</p>')
    elif not summaries:
        parts.append('<p class="muted">No run recorded yet.</p>')
    else:
        parts.append(_scenario_table(summaries, now=now))
    return _page("scenarios", "\n".join(parts), live=True)


def live_list(live: Sequence[LiveRun], *, now: datetime) -> str:
    """The index's "running now" part; the live stream sends it again as it changes."""
    if not live:
        return '<p class="muted">Nothing running.</p>'
    rows = "".join(
        f'<tr><td><a href="{escape(scenario_url(run.scenario))}">{escape(_name(run))}</a></td>'
        f'<td><a href="{escape(run_url(run.run_id))}">{escape(run.run_id)}</a></td>'
        f'<td class="step">{escape(run.step)}</td><td>{escape(_elapsed(run.status, now))}</td>'
        "</tr>"
        for run in live
    )
    return (
        '<div class="live"><h2>Running now</h2><div class="scroll"><table>'
        "<tr><th>scenario</th><th>run</th><th>now</th><th>for</th></tr>"
        f"{rows}</table></div></div>"
    )


def _scenario_table(summaries: Sequence[ScenarioSummary], *, now: datetime) -> str:
    rows = []
    for summary in summaries:
        last = summary.last
        rate = "" if summary.pass_rate is None else f"{summary.pass_rate:.0%}"
        rows.append(
            f'<tr><td><a href="{escape(scenario_url(summary.name))}">{escape(summary.name)}</a>'
            f"</td><td>{_badge(last.verdict, last.phase)}</td>"
            f'<td>{escape(rate)} <span class="muted">of {summary.runs}</span></td>'
            f"<td>{sparkline(summary.recent)}</td>"
            f'<td class="wide"><a href="{escape(run_url(last.run_id))}">'
            f"{escape(_age(last.started_at, now))} ago</a></td></tr>"
        )
    return (
        '<div class="scroll"><table class="scenarios"><tr><th>scenario</th><th>last verdict</th>'
        '<th>pass rate</th><th>recovery, last runs</th><th class="wide">last run</th></tr>'
        + "".join(rows)
        + "</table></div>"
    )


def scenario_page(
    name: str,
    trend: Trend | None,
    runs: Sequence[RunRecord],
    live: Sequence[LiveRun],
    *,
    now: datetime,
) -> str:
    parts = [f"<h1>{escape(name)}</h1>"]
    mine = [run for run in live if run.scenario == name]
    if mine:
        parts.append(live_list(mine, now=now))
    if trend is None:
        parts.append('<p class="muted">No run recorded.</p>')
        return _page(name, "\n".join(parts), live=False)
    parts.append(_trend_facts(trend))
    parts.append(f"<p>{sparkline(list(reversed(runs)), width=320, height=48)}</p>")
    rows = "".join(
        f'<tr><td><a href="{escape(run_url(run.run_id))}">{escape(run.run_id)}</a></td>'
        f"<td>{escape(_when(run.started_at))}</td>"
        f"<td>{_badge(run.verdict, run.phase)}</td>"
        f"<td>{escape(_seconds(run.recovery_seconds))}</td>"
        f'<td class="wide">{escape(run.platform)}</td>'
        f'<td class="wide">{escape(_seconds(run.duration_seconds))}</td>'
        f'<td class="wide">{escape(run.message)}</td></tr>'
        for run in runs
    )
    parts.append(
        '<div class="scroll"><table class="runs"><tr><th>run</th><th>started</th>'
        '<th>verdict</th><th>recovery</th><th class="wide">platform</th>'
        '<th class="wide">duration</th><th class="wide">message</th></tr>'
        f"{rows}</table></div>"
    )
    return _page(name, "\n".join(parts), live=bool(mine))


def _trend_facts(trend: Trend) -> str:
    facts = [("runs", f"{trend.runs} (all kept)")]
    if trend.pass_rate is not None:
        judged = trend.passed + trend.failed
        facts.append(("pass rate", f"{trend.pass_rate:.0%} ({trend.passed} of {judged} judged)"))
    if trend.recovery_max is not None:
        recovery = (
            f"p50 {_seconds(trend.recovery_p50)} · p95 {_seconds(trend.recovery_p95)} · "
            f"max {_seconds(trend.recovery_max)}"
        )
        facts.append(("recovery", recovery))
    change = trend.last_change
    if change is not None:
        facts.append(
            ("last change", f"{change.before.value} → {change.after.value} at {_when(change.at)}")
        )
    facts.append(
        ("flaky", f"yes: {trend.flips} flips, scenario unchanged" if trend.flaky else "no")
    )
    rows = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts)
    return f'<dl class="trend">{rows}</dl>'


def run_page(scenario: ChaosScenario, status: ScenarioStatus) -> str:
    name = scenario.metadata.name
    crumbs = [(name, scenario_url(name)), (status.run_id or "run", run_url(status.run_id or ""))]
    title = f"{name}: {_verdict_text(status.verdict, status.phase)}"
    return _page(title, scenario_section(scenario, status), crumbs=crumbs, live=False)


def live_run_page(run: LiveRun, *, now: datetime) -> str:
    crumbs = [(run.scenario, scenario_url(run.scenario)), (run.run_id, run_url(run.run_id))]
    events = escape(run_url(run.run_id) + "/events")
    body = (
        f'<h1>{escape(run.scenario)} <span class="muted">running</span></h1>'
        f'<section id="live-run" data-events="{events}">{live_run_section(run, now=now)}'
        "</section>"
    )
    return _page(f"{run.scenario}: running", body, crumbs=crumbs, live=True)


def live_run_section(run: LiveRun, *, now: datetime) -> str:
    """What a run in progress has done so far; the run's stream sends it again as it moves."""
    status = run.status
    steps = "".join(
        f"<tr><td>{escape(step.name)}</td><td>{escape(step.phase.value)}</td>"
        f"<td>{escape(step.message)}</td></tr>"
        for step in status.steps
    )
    checks = "".join(
        f"<tr><td>{escape(check.name)}</td><td>{escape(check.when.value)}</td>"
        f'<td class="{"pass" if check.passed else "fail"}">'
        f"{'pass' if check.passed else 'FAIL'}</td><td>{escape(check.observed)}</td></tr>"
        for check in status.checks
    )
    return (
        f'<div class="live"><p>now: <span class="step">{escape(run.step)}</span> · '
        f"run {escape(run.run_id)} · for {escape(_elapsed(status, now))}</p></div>"
        f"<h3>Timeline</h3>{timeline_chart(status)}"
        '<h3>Steps</h3><div class="scroll"><table><tr><th>step</th><th>phase</th>'
        f"<th>message</th></tr>{steps}</table></div>"
        f'<h3>Checks so far</h3><p class="muted checks-count">{len(status.checks)} finished</p>'
        '<div class="scroll"><table class="checks"><tr><th>check</th><th>when</th>'
        f"<th>result</th><th>observed</th></tr>{checks}</table></div>"
    )


def message_page(title: str, message: str) -> str:
    return _page(title, f"<h1>{escape(title)}</h1><p>{escape(message)}</p>", live=False)


def _name(run: LiveRun) -> str:
    return f"{run.namespace}/{run.scenario}" if run.namespace else run.scenario


def _badge(verdict: Verdict | None, phase: Phase) -> str:
    css = verdict.value if verdict else "none"
    return f'<span class="verdict {css}">{escape(_verdict_text(verdict, phase))}</span>'


def _verdict_text(verdict: Verdict | None, phase: Phase) -> str:
    return verdict.value if verdict else phase.value


def _elapsed(status: ScenarioStatus, now: datetime) -> str:
    return "" if status.started_at is None else _age(status.started_at, now)


def _age(moment: datetime, now: datetime) -> str:
    return human_duration((now - moment).total_seconds())


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}s"
