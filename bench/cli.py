"""The command line beside Chaos Toolkit, paired run by run: start-up per command, `validate`,
and a whole kill-and-recover run on the local platform, with CPU time and peak memory.

Chaos Toolkit 1.x goes into a scratch virtualenv (never a dependency of this project); where it
cannot be installed the comparison says why and our own figures still print. test-coordinator
is installed the same way, from this checkout into a scratch virtualenv of its own, as a user's
``pip install`` would do it: the development virtualenv adds some 90 distributions, setuptools'
start-up hook and an editable install's path entry, none of which a user's install has. Each
figure is the median of RUNS runs, ours and theirs alternating, so that a busy machine weighs on
both alike; the verdict is the median of the pairs' ratios (ours / theirs), which a load that
comes and goes during the bench sways least.

The kill-and-recover run is the same on both sides: an HTTP server (`python3 -m http.server`)
is killed with SIGKILL, comes back after 1 s, and is probed over HTTP. test-coordinator's
supervisor restarts it and measures the recovery; Chaos Toolkit's experiment restarts it itself
after a 1 s pause and measures nothing. A witness in this process polls the port every 2 ms, so
the recovery test-coordinator reports is compared with when the port was really back.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import first_spawn
from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[1]
RUNS = 9
RESTART_DELAY = 1.0
CTK_HOME = Path(tempfile.gettempdir()) / "test-coordinator-bench-chaostoolkit"
OURS_HOME = Path(tempfile.gettempdir()) / "test-coordinator-bench-installed"
CTK_REQUIREMENT = "chaostoolkit>=1,<2"


@dataclass(frozen=True)
class Timed:
    wall: float
    cpu: float
    peak_mib: float
    code: int


_MEASURER = """
import json, os, sys, time
began = time.perf_counter()
pid = os.fork()
if pid == 0:
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)
    os.dup2(quiet, 2)
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - began
cpu = usage.ru_utime + usage.ru_stime
print(json.dumps([wall, cpu, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)]))
"""


def timed(argv: Sequence[str | Path], *, cwd: Path, env: dict[str, str] | None = None) -> Timed:
    """Run a command to its end: wall time, CPU time (user + system) and peak RSS.

    The command is started and measured by a small Python process of its own (no site, no
    imports beyond what ``json`` needs): the peak RSS the kernel reports for a child counts the
    memory of the process it was forked from. Forked from this bench's process, which grows
    once other benchmarks have run in it, both CLIs measured 90 MiB in ``make bench``, and
    ``true`` measures 314 MiB beside a 300 MiB parent. The floor is now the measurer's own 8 MiB,
    far below what either CLI uses."""
    measured = subprocess.run(
        [sys.executable, "-S", "-I", "-c", _MEASURER, *(str(part) for part in argv)],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        check=True,
    )
    wall, cpu, peak_mib, code = json.loads(measured.stdout)
    return Timed(wall, cpu, peak_mib, code)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def chaos_toolkit() -> tuple[Path | None, str]:
    """The `chaos` command in a scratch virtualenv, and its version; or None and why not."""
    chaos = CTK_HOME / "bin" / "chaos"
    if not chaos.exists():
        shutil.rmtree(CTK_HOME, ignore_errors=True)
        made = subprocess.run(
            [sys.executable, "-m", "venv", str(CTK_HOME)], capture_output=True, text=True
        )
        installed = made.returncode == 0 and (
            subprocess.run(
                [str(CTK_HOME / "bin" / "pip"), "install", "--quiet", CTK_REQUIREMENT],
                capture_output=True,
                text=True,
                timeout=600,
            ).returncode
            == 0
        )
        if not installed:
            return None, f"could not install {CTK_REQUIREMENT} into a scratch virtualenv"
    version = subprocess.run([str(chaos), "--version"], capture_output=True, text=True)
    return chaos, version.stdout.strip() or "chaos"


def installed_ours() -> tuple[Path, str]:
    """`test-coordinator` installed from this checkout into a scratch virtualenv, and how; or,
    where that fails, the development virtualenv's, and why."""
    cli = OURS_HOME / "bin" / "test-coordinator"
    if cli.exists():  # its dependencies are there: the checkout, as it is now
        options = ["--force-reinstall", "--no-deps"]
    else:
        shutil.rmtree(OURS_HOME, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(OURS_HOME)], capture_output=True)
        options = []
    pip = OURS_HOME / "bin" / "pip"
    installed = pip.exists() and (
        subprocess.run(
            [str(pip), "install", "--quiet", *options, str(REPO)], capture_output=True, timeout=600
        ).returncode
        == 0
    )
    if installed:
        return cli, f"installed from this checkout into {OURS_HOME}, as Chaos Toolkit is"
    byte_compile_ours()
    development = Path(sys.executable).with_name("test-coordinator")
    return development, "the development virtualenv's: it could not be installed into a scratch one"


def web_server_command(port: int) -> list[str]:
    return [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]


def write_ours(directory: Path, port: int) -> Path:
    stack = {
        "services": {
            "web": {
                "command": web_server_command(port),
                "labels": {"app": "web"},
                "ready": {"http": {"address": f"127.0.0.1:{port}"}},
                "restart": "always",
                "restartDelay": f"{RESTART_DELAY}s",
                "maxRestartDelay": f"{RESTART_DELAY}s",
                "stopGracePeriod": "2s",
            }
        }
    }
    probe = {"http": {"address": f"127.0.0.1:{port}"}}
    scenario = {
        "apiVersion": "chaos.tse.dev/v1alpha1",
        "kind": "ChaosScenario",
        "metadata": {
            "name": "web-kill",
            "annotations": {"chaos.tse.dev/local-stack": "stack.yaml"},
        },
        "spec": {
            "targets": {"web": {"selector": {"app": "web"}}},
            "steadyState": [{"name": "web serving", **probe}],
            "steps": [
                {
                    "name": "kill web",
                    "fault": {"kill": {"target": "web"}},
                    "after": [{"name": "web back", **probe, "within": "10s", "interval": "50ms"}],
                }
            ],
            "timeout": "1m",
        },
    }
    (directory / "stack.yaml").write_text(json.dumps(stack, indent=1))
    path = directory / "web-kill.yaml"
    path.write_text(json.dumps(scenario, indent=1))
    return path


def write_theirs(directory: Path, port: int) -> Path:
    """The same run as a Chaos Toolkit experiment: it starts, kills and restarts the server
    itself (a process provider waits for its command, so the server is started in the
    background and its PID kept in a file)."""
    server = " ".join(web_server_command(port))
    pid_file = directory / "web.pid"
    wait_up = f"until (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null; do sleep 0.02; done"
    start = f"{server} >/dev/null 2>&1 & echo $! > {pid_file}; {wait_up}"
    stop = f"kill -9 $(cat {pid_file}) 2>/dev/null; true"

    def shell(name: str, script: str, **extra: object) -> dict[str, object]:
        provider = {"type": "process", "path": "bash", "arguments": ["-c", script]}
        return {"type": "action", "name": name, "provider": provider, **extra}

    probe = {
        "type": "probe",
        "name": "web answers",
        "tolerance": 200,
        "provider": {"type": "http", "url": f"http://127.0.0.1:{port}/", "timeout": 2},
    }
    experiment = {
        "version": "1.0.0",
        "title": "web kill and recover",
        "description": "the web server is killed and comes back after a second",
        "method": [
            shell("start web", start),
            shell("kill web", stop),
            shell("restart web", start, pauses={"before": RESTART_DELAY}),
            probe,
        ],
        "rollbacks": [shell("stop web", stop)],
    }
    path = directory / "experiment.json"
    path.write_text(json.dumps(experiment, indent=1))
    return path


class Witness:
    """Polls a port every 2 ms: when it first accepted, stopped accepting, and accepted again."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.first_up_at: float | None = None
        self.down_at: float | None = None
        self.up_again_at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> Witness:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        seen_up = False  # the run starts the server: "down" means down after it was up
        while not self._stop.is_set():
            now = time.time()
            accepting = _accepts(self.port)
            if accepting and not seen_up:
                self.first_up_at = now
            seen_up = seen_up or accepting
            if seen_up and not accepting and self.down_at is None:
                self.down_at = now
            elif accepting and self.down_at is not None and self.up_again_at is None:
                self.up_again_at = now
            time.sleep(0.002)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.05):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class Witnessed:
    figures: Timed
    witness: Witness
    after_start: float | None  # from the server's first accept to the command's end


def witnessed(argv: Sequence[str | Path], *, cwd: Path, port: int) -> Witnessed:
    with Witness(port) as witness:
        figures = timed(argv, cwd=cwd)
        ended = time.time()
    up = witness.first_up_at
    return Witnessed(figures, witness, None if up is None else ended - up)


def our_run(
    cli: Path, scenario: Path, directory: Path, port: int
) -> tuple[Witnessed, float, float | None]:
    """One run of ours: its figures, the recovery it reported, the witness's."""
    result = directory / "result.json"
    run = witnessed(
        [cli, "run", scenario, "--json", result, "--history", "off"], cwd=directory, port=port
    )
    status = json.loads(result.read_text())["status"]
    killed = _timestamp(status["faults"][0]["appliedAt"])
    back = run.witness.up_again_at
    return run, float(status["recoverySeconds"]), None if back is None else back - killed


def _timestamp(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text).timestamp()


def paired(ours: Sequence[Timed], theirs: Sequence[Timed]) -> str:
    """The median ratio of paired walls, and whether it meets 'no slower than Chaos Toolkit'."""
    ratio = median([a.wall / b.wall for a, b in zip(ours, theirs, strict=True)])
    return f"{ratio:.2f}x paired (goal: no slower than Chaos Toolkit: {verdict(ratio, 1.0)})"


def verdict(value: float, goal: float) -> str:
    return "met" if value <= goal else "NOT MET"


def byte_compile_ours() -> None:
    """Byte-compile the package, as installing a wheel does (and as Chaos Toolkit's scratch
    install is): an editable install under PYTHONDONTWRITEBYTECODE=1, as on this machine, never
    writes them, and every start would compile each module again (0.2 s of a run, measured)."""
    compiled = subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(REPO / "operator")], capture_output=True
    )
    assert compiled.returncode == 0, compiled.stderr.decode(errors="replace")


def main() -> None:
    print("CLI beside Chaos Toolkit (bench/cli.py):")
    cli, how = installed_ours()
    print(f"  test-coordinator: {how}")
    chaos, version = chaos_toolkit()
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as scratch:
        directory = Path(scratch)
        state = {"XDG_STATE_HOME": str(directory / "state")}
        port = free_port()
        ours = write_ours(directory, port)
        theirs = write_theirs(directory, port)
        shipped = REPO / "scenarios" / "local" / "risk-monitor-crash.yaml"

        startup = {
            "--help": [cli, "--help"],
            "validate": [cli, "validate", shipped],
            "get": [cli, "get", REPO / "scenarios" / "local"],
            "crd": [cli, "crd"],
            "history": [cli, "history", "--history", f"sqlite:///{directory / 'none.db'}"],
            "recover": [cli, "recover"],
        }
        times = {
            name: median([timed(argv, cwd=directory, env=state).wall for _ in range(RUNS)])
            for name, argv in startup.items()
        }
        print(
            "  start-up per command (median wall): "
            + ", ".join(f"{name} {seconds:.2f}s" for name, seconds in times.items())
        )

        ours_validate, theirs_validate = [], []
        for _ in range(RUNS):
            ours_validate.append(timed([cli, "validate", ours], cwd=directory))
            if chaos is not None:
                theirs_validate.append(
                    timed([chaos, "--no-log-file", "validate", theirs], cwd=directory)
                )
        ours_wall = median([t.wall for t in ours_validate])
        line = (
            f"  validate: {ours_wall:.2f}s wall, {median([t.cpu for t in ours_validate]):.2f}s "
            f"CPU, {max(t.peak_mib for t in ours_validate):.0f} MiB"
        )
        if theirs_validate:
            theirs_wall = median([t.wall for t in theirs_validate])
            line += (
                f"; chaos validate {theirs_wall:.2f}s wall, "
                f"{median([t.cpu for t in theirs_validate]):.2f}s CPU, "
                f"{max(t.peak_mib for t in theirs_validate):.0f} MiB; "
                f"{paired(ours_validate, theirs_validate)}"
            )
        print(line)

        runs, recoveries, errors, theirs_runs = [], [], [], []
        ours_after, theirs_after = [], []
        for _ in range(RUNS):
            run, reported, seen = our_run(cli, ours, directory, port)
            assert run.figures.code == 0, "the kill-and-recover run did not pass"
            runs.append(run.figures)
            recoveries.append(reported)
            if seen is not None:
                errors.append(reported - seen)
            if chaos is not None:
                their = witnessed([chaos, "--no-log-file", "run", theirs], cwd=directory, port=port)
                theirs_runs.append(their.figures)
                if run.after_start is not None and their.after_start is not None:
                    ours_after.append(run.after_start)
                    theirs_after.append(their.after_start)
        ours_wall = median([t.wall for t in runs])
        peak = max(t.peak_mib for t in runs)
        worst = max((abs(error) for error in errors), default=float("nan"))
        print(
            f"  kill-and-recover run: {ours_wall:.2f}s wall, {median([t.cpu for t in runs]):.2f}s "
            f"CPU; recovery {median(recoveries):.2f}s, at most {worst * 1000:.0f}ms from the "
            f"witness's (goal: ±100ms: {verdict(worst, 0.1)})"
        )
        if theirs_runs:
            theirs_wall = median([t.wall for t in theirs_runs])
            print(
                f"  chaos run of the same: {theirs_wall:.2f}s wall, "
                f"{median([t.cpu for t in theirs_runs]):.2f}s CPU, measures no recovery; "
                f"{paired(runs, theirs_runs)}"
            )
            if ours_after:
                ratio = median([a / b for a, b in zip(ours_after, theirs_after, strict=True)])
                print(
                    "  the same runs from the server's first answer to the end (start-up left "
                    f"out): {median(ours_after):.2f}s, chaos {median(theirs_after):.2f}s, "
                    f"{ratio:.2f}x paired (no goal; for comparison)"
                )
        else:
            print(f"  Chaos Toolkit: skipped: {version}")
        print(f"  peak memory of a CLI run: {peak:.0f} MiB (goal: 60 MiB: {verdict(peak, 60)})")
        first_spawn.report(cli, ours, theirs, chaos=chaos, directory=directory)
        if chaos is not None:
            print(f"  compared with {version}, {RUNS} paired runs each, medians")


if __name__ == "__main__":
    main()
