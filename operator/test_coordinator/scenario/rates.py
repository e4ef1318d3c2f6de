"""Transfer rates as people write them in YAML: ``64KiB/s``, ``1MB/s``, ``1.5MiB/s``.

Always a string with a unit of bytes and ``/s``, as durations are: a bare ``64`` is refused
("64 what?"), and so is a unit in bits (``Mb/s``): the proxy counts bytes, and a factor of eight
is not a typo to let through. Decimal units are powers of 1000 (``kB`` and ``KB`` alike, as
Toxiproxy counts), binary ones powers of 1024 (``KiB``). Digits are ASCII only, as in durations.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

__all__ = [
    "MAX_RATE_BYTES",
    "MAX_RATE_TEXT",
    "RATE_PATTERN",
    "Rate",
    "format_rate",
    "parse_rate",
]

_UNITS = {
    "B": 1,
    "kB": 1000,
    "KB": 1000,
    "KiB": 1024,
    "MB": 1000**2,
    "MiB": 1024**2,
    "GB": 1000**3,
    "GiB": 1024**3,
}
_RATE = re.compile(r"([0-9]+(?:\.[0-9]+)?)(B|kB|KB|KiB|MB|MiB|GB|GiB)/s")
_BITS = re.compile(r"[0-9.]+\s*([kKmMgG]i?)?(b|bit|bits)(ps|/s)")
RATE_PATTERN = r"^[0-9]+(\.[0-9]+)?(B|kB|KB|KiB|MB|MiB|GB|GiB)/s$"
MAX_RATE_TEXT = 32
MAX_RATE_BYTES = 1000**4  # 1 TB/s: beyond any link this limits; a longer number is a typo


def parse_rate(value: object) -> float:
    """Bytes per second in ``value``: exactly what the CRD schema's pattern admits."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"expected a rate with a unit such as {abs(value)}KiB/s, got {value!r}")
    if isinstance(value, str) and len(value) > MAX_RATE_TEXT:
        raise ValueError(
            f"expected a rate of at most {MAX_RATE_TEXT} characters, got {len(value)} "
            f"({value[:12]!r}…)"
        )
    match = _RATE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        if isinstance(value, str) and _BITS.fullmatch(value):
            raise ValueError(
                f"expected a rate in bytes per second (B, kB, KiB, MB, MiB, GB, GiB, then /s), "
                f"got {value!r}: a lower-case b is bits"
            )
        raise ValueError(
            f"expected a rate such as 64KiB/s, 500kB/s or 1MB/s (B, kB, KB, KiB, MB, MiB, GB or "
            f"GiB, then /s), got {value!r}"
        )
    number, unit = match.groups()
    rate = float(number) * _UNITS[unit]
    if rate <= 0:
        raise ValueError(f"expected a rate above 0 (0 would mean unlimited), got {value!r}")
    if rate > MAX_RATE_BYTES:
        raise ValueError(f"expected a rate of at most 1000GB/s, got {value!r}")
    return rate


def format_rate(bytes_per_second: float) -> str:
    """The shortest text that ``parse_rate`` reads back as ``bytes_per_second``."""
    for unit in ("GiB", "GB", "MiB", "MB", "KiB", "kB"):
        size = _UNITS[unit]
        if bytes_per_second >= size and (bytes_per_second / size).is_integer():
            return f"{int(bytes_per_second / size)}{unit}/s"
    number = f"{bytes_per_second:.6f}".rstrip("0").rstrip(".")
    return f"{number}B/s"


Rate = Annotated[
    float,
    BeforeValidator(parse_rate),
    PlainSerializer(format_rate, return_type=str),
    WithJsonSchema({"type": "string", "pattern": RATE_PATTERN, "maxLength": MAX_RATE_TEXT}),
]
"""Bytes per second as a float in Python; a rate string in YAML, JSON and the CRD schema."""
