"""Timed faults shared by overlapping runs of one scenario (``concurrencyPolicy: Allow``).

Runs of one scenario select the same workloads, and their timed faults land on the same objects:
one deny-all NetworkPolicy per pod, one original-replicas annotation per Deployment, one paused
container. Undone when the first run ends, such a fault would end under the run still holding
it, whose checks would then measure a system no longer under that fault. So the last run
holding a fault undoes it; the others say that they left it in place.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence

from test_coordinator.platforms.base import Applied, Platform, Workload
from test_coordinator.scenario.model import TIMED_FAULTS, FaultSpec

__all__ = ["FaultHolders", "SharedFaults"]


Key = tuple[str, str]  # (action, workload id)


class FaultHolders:
    """Which runs of one scenario hold each timed fault, by action and workload."""

    def __init__(self) -> None:
        self._holders: dict[Key, set[str]] = {}
        self._locks: dict[Key, tuple[asyncio.Lock, int]] = {}  # the lock, and its users

    @contextlib.asynccontextmanager
    async def exclusive(self, key: Key) -> AsyncIterator[None]:
        """One apply or undo of ``key`` at a time (an undo racing a new hold would lift the
        new one); other faults go on meanwhile."""
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def hold(self, key: Key, run_id: str) -> None:
        self._holders.setdefault(key, set()).add(run_id)

    def release(self, key: Key, run_id: str) -> set[str]:
        """Let go of ``key`` for ``run_id``; the runs that still hold it."""
        holders = self._holders.get(key, set())
        holders.discard(run_id)
        if not holders:
            self._holders.pop(key, None)
        return set(holders)


class SharedFaults(Platform):
    """One run's view of a platform, which undoes a timed fault only when no other run of its
    scenario holds it. Everything else goes straight to the platform it wraps."""

    def __init__(self, inner: Platform, *, holders: FaultHolders, run_id: str) -> None:
        self.inner = inner
        self.holders = holders
        self.run_id = run_id
        # The engine reads these off the platform it is given: the wrapped one's.
        self.name = inner.name  # type: ignore[misc]
        self.faults = inner.faults  # type: ignore[misc]
        self.targets_may_appear = inner.targets_may_appear  # type: ignore[misc]
        self.reports_graceful_stop = inner.reports_graceful_stop  # type: ignore[misc]

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    def journal_key(self) -> str | None:
        return self.inner.journal_key()

    async def select(self, selector: Mapping[str, str]) -> list[Workload]:
        return await self.inner.select(selector)

    async def inventory(self) -> list[Workload]:
        return await self.inner.inventory()

    async def endpoint(self, workload: Workload, port: int | str) -> str:
        return await self.inner.endpoint(workload, port)

    async def fault_targets(self, fault: FaultSpec, chosen: Sequence[Workload]) -> list[Workload]:
        return await self.inner.fault_targets(fault, chosen)

    async def workload_ready(self, kind: str, name: str) -> tuple[bool, str]:
        return await self.inner.workload_ready(kind, name)

    async def apply(self, fault: FaultSpec, workload: Workload) -> Applied:
        if fault.action not in TIMED_FAULTS:
            return await self.inner.apply(fault, workload)
        key = (fault.action, workload.id)
        async with self.holders.exclusive(key):
            applied = await self.inner.apply(fault, workload)
            self.holders.hold(key, self.run_id)
        return applied

    async def revert(self, fault: FaultSpec, workload: Workload) -> str:
        if fault.action not in TIMED_FAULTS:
            return await self.inner.revert(fault, workload)
        key = (fault.action, workload.id)
        async with self.holders.exclusive(key):
            others = self.holders.release(key, self.run_id)
            if others:
                return f"left in place: run {', '.join(sorted(others))} still holds it"
            return await self.inner.revert(fault, workload)
