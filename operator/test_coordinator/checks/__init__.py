"""Observations of a running system: one probe, one verdict with what was seen.

``observe`` never raises because the system under test misbehaves: refused connections, time-
outs, failed lookups and bad answers all come back as a failed ``Observation``. Errors in this
program (a ``TypeError``) still propagate, so they are not mistaken for a failing system.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from test_coordinator.checks.base import (
    EndpointResolver,
    NoEndpoint,
    Observation,
    ProbeContext,
    describe_error,
    failed,
    short,
)
from test_coordinator.checks.command import observe_command
from test_coordinator.checks.grpc_health import observe_grpc_health
from test_coordinator.checks.http import observe_http
from test_coordinator.checks.redis_registry import observe_redis_registry
from test_coordinator.checks.tcp import observe_tcp
from test_coordinator.scenario.durations import format_duration
from test_coordinator.scenario.model import Probe

__all__ = ["OBSERVERS", "EndpointResolver", "Observation", "ProbeContext", "observe"]

# The spec argument is typed per kind in each observer; ``Probe.spec`` only knows it is a model,
# and the key (``Probe.kind``) is what guarantees the two match.
Observer = Callable[[Any, ProbeContext], Awaitable[Observation]]

OBSERVERS: dict[str, Observer] = {
    "grpcHealth": observe_grpc_health,
    "http": observe_http,
    "tcp": observe_tcp,
    "redisRegistry": observe_redis_registry,
    "command": observe_command,
}
"""Observer per probe kind, keyed as ``Probe.kind`` names it (camelCase, as in YAML)."""


async def observe(probe: Probe, ctx: ProbeContext) -> Observation:
    """One observation of ``probe``, bounded by ``probe.timeout`` as a whole."""
    observer = OBSERVERS[probe.kind]
    try:
        async with asyncio.timeout(probe.timeout):
            observation = await observer(probe.spec, ctx)
    except TimeoutError:
        return failed(f"timed out after {format_duration(probe.timeout)}")
    except NoEndpoint as exc:
        return failed(str(exc))
    except OSError as exc:
        return failed(describe_error(exc))
    return Observation(passed=observation.passed, observed=short(observation.observed))
