"""The HTML page: self-contained, with a timeline of fault bands and observation marks."""

from __future__ import annotations

import re

from test_coordinator.report import render_html
from test_coordinator.scenario.status import Phase, ScenarioStatus, Verdict

from tests.unit.report.sample_result import scenario, status


def test_the_page_loads_nothing_from_anywhere() -> None:
    page = render_html([(scenario(), status())])

    assert "<script" not in page and "<link" not in page and " src=" not in page
    # The only URL is the SVG namespace, which is a name, not a request.
    assert re.findall(r"https?://[^\s\"'<]+", page) == ["http://www.w3.org/2000/svg"]
    assert "@import" not in page and "url(" not in page


def test_the_summary_shows_verdict_message_and_facts() -> None:
    page = render_html([(scenario(), status())])

    assert "<title>freeze-api: Fail</title>" in page
    assert '<span class="verdict Fail">Fail</span>' in page
    assert "api &lt;fast&gt; (after of step &#x27;freeze&#x27;) failed: too | slow" in page
    assert "<dt>audit sink</dt><dd>wrote 4 events to stream chaos:audit on redis</dd>" in page
    assert "<dt>duration</dt><dd>5.00s</dd>" in page


def test_the_fault_is_a_band_from_its_start_to_its_revert_then_until_recovered() -> None:
    page = render_html([(scenario(), status(verdict=Verdict.PASS))])
    # The plot runs from x=270 over 710 units for 5 s: 142 a second.
    [band] = re.findall(r'<rect class="fault" x="([\d.]+)" y="\d+" width="([\d.]+)"', page)
    [recovering] = re.findall(
        r'<rect class="recovering" x="([\d.]+)" y="\d+" width="([\d.]+)"', page
    )

    assert band == ("412.0", "284.0")  # 1 s to 3 s
    assert recovering == ("696.0", "56.8")  # 3 s to 3.4 s
    assert "<title>pause api at +1.00s, reverted at +3.00s, recovered at +3.40s</title>" in page


def test_a_step_that_did_not_recover_has_no_recovered_band() -> None:
    page = render_html([(scenario(), status(verdict=Verdict.FAIL))])

    assert 'class="recovering"' not in page
    assert "<title>pause api at +1.00s, reverted at +3.00s</title>" in page


def test_each_observation_is_a_mark_and_each_run_of_results_a_bar() -> None:
    page = render_html([(scenario(), status())])

    marks = re.findall(r'<rect class="(pass|fail)" x=', page)
    # 25 during, 5 after, and one mark for each check without samples (3).
    assert len(marks) == 25 + 5 + 3
    assert marks.count("fail") == 12 + 4 + 2  # the audit check and the failed after-check
    assert (
        "<title>failing from +1.00s to +3.40s (12 observations): timed out after 300ms</title>"
        in page
    )
    assert "<title>+3.40s pass: HTTP 200</title>" in page


def test_the_checks_table_tells_a_check_that_could_not_run_from_a_failure() -> None:
    page = render_html([(scenario(), status())])

    assert '<td class="fail">FAIL</td><td>too | slow</td>' in page
    assert '<td class="unrun">could not run</td>' in page
    assert "<td>52.0%</td><td></td><td>2.40s from 07:00:01.000</td>" in page


def test_a_suite_gets_a_table_linking_each_scenario() -> None:
    page = render_html(
        [(scenario("first"), status()), (scenario("second"), status(verdict=Verdict.PASS))]
    )

    assert "<title>resilience suite: 2 scenarios</title>" in page
    assert '<a href="#scenario-first">first</a>' in page
    assert '<section id="scenario-second">' in page
    assert page.count("<svg") == 2


def test_a_run_that_never_started_still_renders() -> None:
    invalid = ScenarioStatus(phase=Phase.INVALID, message="spec.targets.api: matches nothing")

    page = render_html([(scenario(), invalid)])

    assert '<span class="verdict none">Invalid</span>' in page
    assert "<svg" in page and 'class="fault"' not in page


INJECTED = "<img src=x onerror=alert(1)>\"'&"


def test_every_value_from_input_or_a_service_is_escaped() -> None:
    # Unvalidated copies: the model would refuse such a name; the page must not rely on it.
    chaos = scenario().model_copy(
        update={
            "spec": scenario().spec.model_copy(update={"description": INJECTED}),
            "metadata": scenario().metadata.model_copy(update={"name": INJECTED}),
        }
    )
    result = status()
    result.message = INJECTED
    result.audit_sink = INJECTED
    result.run_id = INJECTED
    for check in result.checks:
        check.name, check.observed, check.step = INJECTED, INJECTED, INJECTED
    for fault in result.faults:
        fault.step, fault.target, fault.workload, fault.message = (INJECTED,) * 4
    for samples in result.samples:
        samples.name, samples.step = INJECTED, INJECTED
        samples.notes = dict.fromkeys(samples.notes, INJECTED)

    page = render_html([(chaos, result), (scenario("second"), status())])

    assert "<img" not in page
    assert "onerror=alert(1)&gt;&quot;&#x27;&amp;" in page
    # Everything that is not the page's own markup: no tag but the ones it writes.
    tags = set(re.findall(r"<([a-zA-Z0-9]+)", page))
    assert tags <= {
        "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "section", "p",
        "dl", "dt", "dd", "table", "tr", "th", "td", "a", "span", "svg", "rect", "text", "line",
        "g", "i", "details", "summary", "div",
    }  # fmt: skip
