"""Local processes: the embedded default platform, with no Docker and no cluster.

The names load on first use: reading a stack file (``validate``) must not cost the supervisor,
the fault proxy and aiohttp that running one needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from test_coordinator.platforms.local.platform import LocalPlatform, platform_for
    from test_coordinator.platforms.local.stack import STACK_ANNOTATION, StackSpec, load_stack

_HOME = {
    "LocalPlatform": "platform",
    "platform_for": "platform",
    "STACK_ANNOTATION": "stack",
    "StackSpec": "stack",
    "load_stack": "stack",
}

__all__ = ["STACK_ANNOTATION", "LocalPlatform", "StackSpec", "load_stack", "platform_for"]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
