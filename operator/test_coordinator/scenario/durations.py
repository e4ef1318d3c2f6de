"""Durations as people write them in YAML: ``250ms``, ``30s``, ``5m``, ``1h``, ``1m30s``."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

__all__ = ["Duration", "format_duration", "parse_duration"]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h))+")
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"


def parse_duration(value: object) -> float:
    """Seconds in ``value``; a bare number is taken as seconds."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 250ms, 30s or 5m, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        seconds = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(value.strip()))
    else:
        raise ValueError(f"expected a duration such as 250ms, 30s or 5m, got {value!r}")
    if seconds < 0:
        raise ValueError(f"expected a duration of zero or more, got {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    if seconds < 1 and seconds != int(seconds):
        return f"{round(seconds * 1000)}ms"
    if seconds < 60 or seconds % 60:
        return f"{seconds:g}s"
    if seconds % 3600:
        return f"{seconds / 60:g}m"
    return f"{seconds / 3600:g}h"


def _validate(value: Any) -> float:
    return parse_duration(value)


Duration = Annotated[
    float,
    BeforeValidator(_validate),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN}),
]
"""Seconds as a float in Python; a duration string in YAML, JSON and the CRD schema."""
