"""Observations of a running system: one probe, one verdict with what was seen.

``observe`` never raises because the system under test misbehaves: refused connections, time-
outs, failed lookups and bad answers all come back as a failed ``Observation``. Errors in this
program (a ``TypeError``) still propagate, so they are not mistaken for a failing system.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from test_coordinator.checks.audit_trail import observe_audit_trail
from test_coordinator.checks.base import (
    Baseline,
    EndpointResolver,
    NoEndpoint,
    Observation,
    ProbeContext,
    describe_error,
    failed,
    short,
    unavailable,
)
from test_coordinator.checks.command import observe_command
from test_coordinator.checks.grpc_health import observe_grpc_health
from test_coordinator.checks.http import observe_http
from test_coordinator.checks.no_loss import no_loss_baseline, observe_no_loss
from test_coordinator.checks.redis_registry import observe_redis_registry
from test_coordinator.checks.tcp import observe_tcp
from test_coordinator.checks.workload_ready import observe_workload_ready
from test_coordinator.scenario.durations import format_duration
from test_coordinator.scenario.model import Probe

__all__ = [
    "AUDIT_KINDS",
    "BASELINES",
    "OBSERVERS",
    "Baseline",
    "EndpointResolver",
    "Observation",
    "ProbeContext",
    "observe",
    "take_baseline",
]

# The spec argument is typed per kind in each observer; ``Probe.spec`` only knows it is a model,
# and the key (``Probe.kind``) is what guarantees the two match.
Observer = Callable[[Any, ProbeContext], Awaitable[Observation]]

OBSERVERS: dict[str, Observer] = {
    "grpcHealth": observe_grpc_health,
    "http": observe_http,
    "tcp": observe_tcp,
    "redisRegistry": observe_redis_registry,
    "command": observe_command,
    "auditTrail": observe_audit_trail,
    "noLoss": observe_no_loss,
    "workloadReady": observe_workload_ready,
}
"""Observer per probe kind, keyed as ``Probe.kind`` names it (camelCase, as in YAML)."""

BASELINES: dict[str, Callable[[Any, ProbeContext], Awaitable[Baseline]]] = {
    "noLoss": no_loss_baseline,
}
"""Kinds that judge what happened since the run began, and how they note where it began."""

AUDIT_KINDS = frozenset({"auditTrail", "noLoss"})
"""Kinds that read an audit trail: one they cannot reach makes them inconclusive, not failed."""


async def observe(probe: Probe, ctx: ProbeContext, *, limit: float | None = None) -> Observation:
    """One observation of ``probe``, bounded as a whole by ``limit`` (default: the probe's
    timeout; a caller with a deadline passes the time left, when that is shorter)."""
    observer = OBSERVERS[probe.kind]
    could_not_look = unavailable if probe.kind in AUDIT_KINDS else failed
    limit = probe.timeout if limit is None else limit
    try:
        async with asyncio.timeout(limit):
            observation = await observer(probe.spec, ctx)
    except TimeoutError:
        return could_not_look(f"timed out after {format_duration(round(limit, 3))}")
    except NoEndpoint as exc:
        return could_not_look(str(exc))
    except OSError as exc:
        return could_not_look(describe_error(exc))
    return Observation(
        passed=observation.passed,
        observed=short(observation.observed),
        inconclusive=observation.inconclusive,
    )


async def take_baseline(probe: Probe, ctx: ProbeContext) -> Baseline | None:
    """Where ``probe``'s record stands now, for a kind that needs it (else None); never raises
    for a system that cannot be reached: the baseline then says why it could not look."""
    taker = BASELINES.get(probe.kind)
    if taker is None:
        return None
    try:
        async with asyncio.timeout(probe.timeout):
            return await taker(probe.spec, ctx)
    except TimeoutError:
        return Baseline(position=None, problem=f"timed out after {format_duration(probe.timeout)}")
    except NoEndpoint as exc:
        return Baseline(position=None, problem=str(exc))
    except OSError as exc:
        return Baseline(position=None, problem=describe_error(exc))
