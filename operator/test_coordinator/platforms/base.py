"""The one interface every platform implements: select workloads, fault them, undo, address them.

A platform knows nothing of scenarios' steps or checks' verdicts: the engine drives it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from test_coordinator.scenario.model import FaultSpec

__all__ = ["Platform", "Workload"]


@dataclass(frozen=True)
class Workload:
    """One thing a fault can hit: a local process, a compose container, a pod."""

    id: str
    labels: Mapping[str, str] = field(default_factory=dict, compare=False)


class Platform(ABC):
    name: ClassVar[str]
    faults: ClassVar[frozenset[str]]
    """Fault actions this platform can apply; a scenario asking for another one is invalid."""

    async def start(self) -> None:
        """Bring up whatever the platform owns (the local stack); nothing on a cluster."""

    async def close(self) -> None:
        """Release what ``start`` brought up. Faults are reverted by the engine before this."""

    @abstractmethod
    async def select(self, selector: Mapping[str, str]) -> list[Workload]:
        """Every workload whose labels include all of ``selector``, in a stable order."""

    @abstractmethod
    async def apply(self, fault: FaultSpec, workload: Workload) -> str:
        """Apply ``fault`` to one workload; returns what happened, for the report."""

    @abstractmethod
    async def revert(self, fault: FaultSpec, workload: Workload) -> str:
        """Undo a timed fault (start the stopped, resume the paused); idempotent."""

    @abstractmethod
    async def endpoint(self, workload: Workload, port: int | str) -> str:
        """``host:port`` where ``workload`` serves ``port`` (a number or a declared port name)."""

    async def fault_targets(self, fault: FaultSpec, chosen: Sequence[Workload]) -> list[Workload]:
        """What ``fault`` lands on for the workloads the mode chose: the workloads themselves,
        unless the fault acts on what owns them (a pod's Deployment, for ``scale``)."""
        return list(chosen)

    async def workload_ready(self, kind: str, name: str) -> tuple[bool, str]:
        """Whether the ``kind`` named ``name`` is fully up, and what was seen."""
        return False, f"the {self.name} platform cannot tell whether a {kind} is ready"

    async def __aenter__(self) -> Platform:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
