"""The console script's entry: a Ctrl-C during start-up ends the command with one line and 130,
also when a library turned it into an error of its own."""

from __future__ import annotations

import subprocess
import sys

# The CLI, replaced by a stand-in whose start-up gets a Ctrl-C that a library turns into an
# error of its own, as pydantic does when it comes while a validator is being built.
_START_UP_CTRL_C_TURNED_INTO_AN_ERROR = """
import os, signal, sys, types
from test_coordinator import entry
cli = types.ModuleType("test_coordinator.cli")
def main():
    try:
        os.kill(os.getpid(), signal.SIGINT)
        signal.pause()
    except KeyboardInterrupt:
        raise RuntimeError("Error building validator: KeyboardInterrupt") from None
cli.main = main
sys.modules["test_coordinator.cli"] = cli
sys.exit(entry.main())
"""


def test_a_ctrl_c_a_library_turned_into_its_own_error_is_one_line_and_exit_130() -> None:
    ended = subprocess.run(
        [sys.executable, "-c", _START_UP_CTRL_C_TURNED_INTO_AN_ERROR],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (ended.returncode, ended.stderr) == (130, "test-coordinator: interrupted\n")
    assert ended.stdout == ""
