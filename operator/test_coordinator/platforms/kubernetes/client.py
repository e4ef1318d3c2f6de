"""The API client, configured as kubectl would be: in a pod its service account, else
``$KUBECONFIG`` or ``~/.kube/config``; every request retried where its failure passes
(``retry.py``)."""

from __future__ import annotations

from urllib.parse import quote

import httpx2
from lightkube import ApiError, AsyncClient, ConfigError, KubeConfig
from lightkube.config.client_adapter import user_auth, verify_cluster
from lightkube.config.kubeconfig import SingleConfig

from test_coordinator.errors import PlatformError
from test_coordinator.platforms.kubernetes.retry import OnRetry, RetryingTransport, RetryPolicy
from test_coordinator.platforms.kubernetes.transport import AiohttpTransport

__all__ = ["ApiClient", "connect"]

_CONNECTIONS = 100
"""The bound on the runs' pool: a burst, such as 1,000 pod deletes, waits for a connection (one
that waits past the pool timeout is retried)."""


def connect(
    *,
    context: str | None = None,
    policy: RetryPolicy | None = None,
    on_retry: OnRetry | None = None,
    connections: int | None = _CONNECTIONS,
) -> ApiClient:
    """A client whose requests are retried by ``policy``. ``connections``: how many it opens
    at most (None for watches, which each hold one)."""
    try:
        config = KubeConfig.from_env().get(context_name=context)
        if config is None:
            raise ConfigError("the kubeconfig sets no current context")
        transport = RetryingTransport(_transport(config, connections), policy, on_retry=on_retry)
        return ApiClient(config, transport)
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


_TIMEOUT = httpx2.Timeout(10.0)
"""lightkube's default for every request: connecting, each read, waiting for the pool."""
_TIMEOUTS = _TIMEOUT.as_dict()  # as a request carries them, made once: a delete is a hot path
_HEADERS = {"Accept": "application/json", "User-Agent": f"python-httpx2/{httpx2.__version__}"}


class ApiClient(AsyncClient):
    """lightkube's client, and a pod delete that goes straight onto its transport.

    An operator killing a thousand pods spends its CPU on lightkube's and httpx's handling of
    each request above the wire (three parses of its URL, the client's send): 0.65-0.8 ms a
    delete, against 0.4 ms for the same request handed to the same transport (its pool, its
    retries) with the same authentication, which is what ``delete_pod`` does."""

    def __init__(self, config: SingleConfig, transport: httpx2.AsyncBaseTransport) -> None:
        super().__init__(config=config, transport=transport, timeout=_TIMEOUT)
        self._server = config.cluster.server.rstrip("/")
        # No token: the transport's client certificate, if any, is the credential.
        self._auth = user_auth(config.user) or httpx2.Auth()
        self._wire = transport

    async def delete_pod(self, name: str, *, namespace: str, grace_period: int) -> None:
        """``delete(Pod, name, namespace=..., grace_period=...)``, the same request; an answer
        of 400 or more (after the transport's retries) raises as lightkube would."""
        path = f"/api/v1/namespaces/{quote(namespace, safe='')}/pods/{quote(name, safe='')}"
        request = httpx2.Request(
            "DELETE",
            f"{self._server}{path}?gracePeriodSeconds={grace_period}",
            headers=_HEADERS,
            extensions={"timeout": _TIMEOUTS},
        )
        response = await self._authenticated(request)
        if response.is_error:
            raise _error(request, response)

    async def _authenticated(self, request: httpx2.Request) -> httpx2.Response:
        """The request sent as httpx's client sends it through its auth flow: a token added,
        and sent again when the flow asks (a token file read again, an exec plugin run again,
        after a 401)."""
        flow = self._auth.async_auth_flow(request)
        try:
            request = await flow.__anext__()
            while True:
                response = await self._wire.handle_async_request(request)
                await response.aread()
                try:
                    request = await flow.asend(response)
                except StopAsyncIteration:
                    return response
        finally:
            await flow.aclose()


def _error(request: httpx2.Request, response: httpx2.Response) -> httpx2.HTTPStatusError:
    """lightkube's ApiError, with the API server's Status, when the answer is one."""
    if response.headers.get("Content-Type", "").partition(";")[0].strip() == "application/json":
        return ApiError(request=request, response=response)
    text = f"{response.status_code} {response.reason_phrase}"
    return httpx2.HTTPStatusError(text, request=request, response=response)
