"""Polling against a real server that accepts connections and never answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from test_coordinator.checks import ProbeContext
from test_coordinator.engine.probing import poll_until_pass
from test_coordinator.scenario.model import AfterCheck


class NoResolver:
    async def endpoints(self, target: str | None, port: int | str) -> list[str]:
        raise LookupError("no targets here")

    async def workload_ready(self, kind: str, name: str) -> tuple[bool, str]:
        return False, "no workloads here"


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """Accepts, reads, never answers: an HTTP observation waits for its whole timeout."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_within_bounds_the_last_observation_by_the_time_left(silent_port: int) -> None:
    check = AfterCheck.model_validate(
        {
            "name": "answers",
            "http": {"address": f"127.0.0.1:{silent_port}"},
            "timeout": "5s",
            "within": "1s",
            "interval": "100ms",
        }
    )
    began = time.monotonic()
    polled = await poll_until_pass(
        check, ProbeContext(resolver=NoResolver()), within=check.within, interval=check.interval
    )
    took = time.monotonic() - began

    assert polled.passed_at is None
    assert polled.last.observed.startswith("timed out after"), polled.last.observed
    # Before, the one observation took its whole 5 s timeout: the deadline ran 4 s late.
    assert 1.0 <= took < 1.5, f"a 1s deadline took {took:.2f}s"
