"""``grpc.health.v1`` on the gRPC port: NOT_SERVING until ready, SERVING while up, NOT_SERVING
again while draining; for the overall server ("") and the service's own name."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio

__all__ = ["GrpcHealth"]

_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class GrpcHealth:
    def __init__(self, *, name: str) -> None:
        self.names = ("", name)
        self.server = grpc.aio.server()
        self.servicer = health_aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.servicer, self.server)

    async def start(self, bind: str, port: int) -> int:
        """Listen on ``bind:port``; the port bound (``port`` 0: a free one)."""
        await self.serving(False)
        bound: int = self.server.add_insecure_port(f"{bind}:{port}")
        if port and bound != port:
            raise OSError(f"cannot listen for gRPC on {bind}:{port}")
        await self.server.start()
        return bound

    async def serving(self, ready: bool) -> None:
        status = _SERVING if ready else _NOT_SERVING
        for name in self.names:
            await self.servicer.set(name, status)

    async def stop(self) -> None:
        await self.serving(False)
        await self.server.stop(grace=0.5)
