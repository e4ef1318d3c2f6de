"""The demo services as real processes on free ports, for the tests that need them."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.conftest import free_port

T = TypeVar("T")
MODULES = {
    "risk-monitor": "test_coordinator.demo.risk_monitor",
    "order-gateway": "test_coordinator.demo.order_gateway",
    "audit-correlator": "test_coordinator.demo.audit_correlator",
}


def wait_until(probe: Callable[[], T], what: str, timeout: float = 10.0) -> T:
    """Polls probe until it returns something truthy; fails after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def stop_process(proc: subprocess.Popen[bytes]) -> int:
    """SIGTERM, then SIGKILL after 5 s; the exit code says which it took (-9 for the kill)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


class Service:
    def __init__(
        self, name: str, proc: subprocess.Popen[bytes], grpc_port: int, http_port: int, log: Path
    ) -> None:
        self.name, self.proc, self.log = name, proc, log
        self.grpc_port, self.http_port = grpc_port, http_port

    @property
    def grpc_address(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def http(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}{path}", data=data, method=method
        )
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            with error:
                return error.code, json.loads(error.read())

    def healthy(self) -> bool:
        if self.proc.poll() is not None:
            pytest.fail(f"{self.name} exited with {self.proc.returncode}:\n{self.log.read_text()}")
        try:
            return self.http("GET", "/api/v1/health")[0] == 200
        except OSError:
            return False

    def grpc_health(self, service: str) -> int:
        with grpc.insecure_channel(self.grpc_address) as channel:
            request = health_pb2.HealthCheckRequest(service=service)
            status: int = health_pb2_grpc.HealthStub(channel).Check(request, timeout=2).status
            return status

    def stop(self) -> int:
        return stop_process(self.proc)


class Launcher:
    """Starts demo services on free ports and stops whatever is left by PID."""

    def __init__(self, redis_address: str, logs: Path) -> None:
        self.redis_address, self.logs = redis_address, logs
        self.started: list[Service] = []

    def start(
        self, name: str, *extra: str, grpc_port: int | None = None, wait: bool = True
    ) -> Service:
        grpc_port = grpc_port or free_port()
        http_port = free_port()
        log = self.logs / f"{name}-{len(self.started)}.log"
        ports = ["--grpc-port", str(grpc_port), "--http-port", str(http_port)]
        command = [sys.executable, "-m", MODULES[name], *ports, "--redis", self.redis_address]
        with log.open("wb") as stderr:
            proc = subprocess.Popen([*command, *extra], stdout=subprocess.DEVNULL, stderr=stderr)
        service = Service(name, proc, grpc_port, http_port, log)
        self.started.append(service)
        if wait:
            wait_until(service.healthy, f"{name} to be healthy")
        return service

    def close(self) -> None:
        for service in self.started:
            stop_process(service.proc)
