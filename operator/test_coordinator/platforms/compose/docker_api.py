"""The few Docker Engine API calls this platform makes, typed, with errors it can report.

The SDK's low-level client is synchronous; the platform calls these from worker threads.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import docker
from docker.errors import APIError, DockerException, NotFound
from requests.exceptions import RequestException

from test_coordinator.errors import PlatformError

__all__ = ["DEFAULT_HOST", "DockerApi", "engine_address"]

DEFAULT_HOST = "unix:///var/run/docker.sock"
# Generous: a `stop` waits out its grace period in one request, while checks keep listing.
_POOL_SIZE = 32
_TIMEOUT = 30

T = TypeVar("T")


def engine_address() -> str:
    """Where the SDK looks for the engine: ``DOCKER_HOST``, else the default socket."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_HOST


class DockerApi:
    def __init__(self, client: docker.APIClient, address: str) -> None:
        self._client = client
        self.address = address

    @classmethod
    def connect(cls) -> DockerApi:
        """Reach the engine (``DOCKER_HOST``, TLS settings from the environment) or say why not."""
        address = engine_address()
        try:
            # Asking the engine for its API version is already a round trip.
            client = docker.APIClient(
                **docker.utils.kwargs_from_env(), timeout=_TIMEOUT, max_pool_size=_POOL_SIZE
            )
        except (DockerException, RequestException) as error:
            raise PlatformError(
                f"no Docker engine reachable at {address}: {_reason(error)} "
                "(start dockerd, or point DOCKER_HOST at a running engine)"
            ) from None
        return cls(client, address)

    def close(self) -> None:
        self._client.close()

    def containers(self, *labels: str) -> list[dict[str, Any]]:
        """Every container (running or not) carrying each of ``labels`` (``key`` or ``k=v``)."""
        return self._call(
            "list containers",
            lambda: self._client.containers(all=True, filters={"label": list(labels)}),
        )

    def inspect(self, name: str) -> dict[str, Any]:
        return self._call(f"inspect {name}", lambda: self._client.inspect_container(name))

    def stop(self, name: str, *, timeout: int) -> None:
        self._call(f"stop {name}", lambda: self._client.stop(name, timeout=timeout))

    def start(self, name: str) -> None:
        self._call(f"start {name}", lambda: self._client.start(name))

    def pause(self, name: str) -> None:
        self._call(f"pause {name}", lambda: self._client.pause(name))

    def unpause(self, name: str) -> None:
        self._call(f"unpause {name}", lambda: self._client.unpause(name))

    def _call(self, what: str, call: Callable[[], T]) -> T:
        with self._errors(what):
            return call()

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except NotFound:
            raise PlatformError(f"cannot {what}: no such container (removed meanwhile?)") from None
        except APIError as error:
            raise PlatformError(f"cannot {what}: {error.explanation or error}") from None
        except (DockerException, RequestException) as error:
            raise PlatformError(
                f"cannot {what}: Docker engine at {self.address}: {_reason(error)}"
            ) from None


def _reason(error: BaseException) -> str:
    """The OS-level cause buried in the SDK's wrappers ("no such file or directory")."""
    seen: list[BaseException] = [error]
    for exc in seen:
        if isinstance(exc, OSError) and exc.strerror:
            return exc.strerror.lower()
        nested = [exc.__cause__, exc.__context__, *exc.args]
        seen += [item for item in nested if isinstance(item, BaseException) and item not in seen]
    return str(error)
