"""A shell that outlives the runner by a moment, to end what the runner started.

The kernel SIGKILLs each service's process when the runner dies, however it dies
(PR_SET_PDEATHSIG); but what a service forked (a worker, a helper) does not inherit that, and
would live on, as would a probe command that was running. The watchdog is told of each such
process as it starts and ends, by the number its process group and its session share (its PID:
it started a session of its own). A runner that ends normally says ``done`` before it closes
the pipe; the pipe closing without it means the runner died (the kernel closes a dead process's
files), and the watchdog kills each group, then whatever is still running in its session: a
worker that made a group of its own too (as ``sessions.kill_left_behind`` does after a
process's exit, by PID, found through ``/proc``).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import os
import subprocess

__all__ = ["Watchdog", "runner_watchdog"]

log = logging.getLogger(__name__)

_SCRIPT = r"""
groups=' '
while read -r change group; do
    case $change in
        +) groups="$groups$group " ;;
        -) kept=' '
           for g in $groups; do [ "$g" = "$group" ] || kept="$kept$g "; done
           groups=$kept ;;
        done) exit 0 ;;
    esac
done
[ "$groups" != ' ' ] || exit 0
for group in $groups; do kill -s KILL -- "-$group" 2>/dev/null; done
for round in 1 2 3; do  # a member may fork while the others are killed
    killed=
    for stat in /proc/[0-9]*/stat; do
        { read -r line < "$stat"; } 2>/dev/null || continue
        # After the command, in parentheses that may hold anything: state, ppid, group, session.
        set -- ${line##*") "}
        [ "$1" != Z ] && case "$groups" in *" $4 "*) ;; *) false ;; esac || continue
        pid=${stat#/proc/}
        kill -s KILL "${pid%/stat}" 2>/dev/null && killed=yes
    done
    [ -n "$killed" ] || break
done
"""


@functools.cache
def runner_watchdog() -> Watchdog:
    """This process's watchdog, which the local platform's services and the probe commands
    share; not started until the first of them asks, and told ``done`` at exit."""
    watchdog = Watchdog()
    atexit.register(watchdog.close)
    return watchdog


class Watchdog:
    """Groups it is told of before it starts are passed on when it does: it can start once the
    first service has (a fork of the runner that the first service need not wait for)."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._groups: set[int] = set()
        self._tried = False

    def start(self) -> None:
        """Start it, unless it was started already."""
        if self._tried:
            return
        self._tried = True
        try:
            self._process = subprocess.Popen(
                ["sh", "-c", _SCRIPT],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # a terminal's Ctrl-C is the runner's to handle
            )
        except OSError as error:  # no shell: the services themselves still die with the runner
            log.warning("no watchdog for what the services start: %s", error)
            return
        for group in self._groups:
            self._tell(f"+ {group}")

    def watch(self, group: int) -> None:
        self._groups.add(group)
        self._tell(f"+ {group}")

    def forget(self, group: int) -> None:
        """The group has ended: its number may be another's one day."""
        self._groups.discard(group)
        self._tell(f"- {group}")

    def _tell(self, line: str) -> None:
        if self._process is None or self._process.stdin is None:
            return
        with contextlib.suppress(OSError):  # it is gone: the services still end with the runner
            os.write(self._process.stdin.fileno(), f"{line}\n".encode())

    def close(self) -> None:
        if self._process is None:
            return
        self._tell("done")
        process, self._process = self._process, None
        if process.stdin is not None:
            process.stdin.close()
        process.wait()
