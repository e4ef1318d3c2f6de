"""grpc.health.v1 ``Check`` on every endpoint: SERVING passes, anything else is what was seen."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from test_coordinator.checks.base import (
    Observation,
    ProbeContext,
    failed,
    observe_endpoints,
    resolve,
    short,
)
from test_coordinator.scenario.model import GrpcHealthProbe

__all__ = ["observe_grpc_health"]

_SERVING = health_pb2.HealthCheckResponse.SERVING


async def observe_grpc_health(spec: GrpcHealthProbe, ctx: ProbeContext) -> Observation:
    endpoints = await resolve(spec, ctx, default_port="grpc")

    async def check(endpoint: str) -> Observation:
        return await _check(endpoint, spec.service)

    return await observe_endpoints(endpoints, check)


async def _check(endpoint: str, service: str) -> Observation:
    # A fresh channel each time: a cached one would remember a dead server's connection state
    # and report its backoff instead of what the server says now.
    async with grpc.aio.insecure_channel(endpoint) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = await stub.Check(health_pb2.HealthCheckRequest(service=service))
        except grpc.aio.AioRpcError as exc:
            return failed(_describe_rpc_error(exc))
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    return Observation(passed=response.status == _SERVING, observed=short(str(status)))


def _describe_rpc_error(exc: grpc.aio.AioRpcError) -> str:
    code = exc.code()
    details = str(exc.details() or "")
    if code == grpc.StatusCode.UNAVAILABLE and "refused" in details.lower():
        return "connection refused"
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return "no health service (UNIMPLEMENTED)"
    if code == grpc.StatusCode.NOT_FOUND:
        return "service unknown to the health server (NOT_FOUND)"
    return f"{code.name}: {details}" if details else str(code.name)
