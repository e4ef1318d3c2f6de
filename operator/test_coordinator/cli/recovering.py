"""``recover``: undo what runs whose runner died left applied, from their journal files."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from test_coordinator.engine.journal_file import Leftover, journal_directory, leftovers, repair
from test_coordinator.errors import TestCoordinatorError
from test_coordinator.platforms.base import Platform
from test_coordinator.report.text import Printer, styled

__all__ = ["compose_platform", "recover", "recover_command"]

_LEASE_SECONDS = 10.0  # a recovery applies nothing: the lease is moot


def compose_platform(project: str | None, *, lease: float, holder: str | None = None) -> Platform:
    from test_coordinator.platforms.compose import ComposePlatform, project_name  # Docker SDK

    return ComposePlatform(project or project_name(Path()), lease_seconds=lease, holder=holder)


async def recover(platform: Platform, leftover: Leftover, console: Printer) -> bool:
    """Undo what a dead runner left; False when something could not be undone."""
    console.print(
        styled(
            f"run {leftover.run_id} of {leftover.scenario} ended without undoing its faults "
            f"(runner pid {leftover.runner_pid} is gone):",
            style="yellow",
        )
    )
    lines = await repair(platform, leftover)
    for line in lines or ["nothing was still applied"]:
        console.print(styled(f"  {line}", style="yellow"))
    return not any(line.startswith("could not") for line in lines)


def recover_command(args: argparse.Namespace, console: Printer) -> int:
    """Undo the faults of every run whose runner died (compose projects on this engine)."""

    async def recover_all() -> int:
        found = [
            leftover
            for leftover in leftovers(journal_directory())
            if args.project in (None, leftover.where.get("project"))
        ]
        if not found:
            console.print(styled("nothing to recover: no run left a fault behind"))
            return 0
        code = 0
        for leftover in found:
            platform = compose_platform(leftover.where.get("project"), lease=_LEASE_SECONDS)
            if leftover.platform != platform.name or platform.journal_key() != leftover.key:
                console.print(
                    styled(f"skipped run {leftover.run_id}: {leftover.key} is not reachable here")
                )
                code = TestCoordinatorError.exit_code
                continue
            async with platform:
                if not await recover(platform, leftover, console):
                    code = TestCoordinatorError.exit_code
        return code

    return asyncio.run(recover_all())
