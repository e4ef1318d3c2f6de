"""What a run observed, in the same shape on every platform: the resource's ``status``."""

# No ``from __future__ import annotations`` here: pydantic would evaluate every annotation from
# its string as each class is made: ~10 ms of every start-up, model.py and status.py together.

from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic.json_schema import SkipJsonSchema

__all__ = [
    "CheckSamples",
    "CheckStatus",
    "Condition",
    "FaultStatus",
    "Phase",
    "RunSummary",
    "ScenarioStatus",
    "StepStatus",
    "Verdict",
    "When",
    "carry_transition_times",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


class StatusModel(BaseModel):
    # Lenient on input: a status written by a newer version must still load (its enums: see
    # LENIENT). Built on first use (``defer_build``): start-up time, as SpecModel.
    model_config = ConfigDict(
        extra="ignore", alias_generator=to_camel, populate_by_name=True, defer_build=True
    )


class Phase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ABORTED = "Aborted"
    INVALID = "Invalid"
    ERROR = "Error"


TERMINAL_PHASES = frozenset(
    {Phase.SUCCEEDED, Phase.FAILED, Phase.ABORTED, Phase.INVALID, Phase.ERROR}
)


class Verdict(StrEnum):
    PASS = "Pass"
    FAIL = "Fail"
    INCONCLUSIVE = "Inconclusive"


class When(StrEnum):
    STEADY_STATE = "steadyState"
    FAULT = "fault"  # what the fault itself must satisfy (requireGracefulStop)
    DURING = "during"
    AFTER = "after"
    FINAL_STEADY_STATE = "finalSteadyState"
    AUDIT = "audit"


LENIENT = Field(strict=False)
"""For an enum field of the status. An enum that more than one field uses becomes a shared
definition, which pydantic-core builds with the outermost model's config: inside the strict
scenario document the status's own lenient config does not reach it; said on the field, it
does (the other fields are built inline, with the status's config)."""


class Condition(StatusModel):
    """kstatus style: ``Reconciling``, ``Ready``, ``Stalled``."""

    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str = ""
    message: str = ""
    last_transition_time: datetime = Field(default_factory=utcnow)


def carry_transition_times(
    conditions: Iterable[Condition], known: Iterable[Condition]
) -> list[Condition]:
    """``conditions`` with each ``lastTransitionTime`` kept from ``known`` (the last value shown
    of each type) where its status did not change: the time of a transition, not of a write."""
    last = {condition.type: condition for condition in known}
    carried = []
    for condition in conditions:
        before = last.get(condition.type)
        if before is not None and before.status == condition.status:
            condition = condition.model_copy(
                update={"last_transition_time": before.last_transition_time}
            )
        carried.append(condition)
    return carried


class StepStatus(StatusModel):
    name: str
    phase: Annotated[Phase, LENIENT] = Phase.PENDING
    started_at: datetime | None = None
    finished_at: datetime | None = None
    message: str = ""


class CheckStatus(StatusModel):
    name: str
    when: Annotated[When, LENIENT]
    step: str | None = None
    passed: bool
    observed: str = Field(default="", description="what the last deciding observation saw")
    observations: int = 0
    success_rate: float | None = None
    recovery_seconds: float | None = None
    longest_failure_seconds: float | None = None
    longest_failure_at: datetime | None = Field(
        default=None, description="when the longest run of failures began"
    )
    inconclusive: bool = Field(
        default=False,
        description="failed because it could not look (audit trail unreachable, the "
        "coordinator's own reads of the platform failing)",
    )
    at: datetime | None = Field(default=None, description="time of the deciding observation")


class CheckSamples(StatusModel):
    """One check's observations over time, for the report's timeline chart."""

    name: str
    when: Annotated[When, LENIENT]
    step: str | None = None
    offsets: list[float] = Field(description="seconds from the run's start to each observation")
    passed: str = Field(description="one character per observation: 1 passed, 0 failed")
    notes: dict[int, str] = Field(
        default={}, description="what was seen, at each index where the result changed"
    )
    dropped: int = Field(default=0, description="observations left out to keep the list short")


class FaultStatus(StatusModel):
    step: str
    target: str
    workload: str
    action: str
    applied_at: datetime = Field(description="the fault's first action (signal, API call)")
    completed_at: datetime | None = Field(
        default=None, description="when applying it was done (after a grace period, say)"
    )
    reverted_at: datetime | None = Field(
        default=None, description="the undo's first action, once the undo has succeeded"
    )
    message: str = ""


class RunSummary(StatusModel):
    run_id: str
    phase: Annotated[Phase, LENIENT]
    verdict: Annotated[Verdict, LENIENT] | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    recovery_seconds: float | None = None


class ScenarioStatus(StatusModel):
    phase: Annotated[Phase, LENIENT] = Phase.PENDING
    verdict: Annotated[Verdict, LENIENT] | None = None
    observed_generation: int | None = None
    run_id: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    recovery_seconds: float | None = Field(default=None, description="worst after-check")
    message: str = ""
    conditions: list[Condition] = []
    steps: list[StepStatus] = []
    checks: list[CheckStatus] = []
    faults: list[FaultStatus] = []
    history: list[RunSummary] = []
    audit_sink: str | None = Field(
        default=None, description="what became of the coordinator's own audit events"
    )
    # Out of the resource's status and its schema: a run makes thousands of observations. The
    # JSON result carries them beside the status, for the report's timeline.
    samples: SkipJsonSchema[list[CheckSamples]] = Field(default=[], exclude=True)
