"""The schema brought to the newest revision, by Alembic, the first time a store is used.

Two processes may open a new database at once: on SQLite the migration runs in a ``BEGIN
IMMEDIATE`` transaction (the second waits for the first, then finds nothing to do); on
PostgreSQL under a transaction-scoped advisory lock. A database already at the newest revision
costs one read of ``alembic_version``, no lock, and not even Alembic's import: ``HEAD`` names
the newest revision (a test holds it to the scripts' own).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import Column, MetaData, String, Table, func, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from test_coordinator.history.connection import writing

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "HEAD",
    "UnknownRevision",
    "current_revision",
    "downgrade",
    "head_revision",
    "upgrade",
]

HEAD = "0002"
SCRIPTS = "test_coordinator.history:migrations"
_LOCK_KEY = 0x7C_4869_7374  # pg_advisory_xact_lock: "|Hist", any constant all writers share
_VERSION = Table("alembic_version", MetaData(), Column("version_num", String(32)))


class UnknownRevision(Exception):
    """The database was migrated by a newer test-coordinator than this one."""


def _config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", SCRIPTS)
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision, as the migration scripts say (``HEAD`` says it without Alembic)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def _known(revision: str) -> bool:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        return ScriptDirectory.from_config(_config()).get_revision(revision) is not None
    except CommandError:
        return False


def _current(connection: Connection) -> str | None:
    if not inspect(connection).has_table(_VERSION.name):
        return None
    return connection.scalar(select(_VERSION.c.version_num))


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(_current)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Migrate to ``revision``; nothing (and no lock) when already at the newest one."""
    current = await current_revision(engine)
    if revision == "head" and current == HEAD:
        return
    if current is not None and not _known(current):
        raise UnknownRevision(
            f"its schema is at revision {current}, which this test-coordinator does not know "
            f"(its newest is {HEAD}): a newer version wrote it; upgrade this one"
        )
    from alembic import command

    await _run(engine, lambda config: command.upgrade(config, revision))


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    from alembic import command

    await _run(engine, lambda config: command.downgrade(config, revision))


async def _run(engine: AsyncEngine, migrate: Callable[[Config], None]) -> None:
    async with engine.connect() as connection:
        connection = await writing(connection)
        async with connection.begin():
            if connection.dialect.name == "postgresql":
                await connection.execute(select(func.pg_advisory_xact_lock(_LOCK_KEY)))
            await connection.run_sync(lambda sync: migrate(_config(sync)))
