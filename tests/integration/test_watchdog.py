"""The watchdog kills the groups it watches, and what is left in their sessions, when the runner
dies; after the runner's normal end, or once a group is forgotten, it kills nothing."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
from test_coordinator.watchdog import Watchdog

from tests.integration.stacks import gone

# A runner in miniature: a watchdog that watches GROUP (and forgets it again with "forget"),
# then waits to be killed.
RUNNER = """
import sys, time
from test_coordinator.watchdog import Watchdog
group, then = int(sys.argv[1]), sys.argv[2]
watchdog = Watchdog()
watchdog.watch(group)  # before it starts: passed on when it does
watchdog.start()
if then == "forget":
    watchdog.forget(group)
print(watchdog._process.pid, flush=True)
time.sleep(60)
"""


@pytest.fixture
def group() -> Iterator[subprocess.Popen[bytes]]:
    """A process group of our own: a shell and the sleep it waits for."""
    shell = subprocess.Popen(["sh", "-c", "sleep 60 & wait"], start_new_session=True)
    yield shell
    if shell.poll() is None:
        os.killpg(shell.pid, signal.SIGKILL)
    shell.wait()


def kill_runner(group: int, then: str = "keep") -> None:
    """Start a runner that watches ``group``, and SIGKILL it once its watchdog runs."""
    with subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(group), then], stdout=subprocess.PIPE, text=True
    ) as runner:
        assert runner.stdout is not None
        watchdog = int(runner.stdout.readline())
        runner.kill()
    # The watchdog was the dead runner's child, now init's: wait until it has gone.
    assert gone(watchdog, timeout=10), "the watchdog outlived its runner"


def lives_on(shell: subprocess.Popen[bytes]) -> bool:
    """Whether the group's shell is still running a moment later (a kill, had there been one,
    is delivered long before)."""
    try:
        shell.wait(timeout=0.2)
    except subprocess.TimeoutExpired:
        return True
    return False


def test_a_watched_group_is_killed_when_the_runner_dies(group: subprocess.Popen[bytes]) -> None:
    kill_runner(group.pid)
    assert group.wait(timeout=10) == -signal.SIGKILL


# A service in miniature: a session of its own, and a worker that made a group of its own in it.
LEAVER = """
import os, time
if os.fork() == 0:
    os.setpgid(0, 0)
    print(os.getpid(), flush=True)
time.sleep(60)
"""


def test_a_member_that_left_the_group_is_killed_too() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", LEAVER], start_new_session=True, stdout=subprocess.PIPE, text=True
    ) as service:
        assert service.stdout is not None
        worker = int(service.stdout.readline())
        try:
            assert os.getpgid(worker) == worker != service.pid
            kill_runner(service.pid)
            assert gone(worker, timeout=10), "the worker outlived the runner's watchdog"
        finally:
            for pid in (worker, service.pid):  # ours, both: on a failure, not left running
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def test_a_forgotten_group_is_not_killed(group: subprocess.Popen[bytes]) -> None:
    kill_runner(group.pid, then="forget")
    assert lives_on(group)


def test_nothing_is_killed_after_a_normal_end(group: subprocess.Popen[bytes]) -> None:
    watchdog = Watchdog()
    watchdog.start()
    watchdog.watch(group.pid)
    watchdog.close()
    assert lives_on(group)
