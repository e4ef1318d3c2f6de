"""Durations as people write them in YAML: ``250ms``, ``30s``, ``5m``, ``1h``, ``1m30s``.

Always a string with a unit, as in Kubernetes: a bare ``30`` is refused, because the CRD schema
would refuse it too and "30 what?" is a question a scenario should not leave open.
"""

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
    """Seconds in ``value``, a string with units: exactly what the CRD schema's pattern admits."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"expected a duration with a unit such as {abs(value)}s, got {value!r}")
    if not isinstance(value, str) or not _WHOLE.fullmatch(value):
        raise ValueError(f"expected a duration such as 250ms, 30s or 5m, got {value!r}")
    return sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(value))


def format_duration(seconds: float) -> str:
    """The shortest text that ``parse_duration`` reads back as ``seconds``."""
    if seconds == 0:
        return "0s"
    for unit, size in (("h", 3600.0), ("m", 60.0), ("s", 1.0)):
        if seconds >= size and (seconds / size).is_integer():
            return f"{int(seconds / size)}{unit}"
    if seconds >= 1:
        return f"{_plain(seconds)}s"
    return f"{_plain(seconds * 1000)}ms"


def _plain(number: float) -> str:
    """``number`` in positional notation (never ``1e+06``), without trailing zeros."""
    return f"{number:.6f}".rstrip("0").rstrip(".")


def _validate(value: Any) -> float:
    return parse_duration(value)


Duration = Annotated[
    float,
    BeforeValidator(_validate),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN}),
]
"""Seconds as a float in Python; a duration string in YAML, JSON and the CRD schema."""
