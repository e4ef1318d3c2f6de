"""`test-coordinator serve` as a user runs it: the real process on free loopback ports, its
scenario directory and state directory of its own, stopped by PID at the end."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.conftest import free_port
from tests.documents import scenario_document
from tests.integration.stacks import TINY_SERVICE

CLI = [sys.executable, "-m", "test_coordinator.cli"]


@dataclass
class Service:
    proc: subprocess.Popen[bytes]
    scenarios: Path
    state: Path
    log: Path
    http_port: int
    grpc_port: int
    pid_dir: Path
    token: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        token: str | None = None,
        content_type: str = "application/yaml",
    ) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(self.url + path, data=body, method=method)
        request.add_header("Content-Type", content_type)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def write(self, name: str, spec: dict[str, Any], *, filename: str | None = None) -> Path:
        """A scenario file as a user saves it (a comment on top)."""
        path = self.scenarios / (filename or f"{name}.yaml")
        document = scenario_document(name, spec, annotations=self.stack_annotation())
        path.write_text("# kept\n" + yaml_text(document))
        return path

    def stack_annotation(self) -> dict[str, str]:
        return {"chaos.tse.dev/local-stack": "../stack.yaml"}

    def status(self, path: Path) -> dict[str, Any]:
        return status_of(path)

    def stop(self, *, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def crash(self) -> None:
        self.proc.kill()
        self.proc.wait()


def status_of(path: Path) -> dict[str, Any]:
    """The status written back into ``path`` (empty while none is)."""
    try:
        data = YAML(typ="safe").load(path.read_text())
    except (OSError, ValueError):
        return {}
    status = (data or {}).get("status") if isinstance(data, dict) else None
    return status if isinstance(status, dict) else {}


def yaml_text(document: Any) -> str:
    out = io.StringIO()
    YAML(typ="safe", pure=True).dump(document, out)
    return out.getvalue()


def until(condition: Callable[[], Any], *, within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within}s: {what}")
        time.sleep(0.05)


def pause_spec(duration: str = "30s", **extra: Any) -> dict[str, Any]:
    return {
        "targets": {"api": {"selector": {"app": "api"}}},
        "steps": [{"name": "freeze", "fault": {"pause": {"target": "api"}}, "duration": duration}],
        **extra,
    }


def quick_spec(**extra: Any) -> dict[str, Any]:
    """A kill the stack's restart policy repairs within a second or so."""
    return {
        "targets": {"api": {"selector": {"app": "api"}}},
        "steps": [
            {
                "name": "crash",
                "fault": {"kill": {"target": "api"}},
                "after": [{"name": "api back", "tcp": {"target": "api", "port": "tcp"}}],
            }
        ],
        "timeout": "30s",
        **extra,
    }


StartService = Callable[..., Service]


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[StartService]:
    """Starts ``serve --platform local`` over ``tmp_path/scenarios`` (again, after a crash, on
    the same directories); every one started is stopped at the end."""
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    command = [sys.executable, TINY_SERVICE, "--port", "${api.tcp}", "--pid-dir", str(pid_dir)]
    stack = {
        "services": {
            "api": {
                "command": command,
                "ports": {"tcp": 0},
                "labels": {"app": "api"},
                "ready": {"tcp": {"port": "tcp"}},
                "restartDelay": "300ms",
                "stopGracePeriod": "2s",
            }
        }
    }
    (tmp_path / "stack.yaml").write_text(json.dumps(stack))
    started: list[Service] = []

    def start(
        *args: str, env: dict[str, str] | None = None, wait: bool = True, slow_stop: bool = False
    ) -> Service:
        """``slow_stop``: the stack's service ignores SIGTERM, so stopping it takes its whole
        grace period (2 s)."""
        api = stack["services"]["api"]
        api["command"] = [*command, "--ignore-term"] if slow_stop else command
        (tmp_path / "stack.yaml").write_text(json.dumps(stack))
        http_port, grpc_port = free_port(), free_port()
        log = tmp_path / f"serve-{len(started)}.log"
        argv = [
            *CLI, "serve", "--platform", "local", "--scenarios", str(scenarios),
            "--http-port", str(http_port), "--grpc-port", str(grpc_port),
            "--state-dir", str(tmp_path / "state"), "--log-format", "plain",
            "--history", f"sqlite:///{tmp_path / 'history.db'}", *args,
        ]  # fmt: skip
        environment = {**os.environ, **(env or {})}
        for variable in ("REDIS_URL", "CHAOS_INJECTION_ENABLED", "API_TOKEN_FILE", "HTTP_PORT"):
            if variable not in (env or {}):
                environment.pop(variable, None)
        with log.open("ab") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=environment)
        service = Service(proc, scenarios, tmp_path / "state", log, http_port, grpc_port, pid_dir)
        started.append(service)
        if wait:
            until(lambda: _healthy(service), within=30, what="the service answering health")
        return service

    yield start
    for service in started:
        service.stop()
    if started:
        print(started[-1].output()[-6000:])


def _healthy(service: Service) -> bool:
    if service.proc.poll() is not None:
        raise AssertionError(f"serve exited:\n{service.output()[-3000:]}")
    try:
        code, _ = service.request("GET", "/api/v1/health")
    except OSError:
        return False
    return code == 200
