"""What a process left running in its session once it exited: found, and killed, by PID.

A service or a probe command is started in a session of its own (``start_new_session``), whose
number is the started process's PID. Its children stay in that session unless they leave it
themselves (a daemon's ``setsid``), so the session tells what is ours to end after the process.
"""

from __future__ import annotations

import contextlib
import os
import signal

__all__ = ["kill_left_behind"]


def kill_left_behind(session: int) -> list[int]:
    """SIGKILL what is left running in ``session`` after the process that made it (started by
    us) has exited and been reaped, as a container's end takes its other processes with it;
    the PIDs killed. While members are left, the session's number cannot be given to another
    process; if a process has it, the members are that process's, not ours.

    The search reads every process's ``/proc`` entry (milliseconds, and a probe command is run
    again and again), so it is made only when the process's group, which its children share
    unless they make groups of their own, still has a member: one system call tells."""
    try:
        os.killpg(session, 0)
    except ProcessLookupError:
        return []
    except PermissionError:
        pass  # a member we may not signal: there is something to look at
    killed: set[int] = set()
    for _ in range(3):  # a member may fork while the others are killed
        members = _session_members(session)
        if not members or session in members:
            break
        for pid in members:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        killed.update(members)
    return sorted(killed)


def _session_members(session: int) -> list[int]:
    """The live processes (zombies are dead already) of ``session``."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                # After the command, in parentheses that may hold anything: state, ppid,
                # process group, session.
                state, _, _, member_of = stat.read().rsplit(b")", 1)[1].split()[:4]
        except OSError:  # gone meanwhile
            continue
        if int(member_of) == session and state != b"Z":
            members.append(int(entry.name))
    return members
