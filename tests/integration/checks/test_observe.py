"""``observe`` against real servers on loopback: what passes, what fails, and what it says."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import grpc
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from test_coordinator.checks import Observation, ProbeContext, observe
from test_coordinator.scenario.model import Probe

from tests.integration.loopback import serving
from tests.integration.stacks import alive, gone

SERVICE = "risk-monitor"
REGISTRY_KEY = f"registry:services:{SERVICE}"


class RedisServer(Protocol):
    """What these tests use of the ``redis_server`` fixture (tests/conftest.py)."""

    @property
    def address(self) -> str: ...

    @property
    def port(self) -> int: ...


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class DictResolver:
    """Endpoints from a table: the platform seam, with no platform behind it."""

    def __init__(self, table: dict[tuple[str | None, int | str], list[str]]) -> None:
        self._table = table

    async def endpoints(self, target: str | None, port: int | str) -> list[str]:
        try:
            return self._table[(target, port)]
        except KeyError:
            raise LookupError(f"no workload for target {target}") from None


NO_RESOLVER = ProbeContext(resolver=DictResolver({}))


async def run(spec: dict[str, Any], ctx: ProbeContext = NO_RESOLVER) -> Observation:
    return await observe(Probe.model_validate(spec), ctx)


# --- gRPC health -------------------------------------------------------------------------------


class HealthServer:
    def __init__(self, server: grpc.aio.Server, servicer: health.aio.HealthServicer, port: int):
        self.server = server
        self.servicer = servicer
        self.address = f"127.0.0.1:{port}"

    async def set(self, status: int, service: str = "") -> None:
        await self.servicer.set(service, status)


@pytest.fixture
async def health_server() -> AsyncIterator[HealthServer]:
    server = grpc.aio.server()
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield HealthServer(server, servicer, port)
    finally:
        await server.stop(None)


async def test_grpc_serving_passes(health_server: HealthServer) -> None:
    await health_server.set(health_pb2.HealthCheckResponse.SERVING)

    observation = await run({"grpcHealth": {"address": health_server.address}})

    assert observation == Observation(True, "SERVING", observation.at)


async def test_grpc_not_serving_fails(health_server: HealthServer) -> None:
    await health_server.set(health_pb2.HealthCheckResponse.NOT_SERVING, service="trading")

    observation = await run(
        {"grpcHealth": {"address": health_server.address, "service": "trading"}}
    )

    assert not observation.passed
    assert observation.observed == "NOT_SERVING"


async def test_grpc_unknown_service_fails(health_server: HealthServer) -> None:
    observation = await run({"grpcHealth": {"address": health_server.address, "service": "nope"}})

    assert not observation.passed
    assert "NOT_FOUND" in observation.observed


async def test_grpc_nothing_listening_fails() -> None:
    observation = await run({"grpcHealth": {"address": f"127.0.0.1:{free_port()}"}})

    assert not observation.passed
    assert observation.observed == "connection refused"


# --- HTTP --------------------------------------------------------------------------------------


async def _slow(request: web.Request) -> web.Response:
    # The latency under test: the handler answers late on purpose.
    await asyncio.sleep(0.2)
    return web.Response(text="late")


@pytest.fixture
async def http_server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/ok", _ok)
    app.router.add_get("/down", _down)
    app.router.add_get("/slow", _slow)
    async with serving(app) as address:
        yield address


async def _ok(request: web.Request) -> web.Response:
    return web.Response(text="all systems nominal")


async def _down(request: web.Request) -> web.Response:
    return web.Response(status=503, text="maintenance")


async def test_http_expected_status_and_body_pass(http_server: str) -> None:
    observation = await run(
        {"http": {"address": http_server, "path": "/ok", "bodyContains": "nominal"}}
    )

    assert observation.passed, observation.observed
    assert observation.observed.startswith("HTTP 200 in ")
    assert observation.observed.endswith("ms")


async def test_http_url_is_used_as_given(http_server: str) -> None:
    observation = await run({"http": {"url": f"http://{http_server}/ok"}})

    assert observation.passed, observation.observed


async def test_http_wrong_status_fails(http_server: str) -> None:
    observation = await run({"http": {"address": http_server, "path": "/down"}})

    assert not observation.passed
    assert observation.observed.startswith("HTTP 503 in ")


async def test_http_status_in_expected_list_passes(http_server: str) -> None:
    spec = {"address": http_server, "path": "/down", "expectStatus": [200, 503]}

    assert (await run({"http": spec})).passed


async def test_http_missing_body_text_fails(http_server: str) -> None:
    observation = await run(
        {"http": {"address": http_server, "path": "/ok", "bodyContains": "degraded"}}
    )

    assert not observation.passed
    assert observation.observed.endswith("body lacks 'degraded'")


async def test_http_latency_bound_fails_when_slower(http_server: str) -> None:
    observation = await run(
        {"http": {"address": http_server, "path": "/slow", "maxLatency": "50ms"}}
    )

    assert not observation.passed
    assert observation.observed.startswith("HTTP 200 in ")
    assert observation.observed.endswith("(max 50ms)")


async def test_http_latency_bound_passes_when_faster(http_server: str) -> None:
    observation = await run({"http": {"address": http_server, "path": "/ok", "maxLatency": "1s"}})

    assert observation.passed, observation.observed


async def test_http_nothing_listening_fails() -> None:
    observation = await run({"http": {"url": f"http://127.0.0.1:{free_port()}/"}})

    assert not observation.passed
    assert observation.observed == "connection refused"


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """Accepts connections and never answers: a frozen (paused) service looks like this."""
    held: list[asyncio.StreamWriter] = []
    server = await asyncio.start_server(lambda _r, w: held.append(w), "127.0.0.1", 0)
    async with server:
        yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
        for writer in held:
            writer.close()


@pytest.mark.parametrize(
    "probe_for",
    [
        lambda address: {"http": {"url": f"http://{address}/"}},
        lambda address: {"grpcHealth": {"address": address}},
        lambda address: {"redisRegistry": {"service": SERVICE, "redis": {"address": address}}},
    ],
    ids=["http", "grpcHealth", "redisRegistry"],
)
async def test_silent_server_times_out(
    silent_server: str, probe_for: Callable[[str], dict[str, Any]]
) -> None:
    started = time.monotonic()

    observation = await run({**probe_for(silent_server), "timeout": "200ms"})

    assert observation == Observation(False, "timed out after 200ms", observation.at)
    assert time.monotonic() - started < 1.0


# --- TCP ---------------------------------------------------------------------------------------


async def test_tcp_listening_passes() -> None:
    accepted = asyncio.Event()

    def on_connect(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()
        writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        observation = await run({"tcp": {"address": f"127.0.0.1:{port}"}})
        await asyncio.wait_for(accepted.wait(), 1.0)

    assert observation == Observation(True, "connected", observation.at)


async def test_tcp_nothing_listening_fails() -> None:
    observation = await run({"tcp": {"address": f"127.0.0.1:{free_port()}"}})

    assert observation == Observation(False, "connection refused", observation.at)


# --- Redis service registry --------------------------------------------------------------------


@pytest.fixture
async def registry(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis(host="127.0.0.1", port=redis_server.port, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


def registry_probe(redis_server: RedisServer, **fields: Any) -> dict[str, Any]:
    return {
        "redisRegistry": {"service": SERVICE, "redis": {"address": redis_server.address}, **fields}
    }


async def register(client: aioredis.Redis, key: str = REGISTRY_KEY, **fields: object) -> None:
    await client.hset(key, mapping={name: str(value) for name, value in fields.items()})


async def test_registry_fresh_heartbeat_passes(
    redis_server: RedisServer, registry: aioredis.Redis
) -> None:
    await register(registry, pid=1234, last_heartbeat=time.time())

    observation = await run(registry_probe(redis_server))

    assert observation.passed, observation.observed
    assert observation.observed.startswith("registered pid 1234, heartbeat ")
    assert observation.observed.endswith("s old")


async def test_registry_defaults_fit_the_ecosystems_30s_heartbeat(
    redis_server: RedisServer, registry: aioredis.Redis
) -> None:
    # As the seed ecosystem's services register: a hash with registered_at, beaten every 30 s.
    now = time.time()
    fields = {"name": SERVICE, "status": "healthy", "http_port": 8080, "grpc_port": 50051}
    await register(registry, **fields, registered_at=now - 3600, last_heartbeat=now - 29)

    observation = await run(registry_probe(redis_server))
    assert observation.passed, observation.observed  # between two beats is still registered

    await register(registry, last_heartbeat=now - 50)
    observation = await run(registry_probe(redis_server))
    assert not observation.passed  # a beat missed by 20 s is not
    assert "heartbeat 50." in observation.observed and "max 45s" in observation.observed


async def test_registry_stale_heartbeat_fails(
    redis_server: RedisServer, registry: aioredis.Redis
) -> None:
    await register(registry, pid=1234, last_heartbeat=time.time() - 12.3)

    observation = await run(registry_probe(redis_server, maxAge="5s"))

    assert not observation.passed
    assert observation.observed.startswith("pid 1234: heartbeat 12.")
    assert observation.observed.endswith("s old (max 5s)")


async def test_registry_missing_fails(redis_server: RedisServer) -> None:
    observation = await run(registry_probe(redis_server))

    assert observation == Observation(False, f"no registration at {REGISTRY_KEY}", observation.at)


async def test_registry_json_string_value_passes(
    redis_server: RedisServer, registry: aioredis.Redis
) -> None:
    await registry.set(REGISTRY_KEY, f'{{"pid": 77, "last_heartbeat": {time.time()}}}')

    observation = await run(registry_probe(redis_server))

    assert observation.passed, observation.observed
    assert "pid 77" in observation.observed


async def test_registry_custom_key_template(
    redis_server: RedisServer, registry: aioredis.Redis
) -> None:
    await register(registry, key=f"services:{SERVICE}", pid=5, last_heartbeat=time.time())

    observation = await run(registry_probe(redis_server, key="services:{service}"))

    assert observation.passed, observation.observed


async def test_registry_new_instance_after_the_fault_passes(
    redis_server: RedisServer, registry: aioredis.Redis
) -> None:
    fault_at = time.time() - 3
    await register(registry, pid=2, registered_at=fault_at + 1, last_heartbeat=time.time())
    ctx = ProbeContext(resolver=DictResolver({}), since=fault_at)

    observation = await run(registry_probe(redis_server, newInstance=True), ctx)

    assert observation.passed, observation.observed


async def test_registry_new_instance_before_the_fault_fails(
    redis_server: RedisServer, registry: aioredis.Redis
) -> None:
    fault_at = time.time() - 3
    await register(registry, pid=123, registered_at=fault_at - 60, last_heartbeat=time.time())
    ctx = ProbeContext(resolver=DictResolver({}), since=fault_at)

    observation = await run(registry_probe(redis_server, newInstance=True), ctx)

    expected = "registration from before the fault (pid 123)"
    assert observation == Observation(False, expected, observation.at)


async def test_registry_redis_down_fails() -> None:
    spec = {"redisRegistry": {"service": SERVICE, "redis": {"address": f"127.0.0.1:{free_port()}"}}}

    observation = await run(spec)

    assert observation == Observation(False, "connection refused", observation.at)


# --- Command -----------------------------------------------------------------------------------


def python(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


async def test_command_exit_zero_passes() -> None:
    observation = await run({"command": {"argv": python("pass")}})

    assert observation == Observation(True, "exit 0", observation.at)


async def test_command_exit_one_fails_with_last_stderr_line() -> None:
    code = "import sys; print('first', file=sys.stderr); sys.exit('broker unreachable')"

    observation = await run({"command": {"argv": python(code)}})

    assert observation == Observation(False, "exit 1: broker unreachable", observation.at)


async def test_command_output_contains() -> None:
    argv = python("print('positions reconciled')")

    passing = await run({"command": {"argv": argv, "outputContains": "reconciled"}})
    failing = await run({"command": {"argv": argv, "outputContains": "halted"}})

    assert passing.passed
    assert failing == Observation(False, "exit 0, output lacks 'halted'", failing.at)


async def test_command_not_found_fails() -> None:
    observation = await run({"command": {"argv": ["/nonexistent/probe-binary"]}})

    assert observation == Observation(
        False, "command not found: /nonexistent/probe-binary", observation.at
    )


@pytest.fixture
def pid_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "pid"
    yield path
    # Should the test fail before the probe killed its child, end that child here, by its PID.
    pid = _child_pid(path)
    if pid is not None and _alive(pid):
        os.kill(pid, signal.SIGKILL)


def _child_pid(path: Path) -> int | None:
    text = path.read_text() if path.exists() else ""
    return int(text) if text.isdigit() else None


def _alive(pid: int) -> bool:
    """Running or a zombie: either way /proc still lists it."""
    return Path(f"/proc/{pid}").exists()


async def test_command_timeout_kills_and_reaps_the_child(pid_file: Path) -> None:
    # The child writes its PID first, so the test can tell afterwards that it is gone.
    code = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(30)"
    argv = python(code, str(pid_file))

    started = time.monotonic()
    observation = await run({"command": {"argv": argv}, "timeout": "500ms"})

    assert observation == Observation(False, "timed out after 500ms", observation.at)
    assert time.monotonic() - started < 1.5
    pid = _child_pid(pid_file)
    assert pid is not None, "the child did not start within the timeout"
    assert not _alive(pid), "the child is still running or a zombie"


async def test_what_a_command_left_running_is_killed_when_it_exits(pid_file: Path) -> None:
    observation = await run(
        {"command": {"argv": ["sh", "-c", f"sleep 60 & printf %s $! > {pid_file}"]}}
    )

    assert observation.passed, observation.observed
    pid = _child_pid(pid_file)
    assert pid is not None
    deadline = time.monotonic() + 5  # killed; reaped by its new parent soon after
    while alive(pid):
        assert time.monotonic() < deadline, "what the command left is still running"
        await asyncio.sleep(0.01)


# A runner in miniature: it observes a command that sleeps, until it is killed; it says the
# command's PID once its watchdog has been told of it.
RUNNER = """
import asyncio
from test_coordinator.checks import ProbeContext, observe
from test_coordinator.scenario.model import Probe
from test_coordinator.watchdog import runner_watchdog
watchdog = runner_watchdog()
watch = watchdog.watch
def watch_and_say(group):
    watch(group)
    print(group, flush=True)
watchdog.watch = watch_and_say
probe = Probe.model_validate({"command": {"argv": ["sleep", "60"]}, "timeout": "2m"})
asyncio.run(observe(probe, ProbeContext(resolver=None)))
"""


def test_a_running_command_dies_with_a_killed_runner(pid_file: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", RUNNER], stdout=subprocess.PIPE, text=True
    ) as runner:
        try:
            assert runner.stdout is not None
            told, _, _ = select.select([runner.stdout], [], [], 10)
            assert told, "the runner's watchdog was not told of the command"
            pid = int(runner.stdout.readline())
            pid_file.write_text(str(pid))  # ended by the fixture, should the test fail
        finally:
            runner.kill()
    # The runner's watchdog kills it; init reaps it.
    assert gone(pid, timeout=10), "the command outlived its runner"


# --- Resolving endpoints -----------------------------------------------------------------------


async def test_every_resolved_endpoint_must_pass(health_server: HealthServer) -> None:
    await health_server.set(health_pb2.HealthCheckResponse.SERVING)
    dead = f"127.0.0.1:{free_port()}"
    ctx = ProbeContext(
        resolver=DictResolver(
            {
                ("risk", "grpc"): [health_server.address, dead],
                ("risk", 50051): [health_server.address, health_server.address],
            }
        )
    )

    one_dead = await run({"grpcHealth": {"target": "risk", "port": "grpc"}}, ctx)
    all_up = await run({"grpcHealth": {"target": "risk", "port": 50051}}, ctx)

    assert one_dead == Observation(False, f"{dead}: connection refused", one_dead.at)
    assert all_up == Observation(True, "SERVING on all 2 endpoints", all_up.at)


async def test_port_defaults_to_the_kinds_named_port(health_server: HealthServer) -> None:
    await health_server.set(health_pb2.HealthCheckResponse.SERVING)
    ctx = ProbeContext(resolver=DictResolver({("risk", "grpc"): [health_server.address]}))

    observation = await run({"grpcHealth": {"target": "risk"}}, ctx)

    assert observation.passed, observation.observed


async def test_resolver_lookup_error_fails() -> None:
    observation = await run({"tcp": {"target": "ghost", "port": 80}})

    assert observation == Observation(False, "no workload for target ghost", observation.at)


async def test_resolver_with_no_endpoints_fails() -> None:
    ctx = ProbeContext(resolver=DictResolver({("risk", 80): []}))

    observation = await run({"tcp": {"target": "risk", "port": 80}}, ctx)

    assert observation == Observation(False, "no endpoints for target risk port 80", observation.at)
