"""A run on one time axis: where the bands and marks of the chart come from."""

from __future__ import annotations

import pytest
from test_coordinator.report.timeline import Band, layout, ticks
from test_coordinator.scenario.status import FaultStatus, Verdict, When

from tests.unit.report.sample_result import at, status


def test_a_timed_fault_is_in_effect_until_reverted_then_recovering() -> None:
    timeline = layout(status(verdict=Verdict.PASS))

    assert timeline.bands == [Band("pause api", 1.0, 3.0, recovered=3.4)]
    assert timeline.duration == 5.0


def test_a_kill_is_an_instant_then_recovering_until_the_step_recovered() -> None:
    result = status(verdict=Verdict.PASS)
    result.faults = [
        FaultStatus(step="freeze", target="api", workload="api", action="kill", applied_at=at(1.0))
    ]

    [band] = layout(result).bands

    assert (band.start, band.end, band.recovered) == (1.0, 1.0, 1.4)


def test_rows_follow_the_order_of_a_run_and_marks_carry_what_was_seen() -> None:
    rows = layout(status()).rows

    assert [row.when for row in rows] == [
        When.STEADY_STATE,
        When.DURING,
        When.AFTER,
        When.AFTER,
        When.AUDIT,
    ]
    during = rows[1]
    assert len(during.marks) == 25
    assert during.marks[6].note == "timed out after 300ms"  # the note of its run of failures
    assert (during.marks[17].passed, during.marks[17].note) == (True, "HTTP 200 in 2ms")
    # A check saved without samples still shows where its deciding observation was.
    assert [(m.at, m.passed) for m in rows[3].marks] == [(3.5, False)]


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        (1.3, [0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2]),
        (5.0, [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5]),
        (95, [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]),
    ],
)
def test_ticks_are_round_and_few(duration: float, expected: list[float]) -> None:
    assert ticks(duration) == expected
