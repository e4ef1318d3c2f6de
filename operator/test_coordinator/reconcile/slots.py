"""A bound on the runs in progress in one front end (``max_concurrent_runs``): the runs beyond
it wait, first due first started.

Every reconciler of a front end shares one ``RunSlots``. A run takes a slot before it touches
anything and gives it back when it ends; one that finds none free waits in line and is told,
whenever the line moves, how many wait ahead of it (its status says so). The bound is read at
every start, so a live change of the setting takes effect at the next one (and, once
``refresh``ed, at once for a higher bound).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["DEFAULT_MAX_CONCURRENT_RUNS", "Moved", "RunSlots"]

DEFAULT_MAX_CONCURRENT_RUNS = 50
"""What a small operator pod (a few hundred MB, one core) runs at once with room to spare."""

Moved = Callable[[int], None]
"""Told how many runs wait ahead of a waiting one, when it joins the line and as it moves."""


@dataclass(eq=False)
class _Waiter:
    granted: asyncio.Future[None]
    moved: Moved


class RunSlots:
    def __init__(self, limit: Callable[[], int] | int = DEFAULT_MAX_CONCURRENT_RUNS) -> None:
        self._limit = limit if callable(limit) else (lambda: limit)
        self.running = 0
        self._line: collections.deque[_Waiter] = collections.deque()

    @property
    def limit(self) -> int:
        return max(1, self._limit())

    @property
    def waiting(self) -> int:
        return len(self._line)

    def try_acquire(self) -> bool:
        """Take a slot if one is free and nobody waits for it (first come, first served)."""
        if not self._line and self.running < self.limit:
            self.running += 1
            return True
        return False

    async def acquire(self, moved: Moved | None = None) -> None:
        """Take a slot, waiting in line for one; ``moved`` hears the line's moves."""
        if self.try_acquire():
            return
        waiter = _Waiter(asyncio.get_running_loop().create_future(), moved or _ignore)
        self._line.append(waiter)
        waiter.moved(len(self._line) - 1)
        try:
            await waiter.granted
        except asyncio.CancelledError:
            if waiter.granted.done() and not waiter.granted.cancelled():
                self.release()  # granted just as it gave up: the next one gets it
            else:
                self._line.remove(waiter)
                self._tell_line()
            raise

    def release(self) -> None:
        self.running -= 1
        self._hand_on()

    def refresh(self) -> None:
        """The bound may have changed: start whoever it now lets start."""
        self._hand_on()

    def _hand_on(self) -> None:
        started = False
        while self._line and self.running < self.limit:
            waiter = self._line.popleft()
            if waiter.granted.done():  # gave up, and is about to leave the line
                continue
            self.running += 1
            waiter.granted.set_result(None)
            started = True
        if started:
            self._tell_line()

    def _tell_line(self) -> None:
        for ahead, waiter in enumerate(self._line):
            waiter.moved(ahead)


def _ignore(ahead: int) -> None:
    return None
