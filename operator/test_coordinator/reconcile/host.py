"""Where one scenario lives, as the reconciler sees it: the adapter each front end implements.

The reconciler (``reconciler.py``) decides when to run, runs, keeps history and undoes what is
left; a host says where the document comes from and where everything goes:

    what                    Kubernetes (controller/)           files (service/)
    the document            the resource, from kopf's events   the file in the watched directory
    generation              metadata.generation                a counter bumped when the spec's
                                                               hash changes (a state file)
    status                  the status subresource             written back into the file
    events                  Kubernetes Events                  log lines
    abort request           annotation, cleared by a patch     annotation in the file, removed
                                                               from it; or the API's abort
    a run's platform        Kubernetes, in its namespace       compose or local, as configured
    the journal             status.faults, written first       a JournalFile in the state dir
    after a crash           status.faults still applied        journal files of the dead runner
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from test_coordinator.engine import Journal
from test_coordinator.platforms.base import Platform
from test_coordinator.scenario.model import TIMED_FAULTS, ChaosScenario
from test_coordinator.scenario.status import FaultStatus, ScenarioStatus

__all__ = [
    "ABORT_ANNOTATION",
    "Desired",
    "EventSink",
    "JournalKeeper",
    "ScenarioHost",
    "outstanding",
]

ABORT_ANNOTATION = "chaos.tse.dev/abort"
"""Set to "true" on a resource or in a file's metadata: abort the runs in progress."""


@dataclass(frozen=True)
class Desired:
    """What the scenario's owner asks for now."""

    document: Mapping[str, Any]
    """What the scenario model reads: apiVersion, kind, metadata (name, namespace, labels,
    annotations) and spec; never status or server fields."""
    generation: int
    """Bumped by every change of the spec, and only by one."""
    may_run: bool = True
    """Whether a fault may land now (Kubernetes: the finalizer is on, no deletion pending)."""
    created_at: datetime | None = None
    """Where a schedule counts from before the first run."""
    abort_requested: bool = False


class EventSink(Protocol):
    """What happened, for people: Events on a resource, or log lines. Never blocks a run."""

    def normal(self, reason: str, message: str) -> None: ...

    def warning(self, reason: str, message: str) -> None: ...

    async def drain(self) -> None:
        """Wait for whatever is still being posted."""


class JournalKeeper(Protocol):
    """A run's journal where it outlives the process (the engine's ``persist`` hook)."""

    async def save(self, journal: Journal) -> None: ...

    def close(self) -> None:
        """The run is over: forget it, unless something could not be undone."""


def outstanding(fault: FaultStatus) -> bool:
    """A recorded timed fault not known to be undone."""
    return fault.action in TIMED_FAULTS and fault.reverted_at is None


class ScenarioHost(ABC):
    """One scenario's home: the reconciler's only way in and out."""

    events: EventSink

    @abstractmethod
    def __str__(self) -> str:
        """The scenario as logs and messages name it."""

    @abstractmethod
    async def write_status(self, status: ScenarioStatus) -> None:
        """Show ``status`` where the scenario lives; raise when it cannot be written."""

    @abstractmethod
    async def clear_abort_request(self) -> None:
        """Remove the abort request, so that the next run is not aborted at once."""

    @abstractmethod
    def platform(self, scenario: ChaosScenario) -> Platform:
        """A platform for one run of ``scenario`` (the reconciler starts and closes it)."""

    @abstractmethod
    def undo_platform(self) -> Platform | None:
        """A platform to undo recorded faults on (started and closed by the reconciler); None
        where faults do not outlive their run (a local stack stops with it)."""

    def journal(
        self, run_id: str, scenario: ChaosScenario, platform: Platform
    ) -> JournalKeeper | None:
        """Where a run's journal is kept; None: the status is the journal (written, and
        required to succeed, before each fault lands)."""
        return None

    def recorded_faults(self, shown: ScenarioStatus) -> list[FaultStatus]:
        """Faults a previous process recorded and may have left applied."""
        return [fault for fault in shown.faults if outstanding(fault)]

    async def recovered(self, remaining: list[FaultStatus]) -> None:
        """The recorded faults were undone, all but ``remaining``."""

    def generation_observed(self, generation: int) -> None:
        """A run of ``generation`` started, or its spec was refused: remember it."""
