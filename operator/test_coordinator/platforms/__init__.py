"""Where workloads live and faults land: one small class per platform behind ``Platform``."""

from test_coordinator.platforms.base import Applied, FaultHeld, Platform, Workload

__all__ = ["Applied", "FaultHeld", "Platform", "Workload"]
