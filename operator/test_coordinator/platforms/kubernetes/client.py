"""The API client, configured as kubectl would be: in a pod its service account, else
``$KUBECONFIG`` or ``~/.kube/config``; every request retried where its failure passes
(``retry.py``)."""

from __future__ import annotations

from lightkube import AsyncClient, ConfigError, KubeConfig
from lightkube.config.client_adapter import verify_cluster
from lightkube.config.kubeconfig import SingleConfig

from test_coordinator.errors import PlatformError
from test_coordinator.platforms.kubernetes.retry import OnRetry, RetryingTransport, RetryPolicy
from test_coordinator.platforms.kubernetes.transport import AiohttpTransport

__all__ = ["connect"]

_CONNECTIONS = 100
"""The bound on the runs' pool: a burst, such as 1,000 pod deletes, waits for a connection (one
that waits past the pool timeout is retried)."""


def connect(
    *,
    context: str | None = None,
    policy: RetryPolicy | None = None,
    on_retry: OnRetry | None = None,
    connections: int | None = _CONNECTIONS,
) -> AsyncClient:
    """A client whose requests are retried by ``policy``. ``connections``: how many it opens
    at most (None for watches, which each hold one)."""
    try:
        config = KubeConfig.from_env().get(context_name=context)
        if config is None:
            raise ConfigError("the kubeconfig sets no current context")
        transport = RetryingTransport(_transport(config, connections), policy, on_retry=on_retry)
        return AsyncClient(config=config, transport=transport)
    except ConfigError as error:
        raise PlatformError(f"no Kubernetes cluster configured: {error}") from None


def _transport(config: SingleConfig, connections: int | None) -> AiohttpTransport:
    """What lightkube would build itself when given no transport: the cluster's CA and the
    user's client certificate, if any, for TLS (the user's token is added by the client's auth,
    above the transport)."""
    if config.user is None:
        raise ConfigError("the kubeconfig's context names no user")
    verify = verify_cluster(config.cluster, config.user, config.abs_file)
    return AiohttpTransport(verify, connections=connections)
