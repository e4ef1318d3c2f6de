"""Compose projects for the tests and the benchmark, on this machine's real Docker engine.

The demo stack's test variant (``compose.test.yaml``) is brought up by the real compose tool
(``docker compose``, else Debian's ``docker-compose``) under a unique project name, with free
loopback ports, and taken down by that name; leftovers are removed by their project label.
No image can be pulled here: the base image is an empty one, imported once.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import docker
import pytest
import test_coordinator
from docker.errors import DockerException, ImageNotFound
from test_coordinator.platforms.compose.containers import PROJECT_LABEL, SERVICE_LABEL
from test_coordinator.platforms.compose.docker_api import engine_address
from test_coordinator.platforms.local.stack import free_port

__all__ = [
    "BASE_IMAGE",
    "DEMO_PORTS",
    "REPO",
    "TEST_VARIANT",
    "ComposeProject",
    "compose_command",
    "demo_project",
    "ensure_base_image",
    "missing_engine",
    "network_project",
    "requires_engine",
    "running",
    "tiny_project",
]

BASE_IMAGE = "test-coordinator-test-base:empty"
REPO = Path(test_coordinator.__file__).resolve().parents[2]
TEST_VARIANT = Path(__file__).with_name("compose.test.yaml")
TINY = Path(__file__).with_name("tiny.compose.yaml")
NETWORK = Path(__file__).with_name("network.compose.yaml")
SYSTEM_MOUNTS = ("/usr", "/lib", "/lib64", "/bin", "/etc")
DEMO_PORTS = (
    "REDIS_PORT",
    "RISK_MONITOR_GRPC",
    "RISK_MONITOR_HTTP",
    "ORDER_GATEWAY_GRPC",
    "ORDER_GATEWAY_HTTP",
    "AUDIT_CORRELATOR_GRPC",
    "AUDIT_CORRELATOR_HTTP",
    "RISK_PROXY_GRPC",
    "RISK_PROXY_CONTROL",
)


@cache
def compose_command() -> tuple[str, ...] | None:
    """Compose v2 (``docker compose``) where installed, else v1 (``docker-compose``)."""
    if shutil.which("docker"):
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False, timeout=30
        )
        if probe.returncode == 0:
            return ("docker", "compose")
    return ("docker-compose",) if shutil.which("docker-compose") else None


@cache
def missing_engine() -> str | None:
    """Why the compose tests cannot run here, or None when they can."""
    address = engine_address()
    if address.startswith("unix://"):
        # Knocked first: the SDK leaves its socket open when nothing answers there (a
        # ResourceWarning that pytest then blames on whichever test runs at the time).
        with socket.socket(socket.AF_UNIX) as knock:
            try:
                knock.connect(address.removeprefix("unix://"))
            except OSError as error:
                return f"no Docker engine at {address} ({error})"
    try:
        client = docker.from_env(timeout=10)
        client.ping()
        client.close()
    except DockerException as error:
        return f"no Docker engine at {address} ({error})"
    if compose_command() is None:
        return "neither `docker compose` nor `docker-compose` is installed"
    return None


# In CI (.ci/run starts an engine) a missing engine is a failure, not a reason to skip.
requires_engine = pytest.mark.skipif(
    missing_engine() is not None and not os.environ.get("CI"),
    reason=f"the compose suite needs a Docker engine and compose: {missing_engine()}",
)


def ensure_base_image() -> str:
    """An empty image to run this machine's binaries in, imported when missing."""
    client = docker.from_env()
    try:
        client.images.get(BASE_IMAGE)
    except ImageNotFound:
        empty = io.BytesIO()
        tarfile.open(fileobj=empty, mode="w").close()
        repository, tag = BASE_IMAGE.split(":")
        client.api.import_image_from_data(empty.getvalue(), repository=repository, tag=tag)
    finally:
        client.close()
    return BASE_IMAGE


def _python_mounts() -> dict[str, str]:
    """The Python install, the virtualenv and the repository, at their own paths.

    A path that is already one of the system mounts (a Python under /usr) is replaced by this
    directory, which the repository mount holds anyway: compose refuses a mount point twice.
    """
    taken = set(SYSTEM_MOUNTS)
    mounts = {}
    for variable, path in (
        ("TC_PYTHON_HOME", sys.base_prefix),
        ("TC_VENV", sys.prefix),
        ("TC_REPO", str(REPO)),
    ):
        mounts[variable] = str(Path(__file__).parent) if path in taken else path
        taken.add(mounts[variable])
    return mounts


@dataclass
class ComposeProject:
    name: str
    file: Path
    env: dict[str, str] = field(default_factory=dict)

    def compose(
        self, *args: str, timeout: float = 180, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        command = compose_command()
        assert command is not None
        env = {**self.env, "COMPOSE_PROJECT_NAME": self.name}
        result = subprocess.run(
            [*command, "-f", str(self.file), *args],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"compose {' '.join(args)} failed:\n{result.stderr}")
        return result

    def up(self, *services: str) -> None:
        self.compose("up", "-d", *services)

    def down(self) -> None:
        self.compose("down", "--timeout", "1", "--remove-orphans", check=False)
        client = docker.from_env()
        try:  # whatever compose left behind (a one-off `run` container) goes by its label
            for container in client.containers.list(all=True, filters=self._label()):
                container.remove(force=True)
        finally:
            client.close()

    def container_names(self) -> list[str]:
        client = docker.from_env()
        try:
            return sorted(c.name for c in client.containers.list(all=True, filters=self._label()))
        finally:
            client.close()

    def _label(self) -> dict[str, str]:
        return {"label": f"{PROJECT_LABEL}={self.name}"}

    def inspect(self, service: str) -> dict[str, Any]:
        """The engine's current view of the service's (single) container."""
        client = docker.from_env()
        try:
            [container] = client.containers.list(
                all=True,
                filters={"label": [f"{PROJECT_LABEL}={self.name}", f"{SERVICE_LABEL}={service}"]},
            )
            attrs: dict[str, Any] = client.api.inspect_container(container.id)
            return attrs
        finally:
            client.close()

    def port(self, variable: str) -> int:
        return int(self.env[variable])


def demo_project(**env: str) -> ComposeProject:
    """The demo stack's test variant under a fresh name and free ports (not yet up)."""
    ports = {port: str(free_port()) for port in DEMO_PORTS}
    return _project(TEST_VARIANT, **ports, **env)


def tiny_project(pid_dir: Path) -> ComposeProject:
    """One tiny service (``app: api``, port ``tcp``) recording its starts in ``pid_dir``; with
    the profile ``stubborn``, another deaf to SIGTERM (``app: stubborn``)."""
    ports = {"API_PORT": str(free_port()), "STUBBORN_PORT": str(free_port())}
    return _project(TINY, **ports, TC_PID_DIR=str(pid_dir))


def network_project() -> ComposeProject:
    """An echo service (``app: echo``, ports ``tcp`` and ``plain``) and a fault proxy in front
    of its port ``tcp`` (``PROXY_TCP``, control API on ``PROXY_CONTROL``)."""
    ports = ("ECHO_TCP", "ECHO_PLAIN", "PROXY_TCP", "PROXY_CONTROL")
    return _project(NETWORK, **{port: str(free_port()) for port in ports})


def _project(file: Path, **env: str) -> ComposeProject:
    variables = {
        "TC_IMAGE": ensure_base_image(),
        "TC_PYTHON": sys.executable,
        **_python_mounts(),
        **env,
    }
    return ComposeProject(f"tctest-{uuid.uuid4().hex[:8]}", file, variables)


@contextmanager
def running(project: ComposeProject, *services: str) -> Iterator[ComposeProject]:
    try:
        project.up(*services)
        yield project
    finally:
        project.down()
