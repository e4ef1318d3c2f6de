"""The ``test-coordinator`` command: a Ctrl-C at any moment ends it with one line and exit 130.

The CLI imports pydantic, rich and more (about half a second) and handles SIGINT
itself only once a run starts; a Ctrl-C before that, or between runs, would end in a
KeyboardInterrupt traceback from whatever was loading. So the console script points here: this
module imports nothing of the tool's, and the CLI is imported, and runs, inside the ``try``.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import signal
import sys
import threading
from types import FrameType

__all__ = ["main"]

EXIT_INTERRUPTED = 130


_ctrl_c_in_start_up = False


def main() -> int:
    # Start-up (imports, the scenario model) makes some 60,000 tracked objects that live to
    # the end; the cyclic collector would scan them again and again while they are made (~10%
    # of a start, measured). It runs again once the command's work begins (``started``).
    gc.disable()
    signal.signal(signal.SIGINT, _on_ctrl_c_in_start_up)
    try:
        from test_coordinator.cli import main as run_cli

        code = run_cli()
        # Done: a Ctrl-C now could only interrupt the interpreter's own shutdown, in a traceback.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except KeyboardInterrupt:
        return _interrupted()
    except Exception:
        # A library turned start-up's KeyboardInterrupt into an error of its own (pydantic does,
        # when it comes while a validator is being built): the Ctrl-C is what ended the command.
        if _ctrl_c_in_start_up:
            return _interrupted()
        raise
    _exit_without_teardown(code)
    return code


def started() -> None:
    """Start-up is over: its objects are kept out of every later collection (they live to the
    end), and the collector runs again; Ctrl-C is Python's own again (asyncio's runner takes it
    over only from that one), and one a library swallowed during start-up ends the command now.
    Called by the CLI before a command does its work."""
    if not gc.isenabled():  # not when the CLI was called in a process of another's
        gc.freeze()
        gc.enable()
    if signal.getsignal(signal.SIGINT) is _on_ctrl_c_in_start_up:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if _ctrl_c_in_start_up:
            raise KeyboardInterrupt


def _on_ctrl_c_in_start_up(signum: int, frame: FrameType | None) -> None:
    """Python's KeyboardInterrupt, remembered: a library may swallow it while it loads
    (ruamel.yaml imports its optional C parser under a bare ``except:``), and the command would
    go on as if no Ctrl-C had come."""
    global _ctrl_c_in_start_up
    _ctrl_c_in_start_up = True
    signal.default_int_handler(signum, frame)


def _exit_without_teardown(code: int) -> None:
    """Exit now, skipping the interpreter's teardown: freeing every object of pydantic, aiohttp
    and rich one by one takes a quarter of a second after the work is done (measured: 0.25 s of
    a 2.3 s run). What an exit must still do is done: the exit handlers run (logging's flush,
    the libraries' own), and the output is flushed. Not while a thread other than a daemon is
    alive: its work is not done (a thread pool's workers are let go by the normal exit)."""
    if any(t is not threading.main_thread() and not t.daemon for t in threading.enumerate()):
        return
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        # Closed, or a pipe nobody reads any more: the interpreter would shrug too.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def _interrupted() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C while saying so: no traceback
    try:
        sys.stderr.write("test-coordinator: interrupted\n")
        sys.stderr.flush()
    except OSError:
        pass  # stderr gone (a closed pipe): the exit code still says it
    return EXIT_INTERRUPTED
