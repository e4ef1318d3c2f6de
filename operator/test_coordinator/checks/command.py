"""A command (argv, never a shell line) exits with the expected code and says what it should."""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
from typing import IO

from test_coordinator.checks.base import Observation, ProbeContext, failed, short
from test_coordinator.scenario.model import CommandProbe
from test_coordinator.sessions import kill_left_behind
from test_coordinator.watchdog import runner_watchdog

__all__ = ["observe_command"]


async def observe_command(spec: CommandProbe, ctx: ProbeContext) -> Observation:
    # Output goes to files, not pipes: a grandchild that inherits a pipe and outlives the
    # command would otherwise keep asyncio waiting for end-of-file after the command is gone.
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        try:
            code = await _run(spec.argv, stdout, stderr)
        except FileNotFoundError:
            return failed(f"command not found: {spec.argv[0]}")
        except PermissionError:
            return failed(f"not executable: {spec.argv[0]}")
        return _judge(spec, code, _read(stdout), _read(stderr))


async def _run(argv: list[str], stdout: IO[bytes], stderr: IO[bytes]) -> int:
    watchdog = runner_watchdog()  # should the runner die meanwhile, the command dies too
    watchdog.start()  # before the command, so that it is watched from its start (once a process)
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        # Its own process group, led by the PID we start: a timeout can then end what the
        # command spawned too, without touching anything else.
        start_new_session=True,
    )
    watchdog.watch(proc.pid)
    exited = False
    try:
        code = await proc.wait()
        exited = True
        await asyncio.to_thread(kill_left_behind, proc.pid)  # nothing of a probe outlives it
        return code
    finally:
        # Not exited means the observation's timeout (or the caller) cancelled us.
        if not exited:
            await _kill(proc)
        watchdog.forget(proc.pid)


async def _kill(proc: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # already gone on its own
    except PermissionError:
        # A member of the group we may not signal (a setuid helper): still end our own child.
        proc.kill()
    # Shielded: a second cancellation must not stop us reaping it, or a zombie would remain.
    await asyncio.shield(proc.wait())


def _read(output: IO[bytes]) -> str:
    output.seek(0)
    return output.read().decode(errors="replace")


def _judge(spec: CommandProbe, code: int, stdout: str, stderr: str) -> Observation:
    seen = _describe_exit(code)
    if code != spec.expect_exit_code:
        last = _last_line(stderr) or _last_line(stdout)
        if spec.expect_exit_code != 0:
            seen += f" (expected {spec.expect_exit_code})"
        return failed(f"{seen}: {last}" if last else seen)
    if spec.output_contains is not None and spec.output_contains not in stdout + stderr:
        return failed(f"{seen}, output lacks {spec.output_contains[:40]!r}")
    return Observation(passed=True, observed=short(seen))


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit {code}"


def _last_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""
