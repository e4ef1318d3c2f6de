"""Recording from a front end: each finished run written, then old runs pruned, and whatever
went wrong returned as lines to show, never raised. For a one-shot command (``run``, ``demo``)
``record_results``; for a long-lived process (``serve``, the operator) ``enforce_retention`` as
a background task beside ``RunStore.record``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from test_coordinator.history.errors import HistoryUnavailable
from test_coordinator.history.store import RunStore
from test_coordinator.scenario.model import ChaosScenario
from test_coordinator.scenario.status import ScenarioStatus

__all__ = ["Recorded", "enforce_retention", "record_results"]

log = logging.getLogger(__name__)

PRUNE_BATCHES_PER_COMMAND = 4
"""A command prunes at most this many batches after its runs; a larger backlog goes next time."""


@dataclass
class Recorded:
    run_ids: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "history not written: …" and the like


async def record_results(
    store: RunStore,
    results: Sequence[tuple[ChaosScenario, ScenarioStatus, str]],
    *,
    platform: str,
    retention: timedelta | None,
) -> Recorded:
    """Record each (scenario, status, source); then prune what is older than ``retention``."""
    recorded = Recorded()
    for scenario, status, source in results:
        try:
            run_id = await store.record(scenario, status, platform=platform, source=source)
        except HistoryUnavailable as error:
            recorded.problems.append(f"history not written: {error}")
            return recorded  # the next one would wait for the same timeout
        recorded.run_ids.append(run_id)
    if retention is not None:
        try:
            await store.prune(retention, batches=PRUNE_BATCHES_PER_COMMAND)
        except HistoryUnavailable as error:
            recorded.problems.append(f"history: old runs not pruned: {error}")
    return recorded


async def enforce_retention(
    store: RunStore, *, retention: timedelta, every: float = 3600.0
) -> None:
    """Prune every ``every`` seconds, forever (cancel the task to stop); a failure is logged
    and tried again at the next tick, so runs never wait for it."""
    while True:
        try:
            deleted = await store.prune(retention)
        except HistoryUnavailable as error:
            log.warning("history retention not enforced: %s", error)
        else:
            if deleted:
                log.info("history: pruned %d runs older than %s", deleted, retention)
        await asyncio.sleep(every)
