"""The recovery sparkline: a line per stretch of measured runs, a dot per failed run."""

from __future__ import annotations

import re

from test_coordinator.scenario.status import Verdict
from test_coordinator.web.sparkline import sparkline

from tests.unit.report.test_history import record


def test_gaps_break_the_line_and_failures_are_dots() -> None:
    runs = [
        record("a", 5, recovery_seconds=1.0),
        record("b", 4, recovery_seconds=2.0),
        record("c", 3, recovery_seconds=None, verdict=Verdict.FAIL),
        record("d", 2, recovery_seconds=4.0),
        record("e", 1, recovery_seconds=3.0),
    ]
    svg = sparkline(runs, width=100, height=20)
    lines = re.findall(r'<polyline class="spark-line" points="([^"]+)"', svg)
    assert len(lines) == 2  # a, b | d, e
    first = [tuple(map(float, p.split(","))) for p in lines[0].split()]
    second = [tuple(map(float, p.split(","))) for p in lines[1].split()]
    assert first[0][0] < first[1][0] < second[0][0] < second[1][0]  # oldest on the left
    assert second[0][1] == 3.0  # the highest recovery at the top (y = pad)
    assert svg.count('class="spark-fail"') == 1
    assert "from 1.00s to 4.00s, latest 3.00s" in svg


def test_one_measured_run_is_a_point_and_none_is_nothing() -> None:
    assert 'class="spark-point"' in sparkline([record("a", 1)])
    assert sparkline([]) == ""
    assert "none measured" in sparkline([record("a", 1, recovery_seconds=None)])
