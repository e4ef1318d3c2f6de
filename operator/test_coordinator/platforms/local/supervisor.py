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
import subprocess
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from test_coordinator.platforms.local.stack import ServiceSpec
from test_coordinator.scenario.durations import format_duration
from test_coordinator.sessions import kill_left_behind
from test_coordinator.watchdog import Watchdog

__all__ = ["ServiceProcess", "StopOutcome"]

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
# A service that ran this long before it died is healthy again: its backoff starts over.
_BACKOFF_RESET_AFTER = 10.0
# What a process wrote before it exited is read before its exit is logged, waiting at most this
# long: only a process that escaped its session (a daemon) can hold the pipe open longer.
_LAST_OUTPUT_SECONDS = 1.0
# A line longer than this is logged in pieces.
_LONGEST_LINE = 64 * 1024


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
        self,
        name: str,
        spec: ServiceSpec,
        argv: list[str],
        env: dict[str, str],
        log_path: Path,
        *,
        watchdog: Watchdog | None = None,
    ) -> None:
        self.name = name
        self.spec = spec
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.restarts = 0
        self.process: Child | None = None
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
        self._children: set[Child] = set()  # with their output still open
        self._log: TextIO | None = None
        self._watchdog = watchdog

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
            exited_at = time.monotonic()
            self.last_exit = exit_code
            left = await asyncio.to_thread(kill_left_behind, self.process.pid)
            if self._watchdog is not None:
                self._watchdog.forget(self.process.pid)
            await self._output_read()
            self._write(f"[test-coordinator] {self.name} exited with {_describe_exit(exit_code)}\n")
            if left:
                pids = ", ".join(map(str, left))
                self._write(f"[test-coordinator] killed what {self.name} left running: {pids}\n")
            self.process.noted.set_result(None)
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
            await asyncio.sleep(delay - (time.monotonic() - exited_at))  # from the exit

    async def _spawn(self) -> None:
        # asyncio's own Process.wait() returns only once the output pipe is closed too, which a
        # child the process left behind can keep open for ever: the exit is the protocol's.
        transport, output = await asyncio.get_running_loop().subprocess_exec(
            lambda: _Output(self._write),
            *self.argv,
            env=self.env,
            cwd=self.spec.working_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: a terminal's Ctrl-C is ours to handle
            preexec_fn=_die_with_parent,
        )
        self.process = child = Child(transport, output, asyncio.get_running_loop().create_future())
        if self._watchdog is not None:
            self._watchdog.watch(child.pid)
        self._children.add(child)
        output.finished.add_done_callback(lambda _: self._close(child))
        async with self._started:
            self._generation += 1
            self._started.notify_all()

    def _close(self, child: Child) -> None:
        child.transport.close()  # kills the process if it still runs: only once it has exited
        self._children.discard(child)

    async def _output_read(self) -> None:
        """Wait until what the exited process wrote has been read to its end, at most
        ``_LAST_OUTPUT_SECONDS``: a process is reaped before its pipe is read out."""
        if self.process is not None and self.process.returncode is not None:
            await asyncio.wait([self.process.output.closed], timeout=_LAST_OUTPUT_SECONDS)

    async def exit_noted(self) -> None:
        """Wait until the supervisor has dealt with the exited process: what it left running
        killed, its output read to the end, its exit logged (a moment; longer only while a
        process that left the session holds the output open)."""
        if self.process is not None and self.process.returncode is not None:
            # The sweep of leftovers takes milliseconds; the second is a bound, not a wait.
            await asyncio.wait([self.process.noted], timeout=_LAST_OUTPUT_SECONDS + 1)

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
        if self.process is not None:  # what it started, outside its process group too
            await asyncio.to_thread(kill_left_behind, self.process.pid)
        for child in list(self._children):  # held open by a process that left its session
            self._close(child)
        if self._log is not None:
            self._log.close()
            self._log = None
        return outcome


class _Output(asyncio.SubprocessProtocol):
    """A process's output, line by line, to ``write``; its exit, its pipe's end, and both."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write
        self._partial = b""
        loop = asyncio.get_running_loop()
        self.exited: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.finished: asyncio.Future[None] = loop.create_future()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        *lines, self._partial = (self._partial + data).split(b"\n")
        if len(self._partial) > _LONGEST_LINE:
            lines.append(self._partial)
            self._partial = b""
        for line in lines:  # never split inside a character: UTF-8 has no \n in one
            self._write(line.decode("utf-8", "replace") + "\n")

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if self._partial:
            self._write(self._partial.decode("utf-8", "replace"))
            self._partial = b""
        if not self.closed.done():
            self.closed.set_result(None)

    def process_exited(self) -> None:
        self.exited.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.finished.set_result(None)


@dataclass(eq=False)
class Child:
    """One process of a service."""

    transport: asyncio.SubprocessTransport
    output: _Output
    noted: asyncio.Future[None]  # the supervisor has dealt with its exit

    @property
    def pid(self) -> int:
        return self.transport.get_pid()

    @property
    def returncode(self) -> int | None:
        return self.transport.get_returncode()

    async def wait(self) -> int:
        """Its exit code, once it has exited (its output may still be being read)."""
        await asyncio.shield(self.output.exited)
        code = self.transport.get_returncode()
        assert code is not None
        return code


def _describe_exit(code: int) -> str:
    if code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"code {code}"
