"""The Markdown summary: a line per scenario, the failures in view, every check folded away."""

from __future__ import annotations

from test_coordinator.report import render_markdown
from test_coordinator.scenario.status import Verdict

from tests.unit.report.sample_result import scenario, status


def test_a_line_per_scenario_then_its_failed_checks_then_every_check_folded() -> None:
    markdown = render_markdown(
        [(scenario("first"), status()), (scenario("second"), status(verdict=Verdict.PASS))]
    )
    lines = markdown.splitlines()

    assert lines[:5] == [
        "## Chaos scenarios",
        "",
        "| scenario | verdict | recovery | checks | message |",
        "|---|---|---|---|---|",
        "| first | **Fail** | 400ms | 3/5 passed | api &lt;fast> (after of step 'freeze') "
        "failed: too \\| slow |",
    ]
    first = lines.index("### first: Fail")
    details = lines.index("<details><summary>every check</summary>", first)
    failed = lines[first:details]
    assert "| api &lt;fast> | after (freeze) | **FAIL** | too \\| slow |" in failed
    assert (
        "| no order lost | audit | could not run | cannot read audit:orders: connection refused |"
        in failed
    )
    assert "| api up | steadyState | pass | ok |" not in failed
    assert "| api up | steadyState | pass | ok |" in lines[details:]
    assert "Audit sink: wrote 4 events to stream chaos:audit on redis" in lines


def test_a_cell_never_breaks_the_table() -> None:
    result = status()
    result.checks[0].observed = "line one\nline | two"

    markdown = render_markdown([(scenario(), result)])

    assert "| api up | steadyState | pass | line one line \\| two |" in markdown
