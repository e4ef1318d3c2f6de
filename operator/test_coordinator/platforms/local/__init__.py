"""Local processes: the embedded default platform, with no Docker and no cluster."""

from test_coordinator.platforms.local.platform import LocalPlatform
from test_coordinator.platforms.local.stack import StackSpec, load_stack

__all__ = ["LocalPlatform", "StackSpec", "load_stack"]
