"""Names in the scenario (targets) turned into workloads and addresses on the platform."""

from __future__ import annotations

from collections.abc import Mapping

from test_coordinator.platforms.base import Platform, Workload
from test_coordinator.scenario.model import TargetSpec

__all__ = ["TargetResolver"]


class TargetResolver:
    """The ``EndpointResolver`` checks use: target name and port to ``host:port`` strings."""

    def __init__(self, platform: Platform, targets: Mapping[str, TargetSpec]) -> None:
        self.platform = platform
        self.targets = targets

    async def workloads(self, target: str) -> list[Workload]:
        return await self.platform.select(self.targets[target].selector)

    async def endpoints(self, target: str | None, port: int | str) -> list[str]:
        if target is None:
            raise LookupError("the check names no target")
        workloads = await self.workloads(target)
        if not workloads:
            raise LookupError(f"target {target!r} selects no workload right now")
        return [await self.platform.endpoint(workload, port) for workload in workloads]

    async def workload_ready(self, kind: str, name: str) -> tuple[bool, str]:
        return await self.platform.workload_ready(kind, name)
