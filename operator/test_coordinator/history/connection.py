"""An async engine for a history URL, set up for several writers at once.

SQLite: WAL (readers never wait for a writer), a busy timeout shorter than the store's own (a
locked file fails the write with "database is locked" before the caller's deadline), and real
transactions: the driver's own implicit BEGIN is turned off and ours emitted instead, ``BEGIN
IMMEDIATE`` for a writing transaction so that two writers queue on the lock rather than fail
when one upgrades a read. PostgreSQL (asyncpg): connect and statement timeouts, and a pool that
checks a connection before handing it out, so a restarted server costs no run.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from test_coordinator.history.config import HistoryUrl

__all__ = ["WRITING", "create_engine", "writing"]

WRITING = "test_coordinator_writing"
"""Execution option: this connection's transactions write (SQLite: ``BEGIN IMMEDIATE``)."""


def create_engine(url: HistoryUrl, *, timeout: float) -> AsyncEngine:
    if url.kind == "sqlite":
        return _sqlite_engine(url, timeout=timeout)
    return create_async_engine(
        make_url(url.text).set(drivername="postgresql+asyncpg"),
        pool_pre_ping=True,
        pool_size=2,
        max_overflow=4,
        connect_args={"timeout": timeout, "command_timeout": timeout},
    )


async def writing(connection: AsyncConnection) -> AsyncConnection:
    """``connection``, its next transactions marked as writing."""
    return await connection.execution_options(**{WRITING: True})


def _sqlite_engine(url: HistoryUrl, *, timeout: float) -> AsyncEngine:
    assert url.path is not None
    url.path.parent.mkdir(parents=True, exist_ok=True)
    busy = max(0.05, timeout * 0.8)
    engine = create_async_engine(f"sqlite+aiosqlite:///{url.path}", connect_args={"timeout": busy})

    @event.listens_for(engine.sync_engine, "connect")
    def _connected(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None  # we say BEGIN; see _begin
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        # In WAL, NORMAL loses no committed transaction to a crash of the process, only
        # (perhaps) the last ones to a power cut; FULL would cost an fsync per run.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(WRITING, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
