"""A scenario's trend: pass rate, recovery percentiles, the last change, flaky or not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from test_coordinator.history.trend import TrendPoint, compute_trend, percentile
from test_coordinator.scenario.status import Verdict

P, F, INC = Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def points(
    verdicts: str, *, specs: str = "", recoveries: list[float | None] | None = None
) -> list[TrendPoint]:
    """One point an hour: verdicts as letters (P, F, I, - for none), specs as letters."""
    by_letter = {"P": P, "F": F, "I": INC, "-": None}
    specs = specs or "a" * len(verdicts)
    recoveries = recoveries or [1.0] * len(verdicts)
    return [
        TrendPoint(f"r{i}", T0 + timedelta(hours=i), by_letter[v], recoveries[i], specs[i])
        for i, v in enumerate(verdicts)
    ]


def test_pass_rate_counts_only_pass_and_fail() -> None:
    trend = compute_trend("s", points("PPFI-P"), since=None)
    assert (trend.runs, trend.passed, trend.failed) == (6, 3, 1)
    assert trend.pass_rate == 0.75


def test_no_judged_run_has_no_pass_rate() -> None:
    assert compute_trend("s", points("I-"), since=None).pass_rate is None


def test_recovery_percentiles_are_nearest_rank_over_measured_runs() -> None:
    recoveries: list[float | None] = [float(n) for n in range(1, 41)]
    recoveries[3] = None  # 39 measured: 1, 2, 3, 5 … 40
    trend = compute_trend("s", points("P" * 40, recoveries=recoveries), since=None)
    assert (trend.recovery_p50, trend.recovery_p95, trend.recovery_max) == (21.0, 39.0, 40.0)
    assert percentile([], 50) is None
    assert percentile([3.0], 95) == 3.0


def test_points_in_any_order() -> None:
    trend = compute_trend("s", list(reversed(points("PPPF"))), since=None)
    assert trend.last_change is not None and trend.last_change.run_id == "r3"


def test_a_regression_is_one_change_not_flaky() -> None:
    trend = compute_trend("s", points("PPPFFF"), since=None)
    assert trend.last_change is not None
    assert (trend.last_change.before, trend.last_change.after) == (P, F)
    assert trend.last_change.at == T0 + timedelta(hours=3)
    assert trend.flips == 1 and not trend.flaky


def test_alternating_verdicts_on_one_spec_are_flaky() -> None:
    trend = compute_trend("s", points("PFPP"), since=None)
    assert trend.flips == 2 and trend.flaky
    assert trend.last_change is not None and trend.last_change.run_id == "r2"


def test_inconclusive_runs_neither_flip_nor_hide_a_flip() -> None:
    assert compute_trend("s", points("PIPIP"), since=None).flips == 0
    assert compute_trend("s", points("PIF-P"), since=None).flips == 2


def test_verdicts_that_change_with_the_spec_are_not_flaky() -> None:
    trend = compute_trend("s", points("PFPF", specs="aabb"), since=None)
    assert trend.flips == 2 and not trend.flaky  # each spec changed verdict once
    assert trend.spec_changes == 1
    assert trend.last_change is not None and trend.last_change.run_id == "r3"


def test_flips_of_one_spec_around_another_are_flaky() -> None:
    trend = compute_trend("s", points("PFPPF", specs="aabaa"), since=None)
    assert trend.flaky and trend.spec_changes == 2


def test_a_steady_scenario_has_no_change() -> None:
    trend = compute_trend("s", points("PPP"), since=T0)
    assert trend.last_change is None and trend.flips == 0 and trend.since == T0
