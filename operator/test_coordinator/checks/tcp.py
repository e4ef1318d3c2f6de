"""A TCP connection is accepted on every endpoint."""

from __future__ import annotations

import asyncio

from test_coordinator.checks.base import (
    Observation,
    ProbeContext,
    observe_endpoints,
    resolve,
    split_host_port,
)
from test_coordinator.scenario.model import TcpProbe

__all__ = ["observe_tcp"]


async def observe_tcp(spec: TcpProbe, ctx: ProbeContext) -> Observation:
    return await observe_endpoints(await resolve(spec, ctx), _connect)


async def _connect(endpoint: str) -> Observation:
    host, port = split_host_port(endpoint)
    _, writer = await asyncio.open_connection(host, port)
    writer.close()
    await writer.wait_closed()
    return Observation(passed=True, observed="connected")
