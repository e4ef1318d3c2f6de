"""The schema as Alembic builds it, on SQLite and PostgreSQL: from an empty database, down and up
again, from the previous revision with runs in it; and equal to the tables the code uses."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from test_coordinator.history import HistoryUnavailable, open_store, parse_history_url
from test_coordinator.history.connection import create_engine
from test_coordinator.history.migrate import (
    HEAD,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)
from test_coordinator.history.schema import metadata

from tests.integration.history.sample_runs import crash_scenario, finished
from tests.unit.report import sample_result

TABLES = {"scenarios", "specs", "runs", "run_documents", "check_results", "faults"}


@pytest.fixture
async def engine(history_url: str) -> AsyncIterator[AsyncEngine]:
    parsed = parse_history_url(history_url)
    assert parsed is not None
    engine = create_engine(parsed, timeout=10)
    try:
        yield engine
    finally:
        await engine.dispose()


async def tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    return set(names) - {"alembic_version"}


async def columns(engine: AsyncEngine, table: str) -> set[str]:
    async with engine.connect() as connection:
        found = await connection.run_sync(lambda sync: inspect(sync).get_columns(table))
    return {column["name"] for column in found}


def differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def test_head_names_the_newest_migration() -> None:
    assert head_revision() == HEAD


async def test_an_empty_database_is_migrated_to_the_tables_the_code_uses(
    engine: AsyncEngine,
) -> None:
    assert await current_revision(engine) is None
    await upgrade(engine)
    assert await current_revision(engine) == head_revision()
    assert await tables(engine) == TABLES
    async with engine.connect() as connection:
        assert await connection.run_sync(differences) == []
    await upgrade(engine)  # already there: nothing to do
    assert await current_revision(engine) == head_revision()


async def test_down_to_nothing_and_up_again(engine: AsyncEngine) -> None:
    await upgrade(engine)
    await downgrade(engine, "base")
    assert await tables(engine) == set()
    assert await current_revision(engine) is None
    await upgrade(engine)
    assert await tables(engine) == TABLES


async def test_a_store_on_the_previous_schema_migrates_it_and_keeps_its_runs(
    history_url: str, engine: AsyncEngine
) -> None:
    async with open_store(history_url) as store:
        await store.record(
            sample_result.scenario(), sample_result.status(), platform="local", source="f"
        )
    await downgrade(engine, "0001")
    assert await current_revision(engine) == "0001"
    assert "completed_at" not in await columns(engine, "faults")

    async with open_store(history_url) as store:
        await store.record(
            crash_scenario(), finished("after", sample_result.at(60)), platform="local", source="c"
        )
        _, before = await store.load_run("run1")
        listed = [run.run_id for run in await store.runs()]
    assert await current_revision(engine) == head_revision()
    assert "completed_at" in await columns(engine, "faults")
    assert before == sample_result.status()
    assert listed == ["after", "run1"]


async def test_a_schema_newer_than_this_version_is_named(
    history_url: str, engine: AsyncEngine
) -> None:
    await upgrade(engine)
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    async with open_store(history_url) as store:
        with pytest.raises(HistoryUnavailable, match=r"revision 9999.*upgrade this one"):
            await store.runs()
