"""The ``test-coordinator`` command: a Ctrl-C at any moment ends it with one line and exit 130.

The CLI imports pydantic, rich, grpc, redis and aiohttp (about half a second) and handles SIGINT
itself only once a run starts; a Ctrl-C before that, or between runs, would end in a
KeyboardInterrupt traceback from whatever was loading. So the console script points here: this
module imports nothing of the tool's, and the CLI is imported, and runs, inside the ``try``.
"""

from __future__ import annotations

import signal
import sys

__all__ = ["main"]

EXIT_INTERRUPTED = 130


def main() -> int:
    try:
        from test_coordinator.cli import main as run_cli

        code = run_cli()
        # Done: a Ctrl-C now could only interrupt the interpreter's own shutdown, in a traceback.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except KeyboardInterrupt:
        return _interrupted()
    return code


def _interrupted() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C while saying so: no traceback
    try:
        sys.stderr.write("test-coordinator: interrupted\n")
        sys.stderr.flush()
    except OSError:
        pass  # stderr gone (a closed pipe): the exit code still says it
    return EXIT_INTERRUPTED
