"""The run store on SQLite and on PostgreSQL (a durable throwaway cluster: fsync on).

- a run's write: ``record`` of a full result (12 checks' worth of samples, faults) on an open
  store, the cost a long-lived process pays per run; and open + record + close, a CLI's cost.
- ``history NAME`` over 10,000 stored runs of NAME (and 2,000 of other scenarios): open the
  store, the newest 20 runs, the trend over all 10,000, the table and the trend rendered.
  Also the whole command as a process, for what Python's start-up and imports add to it.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection
from test_coordinator.history import open_store
from test_coordinator.history.store import RunStore
from test_coordinator.report.history import runs_table, trend_lines
from test_coordinator.scenario.status import Verdict, utcnow

from tests.integration.history.sample_runs import crash_scenario, finished
from tests.integration.postgres import PostgresMissing, postgres_bin_dir, postgres_cluster

WRITES = 200
COLD_WRITES = 20
STORED = 10_000
OTHERS = 2_000
FILL_BATCH = 500
READS = 7
WRITE_GOAL = 0.020
HISTORY_GOAL = 0.300
NAME = "crash-api"


def spread(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)]
    return f"median {statistics.median(ordered) * 1000:.1f}ms  p95 {p95 * 1000:.1f}ms"


def verdict(median: float, goal: float) -> str:
    return f"(goal ≤ {goal * 1000:.0f}ms: {'met' if median <= goal else 'MISSED'})"


async def writes(url: str) -> tuple[list[float], list[float]]:
    scenario = crash_scenario()
    warm, cold = [], []
    async with open_store(url) as store:
        await store.runs(limit=1)  # the engine made and the schema migrated: not a write
        for index in range(WRITES):
            status = finished(f"w{index}", utcnow())
            began = time.perf_counter()
            await store.record(scenario, status, platform="local", source="bench.yaml")
            warm.append(time.perf_counter() - began)
    for index in range(COLD_WRITES):
        status = finished(f"c{index}", utcnow())
        began = time.perf_counter()
        async with open_store(url) as store:
            await store.record(scenario, status, platform="local", source="bench.yaml")
        cold.append(time.perf_counter() - began)
    return warm, cold


async def fill(store: RunStore) -> None:
    """10,000 runs of NAME over 90 days and 2,000 of others, through the store's own insert,
    a transaction per 500 runs (10,000 commits would measure the disk, not the reads)."""
    start = utcnow() - timedelta(days=90)
    step = timedelta(days=90) / (STORED + OTHERS)
    scenarios = {NAME: crash_scenario(NAME), "other": crash_scenario("other")}
    runs = [
        (NAME if index % 6 else "other", start + index * step, index)
        for index in range(STORED + OTHERS)
    ]
    for first in range(0, len(runs), FILL_BATCH):
        batch = runs[first : first + FILL_BATCH]

        async def insert(
            connection: AsyncConnection, batch: list[tuple[str, datetime, int]] = batch
        ) -> None:
            for name, started, index in batch:
                status = finished(
                    f"f{index}",
                    started,
                    verdict=Verdict.FAIL if index % 17 == 0 else Verdict.PASS,
                    recovery=1.0 + (index % 50) / 25,
                )
                # The store's own insert, many to a transaction.
                await store._insert_run(
                    connection,
                    scenarios[name],
                    status,
                    run_id=f"f{index}",
                    platform="local",
                    source=f"{name}.yaml",
                )

        await store._bounded("filling", insert, write=True)


async def history_command(url: str) -> tuple[float, int]:
    """What ``test-coordinator history NAME`` does once its arguments are parsed."""
    began = time.perf_counter()
    async with open_store(url, timeout=30) as store:
        runs = await store.runs(NAME, limit=20)
        trend = await store.trend(NAME)
    assert trend is not None
    text = runs_table(runs, now=utcnow(), one_scenario=True) + "\n".join(trend_lines(trend))
    elapsed = time.perf_counter() - began
    assert len(text) > 0
    return elapsed, trend.runs


async def reads(url: str) -> list[float]:
    async with open_store(url, timeout=600) as store:
        await fill(store)
    times = []
    for _ in range(READS):
        elapsed, counted = await history_command(url)
        assert counted == STORED, counted
        times.append(elapsed)
    return times


def command_wall(url: str) -> float:
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "test_coordinator.cli", "history", NAME, "--history", url],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return time.perf_counter() - began


async def measure(label: str, write_url: str, read_url: str) -> None:
    warm, cold = await writes(write_url)
    print(f"history on {label}:")
    median = statistics.median(warm)
    print(
        f"  a run's write, store open ({WRITES} runs): {spread(warm)} {verdict(median, WRITE_GOAL)}"
    )
    print(f"  open + write + close, as a CLI run does ({COLD_WRITES} runs): {spread(cold)}")
    times = await reads(read_url)
    median = statistics.median(times)
    print(
        f"  history {NAME} over {STORED:,} runs (+{OTHERS:,} of another scenario), "
        f"{READS} times: {spread(times)} {verdict(median, HISTORY_GOAL)}"
    )
    wall = statistics.median(command_wall(read_url) for _ in range(3))
    print(f"  the same as a process, Python start-up and imports included: {wall * 1000:.0f}ms")


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-history-") as scratch:
        await measure(
            "SQLite (WAL, a file in /tmp)",
            f"sqlite:///{Path(scratch) / 'writes.db'}",
            f"sqlite:///{Path(scratch) / 'reads.db'}",
        )
    try:
        postgres_bin_dir()
    except PostgresMissing as error:
        print(f"history on PostgreSQL: not measured: {error}")
        return
    with postgres_cluster(durable=True) as cluster:
        await measure(
            "PostgreSQL (asyncpg, loopback, fsync on)",
            cluster.create_database("writes"),
            cluster.create_database("reads"),
        )
