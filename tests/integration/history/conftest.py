"""Stores on real databases: a SQLite file, and a database on a PostgreSQL cluster the tests
start themselves (one per session, a new database per test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.postgres import (
    PostgresCluster,
    PostgresMissing,
    postgres_bin_dir,
    postgres_cluster,
)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    try:
        postgres_bin_dir()
    except PostgresMissing as error:
        pytest.fail(str(error))
    with postgres_cluster() as cluster:
        yield cluster


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'history.db'}"


@pytest.fixture
def postgres_url(postgres: PostgresCluster) -> str:
    return postgres.create_database()


@pytest.fixture(params=["sqlite", "postgres"])
def history_url(request: pytest.FixtureRequest) -> str:
    """A new, empty history database of each kind."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url
