"""A Deployment or StatefulSet (a stack service, locally) is fully up: asked of the platform."""

from __future__ import annotations

from test_coordinator.checks.base import Observation, ProbeContext, short
from test_coordinator.scenario.model import WorkloadReadyProbe

__all__ = ["observe_workload_ready"]


async def observe_workload_ready(spec: WorkloadReadyProbe, ctx: ProbeContext) -> Observation:
    ready, observed = await ctx.resolver.workload_ready(spec.kind, spec.name)
    return Observation(passed=ready, observed=short(observed))
