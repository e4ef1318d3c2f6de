"""Kubernetes: pods selected by labels in one namespace, faulted through the API server."""

from test_coordinator.platforms.kubernetes.cache import CacheTiming, ClusterCache
from test_coordinator.platforms.kubernetes.client import ApiClient, connect
from test_coordinator.platforms.kubernetes.platform import KubernetesPlatform, WorkloadGone
from test_coordinator.platforms.kubernetes.retry import RetryPolicy
from test_coordinator.platforms.kubernetes.safety import ENABLED_LABEL, SYSTEM_NAMESPACES

__all__ = [
    "ENABLED_LABEL",
    "SYSTEM_NAMESPACES",
    "ApiClient",
    "CacheTiming",
    "ClusterCache",
    "KubernetesPlatform",
    "RetryPolicy",
    "WorkloadGone",
    "connect",
]
