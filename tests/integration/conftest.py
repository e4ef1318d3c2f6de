"""Fixtures of the integration suites: demo services, a Redis client, a directory of PIDs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import RedisServer
from tests.integration.services import Launcher


@pytest.fixture
def launcher(redis_server: RedisServer, tmp_path: Path) -> Iterator[Launcher]:
    """Starts demo services against ``redis_server``; stops what is left, by PID."""
    launcher = Launcher(redis_server.address, tmp_path)
    try:
        yield launcher
    finally:
        launcher.close()


@pytest.fixture
def store(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis(port=redis_server.port, decode_responses=True)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def pid_dir(tmp_path: Path) -> Path:
    """Where tiny services record their PIDs, so tests can see every process they started."""
    path = tmp_path / "pids"
    path.mkdir()
    return path
