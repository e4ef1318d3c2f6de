"""`serve --platform compose` on the real Docker engine: the compose service (the test variant of
compose.yaml's) runs a scenario file saved into its directory by itself and writes the status
into it; a service killed mid-pause leaves a journal that the next one repairs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.conftest import free_port
from tests.documents import scenario_document
from tests.integration.platforms.compose.projects import ComposeProject, requires_engine
from tests.integration.service.conftest import status_of, until, yaml_text

pytestmark = requires_engine

CLI = [sys.executable, "-m", "test_coordinator.cli"]


def pause_gateway(name: str, duration: str) -> str:
    spec = {
        "targets": {"gateway": {"selector": {"app": "order-gateway"}}},
        "steps": [
            {
                "name": "freeze gateway",
                "fault": {"pause": {"target": "gateway"}},
                "duration": duration,
                "after": [
                    {
                        "name": "gateway answers",
                        "http": {"target": "gateway", "port": "http", "path": "/api/v1/health"},
                        "within": "10s",
                    }
                ],
            }
        ],
        "timeout": "10m",
    }
    return "# saved into the watched directory\n" + yaml_text(scenario_document(name, spec))


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def test_the_compose_service_runs_a_saved_file_by_itself(
    demo_stack: ComposeProject, tmp_path: Path
) -> None:
    scenarios, state = tmp_path / "scenarios", tmp_path / "state"
    scenarios.mkdir()
    state.mkdir()
    http_port = free_port()
    demo_stack.env.update(
        TC_SCENARIOS=str(scenarios),
        TC_STATE=str(state),
        TC_HTTP_PORT=str(http_port),
        TC_GRPC_PORT=str(free_port()),
    )
    try:
        demo_stack.compose("up", "-d", "test-coordinator")
        until(lambda: healthy(http_port), within=60, what="the service's health")
        until(
            lambda: (
                demo_stack.inspect("test-coordinator")["State"].get("Health", {}).get("Status")
                == "healthy"
            ),
            within=30,
            what="the compose healthcheck passing",
        )
        path = scenarios / "gateway-freeze.yaml"
        path.write_text(pause_gateway("gateway-freeze", "1s"))

        status = until(
            lambda: status_of(path).get("verdict") and status_of(path),
            within=60,
            what="the status in the file",
        )
        assert (status["phase"], status["verdict"]) == ("Succeeded", "Pass"), status["message"]
        assert status["faults"][0]["action"] == "pause" and status["faults"][0]["revertedAt"]
        assert path.read_text().startswith("# saved into the watched directory\n")
        assert not demo_stack.inspect("order-gateway")["State"]["Paused"]
    finally:
        logs = demo_stack.compose("logs", "test-coordinator", check=False).stdout
        demo_stack.compose("rm", "-sf", "test-coordinator", check=False)
        print(logs[-4000:])


def test_a_restarted_service_undoes_what_a_killed_one_left(
    demo_stack: ComposeProject, tmp_path: Path
) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    ports = (free_port(), free_port())
    argv = [
        *CLI, "serve", "--platform", "compose", "--project", demo_stack.name,
        "--scenarios", str(scenarios), "--state-dir", str(tmp_path / "state"),
        "--http-port", str(ports[0]), "--grpc-port", str(ports[1]), "--log-format", "plain",
        "--history", "off",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "HTTP_PORT")}
    log = tmp_path / "serve.log"

    def start() -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
        until(lambda: healthy(ports[0]), within=30, what="serve answering")
        return proc

    first = start()
    second = None
    try:
        path = scenarios / "gateway-freeze.yaml"
        path.write_text(pause_gateway("gateway-freeze", "5m"))
        until(
            lambda: demo_stack.inspect("order-gateway")["State"]["Paused"],
            within=30,
            what="the gateway paused",
        )
        first.send_signal(signal.SIGKILL)
        first.wait()
        assert demo_stack.inspect("order-gateway")["State"]["Paused"], "nothing undid it yet"
        assert list((tmp_path / "state" / "journal").glob("*.json")), "the journal is on disk"

        second = start()
        status = until(
            lambda: status_of(path).get("phase") == "Aborted" and status_of(path),
            within=30,
            what="the interrupted run ended",
        )

        assert not demo_stack.inspect("order-gateway")["State"]["Paused"]
        assert "the service restarted during the run" in status["message"]
        assert "1 of 1 recorded faults reverted" in status["message"]
        assert status["faults"][0]["revertedAt"]
        assert not list((tmp_path / "state" / "journal").glob("*.json"))
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=15)
        print(log.read_text(errors="replace")[-4000:])
