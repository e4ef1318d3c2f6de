"""Runtime shared by the demo services: health, Redis registration, audit events and clean stop."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import grpc
from aiohttp import web
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT

REGISTRY_PREFIX = "registry:services:"
EVENTS_STREAM = "audit:events"
HEALTH_ROUTE = "/api/v1/health"

# Redis can be briefly unreachable during chaos runs; every service treats these alike.
REDIS_ERRORS: tuple[type[Exception], ...] = (RedisError, OSError)

_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def address(value: str) -> tuple[str, int]:
    """Parses HOST:PORT."""
    host, sep, port = value.rpartition(":")
    if not sep or not host:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host, int(port)


def positive(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value!r}")
    return number


def service_parser(description: str) -> argparse.ArgumentParser:
    """The flags every demo service takes; services add their own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--grpc-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--redis", type=address, default="127.0.0.1:6379", metavar="HOST:PORT")
    parser.add_argument("--host", default="127.0.0.1", help="address both servers listen on")
    parser.add_argument("--heartbeat-interval", type=positive, default=2.0, metavar="SECONDS")
    parser.add_argument("--registration-ttl", type=positive, default=10.0, metavar="SECONDS")
    return parser


@dataclass(frozen=True)
class ServiceConfig:
    name: str
    host: str
    grpc_port: int
    http_port: int
    redis_host: str
    redis_port: int
    heartbeat_interval: float
    registration_ttl: float

    @classmethod
    def from_args(cls, name: str, args: argparse.Namespace) -> ServiceConfig:
        redis_host, redis_port = args.redis
        return cls(
            name=name,
            host=args.host,
            grpc_port=args.grpc_port,
            http_port=args.http_port,
            redis_host=redis_host,
            redis_port=redis_port,
            heartbeat_interval=args.heartbeat_interval,
            registration_ttl=args.registration_ttl,
        )


_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line; `extra=` fields are merged in."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self._service,
            "msg": record.getMessage(),
        }
        entry.update((k, v) for k, v in vars(record).items() if k not in _RECORD_ATTRS)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(service: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)


class Outage:
    """Logs a dependency going away once and its return once, however often it is tried:
    a service retrying every 100 ms must not write a warning every 100 ms."""

    def __init__(self, log: logging.Logger, *, lost: str, back: str) -> None:
        self.log, self.lost, self.back = log, lost, back
        self.up = True

    def failed(self, **extra: str) -> None:
        if self.up:
            self.log.warning(self.lost, extra=extra)
        self.up = False

    def succeeded(self) -> None:
        if not self.up:
            self.log.info(self.back)
        self.up = True


class Runtime:
    """A service's servers, Redis client and logger; setup adds to them before they start."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.log = logging.getLogger(config.name)
        # The socket timeout must outlast the blocking XREADs of the audit correlator. One
        # immediate retry replaces a pooled connection that died with Redis; anything longer
        # is left to the services' own loops, which keep serving meanwhile.
        self.redis = Redis(
            host=config.redis_host,
            port=config.redis_port,
            decode_responses=True,
            socket_connect_timeout=1.0,
            socket_timeout=5.0,
            retry=Retry(NoBackoff(), 1),
        )
        # Without this a second process could bind the same port silently (gRPC enables
        # SO_REUSEPORT by default), hiding a stale instance from the chaos tool.
        self.grpc_server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        self.app = web.Application()
        self.serving = False
        self._health = health.aio.HealthServicer()
        self._background: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self._cleanups: list[Callable[[], Awaitable[None]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._runner: web.AppRunner | None = None
        self._registered = False
        self._started_at = time.time()

    @property
    def registry_key(self) -> str:
        return REGISTRY_PREFIX + self.config.name

    def run_in_background(self, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Runs work once the service is ready; it is cancelled when the service stops."""
        self._background.append(work)

    def on_stop(self, cleanup: Callable[[], Awaitable[None]]) -> None:
        """Runs cleanup after both servers have stopped."""
        self._cleanups.append(cleanup)

    async def emit_event(self, event_type: str, **fields: str) -> None:
        event: dict[FieldT, EncodableT] = {
            "event_type": event_type,
            "source": self.config.name,
            "pid": os.getpid(),
            "timestamp": time.time(),
        }
        event.update(fields)
        await self.redis.xadd(EVENTS_STREAM, event)

    async def serve(self, stop: asyncio.Event) -> None:
        try:
            await self._start()
            if await self._first_registration(stop):
                await self._health.set("", _SERVING)
                await self._health.set(self.config.name, _SERVING)
                self.serving = True
                self._spawn(self._heartbeat)
                for work in self._background:
                    self._spawn(work)
                self.log.info(
                    "ready",
                    extra={"grpc_port": self.config.grpc_port, "http_port": self.config.http_port},
                )
            await stop.wait()
        finally:
            await self._shutdown()

    async def _start(self) -> None:
        cfg = self.config
        # The health servicer starts out SERVING for "", which would pass readiness too early.
        await self._health.set("", _NOT_SERVING)
        await self._health.set(cfg.name, _NOT_SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self.grpc_server)
        if self.grpc_server.add_insecure_port(f"{cfg.host}:{cfg.grpc_port}") != cfg.grpc_port:
            raise RuntimeError(f"cannot listen for gRPC on {cfg.host}:{cfg.grpc_port}")
        await self.grpc_server.start()
        self.app.router.add_get(HEALTH_ROUTE, self._http_health)
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, cfg.host, cfg.http_port).start()

    async def _first_registration(self, stop: asyncio.Event) -> bool:
        """Registers and announces the service, retrying until Redis answers or stop is set."""
        delay = 0.1
        while not stop.is_set():
            try:
                await self._register()
                self._registered = True
                await self.emit_event("service_started")
                return True
            except REDIS_ERRORS as exc:
                self.log.warning("redis unavailable, retrying", extra={"error": str(exc)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, 2.0)
        return False

    async def _register(self) -> None:
        cfg = self.config
        now = str(time.time())
        # Writing every field each beat re-creates the entry after Redis loses its data.
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                self.registry_key,
                mapping={
                    "name": cfg.name,
                    "host": cfg.host,
                    "grpc_port": str(cfg.grpc_port),
                    "http_port": str(cfg.http_port),
                    "pid": str(os.getpid()),
                    "status": "healthy",
                    "registered_at": str(self._started_at),
                    "last_heartbeat": now,
                },
            )
            pipe.pexpire(self.registry_key, int(cfg.registration_ttl * 1000))
            await pipe.execute()

    async def _heartbeat(self) -> None:
        redis = Outage(self.log, lost="heartbeat failed", back="heartbeat restored")
        while True:
            await asyncio.sleep(self.config.heartbeat_interval)
            try:
                await self._register()
            except REDIS_ERRORS as exc:
                redis.failed(error=str(exc))
            else:
                redis.succeeded()

    def _spawn(self, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        task = asyncio.create_task(work())
        task.add_done_callback(self._report_crash)
        self._tasks.append(task)

    def _report_crash(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.log.error("background task failed", exc_info=task.exception())

    async def _shutdown(self) -> None:
        self.log.info("stopping")
        self.serving = False
        await self._health.enter_graceful_shutdown()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._registered:
            # Redis may be the thing that is down; stopping must not hang on it.
            try:
                await asyncio.wait_for(self.emit_event("service_stopping"), 1.0)
                await asyncio.wait_for(self.redis.delete(self.registry_key), 1.0)
            except REDIS_ERRORS as exc:  # TimeoutError is an OSError
                self.log.warning("could not deregister", extra={"error": str(exc)})
        await self.grpc_server.stop(grace=1.0)
        if self._runner is not None:
            await self._runner.cleanup()
        for cleanup in reversed(self._cleanups):
            await cleanup()
        await self.redis.aclose()
        self.log.info("stopped")

    async def _http_health(self, request: web.Request) -> web.Response:
        status = "SERVING" if self.serving else "NOT_SERVING"
        return web.json_response(
            {"status": status, "service": self.config.name}, status=200 if self.serving else 503
        )


Setup = Callable[[Runtime], Awaitable[None]]


async def _main(config: ServiceConfig, setup: Setup) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runtime = Runtime(config)
    await setup(runtime)
    await runtime.serve(stop)


def run_service(name: str, args: argparse.Namespace, setup: Setup) -> None:
    """Runs a service until SIGTERM or SIGINT, then exits 0; exits 1 if it cannot start."""
    configure_logging(name)
    try:
        asyncio.run(_main(ServiceConfig.from_args(name, args), setup))
    except Exception:
        logging.getLogger(name).exception("service failed")
        sys.exit(1)
