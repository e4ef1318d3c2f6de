"""The names users may rely on; a change here is a change of the public interface."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PUBLIC = {
    "test_coordinator.scenario": {
        "API_VERSION", "KIND", "AfterCheck", "ChaosScenario", "CheckSpec", "CheckStatus",
        "Condition", "Duration", "DuringCheck", "FaultSpec", "FaultStatus", "Mode", "Phase",
        "Probe", "ScenarioSpec", "ScenarioStatus", "SteadyStateCheck", "Step", "StepStatus",
        "TargetSpec", "Verdict", "When", "format_duration", "load_scenario", "parse_duration",
        "parse_scenario",
    },
    "test_coordinator.engine": {
        "Abort", "Journal", "JournalEntry", "JournalSink", "Observers", "RunObserver",
        "run_scenario",
    },
    "test_coordinator.platforms": {"Applied", "FaultHeld", "Platform", "Workload"},
    "test_coordinator.cli": {"main"},
    "test_coordinator.web": {"LiveBoard", "LiveRun", "LiveRuns", "add_dashboard"},
    "test_coordinator.history": {
        "DEFAULT_TIMEOUT", "ENVIRONMENT_VARIABLE", "HistoryError", "HistoryUnavailable",
        "HistoryUrl", "Recorded", "RunNotFound", "RunRecord", "RunStore", "ScenarioSummary",
        "Trend", "VerdictChange", "default_history_url", "enforce_retention",
        "history_url_from", "open_store", "parse_age", "parse_history_url", "record_results",
    },
    "test_coordinator.entry": {"main"},
}  # fmt: skip


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_names_are_exactly_these(module: str) -> None:
    imported = importlib.import_module(module)
    assert set(imported.__all__) == PUBLIC[module]
    for name in imported.__all__:
        assert hasattr(imported, name), name


def test_the_package_itself_imports_nothing() -> None:
    # In a fresh interpreter: this one has imported the submodules already.
    probe = "import sys, test_coordinator; print([m for m in sys.modules if 'test_coord' in m])"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "['test_coordinator']"
