"""What a process left running in its session is killed after it; nothing else is."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_coordinator.sessions import kill_left_behind

from tests.integration.stacks import alive, gone


class Started:
    """Processes a test started: shells in sessions of their own, and PIDs they reported.
    Whatever is still running at the end is killed: the shells' groups, and those PIDs."""

    def __init__(self) -> None:
        self.shells: list[subprocess.Popen[bytes]] = []
        self.pids: list[int] = []

    def shell(self, script: str) -> subprocess.Popen[bytes]:
        shell = subprocess.Popen(["sh", "-c", script], start_new_session=True)
        self.shells.append(shell)
        return shell

    def reported(self, pid_file: Path) -> int:
        """The PID a process of ours wrote to ``pid_file``."""
        deadline = time.monotonic() + 10
        while not pid_file.exists() or not pid_file.read_text().strip():
            assert time.monotonic() < deadline, f"no PID in {pid_file}"
            time.sleep(0.01)
        pid = int(pid_file.read_text())
        self.pids.append(pid)
        return pid

    def end(self) -> None:
        for shell in self.shells:
            if shell.poll() is None:
                os.killpg(shell.pid, signal.SIGKILL)
            shell.wait()
        for pid in self.pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def started() -> Iterator[Started]:
    processes = Started()
    yield processes
    processes.end()


def test_what_is_left_in_the_session_is_killed(started: Started, tmp_path: Path) -> None:
    left, escaped = tmp_path / "left", tmp_path / "escaped"
    shell = started.shell(
        f"sleep 60 & echo $! > {left}; setsid sh -c 'echo $$ > {escaped}; exec sleep 60' &"
    )
    left_pid, escaped_pid = started.reported(left), started.reported(escaped)
    shell.wait()  # the session's first process has exited, and is reaped

    assert kill_left_behind(shell.pid) == [left_pid]
    assert gone(left_pid)
    # A process that left the session (a daemon's setsid) is not ours to end: it lives on.
    assert not gone(escaped_pid, timeout=0.2)


def test_nothing_is_killed_while_the_sessions_first_process_runs(
    started: Started, tmp_path: Path
) -> None:
    # As when the session's number has been given to another process: its members are not ours.
    member = tmp_path / "member"
    shell = started.shell(f"sleep 60 & echo $! > {member}; wait")
    member_pid = started.reported(member)

    assert kill_left_behind(shell.pid) == []
    assert not gone(member_pid, timeout=0.2)
