"""Observations of a running system: one probe, one verdict with what was seen.

``observe`` never raises because the system under test misbehaves: refused connections, time-
outs, failed lookups and bad answers all come back as a failed ``Observation``. Errors in this
program (a ``TypeError``) still propagate, so they are not mistaken for a failing system.

Where the coordinator itself could not look (``ObservationUnavailable``: its reads of the
platform failed; or the observation's time ran out while it was still waiting on one of them),
the observation is inconclusive: a failure of the coordinator, not of the system.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

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
from test_coordinator.errors import ObservationUnavailable
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

OBSERVERS: dict[str, str] = {
    "grpcHealth": "grpc_health:observe_grpc_health",
    "http": "http:observe_http",
    "tcp": "tcp:observe_tcp",
    "redisRegistry": "redis_registry:observe_redis_registry",
    "command": "command:observe_command",
    "auditTrail": "audit_trail:observe_audit_trail",
    "noLoss": "no_loss:observe_no_loss",
    "workloadReady": "workload_ready:observe_workload_ready",
}
"""Observer per probe kind (keyed as ``Probe.kind`` names it: camelCase, as in YAML), as
``module:function`` in this package. Imported when a kind is first observed: a run that
checks only HTTP never loads gRPC or Redis, which costs start-up time and memory."""

BASELINES: dict[str, str] = {"noLoss": "no_loss:no_loss_baseline"}
"""Kinds that judge what happened since the run began, and how they note where it began."""


def _load(reference: str) -> Any:
    module, name = reference.split(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


AUDIT_KINDS = frozenset({"auditTrail", "noLoss"})
"""Kinds that read an audit trail: one they cannot reach makes them inconclusive, not failed."""


async def observe(probe: Probe, ctx: ProbeContext, *, limit: float | None = None) -> Observation:
    """One observation of ``probe``, bounded as a whole by ``limit`` (default: the probe's
    timeout; a caller with a deadline passes the time left, when that is shorter)."""
    observer: Observer = _load(OBSERVERS[probe.kind])
    could_not_look = unavailable if probe.kind in AUDIT_KINDS else failed
    limit = probe.timeout if limit is None else limit
    looking = _Looking(ctx.resolver)
    try:
        async with asyncio.timeout(limit):
            observation = await observer(probe.spec, dataclasses.replace(ctx, resolver=looking))
    except TimeoutError:
        took = format_duration(round(limit, 3))
        if looking.cut_off:  # on the coordinator's own lookup, not on the system
            return unavailable(f"timed out after {took} waiting for {looking.cut_off}")
        return could_not_look(f"timed out after {took}")
    except ObservationUnavailable as exc:
        return unavailable(f"could not observe: {exc}")
    except NoEndpoint as exc:
        return could_not_look(str(exc))
    except OSError as exc:
        return could_not_look(describe_error(exc))
    return Observation(
        passed=observation.passed,
        observed=short(observation.observed),
        inconclusive=observation.inconclusive,
    )


class _Looking:
    """The resolver of one observation, noting the platform lookup its time ran out on."""

    def __init__(self, inner: EndpointResolver) -> None:
        self.inner = inner
        self.cut_off: str | None = None  # what it was waiting for when it was cancelled

    async def endpoints(self, target: str | None, port: int | str) -> list[str]:
        with self._waiting_for(f"the endpoints of {target or 'this workload'}"):
            return await self.inner.endpoints(target, port)

    async def workload_ready(self, kind: str, name: str) -> tuple[bool, str]:
        with self._waiting_for(f"the state of {kind} {name}"):
            return await self.inner.workload_ready(kind, name)

    @contextlib.contextmanager
    def _waiting_for(self, what: str) -> Iterator[None]:
        try:
            yield
        except asyncio.CancelledError:
            self.cut_off = what
            raise


async def take_baseline(probe: Probe, ctx: ProbeContext) -> Baseline | None:
    """Where ``probe``'s record stands now, for a kind that needs it (else None); never raises
    for a system that cannot be reached: the baseline then says why it could not look."""
    reference = BASELINES.get(probe.kind)
    if reference is None:
        return None
    taker: Callable[[Any, ProbeContext], Awaitable[Baseline]] = _load(reference)
    try:
        async with asyncio.timeout(probe.timeout):
            return await taker(probe.spec, ctx)
    except TimeoutError:
        return Baseline(position=None, problem=f"timed out after {format_duration(probe.timeout)}")
    except NoEndpoint as exc:
        return Baseline(position=None, problem=str(exc))
    except OSError as exc:
        return Baseline(position=None, problem=describe_error(exc))
