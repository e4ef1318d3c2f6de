"""The operator under test: the real ``test-coordinator operator`` process against the emulated
API server of ``tests/integration/kube.py`` (see there for what is simulated, and why)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.integration.kube import Cluster, Operator, cluster, start_operator

NAMESPACE = "trading"


@pytest.fixture
async def kube(tmp_path: Path) -> AsyncIterator[Cluster]:
    async with cluster(tmp_path) as running:
        await running.namespace(NAMESPACE)
        await running.namespace("quiet", enabled=False)
        yield running


StartOperator = Callable[..., Awaitable[Operator]]


@pytest.fixture
async def operator(kube: Cluster, tmp_path: Path) -> AsyncIterator[StartOperator]:
    """Starts an operator (again, after a crash), with more command-line arguments if given;
    every one started is stopped at the end."""
    started: list[Operator] = []

    async def start(*extra: str) -> Operator:
        ports = (free_port(), free_port())
        log = tmp_path / "operator.log"
        started.append(await start_operator(kube, log, ports=ports, extra=extra))
        return started[-1]

    yield start
    for each in started:
        await each.stop()
    if started:  # shown by pytest when the test failed
        print(started[-1].output()[-6000:])
