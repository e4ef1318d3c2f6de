"""A history that is down, slow, locked or unwritable: one HistoryUnavailable with the reason,
within the store's timeout, never a hang or a stray exception."""

from __future__ import annotations

import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_coordinator.history import HistoryUnavailable, open_store

from tests.conftest import free_port
from tests.integration.history.sample_runs import crash_scenario, finished
from tests.unit.report import sample_result

TIMEOUT = 1.0


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never says a word (a server hung or a firewall)."""
    listener = socket.create_server(("127.0.0.1", free_port()), backlog=16)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


async def record(url: str) -> str:
    async with open_store(url, timeout=TIMEOUT) as store:
        return await store.record(
            crash_scenario(), finished("r1", sample_result.START), platform="local", source="c"
        )


async def test_a_server_that_is_down(tmp_path: Path) -> None:
    url = f"postgresql://tc:secret@127.0.0.1:{free_port()}/history"
    with pytest.raises(HistoryUnavailable) as caught:
        await record(url)
    message = str(caught.value)
    assert message.startswith(f"postgresql://tc:***@127.0.0.1:{url.split(':')[3]}")
    assert "writing the run" in message and "refused" in message.lower()
    assert "secret" not in message


async def test_a_server_that_never_answers(silent_port: int) -> None:
    began = time.monotonic()
    with pytest.raises(HistoryUnavailable, match=f"no answer within {TIMEOUT:g}s"):
        await record(f"postgresql://tc@127.0.0.1:{silent_port}/history")
    assert time.monotonic() - began < TIMEOUT * 3


async def test_a_locked_file_fails_the_write_then_the_next_one_goes_through(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with open_store(sqlite_url, timeout=TIMEOUT) as store:
        assert await store.runs() == []  # the file and its schema exist
        holder = sqlite3.connect(tmp_path / "history.db", isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            began = time.monotonic()
            with pytest.raises(HistoryUnavailable, match="database is locked"):
                await store.record(
                    crash_scenario(), finished("r1", sample_result.START), platform="l", source="c"
                )
            assert time.monotonic() - began < TIMEOUT * 3
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        run = finished("r2", sample_result.START)
        assert await store.record(crash_scenario(), run, platform="l", source="c") == "r2"


async def test_a_file_that_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "plain-file").write_text("not a directory")
    with pytest.raises(HistoryUnavailable, match=r"plain-file/history\.db: writing the run: "):
        await record(f"sqlite:///{tmp_path}/plain-file/history.db")
