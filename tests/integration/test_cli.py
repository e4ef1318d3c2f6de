"""The CLI as a user runs it: a real process, real exit codes, real signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import IO

import pytest

from tests.documents import scenario_document
from tests.integration.stacks import alive, process_state, started_pids, tiny

CLI = [sys.executable, "-m", "test_coordinator.cli"]


def write_scenario(directory: Path, name: str, spec: dict[str, object]) -> Path:
    path = directory / f"{name}.yaml"
    document = scenario_document(
        name,
        {"targets": {"api": {"selector": {"app": "api"}}}, **spec},
        annotations={"chaos.tse.dev/local-stack": "stack.yaml"},
    )
    path.write_text(json.dumps(document, indent=2))  # JSON is YAML too
    return path


@pytest.fixture
def workdir(tmp_path: Path, pid_dir: Path) -> Path:
    stack = {"services": {"api": tiny("api", pid_dir), "db": tiny("db", pid_dir)}}
    (tmp_path / "stack.yaml").write_text(json.dumps(stack))
    return tmp_path


def run_cli(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout, check=False
    )


def wait_for(condition: object, *, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


CRASH_API = {
    "steps": [
        {
            "name": "crash api",
            "fault": {"kill": {"target": "api"}},
            "after": [
                {"name": "api back", "tcp": {"target": "api", "port": "tcp"}, "within": "10s"}
            ],
        }
    ]
}


def test_run_passes_and_writes_json_and_junit(workdir: Path, pid_dir: Path) -> None:
    path = write_scenario(workdir, "crash", CRASH_API)
    result = run_cli("run", path, "--json", workdir / "r.json", "--junit", workdir / "r.xml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Pass" in result.stdout and "api back" in result.stdout
    document = json.loads((workdir / "r.json").read_text())
    assert document["status"]["phase"] == "Succeeded"
    assert document["status"]["recoverySeconds"] >= 1.5
    assert document["spec"]["steps"][0]["after"][0]["within"] == "10s"
    suite = ET.parse(workdir / "r.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("name") == "crash" and suite.get("failures") == "0"
    assert not [pid for pid in started_pids(pid_dir) if alive(pid)]


def test_failed_check_exits_1_with_a_junit_failure(workdir: Path, pid_dir: Path) -> None:
    spec = {
        "steps": [
            {
                "name": "crash api",
                "fault": {"kill": {"target": "api"}},
                "after": [
                    {"name": "api instantly back", "tcp": {"target": "api", "port": "tcp"}},
                    {"name": "api back", "tcp": {"target": "api", "port": "tcp"}, "within": "5s"},
                ],
            }
        ]
    }
    spec["steps"][0]["after"][0]["within"] = "200ms"  # type: ignore[index]
    path = write_scenario(workdir, "too-fast", spec)
    result = run_cli("run", path, "--junit", workdir / "r.xml")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "api instantly back" in result.stdout
    failures = ET.parse(workdir / "r.xml").getroot().findall(".//failure")
    assert len(failures) == 1
    assert "not passing within 200ms" in (failures[0].get("message") or "")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("spec: [unclosed", ":1: malformed YAML"),
        (
            "apiVersion: chaos.tse.dev/v1alpha1\nkind: ChaosScenario\nmetadata: {name: x}\n"
            "spec:\n  targets: {api: {selector: {app: api}, mdoe: one}}\n"
            "  steps: [{name: s, fault: {kill: {target: api}}}]\n",
            ":5: spec.targets.api.mdoe: unknown field",
        ),
        (
            "apiVersion: chaos.tse.dev/v1alpha1\nkind: ChaosScenario\nmetadata: {name: x}\n"
            "spec:\n  targets: {api: {selector: {}}}\n"
            "  steps: [{name: s, fault: {kill: {target: api}}}]\n",
            ":5: spec.targets.api.selector: an empty selector would select everything",
        ),
        (
            "apiVersion: chaos.tse.dev/v1alpha1\nkind: ChaosScenario\nmetadata: {name: x}\n"
            "spec:\n  targets: {api: {selector: {app: api}}}\n"
            "  steps: [{name: s, fault: {pause: {target: api}}, duration: soon}]\n",
            ":6: spec.steps[0].duration: expected a duration such as 250ms, 30s or 5m, got 'soon'",
        ),
        (
            "apiVersion: chaos.tse.dev/v1alpha1\nkind: ChaosScenario\nmetadata: {name: x}\n"
            "spec:\n  targets: {api: {selector: {app: api}}}\n"
            "  steps: [{name: s, fault: {kill: {target: db}}}]\n",
            ":6: spec.steps[0].fault.kill.target: names target 'db'",
        ),
    ],
)
def test_bad_input_exits_2_naming_file_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    for command in ("run", "validate"):
        result = run_cli(command, path)
        assert result.returncode == 2, result.stdout + result.stderr
        output = result.stdout + result.stderr
        assert f"{path}{expected}" in output
        assert "Traceback" not in output


def test_a_missing_file_exits_2(tmp_path: Path) -> None:
    result = run_cli("run", tmp_path / "nope.yaml")
    assert result.returncode == 2
    assert f"{tmp_path / 'nope.yaml'}: cannot read: No such file or directory" in result.stderr


def test_a_selection_wider_than_the_stack_exits_2_before_any_fault(
    workdir: Path, pid_dir: Path
) -> None:
    path = write_scenario(workdir, "wide", CRASH_API)
    document = json.loads(path.read_text())
    document["spec"]["targets"]["api"] = {"selector": {"app": "api"}, "mode": "fixed", "value": 3}
    path.write_text(json.dumps(document))
    result = run_cli("run", path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "spec.targets.api: mode fixed 3 needs 3 workloads; app=api selects only 1" in (
        result.stdout
    )
    assert len(started_pids(pid_dir)) == 2  # each service started once, none killed and restarted


def test_a_service_that_cannot_start_exits_3_with_its_output(workdir: Path, pid_dir: Path) -> None:
    stack = {"services": {"api": tiny("api", pid_dir, "--exit-at-start")}}
    (workdir / "stack.yaml").write_text(json.dumps(stack))
    result = run_cli("run", write_scenario(workdir, "crash", CRASH_API))
    assert result.returncode == 3, result.stdout + result.stderr
    assert "service 'api' did not start: exited with code 4" in result.stderr
    assert "configuration error: refusing to start" in result.stderr


PAUSE_API = {"steps": [{"name": "freeze", "fault": {"pause": {"target": "api"}}, "duration": "5m"}]}


def test_ctrl_c_during_a_pause_resumes_it_and_leaves_no_process(
    workdir: Path, pid_dir: Path
) -> None:
    path = write_scenario(workdir, "freeze", PAUSE_API)
    runner = subprocess.Popen(
        [*CLI, "run", str(path), "--json", str(workdir / "r.json")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(lambda: any(process_state(pid) == "T" for pid in started_pids(pid_dir)))
        runner.send_signal(signal.SIGINT)
        output, _ = runner.communicate(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    assert runner.returncode == 130, output
    assert not [pid for pid in started_pids(pid_dir) if alive(pid)]
    status = json.loads((workdir / "r.json").read_text())["status"]
    assert status["phase"] == "Aborted"
    assert status["message"] == "aborted: interrupted by SIGINT"
    assert status["faults"][0]["revertedAt"]


def test_no_orphan_survives_a_killed_runner(workdir: Path, pid_dir: Path) -> None:
    # The kernel ends each service with the runner; the watchdog ends what a service started.
    stack = {"services": {"api": tiny("api", pid_dir, "--helper"), "db": tiny("db", pid_dir)}}
    (workdir / "stack.yaml").write_text(json.dumps(stack))
    path = write_scenario(workdir, "freeze", PAUSE_API)
    runner = subprocess.Popen(
        [*CLI, "run", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(lambda: any(process_state(pid) == "T" for pid in started_pids(pid_dir)))
    finally:
        runner.send_signal(signal.SIGKILL)  # no clean-up code of ours runs after this
        runner.wait()
    pids = started_pids(pid_dir)
    assert len(pids) == 3  # api, its helper, db
    wait_for(lambda: not [pid for pid in pids if alive(pid)], timeout=5)


def test_validate_accepts_every_shipped_scenario() -> None:
    scenarios = sorted(Path("scenarios").glob("*/**/*.yaml"))
    scenarios = [path for path in scenarios if "stack" not in path.name]
    assert len(scenarios) >= 10
    result = run_cli("validate", *scenarios)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("valid") == len(scenarios)


def test_validate_checks_network_faults_against_a_compose_file(tmp_path: Path) -> None:
    slow = Path("scenarios/compose/risk-monitor-slow.yaml")
    assert run_cli("validate", slow, "--compose-file", "compose.yaml").returncode == 0
    unproxied = tmp_path / "compose.yaml"
    text = Path("compose.yaml").read_text()
    unproxied.write_text(text.replace("chaos.tse.dev/proxy-for: risk-monitor", "tier: proxy"))
    result = run_cli("validate", slow, "--compose-file", unproxied)
    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        f"invalid {slow}: spec.steps[0].fault.latency.port: no fault proxy fronts port grpc of "
        "compose service risk-monitor" in result.stdout + result.stderr
    )


def test_help_lists_the_commands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("run", "validate", "demo"):
        assert command in result.stdout


def test_a_directory_runs_as_a_suite_with_the_worst_exit_code(workdir: Path) -> None:
    write_scenario(workdir, "a-passes", CRASH_API)
    failing = json.loads(json.dumps(CRASH_API))
    failing["steps"][0]["after"][0]["within"] = "100ms"
    write_scenario(workdir, "b-fails", failing)
    result = run_cli("run", workdir, "--junit", workdir / "suite.xml", "--json", workdir / "r.json")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "resilience suite" in result.stdout
    suites = ET.parse(workdir / "suite.xml").getroot().findall("testsuite")
    assert [suite.get("name") for suite in suites] == ["a-passes", "b-fails"]
    assert [suite.get("failures") for suite in suites] == ["0", "1"]
    items = json.loads((workdir / "r.json").read_text())["items"]
    assert [item["status"]["verdict"] for item in items] == ["Pass", "Fail"]


# --- what came from input or a service is printed as it is ----------------------------------

MARKUP_SCENARIO = """\
apiVersion: chaos.tse.dev/v1alpha1
kind: ChaosScenario
metadata: {name: NAME}
spec:
  targets: {api: {selector: {app: api}}}
  steps: [{name: s, fault: {kill: {target: TARGET}}}]
"""


@pytest.mark.parametrize(
    ("name", "target", "expected"),
    [
        (
            "'[/x]'",
            "api",
            ":3: metadata.name: string should match pattern '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', "
            "got '[/x]'",
        ),
        ("ok", "'[/red]'", ":6: spec.steps[0].fault.kill.target: names target '[/red]', which"),
        ("ok", "api, '[/k]': 1", ":6: spec.steps[0].fault.kill.[/k]: unknown field"),
        (
            "':smile: [bold]b'",
            "api",
            ":3: metadata.name: string should match pattern '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', "
            "got ':smile: [bold]b'",
        ),
    ],
)
def test_validate_prints_markup_in_a_scenario_as_it_is(
    tmp_path: Path, name: str, target: str, expected: str
) -> None:
    path = tmp_path / "[bold]x.yaml"
    path.write_text(MARKUP_SCENARIO.replace("NAME", name).replace("TARGET", target))
    result = run_cli("validate", path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"invalid {path}{expected}" in result.stdout, result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name", ["[/x].yaml", "[bold]x.yaml", "\udcff[red].yaml"])
def test_a_file_name_with_markup_or_bad_bytes_is_printed_as_it_is(
    tmp_path: Path, name: str
) -> None:
    path = tmp_path / name
    result = run_cli("validate", path)
    assert result.returncode == 2, result.stdout + result.stderr
    shown = str(tmp_path / name.replace("\udcff", "\\xff"))
    assert result.stdout == f"invalid {shown}: cannot read: No such file or directory\n"
    assert result.stderr == ""


def test_service_output_keeps_its_brackets(workdir: Path, pid_dir: Path) -> None:
    stack = {"services": {"api": tiny("api", pid_dir, "--exit-at-start")}}
    (workdir / "stack.yaml").write_text(json.dumps(stack))
    result = run_cli("run", write_scenario(workdir, "crash", CRASH_API))
    assert result.returncode == 3, result.stdout + result.stderr
    assert "[test-coordinator] api exited with code 4" in result.stderr


def test_a_result_that_cannot_be_written_is_an_error_not_a_traceback(
    workdir: Path, pid_dir: Path
) -> None:
    path = write_scenario(workdir, "crash", CRASH_API)
    result = run_cli("run", path, "--json", workdir, "--junit", workdir / "nowhere" / "r.xml")
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        f"error: cannot write {workdir}: Is a directory",
        f"error: cannot write {workdir / 'nowhere' / 'r.xml'}: No such file or directory",
    ]
    assert "Pass" in result.stdout


# --- directories without a scenario, stacks that a scenario chose ----------------------------


@pytest.mark.parametrize("command", ["run", "validate", "get"])
@pytest.mark.parametrize(
    ("files", "found"),
    [
        (["compose.yaml"], "found: compose.yaml"),
        (["stack.yaml", "README.md"], "found: README.md, stack.yaml"),
        ([], "it is empty"),
        ([f"{n}.yml" for n in "abcdefg"], "found: a.yml, b.yml, c.yml, d.yml, e.yml and 2 more"),
    ],
)
def test_a_directory_without_a_scenario_exits_2_saying_what_is_there(
    tmp_path: Path, command: str, files: list[str], found: str
) -> None:
    for name in files:
        (tmp_path / name).write_text("services: {}\n")
    result = run_cli(command, tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr == f"error: no ChaosScenario in {tmp_path} ({found})\n"


def test_validate_names_the_scenario_whose_stack_is_invalid(workdir: Path) -> None:
    path = write_scenario(workdir, "crash", CRASH_API)
    (workdir / "stack.yaml").write_text("extends: [demo]\nservices: {}\n")
    result = run_cli("validate", path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        f"invalid {path}: its local stack (chosen by its annotation chaos.tse.dev/local-stack: "
        "stack.yaml) is invalid:",
        f"{workdir / 'stack.yaml'}:1: extends: expected the name of a bundled stack (demo), got "
        "a list",
    ]


def test_run_names_the_stack_chosen_by_the_option(workdir: Path, tmp_path: Path) -> None:
    path = write_scenario(workdir, "crash", CRASH_API)
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    result = run_cli("run", path, "--stack", fifo, timeout=20)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        f"error: {path}: its local stack (chosen by --stack {fifo}) is invalid:",
        f"{fifo}: cannot read: a FIFO, not a regular file",
    ]


# --- Ctrl-C at any point of start-up -----------------------------------------------------------

SCRIPT = Path(sys.executable).with_name("test-coordinator")

# Where the Ctrl-C lands: as the import of a module completes (PYTHONPROFILEIMPORTTIME makes the
# interpreter print a line as each import completes; these are imported, in this order, by the
# CLI, after the console script has entered test_coordinator.entry.main), or this long after the
# whole CLI is imported (parsing arguments, loading the scenario and stack, starting the stack,
# the run). Earlier than the first, the interpreter is still starting and none of our code runs.
INTERRUPT_POINTS = [
    ("argparse", 0.0),
    ("asyncio", 0.0),
    ("pydantic", 0.0),
    ("ruamel.yaml", 0.0),
    ("test_coordinator.engine", 0.0),
    ("test_coordinator.platforms.local.stack", 0.0),
    ("test_coordinator.cli", 0.0),
    ("test_coordinator.cli", 0.3),
    ("test_coordinator.cli", 0.8),
    ("test_coordinator.cli", 1.5),
]


def imported(line: str) -> str | None:
    """The module an import-time line is about, or None for any other line."""
    if not line.startswith("import time:"):
        return None
    return line.rsplit("|", 1)[-1].strip()


def test_the_console_script_enters_through_the_interrupt_guard() -> None:
    assert "from test_coordinator.entry import main" in SCRIPT.read_text(), "run make install"


@pytest.mark.parametrize(("module", "delay"), INTERRUPT_POINTS)
def test_ctrl_c_during_start_up_is_one_line_and_exit_130(
    workdir: Path, pid_dir: Path, module: str, delay: float
) -> None:
    path = write_scenario(workdir, "freeze", PAUSE_API)
    stderr: list[str] = []
    reached = threading.Event()
    with subprocess.Popen(
        [str(SCRIPT), "run", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"},
    ) as runner:
        assert runner.stdout is not None and runner.stderr is not None

        def read_stderr(stream: IO[str]) -> None:  # all of it: a full pipe would block the child
            for line in stream:
                stderr.append(line.rstrip("\n"))
                if imported(line) == module:
                    reached.set()

        reader = threading.Thread(target=read_stderr, args=(runner.stderr,), daemon=True)
        reader.start()
        try:
            assert reached.wait(timeout=60), f"{module} was never imported"
            time.sleep(delay)  # a deliberate delay: a later phase of start-up
            runner.send_signal(signal.SIGINT)
            stdout = runner.stdout.read()
            runner.wait(timeout=60)
        finally:
            if runner.poll() is None:
                runner.kill()
        reader.join(timeout=10)
    errors = [line for line in stderr if imported(line) is None]
    output = stdout + "\n".join(errors)
    assert runner.returncode == 130, output
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
    if module != "test_coordinator.cli":  # while the CLI is being imported: one line, no more
        assert (stdout, errors) == ("", ["test-coordinator: interrupted"])
    assert "interrupted" in output.splitlines()[-1] or "SIGINT" in output, output
    wait_for(lambda: not [pid for pid in started_pids(pid_dir) if alive(pid)], timeout=10)


def test_a_ctrl_c_a_library_swallows_during_start_up_still_ends_the_command(
    workdir: Path, pid_dir: Path, tmp_path: Path
) -> None:
    """ruamel.yaml imports its optional C parser under a bare ``except:``: a Ctrl-C landing
    there was taken for "no C parser", and the command went on to run a five-minute pause.
    The Ctrl-C here comes from within that very import (a stand-in for the C parser)."""
    swallowed = tmp_path / "swallowed"
    swallowed.mkdir()
    # ruamel.yaml tries it twice: the Ctrl-C comes in the second, the one under `except:`.
    (swallowed / "_ruamel_yaml.py").write_text(
        "import os, signal\n"
        "if os.environ.get('TRIED_THE_C_PARSER'):\n"
        "    os.kill(os.getpid(), signal.SIGINT)  # handled right here: inside the import\n"
        "os.environ['TRIED_THE_C_PARSER'] = '1'\n"
        "raise ModuleNotFoundError('no C parser here')\n"
    )
    path = write_scenario(workdir, "freeze", PAUSE_API)
    result = subprocess.run(
        [str(SCRIPT), "run", str(path)],
        capture_output=True,
        text=True,
        timeout=60,  # the pause is five minutes: a swallowed Ctrl-C ran into this
        env={**os.environ, "PYTHONPATH": str(swallowed)},
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (
        130,
        "",
        "test-coordinator: interrupted\n",
    )
    assert not started_pids(pid_dir)  # caught before anything started


def test_a_service_the_teardown_had_to_sigkill_is_named(workdir: Path, pid_dir: Path) -> None:
    stack = {"services": {"api": tiny("api", pid_dir, "--ignore-term", stopGracePeriod="300ms")}}
    (workdir / "stack.yaml").write_text(json.dumps(stack))
    path = write_scenario(workdir, "crash", CRASH_API)

    result = run_cli("run", path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "stack stopped: api did not stop within its 300ms grace period: SIGKILL after 0.3"
    ) in result.stdout, result.stdout


PARTITION_API = {
    "steps": [
        {
            "name": "cut api off",
            "fault": {"partition": {"target": "api", "port": "tcp"}},
            "duration": "1s",
        }
    ]
}


def test_validate_refuses_a_network_fault_on_a_port_the_stack_does_not_proxy(
    workdir: Path,
) -> None:
    path = write_scenario(workdir, "cut", PARTITION_API)
    result = run_cli("validate", path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        f"invalid {path}: spec.steps[0].fault.partition.port: no fault proxy fronts port tcp of "
        "stack service api: add `proxy: [tcp]` to services.api in the stack file, so that the "
        "other services and the checks reach that port through one"
    ]
    stack = json.loads((workdir / "stack.yaml").read_text())
    stack["services"]["api"]["proxy"] = ["tcp"]
    (workdir / "stack.yaml").write_text(json.dumps(stack))
    result = run_cli("validate", path)
    assert result.returncode == 0, result.stdout + result.stderr
