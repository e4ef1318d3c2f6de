"""Local processes: the embedded default platform, with no Docker and no cluster."""

from test_coordinator.platforms.local.platform import STACK_ANNOTATION, LocalPlatform, platform_for
from test_coordinator.platforms.local.stack import StackSpec, load_stack

__all__ = ["STACK_ANNOTATION", "LocalPlatform", "StackSpec", "load_stack", "platform_for"]
