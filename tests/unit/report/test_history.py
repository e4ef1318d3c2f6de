"""`test-coordinator history`: the table of runs, the trend's lines, the JSON document."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from test_coordinator.history.records import RunRecord
from test_coordinator.history.trend import TrendPoint, compute_trend
from test_coordinator.report.history import history_document, runs_table, trend_lines
from test_coordinator.scenario.status import Phase, Verdict

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def record(run_id: str, minutes_ago: float, **fields: object) -> RunRecord:
    values: dict[str, object] = {
        "run_id": run_id,
        "scenario": "crash",
        "namespace": "",
        "source": "/s/crash.yaml",
        "platform": "local",
        "started_at": NOW - timedelta(minutes=minutes_ago),
        "finished_at": None,
        "phase": Phase.SUCCEEDED,
        "verdict": Verdict.PASS,
        "recovery_seconds": 1.234,
        "duration_seconds": 4.56,
        "message": "",
        "spec_hash": "a",
    }
    return RunRecord(**{**values, **fields})  # type: ignore[arg-type]


def test_runs_table_columns_and_padding() -> None:
    runs = [
        record("r2", 5, scenario="[bold]odd", namespace="trading"),
        record("r1", 90, phase=Phase.INVALID, verdict=None, recovery_seconds=None,
               duration_seconds=300.0),
    ]  # fmt: skip
    lines = runs_table(runs, now=NOW, zone=UTC, one_scenario=False).splitlines()
    assert [re.split(r" {3,}", line) for line in lines] == [
        ["RUN", "SCENARIO", "STARTED", "AGE", "PLATFORM", "VERDICT", "RECOVERY", "DURATION"],
        ["r2", "trading/[bold]odd", "2026-03-01 11:55:00", "5m", "local", "Pass", "1.23s", "4.6s"],
        ["r1", "crash", "2026-03-01 10:30:00", "90m", "local", "Invalid", "5m"],
    ]
    starts = [lines[0].index(column) for column in ("STARTED", "VERDICT", "DURATION")]
    assert [lines[1].index(cell) for cell in ("2026", "Pass", "4.6s")] == starts
    assert lines[2].index("Invalid") == starts[1] and lines[2].endswith("   5m")


def test_one_scenarios_table_leaves_its_name_out() -> None:
    [header, row] = runs_table([record("r1", 1)], now=NOW, zone=UTC, one_scenario=True).splitlines()
    assert "SCENARIO" not in header and "crash" not in row


def points(verdicts: str) -> list[TrendPoint]:
    verdict = {"P": Verdict.PASS, "F": Verdict.FAIL}
    return [
        TrendPoint(f"r{i}", NOW + timedelta(hours=i), verdict[v], 1.0 + i, "a")
        for i, v in enumerate(verdicts)
    ]


def test_trend_lines() -> None:
    trend = compute_trend("crash", points("PFPF"), since=NOW - timedelta(days=7))
    assert trend_lines(trend, zone=UTC) == [
        "crash: 4 runs since 2026-02-22 12:00",
        "  pass rate     50% (2 of 4 judged passed)",
        "  recovery      p50 2.00s   p95 4.00s   max 4.00s",
        "  last change   Pass -> Fail at 2026-03-01 15:00:00 (run r3)",
        "  flaky         yes: the verdict flipped 3 times with the scenario unchanged",
    ]


def test_the_json_document_is_camel_case_with_iso_times() -> None:
    trend = compute_trend("crash", points("PP"), since=None)
    document = history_document([record("r1", 1)], trend, history="sqlite:////h.db")
    [run] = document["runs"]
    assert run["runId"] == "r1" and run["startedAt"] == "2026-03-01T11:59:00+00:00"
    assert (run["phase"], run["verdict"], run["recoverySeconds"]) == ("Succeeded", "Pass", 1.234)
    assert document["trend"]["passRate"] == 1.0 and document["trend"]["lastChange"] is None
    assert document["history"] == "sqlite:////h.db"
