"""Durations as people write them in YAML: ``250ms``, ``30s``, ``5m``, ``1h``, ``1m30s``.

Always a string with a unit, as in Kubernetes: a bare ``30`` is refused, because the CRD schema
would refuse it too and "30 what?" is a question a scenario should not leave open. Digits are
ASCII only (the schema's ``[0-9]``; Python's ``\\d`` would also read fullwidth and Arabic-Indic
digits), a duration is at most ``MAX_DURATION_TEXT`` characters and at most 30 days long: nothing
a run waits for is longer, and a longer number is a typo (400 nines would read as infinity).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema

__all__ = [
    "MAX_DURATION_SECONDS",
    "MAX_DURATION_TEXT",
    "MIN_INTERVAL_SECONDS",
    "Duration",
    "Interval",
    "PositiveDuration",
    "format_duration",
    "parse_duration",
]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_WHOLE = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h))+")
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
MAX_DURATION_SECONDS = 30 * 24 * 3600.0
MAX_DURATION_TEXT = 32


def parse_duration(value: object) -> float:
    """Seconds in ``value``, a string with units: exactly what the CRD schema's pattern admits."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"expected a duration with a unit such as {abs(value)}s, got {value!r}")
    if isinstance(value, str) and len(value) > MAX_DURATION_TEXT:
        raise ValueError(
            f"expected a duration of at most {MAX_DURATION_TEXT} characters, "
            f"got {len(value)} ({value[:12]!r}…)"
        )
    if not isinstance(value, str) or not _WHOLE.fullmatch(value):
        raise ValueError(f"expected a duration such as 250ms, 30s or 5m, got {value!r}")
    seconds = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(value))
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError(f"expected a duration of at most 30 days (720h), got {value!r}")
    return seconds


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


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN, "maxLength": MAX_DURATION_TEXT}),
]
"""Seconds as a float in Python; a duration string in YAML, JSON and the CRD schema."""


MIN_INTERVAL_SECONDS = 0.05


def _interval(seconds: float) -> float:
    if seconds < MIN_INTERVAL_SECONDS:
        raise ValueError(f"expected an interval of at least 50ms, got {format_duration(seconds)}")
    return seconds


def _positive(seconds: float) -> float:
    if seconds <= 0:
        raise ValueError("expected a duration greater than zero (e.g. 2s)")
    return seconds


Interval = Annotated[Duration, AfterValidator(_interval)]
"""A pause between observations: at least 50ms, so a typo (``0s``) cannot flood a service."""

PositiveDuration = Annotated[Duration, AfterValidator(_positive)]
"""A limit that must leave time to do something (an observation's ``timeout``)."""
