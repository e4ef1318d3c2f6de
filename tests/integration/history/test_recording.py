"""Recording from a front end: results written then pruned, problems returned as lines; and
retention as a background task for long-lived processes."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta

from test_coordinator.history import enforce_retention, open_store, record_results
from test_coordinator.scenario.status import utcnow

from tests.conftest import free_port
from tests.integration.history.sample_runs import crash_scenario, finished


async def test_results_are_recorded_then_old_runs_pruned(sqlite_url: str) -> None:
    scenario = crash_scenario()
    async with open_store(sqlite_url) as store:
        await store.record(scenario, finished("ancient", utcnow() - timedelta(days=400)),
                           platform="local", source="c")  # fmt: skip
        results = [(scenario, finished(f"new{i}", utcnow()), "c.yaml") for i in range(2)]
        recorded = await record_results(
            store, results, platform="local", retention=timedelta(days=90)
        )
        kept = [run.run_id for run in await store.runs()]
    assert recorded.run_ids == ["new0", "new1"] and recorded.problems == []
    assert sorted(kept) == ["new0", "new1"]


async def test_a_store_that_is_down_gives_one_line_and_no_wait_per_run() -> None:
    scenario = crash_scenario()
    results = [(scenario, finished(f"r{i}", utcnow()), "c.yaml") for i in range(3)]
    async with open_store(f"postgresql://tc@127.0.0.1:{free_port()}/h", timeout=1) as store:
        recorded = await record_results(store, results, platform="local", retention=None)
    assert recorded.run_ids == []
    [problem] = recorded.problems
    assert problem.startswith("history not written: postgresql://tc@127.0.0.1:")


async def test_retention_enforced_in_the_background(sqlite_url: str) -> None:
    async with open_store(sqlite_url) as store:
        await store.record(crash_scenario(), finished("old", utcnow() - timedelta(days=8)),
                           platform="local", source="c")  # fmt: skip
        await store.record(crash_scenario(), finished("new", utcnow()), platform="l", source="c")
        task = asyncio.create_task(
            enforce_retention(store, retention=timedelta(days=7), every=0.05)
        )
        try:
            deadline = time.monotonic() + 10
            while [run.run_id for run in await store.runs()] != ["new"]:
                assert time.monotonic() < deadline, "the old run was never pruned"
                await asyncio.sleep(0.02)
            assert not task.done()
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
