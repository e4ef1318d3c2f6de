"""The API client, configured as kubectl would be: in a pod its service account, else
``$KUBECONFIG`` or ``~/.kube/config``."""

from __future__ import annotations

from lightkube import AsyncClient, ConfigError, KubeConfig

from test_coordinator.errors import PlatformError

__all__ = ["connect"]


def connect(*, context: str | None = None) -> AsyncClient:
    try:
        config = KubeConfig.from_env()
        return AsyncClient(config=config.get(context_name=context) if context else config)
    except ConfigError as error:
        raise PlatformError(f"no Kubernetes cluster configured: {error}") from None
