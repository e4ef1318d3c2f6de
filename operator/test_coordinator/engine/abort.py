"""How a run is ended early from outside, in a module of its own: a front end holds one (for
Ctrl-C) before the run loop and its checks are loaded."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

__all__ = ["Abort"]


@dataclass
class Abort:
    """Set from outside (Ctrl-C, an abort annotation, a deleted resource) to end a run early."""

    event: asyncio.Event = field(default_factory=asyncio.Event)
    reason: str = ""

    def __call__(self, reason: str) -> None:
        if not self.event.is_set():
            self.reason = reason
            self.event.set()
