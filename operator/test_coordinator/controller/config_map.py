"""The operator's live configuration on Kubernetes: a ConfigMap in its own namespace (default
``test-coordinator-config``), snake_case keys as in the Redis hash, watched: a change is in
effect as soon as the watch delivers it, ``chaos_injection_enabled: "false"`` included."""

from __future__ import annotations

import asyncio
import logging

from lightkube import ApiError, AsyncClient
from lightkube.resources.core_v1 import ConfigMap

from test_coordinator.ecosystem.live import LiveSettings
from test_coordinator.ecosystem.settings import Layer

__all__ = ["DEFAULT_CONFIG_MAP", "watch_config_map"]

DEFAULT_CONFIG_MAP = "test-coordinator-config"
_RETRY = 1.0

log = logging.getLogger(__name__)


async def watch_config_map(
    client: AsyncClient, live: LiveSettings, *, namespace: str, name: str
) -> None:
    """Forever (cancel to stop): the ConfigMap's data as the live layer ``configmap``."""
    where = f"the ConfigMap {namespace}/{name}"
    lost = False
    while True:
        try:
            try:
                found = await client.get(ConfigMap, name, namespace=namespace)
                live.update("configmap", Layer(where, dict(found.data or {})))
                version = found.metadata.resourceVersion if found.metadata else None
            except ApiError as error:
                if error.status.code != 404:
                    raise
                live.update("configmap", None)
                version = None
            if lost:
                log.warning("watching %s again", where)
                lost = False
            async for kind, changed in client.watch(
                ConfigMap, namespace=namespace, resource_version=version
            ):
                if changed.metadata is None or changed.metadata.name != name:
                    continue
                data = None if kind == "DELETED" else Layer(where, dict(changed.data or {}))
                live.update("configmap", data)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the API server away, a watch expired: look again
            if not lost:
                log.warning("cannot watch %s (%s): keeping the last values", where, error)
                lost = True
        await asyncio.sleep(_RETRY)
