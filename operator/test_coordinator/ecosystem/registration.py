"""Registration in Redis, as every service of the ecosystem does it: the hash
``registry:services:<name>`` with name, version, host, ports, status and times, on a TTL that
a heartbeat refreshes; deleted on a graceful shutdown.

Redis is never a reason to stop: a failed heartbeat is said once, retried every few seconds,
and the registration written whole again once Redis answers (after a restart it is empty).
"""

from __future__ import annotations

import asyncio
import logging
import time

import redis.asyncio as aioredis
from redis.exceptions import RedisError

__all__ = ["REGISTRY_PREFIX", "Registration"]

REGISTRY_PREFIX = "registry:services:"
HEARTBEAT_SECONDS = 30.0
TTL_SECONDS = 90
RETRY_SECONDS = 3.0  # while Redis is away

log = logging.getLogger(__name__)


class Registration:
    """``run`` registers and keeps the registration fresh; ``deregister`` on the way out."""

    def __init__(
        self,
        url: str,
        *,
        name: str,
        version: str,
        host: str,
        http_port: int,
        grpc_port: int,
        heartbeat: float = HEARTBEAT_SECONDS,
        ttl: int = TTL_SECONDS,
    ) -> None:
        self.key = REGISTRY_PREFIX + name
        self.fields = {
            "name": name,
            "version": version,
            "host": host,
            "http_port": str(http_port),
            "grpc_port": str(grpc_port),
        }
        self.status = "healthy"
        self.heartbeat = heartbeat
        self.ttl = ttl
        self.registered_at = str(time.time())
        self.client = aioredis.Redis.from_url(
            url, decode_responses=True, socket_timeout=2.0, socket_connect_timeout=2.0
        )
        self._wake = asyncio.Event()

    async def run(self) -> None:
        """Forever (cancel to stop): register, then refresh every heartbeat."""
        lost = False
        while True:
            try:
                await self._write()
            except (RedisError, OSError) as error:
                if not lost:
                    log.warning("registration in Redis failed (%s): retrying", error)
                    lost = True
                delay = RETRY_SECONDS
            else:
                if lost:
                    log.warning("registered in Redis again as %s", self.key)
                    lost = False
                delay = self.heartbeat
            self._wake.clear()
            try:
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            except TimeoutError:
                pass

    def refresh(self) -> None:
        """Write the registration now (Redis is back, and may have lost it)."""
        self._wake.set()

    def set_status(self, status: str) -> None:
        """``healthy``, ``draining``: written at once by the running heartbeat."""
        self.status = status
        self._wake.set()

    async def _write(self) -> None:
        # Every field on each beat: a Redis that lost its data gets the whole entry back.
        async with self.client.pipeline(transaction=True) as pipe:
            entry = {
                **self.fields,
                "status": self.status,
                "registered_at": self.registered_at,
                "last_heartbeat": str(time.time()),
            }
            pipe.hset(self.key, mapping=entry)  # type: ignore[arg-type]
            pipe.expire(self.key, self.ttl)
            await pipe.execute()

    async def deregister(self) -> None:
        """Delete the entry; bounded, since Redis may be what is down."""
        try:
            async with asyncio.timeout(1.0):
                await self.client.delete(self.key)
        except (RedisError, OSError) as error:  # TimeoutError is an OSError
            log.warning("could not deregister %s: %s", self.key, error)
        finally:
            await self.client.aclose()
