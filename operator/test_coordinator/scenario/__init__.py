"""The scenario model: spec and status, YAML loading with errors that name file and field."""

from test_coordinator.scenario.durations import Duration, format_duration, parse_duration
from test_coordinator.scenario.loading import load_scenario, parse_scenario
from test_coordinator.scenario.model import (
    API_VERSION,
    KIND,
    AfterCheck,
    ChaosScenario,
    CheckSpec,
    DuringCheck,
    FaultSpec,
    Mode,
    Probe,
    ScenarioSpec,
    SteadyStateCheck,
    Step,
    TargetSpec,
)
from test_coordinator.scenario.status import (
    CheckStatus,
    Condition,
    FaultStatus,
    Phase,
    ScenarioStatus,
    StepStatus,
    Verdict,
    When,
)

__all__ = [
    "API_VERSION",
    "KIND",
    "AfterCheck",
    "ChaosScenario",
    "CheckSpec",
    "CheckStatus",
    "Condition",
    "Duration",
    "DuringCheck",
    "FaultSpec",
    "FaultStatus",
    "Mode",
    "Phase",
    "Probe",
    "ScenarioSpec",
    "ScenarioStatus",
    "SteadyStateCheck",
    "Step",
    "StepStatus",
    "TargetSpec",
    "Verdict",
    "When",
    "format_duration",
    "load_scenario",
    "parse_duration",
    "parse_scenario",
]
