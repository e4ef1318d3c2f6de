"""The HTTP API and the CLI's verbs against a real `serve`: validation with field paths, names,
sizes, tokens, read-only; gRPC health; a SIGTERM mid-run; a restart after a crash."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.documents import scenario_document
from tests.integration.service.conftest import (
    CLI,
    Service,
    StartService,
    pause_spec,
    quick_spec,
    until,
    yaml_text,
)
from tests.integration.stacks import process_state, started_pids

TOKEN = "s3cret-token-of-the-test-suite"


def body(name: str, spec: dict) -> bytes:
    annotations = {"chaos.tse.dev/local-stack": "../stack.yaml"}
    return yaml_text(scenario_document(name, spec, annotations=annotations)).encode()


def grpc_status(service: Service) -> int:
    async def check() -> int:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{service.grpc_port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            answer = await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
            return int(answer.status)

    return asyncio.run(check())


class HealthWatch:
    """``Health.Watch`` on the service's gRPC port, in a thread: each status as it came, with
    the wall-clock time it came, until the stream ends (the server stopped)."""

    def __init__(self, service: Service) -> None:
        self.port = service.grpc_port
        self.seen: list[tuple[float, int]] = []
        self.first = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._watch()), daemon=True)
        self.thread.start()

    async def _watch(self) -> None:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{self.port}") as channel:
            stream = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
            try:
                async for answer in stream:
                    self.seen.append((time.time(), int(answer.status)))
                    self.first.set()
            except grpc.aio.AioRpcError:
                pass  # the server went away: the end of the stream


def test_put_validates_writes_and_reconciles(start_service: StartService) -> None:
    service = start_service()
    broken = quick_spec()
    broken["steps"][0]["fault"] = {"kill": {"target": "ghost"}}

    code, answer = service.request("PUT", "/api/v1/scenarios/crash", body("crash", broken))
    assert code == 400
    assert answer["error"] == "invalid scenario"
    [problem] = answer["problems"]
    assert problem.startswith("request body:") and "spec.steps[0].fault.kill.target" in problem
    assert "ghost" in problem
    assert list(service.scenarios.iterdir()) == []  # nothing invalid reaches the directory

    code, answer = service.request("PUT", "/api/v1/scenarios/other", body("crash", quick_spec()))
    assert code == 400 and "metadata.name: expected 'other'" in answer["problems"][0]

    code, answer = service.request("PUT", "/api/v1/scenarios/crash", body("crash", quick_spec()))
    assert code == 201, answer
    assert answer["generation"] == 1 and answer["file"] == "crash.yaml"
    path = service.scenarios / "crash.yaml"
    status = until(
        lambda: service.status(path).get("verdict") and service.status(path),
        within=30,
        what="the applied scenario run",
    )
    assert status["verdict"] == "Pass"

    annotations = {"chaos.tse.dev/local-stack": "../stack.yaml"}
    document = scenario_document("crash", quick_spec(timeout="1m"), annotations=annotations)
    as_json = json.dumps(document)
    code, answer = service.request(
        "PUT", "/api/v1/scenarios/crash", as_json.encode(), content_type="application/json"
    )
    assert code == 200 and answer["generation"] == 2
    assert "status:" in path.read_text()  # the status is the service's: kept by a PUT


def test_names_sizes_and_unknown_scenarios_are_json_errors(start_service: StartService) -> None:
    service = start_service()
    for name in ("Bad_Name", "a..b", "..", "a%2Fb", "x" * 64):
        code, answer = service.request("PUT", f"/api/v1/scenarios/{name}", b"{}")
        assert code in (400, 404), name
        assert "error" in answer, name
    code, answer = service.request("PUT", "/api/v1/scenarios/big", b"x" * (1024 * 1024 + 1))
    assert code == 413 and "1048576" in answer["error"]
    code, answer = service.request("GET", "/api/v1/scenarios/missing")
    assert (code, answer["error"]) == (404, "no scenario 'missing'")
    code, answer = service.request("DELETE", "/api/v1/scenarios/missing")
    assert code == 404
    code, answer = service.request("PUT", "/api/v1/scenarios/alias", b"a: &x [*x]\n")
    assert code == 400 and "error" in answer
    assert [p.name for p in service.scenarios.iterdir()] == []


def test_a_token_guards_every_change(start_service: StartService, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    service = start_service("--api-token-file", str(token_file))

    for method, path in (
        ("PUT", "/api/v1/scenarios/crash"),
        ("DELETE", "/api/v1/scenarios/crash"),
        ("POST", "/api/v1/scenarios/crash/abort"),
    ):
        code, answer = service.request(method, path, body("crash", quick_spec()))
        assert code == 401, (method, answer)
        code, _ = service.request(method, path, body("crash", quick_spec()), token="wrong")
        assert code == 401
    assert "refused PUT /api/v1/scenarios/crash from 127.0.0.1: 401" in service.output()
    assert TOKEN not in service.output() and "wrong" not in service.output()
    code, _ = service.request("GET", "/api/v1/scenarios")
    assert code == 200  # reading needs no token

    env = {"API_TOKEN_FILE": str(token_file)}
    scenario_file = tmp_path / "crash.yaml"
    scenario_file.write_bytes(body("crash", quick_spec()))
    applied = _cli("apply", "-f", str(scenario_file), "--server", service.url, env=env)
    assert applied.returncode == 0, applied.stderr
    assert "scenario crash created (crash.yaml)" in applied.stdout
    listed = until(
        lambda: (lambda r: "Pass" in r.stdout and r)(_cli("get", "--server", service.url)),
        within=30,
        what="the run listed as passed",
    )
    assert listed.stdout.split("\n")[0].split() == ["NAME", "PHASE", "VERDICT", "RECOVERY", "AGE"]
    denied = _cli("delete", "crash", "--server", service.url)
    assert denied.returncode != 0 and "bearer token" in denied.stderr
    deleted = _cli("delete", "crash", "--server", service.url, env=env)
    assert deleted.returncode == 0 and "scenario crash deleted" in deleted.stdout
    assert not (service.scenarios / "crash.yaml").exists()


def test_beyond_loopback_without_a_token_it_is_read_only(start_service: StartService) -> None:
    service = start_service("--bind", "0.0.0.0")

    code, answer = service.request("PUT", "/api/v1/scenarios/crash", body("crash", quick_spec()))

    assert code == 403 and answer["error"].startswith("read-only")
    assert "read-only: listening on 0.0.0.0 without an API token" in service.output()
    assert list(service.scenarios.iterdir()) == []


def test_sigterm_mid_run_reverts_and_exits_0_within_10s(start_service: StartService) -> None:
    service = start_service(slow_stop=True)
    assert grpc_status(service) == health_pb2.HealthCheckResponse.SERVING
    path = service.write("freeze", pause_spec("60s"))
    until(lambda: service.status(path).get("faults"), within=20, what="the pause applied")
    [pid] = started_pids(service.pid_dir)
    assert process_state(pid) == "T"
    watch = HealthWatch(service)
    assert watch.first.wait(10), "no answer from Health.Watch"

    began = time.monotonic()
    signalled_at = time.time()
    service.proc.send_signal(signal.SIGTERM)
    code = service.proc.wait(timeout=10)
    exited_at = time.time()

    assert code == 0 and time.monotonic() - began < 10
    status = service.status(path)
    assert status["phase"] == "Aborted"
    assert "the service is shutting down" in status["message"]
    assert status["faults"][0]["revertedAt"]
    assert process_state(pid) is None  # its stack stopped with the run
    # Draining is visible: NOT_SERVING as soon as the SIGTERM came, while the run was still
    # being ended (its stack's service ignores SIGTERM: stopping it takes its 2 s grace).
    watch.thread.join(timeout=10)
    serving = health_pb2.HealthCheckResponse.SERVING
    not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
    assert [code for _, code in watch.seen] == [serving, not_serving], watch.seen
    assert exited_at - signalled_at > 2.0, "the drain was not slow: the test proves nothing"
    assert watch.seen[-1][0] - signalled_at < 1.0, "NOT_SERVING only once the drain was over"


def test_a_restarted_service_ends_the_interrupted_run(start_service: StartService) -> None:
    service = start_service()
    path = service.write("freeze", pause_spec("60s"))
    until(lambda: service.status(path).get("faults"), within=20, what="the pause applied")
    run_id = service.status(path)["runId"]

    service.crash()
    again = start_service()

    status = until(
        lambda: again.status(path).get("phase") == "Aborted" and again.status(path),
        within=20,
        what="the interrupted run ended",
    )
    assert status["runId"] == run_id
    assert "the service restarted during the run" in status["message"]
    assert [h["runId"] for h in status["history"]] == [run_id]  # not run again: same spec
    time.sleep(1.0)  # a second scan: still nothing started
    assert again.status(path)["runId"] == run_id


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    environment = {k: v for k, v in os.environ.items() if k != "API_TOKEN_FILE"}
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**environment, **(env or {})},
    )
