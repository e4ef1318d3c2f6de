"""Which platform ``serve`` runs its scenarios on: one compose project, or a local stack per run
(the scenario's own stack file, else the demo), as ``run --platform`` would."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from test_coordinator.platforms.base import Platform
from test_coordinator.platforms.local import platform_for
from test_coordinator.scenario.model import ChaosScenario

__all__ = ["PlatformChoice"]


@dataclass(frozen=True)
class PlatformChoice:
    name: str  # "compose" or "local"
    project: str | None = None  # the compose project
    log_dir: Path | None = None  # where a local stack's services write

    def for_run(self, scenario: ChaosScenario, path: Path) -> Platform:
        if self.name == "compose":
            return self._compose(holder=f"{scenario.metadata.name} (serve, pid {os.getpid()})")
        return platform_for(scenario, path, log_dir=self.log_dir)

    def for_undo(self) -> Platform | None:
        """Compose faults outlive a runner; a local stack stops with its run."""
        return self._compose() if self.name == "compose" else None

    def journal_key(self) -> str | None:
        return self._compose().journal_key() if self.name == "compose" else None

    def _compose(self, holder: str | None = None) -> Platform:
        from test_coordinator.platforms.compose import ComposePlatform  # the Docker SDK

        assert self.project is not None
        return ComposePlatform(self.project, holder=holder)
