"""Several processes writing one history at once, from its first run: no run lost, no error,
the database intact. SQLite: six CLI-like processes on one file; PostgreSQL: four writers."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from test_coordinator.history import open_store

RUNS_EACH = 10


def run_writers(url: str, go: Path, count: int) -> None:
    """Start ``count`` writers, wait until each is ready, say go, wait until each is done."""
    processes = []
    for index in range(count):
        command = [sys.executable, "-m", "tests.integration.history.writer", url, str(go)]
        command += [f"w{index}", str(RUNS_EACH)]
        processes.append(subprocess.Popen(command, stderr=subprocess.PIPE, text=True))
    ready = [Path(f"{go}.w{index}.ready") for index in range(count)]
    deadline = time.monotonic() + 60
    while not all(path.exists() for path in ready):
        assert time.monotonic() < deadline, "the writers did not start"
        assert all(process.poll() is None for process in processes), "a writer died"
        time.sleep(0.01)
    go.touch()
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr


async def every_run_is_there(url: str, count: int) -> None:
    async with open_store(url) as store:
        stored = await store.runs(limit=10_000)
        trend = await store.trend("crash-api")
    expected = {f"w{w}-{i}" for w in range(count) for i in range(RUNS_EACH)}
    assert sorted(run.run_id for run in stored) == sorted(expected)
    assert trend is not None and trend.runs == len(expected)


@pytest.mark.timeout(300)
async def test_six_processes_on_one_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    await asyncio.to_thread(run_writers, f"sqlite:///{path}", tmp_path / "go", 6)
    await every_run_is_there(f"sqlite:///{path}", 6)
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


@pytest.mark.timeout(300)
async def test_four_processes_on_one_postgresql_database(postgres_url: str, tmp_path: Path) -> None:
    await asyncio.to_thread(run_writers, postgres_url, tmp_path / "go", 4)
    await every_run_is_there(postgres_url, 4)
