"""The settings as they are now: the fixed layers (flags, environment, config file) under the
live ones (a ConfigMap, the Redis hash ``config:<service name>``), re-read as those change.

The Redis hash is polled every second, so a change is in effect well within the 5 s the
ecosystem expects, and the kill switch well within 2 s. A Redis that goes away is said once;
the last values read stay in force until it answers again.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from test_coordinator.ecosystem.settings import (
    Layer,
    Settings,
    SettingsLayers,
    read_config_file,
    usable_values,
)
from test_coordinator.engine.injection import InjectionSwitch

__all__ = ["CONFIG_PREFIX", "LiveSettings"]

CONFIG_PREFIX = "config:"
POLL_SECONDS = 1.0

log = logging.getLogger(__name__)

Listener = Callable[[Settings], None]


class LiveSettings:
    """``current`` settings and the kill ``switch``, kept up to date with the live layers."""

    def __init__(
        self,
        flags: Mapping[str, Any],
        *,
        config_file: Path | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.flags = dict(flags)
        self.environ = environ
        path = config_file or (Path(environ["CONFIG_FILE"]) if environ.get("CONFIG_FILE") else None)
        self.file = read_config_file(path) if path is not None else None
        self.live: dict[str, Layer] = {}  # "configmap", "redis"
        self.switch = InjectionSwitch()
        self._listeners: list[Listener] = []
        self.layers = self._gather()
        self.current = self.layers.settings()  # ScenarioInvalid for bad flags, env or file
        self._apply_switch()

    @property
    def config_key(self) -> str:
        return CONFIG_PREFIX + self.current.service_name

    def on_change(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def origin(self, name: str) -> str:
        return self.layers.origin(name)

    def update(self, source: str, layer: Layer | None) -> None:
        """A live layer (``configmap``, ``redis``) now says ``layer`` (None: nothing)."""
        if layer is not None:
            layer, problems = usable_values(layer)
            for problem in problems:
                log.warning("setting ignored: %s", problem)
        if layer is None or not layer.values:
            self.live.pop(source, None)
        else:
            self.live[source] = layer
        layers = self._gather()
        before = self.current
        self.layers, self.current = layers, layers.settings()
        self._apply_switch()
        for name in Settings.model_fields:
            old, new = getattr(before, name), getattr(self.current, name)
            if old != new:
                log.info("setting %s: %r -> %r (%s)", name, old, new, layers.origin(name))
        if before != self.current:
            for listener in self._listeners:
                listener(self.current)

    def _gather(self) -> SettingsLayers:
        lower = tuple(
            layer
            for layer in (self.file, self.live.get("configmap"), self.live.get("redis"))
            if layer is not None
        )
        return SettingsLayers.gather(self.flags, environ=self.environ, lower=lower)

    def _apply_switch(self) -> None:
        enabled, source = self.layers.injection()
        if enabled != self.switch.enabled:
            state = "enabled" if enabled else "DISABLED"
            log.warning("chaos injection %s (%s)", state, source)
        self.switch.set(enabled, source=source)

    async def watch_redis(
        self,
        url: str,
        *,
        every: float = POLL_SECONDS,
        on_back: Callable[[], None] = lambda: None,
    ) -> None:
        """Read the configuration hash every ``every`` seconds, forever (cancel to stop);
        ``on_back`` when Redis answers again after it did not (a registration to renew)."""
        client = aioredis.Redis.from_url(
            url, decode_responses=True, socket_timeout=2.0, socket_connect_timeout=2.0
        )
        seen: dict[str, str] | None = None
        lost = False
        try:
            while True:
                try:
                    found = await client.hgetall(self.config_key)
                    values = {str(key): str(value) for key, value in found.items()}
                except (RedisError, OSError) as error:
                    if not lost:
                        log.warning(
                            "configuration in Redis unavailable (%s): keeping the last values",
                            error,
                        )
                        lost = True
                else:
                    if lost:
                        log.warning("configuration in Redis readable again")
                        lost = False
                        on_back()
                    if values != seen:
                        seen = values
                        where = f"the Redis hash {self.config_key}"
                        self.update("redis", Layer(where, values))
                await asyncio.sleep(every)
        finally:
            await client.aclose()
