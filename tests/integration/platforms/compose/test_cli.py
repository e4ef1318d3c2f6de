"""`test-coordinator run --platform compose` as a user runs it: a real process against a real
compose project, real exit codes, real signals, the status written back and listed."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_for_port
from tests.documents import scenario_document
from tests.integration.platforms.compose.projects import (
    REPO,
    ComposeProject,
    demo_project,
    requires_engine,
    running,
    tiny_project,
)

pytestmark = requires_engine

CLI = [sys.executable, "-m", "test_coordinator.cli"]
SHIPPED = REPO / "scenarios" / "compose" / "risk-monitor-crash.yaml"


def run_cli(
    *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )


def wait_for(condition: Callable[[], bool], *, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def write_scenario(path: Path, spec: dict[str, Any]) -> Path:
    document = scenario_document(path.stem, spec)
    path.write_text(json.dumps(document, indent=2))  # JSON is YAML too
    return path


def test_the_shipped_crash_passes_writes_its_status_back_and_lists(
    demo_stack: ComposeProject, tmp_path: Path
) -> None:
    # The project comes from the compose file in the working directory, as for a user.
    (tmp_path / "compose.yaml").write_text(f"name: {demo_stack.name}\nservices: {{}}\n")
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    original = SHIPPED.read_text()
    path = scenarios / SHIPPED.name
    path.write_text(original)
    no_env = {"COMPOSE_PROJECT_NAME": ""}
    result = run_cli(
        "run", path, "--platform", "compose", "--write-status", cwd=tmp_path, env=no_env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"Pass  recovery \d+\.\d\ds", result.stdout), result.stdout
    assert f"status written to {path}" in result.stdout
    written = path.read_text()
    assert written.startswith(original)  # comments, key order, layout: all kept
    status = written[len(original) :]
    assert status.startswith("status:\n  phase: Succeeded\n  verdict: Pass\n")
    assert re.search(r"\n  recoverySeconds: \d+\.\d+\n", status)
    assert "\n    - name: risk recovers\n" in status

    listing = run_cli("get", scenarios, cwd=tmp_path)
    assert listing.returncode == 0, listing.stdout + listing.stderr
    header, row = listing.stdout.splitlines()
    assert header.split() == ["NAME", "PHASE", "VERDICT", "RECOVERY", "AGE"]
    assert re.fullmatch(r"risk-monitor-crash +Succeeded +Pass +\d+\.\d\ds +\d+s", row), row


def test_ctrl_c_during_a_pause_unpauses_the_container(
    demo_stack: ComposeProject, tmp_path: Path
) -> None:
    path = write_scenario(
        tmp_path / "freeze.yaml",
        {
            "targets": {"gateway": {"selector": {"app": "order-gateway"}}},
            "steps": [
                {"name": "freeze", "fault": {"pause": {"target": "gateway"}}, "duration": "5m"}
            ],
        },
    )
    args = ["run", str(path), "--platform", "compose", "--project", demo_stack.name]
    args += ["--json", str(tmp_path / "r.json"), "--write-status"]
    runner = subprocess.Popen(
        [*CLI, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(lambda: demo_stack.inspect("order-gateway")["State"]["Paused"])
        runner.send_signal(signal.SIGINT)
        output, _ = runner.communicate(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    assert runner.returncode == 130, output
    state = demo_stack.inspect("order-gateway")["State"]
    assert state["Running"] and not state["Paused"]
    status = json.loads((tmp_path / "r.json").read_text())["status"]
    assert status["phase"] == "Aborted"
    assert status["faults"][0]["revertedAt"]
    assert status["faults"][0]["message"].endswith("unpaused " + status["faults"][0]["workload"])
    assert "phase: Aborted" in path.read_text()
    # Compose starts and stops nothing: the message says what is done, and only that.
    assert "SIGINT: aborting, reverting faults\n" in output, output
    assert "stopping the stack" not in output and "everything started" not in output


def test_an_unknown_project_exits_2_listing_the_projects_there(
    demo_stack: ComposeProject,
) -> None:
    result = run_cli("run", SHIPPED, "--platform", "compose", "--project", "no-such-project")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "compose project 'no-such-project' has no containers on the Docker engine at " in (
        result.stderr
    )
    assert re.search(rf"projects there: [^)]*\b{demo_stack.name}\b", result.stderr)
    assert "Traceback" not in result.stderr


def test_an_unknown_service_exits_2_listing_the_services(
    demo_stack: ComposeProject, tmp_path: Path
) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text(SHIPPED.read_text().replace("{app: risk-monitor}", "{service: risk}"))
    result = run_cli("run", path, "--platform", "compose", "--project", demo_stack.name)
    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        f"selector service=risk: compose project '{demo_stack.name}' has no service 'risk' "
        "(its services: audit-correlator, order-gateway, redis, risk-monitor, "
        "risk-monitor-proxy)"
    ) in result.stdout


def test_a_selector_matching_no_container_exits_2_and_touches_nothing(
    demo_stack: ComposeProject, tmp_path: Path
) -> None:
    services = ("redis", "risk-monitor", "order-gateway", "audit-correlator")
    before = {service: demo_stack.inspect(service)["State"] for service in services}
    path = tmp_path / "nothing.yaml"
    path.write_text(SHIPPED.read_text().replace("{app: order-gateway}", "{app: order-gateway-v2}"))
    result = run_cli("run", path, "--platform", "compose", "--project", demo_stack.name)
    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        "spec.targets.gateway.selector: app=order-gateway-v2 matches no workload on the compose "
        "platform (there: "
    ) in result.stdout
    assert "risk-monitor" in result.stdout.split("(there: ", 1)[1]
    after = {service: demo_stack.inspect(service)["State"] for service in services}
    assert after == before  # the risk monitor was not killed: same process, same start


def test_no_reachable_engine_exits_3_naming_the_socket(tmp_path: Path) -> None:
    socket = tmp_path / "docker.sock"
    env = {"DOCKER_HOST": f"unix://{socket}"}
    result = run_cli("run", SHIPPED, "--platform", "compose", "--project", "x", env=env)
    assert result.returncode == 3, result.stdout + result.stderr
    assert f"no Docker engine reachable at unix://{socket}: no such file or directory" in (
        result.stderr
    )


def test_no_project_and_no_compose_file_exits_2(tmp_path: Path) -> None:
    env = {"COMPOSE_PROJECT_NAME": ""}
    result = run_cli("run", SHIPPED, "--platform", "compose", cwd=tmp_path, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no compose project named (--project) and no compose file" in result.stderr


def test_the_compose_demo_path_runs_the_cli_in_a_container() -> None:
    """What `make compose-demo` does, with the test variant: up, `run --rm chaos`, down. The
    runner shares the host's PID namespace, from where it crashes the risk monitor."""
    with running(demo_project()) as project:
        result = project.compose("run", "--rm", "-T", "chaos", check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        assert re.search(r"Pass  recovery \d+\.\d\ds", result.stdout), result.stdout
        assert "SIGKILL to pid" in result.stdout
    assert project.container_names() == []


@pytest.mark.parametrize(
    "name",
    ["order-gateway-pause", "risk-monitor-restart", "audit-correlator-stop", "risk-monitor-slow"],
)
def test_the_other_shipped_scenarios_pass(demo_stack: ComposeProject, name: str) -> None:
    path = REPO / "scenarios" / "compose" / f"{name}.yaml"
    result = run_cli("run", path, "--platform", "compose", "--project", demo_stack.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Pass  recovery" in result.stdout
    if name == "risk-monitor-slow":  # on the proxy container in front of the risk monitor
        proxy = str(demo_stack.inspect("risk-monitor-proxy")["Name"]).lstrip("/")
        assert f"fault latency {proxy} at " in result.stdout, result.stdout
        assert "latency 500ms both ways on proxy grpc at http://127.0.0.1:" in result.stdout


# 12 in `make test` (a minute); the 50: TC_KILL_POINTS=50 (four minutes here).
KILL_POINTS = int(os.environ.get("TC_KILL_POINTS", "12"))


@pytest.mark.timeout(600)
def test_a_runner_sigkilled_during_a_stop_or_pause_leaves_nothing_after_recover(
    tmp_path: Path,
) -> None:
    """The runner SIGKILLed at random points while it pauses, then stops, a container: the
    next command (`recover`) finds its journal and undoes what it held, every time."""
    project = tiny_project(tmp_path / "pids")
    (tmp_path / "pids").mkdir()
    state = tmp_path / "state"
    env = {"XDG_STATE_HOME": str(state)}
    journals = state / "test-coordinator" / "journal"
    path = write_scenario(
        tmp_path / "hold.yaml",
        {
            "targets": {"api": {"selector": {"app": "api"}}},
            "steps": [
                {"name": "freeze", "fault": {"pause": {"target": "api"}}, "duration": "1s"},
                {
                    "name": "down",
                    "fault": {"stop": {"target": "api", "gracePeriod": "1s"}},
                    "duration": "1s",
                },
            ],
            "timeout": "1m",
        },
    )
    args = ["run", str(path), "--platform", "compose", "--project", project.name]
    rng = random.Random(20261201)
    undone = 0
    with running(project, "api"):
        for point in range(KILL_POINTS):
            runner = subprocess.Popen(
                [*CLI, *args],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={**os.environ, **env},
            )
            try:
                # From the moment its first fault is about to land, over both faults' time.
                wait_for(lambda: any(journals.glob("*.json")), timeout=60)
                time.sleep(rng.uniform(0.0, 3.0))
            finally:
                runner.send_signal(signal.SIGKILL)
                runner.wait()
            result = run_cli("recover", "--project", project.name, env=env)
            assert result.returncode == 0, result.stdout + result.stderr
            undone += "undid " in result.stdout
            state_now = project.inspect("api")["State"]
            assert state_now["Running"] and not state_now["Paused"], (point, result.stdout)
            assert not list(journals.glob("*.json")), result.stdout
    print(f"{undone} of {KILL_POINTS} kills left a fault that recover undid")
    assert undone >= KILL_POINTS // 4  # the points did land inside the faults


def test_a_recovery_that_was_mostly_dockers_restart_backoff_is_explained(
    tmp_path: Path,
) -> None:
    """Docker doubles its restart delay while a container keeps dying within 10 s of starting
    (0.1, 0.2, 0.4, 0.8, 1.6 s): the fifth crash in a row takes 1.6 s to recover, and the run
    says where that time went."""
    (tmp_path / "pids").mkdir()
    project = tiny_project(tmp_path / "pids")
    back = {"name": "api back", "tcp": {"target": "api", "port": "tcp"}, "within": "20s"}
    steps = [
        {
            "name": f"crash {n}",
            "fault": {"kill": {"target": "api"}},
            "after": [{**back, "name": f"back {n}"}],
        }
        for n in range(1, 6)
    ]
    path = write_scenario(
        tmp_path / "crashes.yaml",
        {"targets": {"api": {"selector": {"app": "api"}}}, "steps": steps, "timeout": "3m"},
    )
    with running(project, "api"):
        wait_for_port(int(project.env["API_PORT"]), timeout=60)
        result = run_cli(
            "run", path, "--platform", "compose", "--project", project.name, "--history", "off"
        )
    assert result.returncode == 0, result.stdout + result.stderr
    notes = [line for line in result.stdout.splitlines() if line.startswith("note: ")]
    assert notes, result.stdout
    assert "Docker's restart backoff" in notes[-1] and "was started again 1." in notes[-1], notes
