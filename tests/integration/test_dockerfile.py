"""The shipped Dockerfile, built by the real Docker engine and run as its users run it.

The build pulls the Dockerfile's base image where a registry is reachable; where none is (CI
here), ``.ci/python-base-image`` has made a stand-in of it beforehand, and without either the
module is skipped with that reason. A demo service runs from the image as compose.yaml runs
it, and the CLI's commands are executed in a container of the image, as its user.
"""

from __future__ import annotations

import subprocess
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import RedisServer, free_port
from tests.integration.platforms.compose.projects import REPO
from tests.integration.services import wait_until

DOCKERFILE = REPO / "Dockerfile"
BUILD_TIMEOUT = 1200  # seconds: every dependency is installed from PyPI, layers copied (vfs)

# The first test waits for the build (its fixture); pytest's timeout counts that too.
pytestmark = pytest.mark.timeout(BUILD_TIMEOUT + 300)


def base_image() -> str:
    return next(
        line.split()[1]
        for line in DOCKERFILE.read_text().splitlines()
        if line.split()[:1] == ["FROM"]
    )


def docker(*args: str, timeout: float = 120, check: bool = True) -> str:
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: exit {done.returncode}\n{done.stderr}")
    return done.stdout


def why_no_base_image() -> str | None:
    """None when the base image is here or could be pulled; else why the build cannot run."""
    try:
        docker("info", timeout=30)
    except (AssertionError, OSError, subprocess.TimeoutExpired) as error:
        return f"no Docker engine: {error}"
    image = base_image()
    inspected = subprocess.run(
        ["docker", "image", "inspect", image], capture_output=True, timeout=30, check=False
    )
    if inspected.returncode == 0:
        return None
    try:
        pulled = subprocess.run(
            ["docker", "pull", image], capture_output=True, text=True, timeout=300, check=False
        )
    except subprocess.TimeoutExpired:
        problem = "the pull did not end within 5 minutes"
    else:
        if pulled.returncode == 0:
            return None
        problem = pulled.stderr.strip()
    return f"no {image} image, none pulled ({problem}); .ci/python-base-image makes a stand-in"


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    reason = why_no_base_image()
    if reason is not None:
        pytest.skip(reason)
    tag = f"test-coordinator:test-{uuid.uuid4().hex[:8]}"
    docker("build", "--network", "host", "--tag", tag, str(REPO), timeout=BUILD_TIMEOUT)
    yield tag
    docker("image", "rm", "--force", tag, check=False)


@pytest.fixture(scope="module")
def container(image: str) -> Iterator[str]:
    """A container of the image, as its user, with this repository at /repo (read-only)."""
    name = f"test-coordinator-image-{uuid.uuid4().hex[:8]}"
    docker(
        "run", "--detach", "--name", name, "--network", "host", "--volume", f"{REPO}:/repo:ro",
        image, "sleep", "infinity",
    )  # fmt: skip
    try:
        yield name
    finally:
        docker("rm", "--force", name, check=False)


def execute(container: str, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", "exec", container, *command],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_demo_service_serves_from_the_image(image: str, redis_server: RedisServer) -> None:
    """The risk monitor, started as compose.yaml starts it: healthy once it reaches Redis."""
    http_port = free_port()
    name = f"test-coordinator-image-{uuid.uuid4().hex[:8]}"
    docker(
        "run", "--detach", "--name", name, "--network", "host", image,
        "python", "-m", "test_coordinator.demo.risk_monitor", "--host", "127.0.0.1",
        "--grpc-port", str(free_port()), "--http-port", str(http_port),
        "--redis", redis_server.address,
    )  # fmt: skip

    def healthy() -> bool:
        url = f"http://127.0.0.1:{http_port}/api/v1/health"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return bool(response.status == 200)
        except OSError:  # not listening yet, or 503 (an HTTPError) until Redis is reached
            return False

    try:
        wait_until(healthy, "the risk monitor's health endpoint to answer 200", timeout=60)
    finally:
        docker("rm", "--force", name, check=False)


def test_it_runs_as_an_unprivileged_user(container: str) -> None:
    assert execute(container, "id", "-u").stdout.strip() == "10001"


def test_the_cli_validates_the_shipped_scenarios(container: str) -> None:
    shipped = [f"/repo/scenarios/{platform}" for platform in ("local", "compose", "kubernetes")]
    validated = execute(container, "test-coordinator", "validate", *shipped)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    files = [
        path for folder in shipped for path in (REPO / folder.removeprefix("/repo/")).glob("*.yaml")
    ]
    valid = [line for line in validated.stdout.splitlines() if line.startswith("valid ")]
    assert len(valid) == len(files), validated.stdout


def test_the_image_generates_the_shipped_crd(container: str) -> None:
    generated = execute(container, "test-coordinator", "crd")
    assert generated.returncode == 0, generated.stderr
    assert generated.stdout == (REPO / "crds" / "chaosscenario.yaml").read_text()


def test_the_operator_and_its_kubernetes_client_load(container: str) -> None:
    # Its Kubernetes client, kopf and the handlers load (no cluster to reconcile here).
    loaded = execute(
        container, "python", "-c",
        "import test_coordinator.controller.handlers, test_coordinator.platforms.kubernetes",
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    helped = execute(container, "test-coordinator", "operator", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "--max-concurrent-runs" in helped.stdout


def test_nothing_of_the_build_is_left_in_the_image(container: str) -> None:
    assert execute(container, "test", "-e", "/build").returncode == 1
    # The package is installed, compiled (a start without byte-compiling each module).
    compiled = execute(
        container, "python", "-c",
        "import importlib.util, test_coordinator.entry as e;"
        "print(importlib.util.cache_from_source(e.__file__))",
    )  # fmt: skip
    assert execute(container, "test", "-f", compiled.stdout.strip()).returncode == 0
