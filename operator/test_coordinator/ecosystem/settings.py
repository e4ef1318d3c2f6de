"""The coordinator's settings, as every service of the ecosystem takes them: flags, then the
environment, then an optional config file, then the ecosystem's configuration (a ConfigMap on
Kubernetes, the Redis hash ``config:<service name>``), first one that sets a value wins.

    flags                --http-port 8080, --redis-url …          (only those given)
    environment          HTTP_PORT, REDIS_URL, CHAOS_INJECTION_ENABLED, …
    config file          --config FILE or CONFIG_FILE: YAML, JSON or TOML, snake_case keys
    ConfigMap            the operator's own namespace (Kubernetes only), snake_case keys
    Redis hash           config:test-coordinator, snake_case fields, watched live

pydantic-settings merges and validates the layers. One setting is not "first wins": the kill
switch ``chaos_injection_enabled`` is off as soon as any layer turns it off, so that the live
configuration can stop chaos whatever the container's environment says, and a value no layer
can read counts as off.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, TypeAdapter, ValidationError
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from test_coordinator.engine.injection import parse_enabled
from test_coordinator.errors import ScenarioInvalid
from test_coordinator.scenario.loading import load_yaml

__all__ = [
    "KILL_SWITCH",
    "Layer",
    "Settings",
    "SettingsLayers",
    "package_version",
    "read_config_file",
    "usable_values",
]

KILL_SWITCH = "chaos_injection_enabled"


def package_version() -> str:
    try:
        return version("test-coordinator")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


class Settings(BaseSettings):
    """Every setting, by its snake_case name; its environment variable is the name in capitals."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, frozen=True)

    service_name: str = Field(default="test-coordinator", pattern=r"^[a-z0-9][-a-z0-9_.]*$")
    service_version: str = Field(default_factory=package_version)
    http_port: int = Field(default=8080, ge=0, le=65535)
    grpc_port: int = Field(default=50051, ge=0, le=65535)
    redis_url: str | None = None
    scenario_timeout_seconds: float | None = Field(default=None, gt=0)
    """A ceiling on every run's timeout."""
    chaos_injection_enabled: bool = True
    max_concurrent_runs: int = Field(default=50, ge=1)
    """Runs in progress at most; the rest wait, Pending, first due first started."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "plain"] = "json"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment as ``SettingsLayers.gather`` read it (a process's own, or a test's),
        # so that what is merged is what ``origin`` reports.
        lower = [InitSettingsSource(settings_cls, dict(values)) for values in _LOWER.get()]
        return (init_settings, *lower)


_LOWER: ContextVar[tuple[Mapping[str, Any], ...]] = ContextVar("lower_layers", default=())
_FIELDS = tuple(Settings.model_fields)


@dataclass(frozen=True)
class Layer:
    """One source of settings: its name for people, and the values it sets (snake_case)."""

    name: str
    values: Mapping[str, Any]


@dataclass(frozen=True)
class SettingsLayers:
    """The layers, highest first, and the settings they make."""

    flags: Layer
    environment: Layer
    lower: tuple[Layer, ...]  # config file, ConfigMap, Redis hash: those there are

    @classmethod
    def gather(
        cls,
        flags: Mapping[str, Any],
        *,
        environ: Mapping[str, str] = os.environ,
        lower: tuple[Layer, ...] = (),
    ) -> SettingsLayers:
        given = {key: value for key, value in flags.items() if value is not None}
        names = {name.upper(): name for name in _FIELDS}
        from_env = {
            names[key.upper()]: value for key, value in environ.items() if key.upper() in names
        }
        return cls(
            Layer("flags", given),
            Layer("the environment", from_env),
            tuple(layer for layer in lower if layer.values),
        )

    def layers(self) -> Iterator[Layer]:
        yield self.flags
        yield self.environment
        yield from self.lower

    def settings(self) -> Settings:
        """The merged settings (``injection`` says whether chaos is on); ScenarioInvalid naming
        the setting and its layer otherwise."""
        # The kill switch of the lower layers is read by ``injection`` alone: what they say
        # (anything, even unreadable) can only turn it off, never fail the settings.
        lower = tuple(
            {key: value for key, value in layer.values.items() if key != KILL_SWITCH}
            for layer in self.lower
        )
        token = _LOWER.set((self.environment.values, *lower))
        try:
            return Settings(**self.flags.values)
        except ValidationError as error:
            raise ScenarioInvalid(list(self._problems(error))) from None
        finally:
            _LOWER.reset(token)

    def _problems(self, error: ValidationError) -> Iterator[str]:
        for detail in error.errors(include_url=False):
            name = str(detail["loc"][0]) if detail["loc"] else "(settings)"
            origin = self.origin(name)
            yield f"setting {name} ({origin}): {detail['msg']}, got {detail.get('input')!r}"

    def origin(self, name: str) -> str:
        """Which layer decides ``name``, as people read it."""
        for layer in self.layers():
            if name in layer.values:
                return _describe(layer, name)
        return "the default"

    def injection(self) -> tuple[bool, str]:
        """The kill switch: off when any layer turns it off (or sets it to something
        unreadable); and which layer decided."""
        for layer in self.layers():
            if KILL_SWITCH not in layer.values:
                continue
            value = layer.values[KILL_SWITCH]
            try:
                enabled = value if isinstance(value, bool) else parse_enabled(str(value))
            except ValueError:
                enabled = False
            if not enabled:
                return False, f"{_describe(layer, KILL_SWITCH)} says {value}"
        return True, self.origin(KILL_SWITCH)


def _describe(layer: Layer, name: str) -> str:
    if layer.name == "flags":
        return f"--{name.replace('_', '-')}"
    if layer.name == "the environment":
        return f"{name.upper()} in the environment"
    return f"{name} in {layer.name}"


def usable_values(layer: Layer) -> tuple[Layer, list[str]]:
    """``layer`` without the values that do not fit their setting (a live source must not stop
    the service), and what was dropped. An unreadable kill switch stays: it counts as off."""
    kept: dict[str, Any] = {}
    problems = []
    for name, value in layer.values.items():
        field = Settings.model_fields.get(name)
        if field is None:
            continue
        if name == KILL_SWITCH:
            kept[name] = value
            continue
        try:
            TypeAdapter[Any](field.annotation).validate_python(value)  # type: ignore[arg-type]
        except ValidationError as error:
            problems.append(f"{name} in {layer.name}: {error.errors()[0]['msg']}, got {value!r}")
            continue
        kept[name] = value
    return Layer(layer.name, kept), problems


def read_config_file(path: Path) -> Layer:
    """A config file's settings: YAML (``.yaml``, ``.yml``), JSON or TOML, by extension."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ScenarioInvalid(f"{path}: cannot read the config file: {error.strerror}") from None
    try:
        if path.suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif path.suffix == ".json":
            data = json.loads(text)
        else:
            data = load_yaml(text, source=str(path))
    except (ValueError, tomllib.TOMLDecodeError) as error:
        raise ScenarioInvalid(f"{path}: not a readable config file: {error}") from None
    if not isinstance(data, Mapping):
        raise ScenarioInvalid(f"{path}: expected a mapping of settings (snake_case keys)")
    unknown = sorted(str(key) for key in data if key not in Settings.model_fields)
    if unknown:
        known = ", ".join(_FIELDS)
        raise ScenarioInvalid(f"{path}: unknown setting(s) {', '.join(unknown)} (known: {known})")
    return Layer(f"the config file {path}", {str(key): value for key, value in data.items()})
