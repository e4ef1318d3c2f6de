"""`serve` in the ecosystem, against a real Redis: registration and its heartbeat, deregistration,
the live configuration hash, the kill switch, and a Redis that goes away and comes back."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

from tests.conftest import RedisServer, wait_for_port
from tests.integration.service.conftest import StartService, pause_spec, quick_spec, until
from tests.integration.stacks import process_state, started_pids

KEY = "registry:services:test-coordinator"
CONFIG = "config:test-coordinator"


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    connection = redis.Redis(port=redis_server.port, decode_responses=True)
    yield connection
    connection.close()


def test_registers_heartbeats_and_deregisters(
    start_service: StartService, redis_server: RedisServer, client: redis.Redis
) -> None:
    service = start_service("--redis-url", redis_server.url)

    entry = until(lambda: client.hgetall(KEY), within=10, what="the registration")
    assert entry["name"] == "test-coordinator"
    assert entry["http_port"] == str(service.http_port)
    assert entry["grpc_port"] == str(service.grpc_port)
    assert entry["status"] == "healthy" and entry["version"] and entry["host"]
    assert float(entry["registered_at"]) <= float(entry["last_heartbeat"]) <= time.time()
    assert 80 <= client.ttl(KEY) <= 90

    assert service.stop() == 0
    assert client.exists(KEY) == 0


def test_the_kill_switch_in_the_config_hash_stops_chaos_live(
    start_service: StartService, redis_server: RedisServer, client: redis.Redis
) -> None:
    service = start_service("--redis-url", redis_server.url)
    path = service.write("freeze", pause_spec("60s"))
    until(lambda: service.status(path).get("faults"), within=20, what="the pause applied")
    [pid] = started_pids(service.pid_dir)

    client.hset(CONFIG, "chaos_injection_enabled", "false")
    turned_off = time.monotonic()
    status = until(
        lambda: service.status(path).get("phase") == "Aborted" and service.status(path),
        within=5,
        what="the run aborted",
    )

    assert status["faults"][0]["revertedAt"]
    assert time.monotonic() - turned_off < 3.0  # read within 1 s, aborted and written at once
    assert "chaos injection was disabled" in status["message"]
    assert f"chaos_injection_enabled in the Redis hash {CONFIG} says false" in status["message"]
    until(lambda: process_state(pid) is None, within=10, what="the stack stopped")

    # While off, a new scenario ends at once without touching anything.
    other = service.write("crash", quick_spec())
    refused = until(lambda: service.status(other).get("phase"), within=10, what="a status")
    assert refused == "Aborted"
    assert service.status(other)["message"].startswith("chaos injection is disabled (")
    assert not service.status(other).get("faults")
    assert len(started_pids(service.pid_dir)) == 1  # no stack was even started
    _, health = service.request("GET", "/api/v1/health")
    assert health["chaos_injection_enabled"] is False

    client.hset(CONFIG, "chaos_injection_enabled", "true")
    until(
        lambda: service.request("GET", "/api/v1/health")[1]["chaos_injection_enabled"],
        within=5,
        what="chaos enabled again",
    )


def test_the_environment_turns_it_off_too(start_service: StartService) -> None:
    service = start_service(env={"CHAOS_INJECTION_ENABLED": "false"})
    path = service.write("crash", quick_spec())

    status = until(lambda: service.status(path).get("message"), within=10, what="a status")

    assert status == (
        "chaos injection is disabled (CHAOS_INJECTION_ENABLED in the environment says false): "
        "no fault was applied"
    )
    assert started_pids(service.pid_dir) == []


def test_losing_redis_is_said_once_and_registration_comes_back(
    start_service: StartService, redis_server: RedisServer
) -> None:
    service = start_service("--redis-url", redis_server.url)
    until(lambda: redis.Redis(port=redis_server.port).exists(KEY), within=10, what="registered")

    os.kill(redis_server.pid, signal.SIGTERM)
    until(lambda: "configuration in Redis unavailable" in service.output(), within=10,
          what="the loss said")  # fmt: skip
    code, _ = service.request("GET", "/api/v1/health")
    assert code == 200
    time.sleep(1.5)  # more polls fail meanwhile
    assert service.output().count("configuration in Redis unavailable") == 1

    binary = shutil.which("redis-server")
    assert binary is not None
    again = subprocess.Popen(
        [binary, "--port", str(redis_server.port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(redis_server.port)
        fresh = redis.Redis(port=redis_server.port, decode_responses=True)
        entry = until(lambda: fresh.hgetall(KEY), within=10, what="registered again")
        assert entry["status"] == "healthy"
        fresh.close()
    finally:
        again.terminate()
        again.wait(timeout=10)
