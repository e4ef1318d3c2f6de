"""Health and metrics endpoints: HTTP for kubelet probes and Prometheus, gRPC health too.

``/healthz`` (liveness) answers while the event loop does; ``/readyz`` and the gRPC
``grpc.health.v1`` status turn SERVING once kopf watches the ChaosScenarios.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from aiohttp import web
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio

from test_coordinator.controller.settings import OperatorSettings
from test_coordinator.reconcile.metrics import Metrics

__all__ = ["HealthServers", "start_health"]

_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass
class HealthServers:
    http: web.AppRunner
    grpc: grpc.aio.Server
    health: health_aio.HealthServicer

    async def serving(self, ready: bool) -> None:
        status = _SERVING if ready else _NOT_SERVING
        for service in ("", "test-coordinator"):
            await self.health.set(service, status)

    async def stop(self) -> None:
        await self.serving(False)
        await self.grpc.stop(grace=1.0)
        await self.http.cleanup()


async def start_health(
    settings: OperatorSettings,
    metrics: Metrics,
    ready: asyncio.Event,
    *,
    extend: Callable[[web.Application], None] | None = None,
) -> HealthServers:
    """``extend`` adds more routes to the HTTP port (the dashboard)."""

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        if ready.is_set():
            return web.json_response({"status": "ready"})
        return web.json_response({"status": "starting"}, status=503)

    async def metrics_text(_: web.Request) -> web.Response:
        return web.Response(body=metrics.exposition(), content_type="text/plain", charset="utf-8")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_text)
    if extend is not None:
        extend(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.bind, settings.health_port).start()

    server = grpc.aio.server()
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    server.add_insecure_port(f"{settings.bind}:{settings.grpc_health_port}")
    await server.start()
    servers = HealthServers(runner, server, health)
    await servers.serving(False)
    return servers
