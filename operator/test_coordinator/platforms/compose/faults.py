"""Faults on one container, as blocking calls: a crash, a stop, a restart, a freeze, and undo.

A crash is SIGKILL to the container's main process, sent from this host: the engine sees its
process die on its own and applies the restart policy. ``docker kill`` would not do: the engine
counts it as a deliberate stop, after which no policy restarts anything.
"""

from __future__ import annotations

import math
import os
import signal
import time
from pathlib import Path
from typing import Any

from test_coordinator.errors import PlatformError
from test_coordinator.platforms.base import Applied
from test_coordinator.platforms.compose.docker_api import DockerApi
from test_coordinator.scenario.durations import format_duration

__all__ = ["crash", "freeze", "restart", "start", "stop", "thaw"]

_SIGKILLED = 128 + signal.SIGKILL
_DEATH_TIMEOUT = 5.0
_FROZEN_DEATH_TIMEOUT = 0.2  # where the freezer lets SIGKILL through (cgroup v2), it is quick


def crash(api: DockerApi, name: str) -> Applied:
    info = api.inspect(name)
    state = info["State"]
    pid = int(state.get("Pid") or 0)
    if not state.get("Running") or pid <= 0:
        return Applied(f"{name} was not running ({_status(state)})")
    _ensure_main_process(pid, info["Id"], name)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return Applied(f"{name}: its main process {pid} had already exited")
    except PermissionError:
        raise PlatformError(
            f"not permitted to SIGKILL pid {pid}, the main process of {name}: the kill fault "
            "needs root (or the container's user) on the Docker engine's host"
        ) from None
    killed = f"SIGKILL to pid {pid}, the main process of {name}; {_restart_policy(info)}"
    if state.get("Paused") and not _wait_dead(pid, _FROZEN_DEATH_TIMEOUT):
        # Under the cgroup v1 freezer a frozen process cannot act on any signal, SIGKILL
        # included, until it is thawed.
        return Applied(f"{killed}; {name} is paused: the process dies when it is unpaused")
    if not _wait_dead(pid, _DEATH_TIMEOUT):
        killed += f"; still not dead after {_DEATH_TIMEOUT:g}s"
    return Applied(killed)


def stop(api: DockerApi, name: str, grace_period: float) -> Applied:
    state = api.inspect(name)["State"]
    if not (state.get("Running") or state.get("Restarting")):
        return Applied(f"{name} was not running ({_status(state)})")
    if state.get("Paused"):
        api.unpause(name)  # a frozen process cannot act on SIGTERM
    began = time.monotonic()
    # The API takes whole seconds: a grace period is never cut short, at worst rounded up.
    api.stop(name, timeout=math.ceil(grace_period))
    took = time.monotonic() - began
    code = api.inspect(name)["State"].get("ExitCode")
    # The engine SIGKILLs after the grace period; a process that exits by SIGKILL on its
    # own before then is a crash, not a forced stop.
    if code == _SIGKILLED and took >= grace_period:
        return Applied(
            f"did not stop within the {format_duration(grace_period)} grace period: "
            f"SIGKILL after {took:.2f}s",
            graceful=False,
        )
    return Applied(f"stopped gracefully in {took:.2f}s (exit {code})", graceful=True)


def start(api: DockerApi, name: str) -> str:
    """Undo a stop; a container already running is left as it is."""
    state = api.inspect(name)["State"]
    if state.get("Running"):
        return f"{name} was already running"
    api.start(name)
    return f"started again as pid {api.inspect(name)['State'].get('Pid')}"


def restart(api: DockerApi, name: str, grace_period: float) -> Applied:
    """Stop (SIGTERM, SIGKILL after the grace period), then start: one call, so that a caller
    giving up half-way never leaves the container stopped."""
    stopped = stop(api, name, grace_period)
    return Applied(f"{stopped.message}; {start(api, name)}", graceful=stopped.graceful)


def freeze(api: DockerApi, name: str) -> Applied:
    state = api.inspect(name)["State"]
    if not state.get("Running"):
        return Applied(f"{name} was not running ({_status(state)}); nothing to pause")
    if state.get("Paused"):
        return Applied(f"{name} was already paused")
    api.pause(name)
    return Applied(f"paused {name} (cgroup freezer)")


def thaw(api: DockerApi, name: str) -> str:
    """Undo a pause; idempotent."""
    if not api.inspect(name)["State"].get("Paused"):
        return f"{name} was not paused"
    api.unpause(name)
    return f"unpaused {name}"


def _wait_dead(pid: int, timeout: float) -> bool:
    """Until the kernel has taken the process down: a dying process still accepts connections
    for a moment, which an after-check polling right away would take for a recovery."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return True  # reaped
        if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
            return True  # dead, its sockets closed; not yet reaped
        time.sleep(0.002)
    return False


def _ensure_main_process(pid: int, container_id: str, name: str) -> None:
    """Refuse to signal a PID that is not this container's as seen from here.

    With a remote engine, or one in a VM (Docker Desktop), the engine's PIDs mean other
    processes on this host; the container's id in the process's cgroup path tells them apart.
    """
    try:
        cgroups = Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        cgroups = ""
    if container_id not in cgroups:
        raise PlatformError(
            f"pid {pid}, the main process of {name} as the Docker engine reports it, is not "
            "that container's process on this host: the kill fault must run on the engine's "
            "host (or in a container with pid: host); stop and restart work from anywhere"
        )


def _status(state: dict[str, Any]) -> str:
    status = str(state.get("Status", "unknown"))
    if status == "exited":
        status += f", exit code {state.get('ExitCode')}"
    return status


def _restart_policy(info: dict[str, Any]) -> str:
    policy = (info.get("HostConfig") or {}).get("RestartPolicy") or {}
    name = policy.get("Name") or "no"
    if name == "no":
        return "no restart policy"
    if name == "on-failure" and policy.get("MaximumRetryCount"):
        return f"restart policy on-failure:{policy['MaximumRetryCount']}"
    return f"restart policy {name}"
