"""Stacks of tiny services for the local platform's tests, and ways to see their processes."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from test_coordinator.platforms.local.stack import StackSpec

TINY_SERVICE = str(Path(__file__).with_name("tiny_service.py"))


def tiny(name: str, pid_dir: Path, *extra: str, **fields: Any) -> dict[str, Any]:
    """A stack entry for one tiny service on a free port, ready when its port accepts."""
    return {
        "command": [
            sys.executable,
            TINY_SERVICE,
            "--port",
            f"${{{name}.tcp}}",
            "--pid-dir",
            str(pid_dir),
            *extra,
        ],
        "ports": {"tcp": 0},
        "labels": {"app": name},
        "ready": {"tcp": {"port": "tcp"}},
        "restartDelay": "1500ms",
        "stopGracePeriod": "2s",
        **fields,
    }


def tiny_stack(pid_dir: Path, **services: dict[str, Any]) -> StackSpec:
    return StackSpec.model_validate({"services": services})


def started_pids(pid_dir: Path) -> list[int]:
    return sorted(int(path.name) for path in pid_dir.iterdir() if path.name.isdigit())


def listening_since(pid_dir: Path, pid: int) -> float | None:
    """Wall-clock time at which the process ``pid`` began to listen, if it did."""
    stamp = pid_dir / f"{pid}.listening"
    return float(stamp.read_text()) if stamp.exists() else None


def process_state(pid: int) -> str | None:
    """The kernel's state letter (R, S, T stopped, Z zombie), or None when the PID is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def alive(pid: int) -> bool:
    return process_state(pid) not in (None, "Z", "X")


def gone(pid: int, *, timeout: float = 5.0) -> bool:
    """Whether ``pid`` is dead (or a zombie: killed, not yet reaped by its new parent) within
    ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        if not alive(pid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)


def parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


__all__ = [
    "TINY_SERVICE",
    "alive",
    "gone",
    "parent_of",
    "process_state",
    "started_pids",
    "tiny",
    "tiny_stack",
]
