"""Runs one service as a child process and keeps it running as its restart policy says.

It plays the part a kubelet or the Docker engine plays elsewhere: a crash (SIGKILL) is followed
by a restart after a backoff, unless the policy says ``never``. Faults reach the process only
through this class, so the supervisor always knows whether an exit was asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from test_coordinator.platforms.local.stack import ServiceSpec
from test_coordinator.scenario.durations import format_duration

__all__ = ["ServiceProcess", "StopOutcome"]

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
# A service that ran this long before it died is healthy again: its backoff starts over.
_BACKOFF_RESET_AFTER = 10.0


def _die_with_parent() -> None:
    """Runs in the child before exec: the kernel SIGKILLs it when the runner dies, however."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass(frozen=True)
class StopOutcome:
    graceful: bool  # exited within the grace period (False: SIGKILL after it)
    seconds: float  # from the SIGTERM to the exit
    exit_code: int | None
    grace_period: float

    def __str__(self) -> str:
        if self.graceful:
            return f"stopped gracefully in {self.seconds:.2f}s (exit {self.exit_code})"
        return (
            f"did not stop within its {format_duration(self.grace_period)} grace period: "
            f"SIGKILL after {self.seconds:.2f}s"
        )


class ServiceProcess:
    def __init__(
        self, name: str, spec: ServiceSpec, argv: list[str], env: dict[str, str], log_path: Path
    ) -> None:
        self.name = name
        self.spec = spec
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.restarts = 0
        self.process: asyncio.subprocess.Process | None = None
        self.last_exit: int | None = None
        self.spawn_error: OSError | None = None
        self._tail: deque[str] = deque(maxlen=40)
        self._may_run = asyncio.Event()  # cleared while a stop fault holds the service down
        self._may_run.set()
        self._closing = False
        self._restart_now = False
        self._started = asyncio.Condition()
        self._generation = 0
        self._loop_task: asyncio.Task[None] | None = None
        self._pumps: set[asyncio.Task[None]] = set()
        self._log: TextIO | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process and self.process.returncode is None else None

    @property
    def tail(self) -> str:
        return "".join(self._tail).rstrip()

    async def start(self) -> None:
        self._log = self.log_path.open("a", encoding="utf-8")
        self._loop_task = asyncio.create_task(self._supervise(), name=f"supervise {self.name}")
        await self.wait_started(after=0)
        if self.spawn_error is not None:
            raise self.spawn_error

    async def wait_started(self, *, after: int) -> int:
        """Wait until a process newer than generation ``after`` is running; its generation."""
        async with self._started:
            await self._started.wait_for(
                lambda: self._generation > after or self._finished or self.spawn_error is not None
            )
        return self._generation

    @property
    def _finished(self) -> bool:
        return self._loop_task is not None and self._loop_task.done()

    @property
    def running(self) -> bool:
        return self.pid is not None

    async def _supervise(self) -> None:
        crashes = 0
        while True:
            await self._may_run.wait()
            if self._closing:
                return
            began = time.monotonic()
            try:
                await self._spawn()
            except OSError as error:  # the program is gone or not executable: nothing to restart
                self.spawn_error = error
                self._write(f"[test-coordinator] cannot run {self.argv[0]}: {error.strerror}\n")
                async with self._started:
                    self._started.notify_all()
                return
            assert self.process is not None
            exit_code = await self.process.wait()
            self.last_exit = exit_code
            self._write(f"[test-coordinator] {self.name} exited with {_describe_exit(exit_code)}\n")
            if self._restart_now or not self._may_run.is_set():
                self._restart_now = False
                crashes = 0
                continue  # asked for: restart at once, or wait until resumed
            if self.spec.restart == "never" or (
                self.spec.restart == "on-failure" and not exit_code
            ):
                return
            if time.monotonic() - began > _BACKOFF_RESET_AFTER:
                crashes = 0
            delay = min(self.spec.restart_delay * 2**crashes, self.spec.max_restart_delay)
            crashes += 1
            self.restarts += 1
            self._write(f"[test-coordinator] restarting {self.name} in {delay:g}s\n")
            await asyncio.sleep(delay)

    async def _spawn(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *self.argv,
            env=self.env,
            cwd=self.spec.working_dir,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # own process group: a terminal's Ctrl-C is ours to handle
            preexec_fn=_die_with_parent,
        )
        pump = asyncio.create_task(self._pump(self.process), name=f"output of {self.name}")
        self._pumps.add(pump)
        pump.add_done_callback(self._pumps.discard)
        async with self._started:
            self._generation += 1
            self._started.notify_all()

    async def _pump(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            self._write(raw.decode("utf-8", "replace"))

    async def output_read(self) -> None:
        """Wait until what the processes wrote so far has been read to its end: a process is
        reaped before its pipe is (and a child it left behind may keep the pipe open)."""
        if self._pumps:
            await asyncio.wait(set(self._pumps))

    def _write(self, line: str) -> None:
        self._tail.append(line)
        if self._log is not None:
            self._log.write(line)
            self._log.flush()

    def signal(self, signum: signal.Signals) -> None:
        """Signal the service's process group (only ever a process this class started)."""
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signum)

    async def kill(self) -> None:
        """SIGKILL, as a crash: the restart policy decides what follows."""
        process = self.process
        self.signal(signal.SIGKILL)
        if process is not None:
            await process.wait()

    async def restart(self, grace_period: float) -> StopOutcome:
        generation = self._generation
        self._restart_now = True
        outcome = await self._terminate(grace_period)
        await self.wait_started(after=generation)
        return outcome

    async def stop(self, grace_period: float) -> StopOutcome:
        """Stop and keep stopped until ``resume_stopped``."""
        self._may_run.clear()
        return await self._terminate(grace_period)

    async def resume_stopped(self) -> None:
        if self._may_run.is_set():
            return
        generation = self._generation
        self._may_run.set()
        await self.wait_started(after=generation)

    async def _terminate(self, grace_period: float) -> StopOutcome:
        process = self.process
        began = time.monotonic()
        if process is None or process.returncode is not None:
            return StopOutcome(True, 0.0, self.last_exit, grace_period)
        self.signal(signal.SIGCONT)  # a paused process cannot act on SIGTERM
        self.signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(grace_period):
                code = await process.wait()
            return StopOutcome(True, time.monotonic() - began, code, grace_period)
        except TimeoutError:
            self.signal(signal.SIGKILL)
            code = await process.wait()
            return StopOutcome(False, time.monotonic() - began, code, grace_period)

    async def shutdown(self) -> StopOutcome:
        """Stop for good: the loop ends first, so nothing restarts what is being stopped."""
        self._closing = True
        if self._loop_task is not None and not self._loop_task.done():
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        outcome = await self._terminate(self.spec.stop_grace_period)
        if self._log is not None:
            self._log.close()
            self._log = None
        return outcome


def _describe_exit(code: int) -> str:
    if code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"code {code}"
