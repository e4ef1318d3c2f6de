"""The run history from the command line: ``history``, ``report --run``, and recording runs."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from test_coordinator.cli.options import history_url
from test_coordinator.cli.printing import stderr
from test_coordinator.errors import ScenarioInvalid
from test_coordinator.history.config import HistoryUrl
from test_coordinator.report.text import Printer, styled

if TYPE_CHECKING:
    from test_coordinator.history import RunRecord, Trend
    from test_coordinator.scenario.model import ChaosScenario
    from test_coordinator.scenario.status import ScenarioStatus

__all__ = ["history_command", "record_history", "stored_run"]


def history_command(args: argparse.Namespace, console: Printer) -> int:
    url = history_url(args)
    if url is None:
        raise ScenarioInvalid("history: the history is off (--history off, or in the environment)")
    since = datetime.now(UTC) - args.since if args.since else None
    if url.path is not None and not url.path.exists():
        runs: list[RunRecord] = []
        trend = None
    else:
        runs, trend = asyncio.run(_read_history(url, args.name, since=since, limit=args.limit))
    if args.json:
        from test_coordinator.report.history import history_document

        document = history_document(runs, trend, history=url.display)
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return 0
    if not runs:
        what = f"of {args.name} " if args.name else ""
        console.print(styled(f"no runs {what}recorded in {url.display}"))
        return 0
    from test_coordinator.report.history import runs_table, trend_lines

    if trend is not None:
        console.print(styled("\n".join(trend_lines(trend))))
        console.print()
    table = runs_table(runs, now=datetime.now(UTC), one_scenario=args.name is not None)
    console.print(styled(table))
    return 0


async def _read_history(
    url: HistoryUrl, name: str | None, *, since: datetime | None, limit: int
) -> tuple[list[RunRecord], Trend | None]:
    from test_coordinator.history import open_store

    async with open_store(url, timeout=30) as store:
        runs = await store.runs(name, since=since, limit=limit)
        trend = await store.trend(name, since=since) if name and runs else None
    return runs, trend


def stored_run(args: argparse.Namespace) -> tuple[ChaosScenario, ScenarioStatus]:
    url = history_url(args)
    if url is None:
        raise ScenarioInvalid(
            "report --run: the history is off (--history off, or in the environment)"
        )
    from test_coordinator.history import RunNotFound, open_store

    if url.path is not None and not url.path.exists():
        raise RunNotFound(f"no run {args.run!r}: nothing recorded in {url.display}")

    async def load() -> tuple[ChaosScenario, ScenarioStatus]:
        async with open_store(url, timeout=30) as store:
            return await store.load_run(args.run)

    return asyncio.run(load())


def record_history(
    url: HistoryUrl,
    args: argparse.Namespace,
    results: Sequence[tuple[ChaosScenario, ScenarioStatus, Path]],
    console: Printer,
) -> None:
    """Each finished run into the history; a history that fails says so in one line and
    changes nothing else (the exit code is the run's)."""
    from test_coordinator.history import Recorded, open_store, record_results  # SQLAlchemy

    async def record() -> Recorded:
        async with open_store(url) as store:
            runs = [(scenario, status, str(path.resolve())) for scenario, status, path in results]
            return await record_results(
                store, runs, platform=args.platform, retention=args.history_retention
            )

    recorded = asyncio.run(record())
    if recorded.run_ids:
        console.print(styled(f"history: {url.display} (test-coordinator history)", style="dim"))
    for problem in recorded.problems:
        stderr().print(styled(problem, style="yellow"))
