"""The one interface every platform implements: select workloads, fault them, undo, address them.

A platform knows nothing of scenarios' steps or checks' verdicts: the engine drives it.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from test_coordinator.errors import PlatformError
from test_coordinator.scenario.model import FaultSpec
from test_coordinator.scenario.status import FaultStatus

__all__ = ["Applied", "FaultHeld", "Platform", "Workload"]


@dataclass(frozen=True)
class Workload:
    """One thing a fault can hit: a local process, a compose container, a pod."""

    id: str
    labels: Mapping[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Applied:
    """What applying a fault did, as the platform saw it."""

    message: str
    graceful: bool | None = None
    """For a fault that stops a workload (``restart``, ``stop``): whether it exited within its
    grace period (False: it needed SIGKILL). None where there was nothing to stop."""


class FaultHeld(PlatformError):
    """The fault's object is held by another scenario's fault (a scale, an isolation): applying
    this one now would cut the other short, or be cut short by it. Try again once released."""


class Platform(ABC):
    name: ClassVar[str]
    faults: ClassVar[frozenset[str]]
    """Fault actions this platform can apply; a scenario asking for another one is invalid."""
    targets_may_appear: ClassVar[bool] = False
    """Whether a selection that is empty now may fill on its own (pods recreated by their
    controller): then the engine waits for it; elsewhere an empty selection is bad input."""
    owns_stack: ClassVar[bool] = False
    """Whether the platform starts what it runs on (the local stack) and stops it after."""
    reports_graceful_stop: ClassVar[bool] = True
    """Whether ``Applied.graceful`` is known for ``restart`` and ``stop``."""
    holder: str | None = None
    """Who this platform's faults are held as where they name their holder (a network fault's
    toxics): a run's journal keeps it, so that undoing its leftovers spares what others set."""

    async def start(self) -> None:
        """Bring up whatever the platform owns (the local stack); nothing on a cluster."""

    async def close(self) -> None:
        """Release what ``start`` brought up. Faults are reverted by the engine before this."""

    @abstractmethod
    async def select(self, selector: Mapping[str, str]) -> list[Workload]:
        """Every workload whose labels include all of ``selector``, in a stable order."""

    def journal_key(self) -> str | None:
        """What a run's journal file is about (a compose project on an engine), where faults
        outlive a runner that dies; None where they die with it (the local stack)."""
        return None

    async def inventory(self) -> list[Workload]:
        """Every workload there is, to name in a message when a selector matches none."""
        return await self.select({})

    @abstractmethod
    async def apply(self, fault: FaultSpec, workload: Workload) -> Applied:
        """Apply ``fault`` to one workload; returns what happened, for the report."""

    @abstractmethod
    async def revert(self, fault: FaultSpec, workload: Workload) -> str:
        """Undo a timed fault (start the stopped, resume the paused); idempotent."""

    async def revert_left(self, fault: FaultSpec, workload: Workload, *, holder: str | None) -> str:
        """Undo a fault that a runner which died left, held as ``holder`` (its journal's; None
        in a journal that predates holders): as ``revert``, except that what another holder
        has set since stays."""
        return await self.revert(fault, workload)

    @abstractmethod
    async def endpoint(self, workload: Workload, port: int | str) -> str:
        """``host:port`` where ``workload`` serves ``port`` (a number or a declared port name)."""

    async def fault_targets(self, fault: FaultSpec, chosen: Sequence[Workload]) -> list[Workload]:
        """What ``fault`` lands on for the workloads the mode chose: the workloads themselves,
        unless the fault acts on what owns them (a pod's Deployment, for ``scale``)."""
        return list(chosen)

    async def fault_problem(self, fault: FaultSpec, workload: Workload) -> str | None:
        """Why ``fault`` cannot land on ``workload`` here, asked before anything is touched (a
        network fault on a port no proxy fronts: the answer says what to add); None if it can."""
        return None

    async def explain(self, faults: Sequence[FaultStatus]) -> list[str]:
        """What the platform knows that explains a run's figures, for people (on compose: a
        recovery that was mostly Docker's restart backoff). Called after the run."""
        return []

    async def workload_ready(self, kind: str, name: str) -> tuple[bool, str]:
        """Whether the ``kind`` named ``name`` is fully up, and what was seen."""
        return False, f"the {self.name} platform cannot tell whether a {kind} is ready"

    async def between_observations(self, seconds: float) -> None:
        """A check's pause between two observations: ``seconds``, or less where the platform
        sees a workload become ready again (the local stack): the check then observes at once,
        and a recovery is seen when it happens rather than up to an interval later."""
        await asyncio.sleep(seconds)

    async def __aenter__(self) -> Platform:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
