"""Toxics as Toxiproxy's HTTP API writes them, and their validation.

A toxic is JSON like ``{"name": "slow", "type": "latency", "stream": "downstream",
"toxicity": 1.0, "attributes": {"latency": 500, "jitter": 0}}``. The four types implemented,
with their attributes (all non-negative integers, as in Toxiproxy):

- ``latency``: ``latency`` ms added to every chunk, ``jitter`` ms more or less at random;
- ``bandwidth``: ``rate`` in KB/s (1 KB = 1000 bytes, as Toxiproxy counts; 0 = unlimited);
- ``timeout``: nothing passes; after ``timeout`` ms the connection is closed, and with 0 it stays
  open with its data held until the toxic goes (a blackhole);
- ``reset_peer``: the connection is reset (TCP RST) ``timeout`` ms after the toxic meets it.

The extensions, ignored by Toxiproxy itself: ``lease_seconds``, after which the proxy removes the
toxic unless it was updated (renewed) meanwhile, so that a client that dies leaves none behind;
and ``holder``, who set it (a scenario run), so that another holder finding it there waits for
it to go instead of taking it over and cutting it short.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast

from test_coordinator.proxy.errors import Refused

__all__ = [
    "ATTRIBUTES",
    "DEFAULT_LEASE_SECONDS",
    "STREAMS",
    "Stream",
    "Toxic",
    "parse_toxic",
    "parse_toxic_update",
]

Stream = Literal["upstream", "downstream"]
STREAMS: tuple[Stream, ...] = ("upstream", "downstream")

MAX_HOLDER = 256
DEFAULT_LEASE_SECONDS = 10.0
"""How long a toxic the coordinator sets outlives the coordinator, unless renewed."""

# Each type's attributes and their defaults: what Toxiproxy reports for a toxic created without.
ATTRIBUTES: dict[str, dict[str, int]] = {
    "latency": {"latency": 0, "jitter": 0},
    "bandwidth": {"rate": 0},
    "timeout": {"timeout": 0},
    "reset_peer": {"timeout": 0},
}


def _invalid(message: str) -> Refused:
    """A toxic document refused as Toxiproxy refuses one: 400 Bad Request."""
    return Refused(message, status=400)


@dataclass(frozen=True)
class Toxic:
    """One toxic: what it does (``type``, ``attributes``), where, and to how many connections."""

    type: str
    name: str = ""
    stream: Stream = "downstream"
    toxicity: float = 1.0
    attributes: Mapping[str, int] = field(default_factory=dict)
    lease_seconds: float | None = None
    holder: str | None = None

    def __post_init__(self) -> None:
        if not self.name:  # Toxiproxy's default name
            object.__setattr__(self, "name", f"{self.type}_{self.stream}")
        defaults = ATTRIBUTES.get(self.type, {})
        object.__setattr__(self, "attributes", {**defaults, **self.attributes})

    @classmethod
    def latency(
        cls,
        latency_ms: int,
        jitter_ms: int = 0,
        *,
        name: str = "",
        stream: Stream = "downstream",
        toxicity: float = 1.0,
        lease_seconds: float | None = None,
    ) -> Toxic:
        attributes = {"latency": latency_ms, "jitter": jitter_ms}
        return cls("latency", name, stream, toxicity, attributes, lease_seconds)

    @classmethod
    def bandwidth(
        cls,
        rate_kb_per_second: int,
        *,
        name: str = "",
        stream: Stream = "downstream",
        toxicity: float = 1.0,
        lease_seconds: float | None = None,
    ) -> Toxic:
        attributes = {"rate": rate_kb_per_second}
        return cls("bandwidth", name, stream, toxicity, attributes, lease_seconds)

    @classmethod
    def timeout(
        cls,
        timeout_ms: int = 0,
        *,
        name: str = "",
        stream: Stream = "downstream",
        toxicity: float = 1.0,
        lease_seconds: float | None = None,
    ) -> Toxic:
        """Nothing passes; closed after ``timeout_ms``, or held until removed if 0."""
        attributes = {"timeout": timeout_ms}
        return cls("timeout", name, stream, toxicity, attributes, lease_seconds)

    @classmethod
    def reset_peer(
        cls,
        timeout_ms: int = 0,
        *,
        name: str = "",
        stream: Stream = "downstream",
        toxicity: float = 1.0,
        lease_seconds: float | None = None,
    ) -> Toxic:
        """Connections reset (RST) ``timeout_ms`` after the toxic meets them."""
        attributes = {"timeout": timeout_ms}
        return cls("reset_peer", name, stream, toxicity, attributes, lease_seconds)

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": dict(self.attributes),
        }
        if self.lease_seconds is not None:
            document["lease_seconds"] = self.lease_seconds
        if self.holder is not None:
            document["holder"] = self.holder
        return document

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Toxic:
        """A toxic as a server answered it; lenient, as a client of either server must be."""
        lease, holder = document.get("lease_seconds"), document.get("holder")
        return cls(
            type=str(document.get("type", "")),
            name=str(document.get("name", "")),
            stream="upstream" if document.get("stream") == "upstream" else "downstream",
            toxicity=float(document.get("toxicity", 1.0)),
            attributes={str(k): v for k, v in (document.get("attributes") or {}).items()},
            lease_seconds=float(lease) if isinstance(lease, int | float) else None,
            holder=holder if isinstance(holder, str) else None,
        )


def parse_toxic(document: object) -> Toxic:
    """A toxic to create, from a request body; every problem names the field at fault."""
    if not isinstance(document, Mapping):
        raise _invalid("bad request body: expected a JSON object")
    toxic_type = document.get("type")
    if toxic_type not in ATTRIBUTES:
        known = ", ".join(ATTRIBUTES)
        raise _invalid(f"invalid toxic type: {toxic_type!r} (this proxy implements {known})")
    stream = document.get("stream", "downstream")
    if stream not in STREAMS:
        raise _invalid("stream was invalid, can be either upstream or downstream")
    name = document.get("name") or ""
    if not isinstance(name, str):
        raise _invalid(f"bad request body: name: expected a string, got {name!r}")
    return Toxic(
        type=toxic_type,
        name=name,
        stream=cast(Stream, stream),
        toxicity=_toxicity(document.get("toxicity", 1.0)),
        attributes=_attributes(toxic_type, document.get("attributes"), base={}),
        lease_seconds=_lease(document.get("lease_seconds")),
        holder=_holder(document.get("holder")),
    )


def parse_toxic_update(toxic: Toxic, document: object) -> Toxic:
    """``toxic`` with what an update changes: attributes given, toxicity, lease length, holder.

    As in Toxiproxy, what the body leaves out keeps its value; name, type and stream stay.
    """
    if not isinstance(document, Mapping):
        raise _invalid("bad request body: expected a JSON object")
    changes: dict[str, Any] = {}
    if "attributes" in document:
        changes["attributes"] = _attributes(
            toxic.type, document["attributes"], base=toxic.attributes
        )
    if "toxicity" in document:
        changes["toxicity"] = _toxicity(document["toxicity"])
    if document.get("lease_seconds") is not None:
        changes["lease_seconds"] = _lease(document["lease_seconds"])
    if document.get("holder") is not None:
        changes["holder"] = _holder(document["holder"])
    return replace(toxic, **changes)


def _toxicity(value: object) -> float:
    if not _number(value) or not 0 <= float(value) <= 1:  # type: ignore[arg-type]
        raise _invalid(f"bad request body: toxicity: expected a number from 0 to 1, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def _lease(value: object) -> float | None:
    if value is None:
        return None
    if not _number(value) or not float(value) > 0:  # type: ignore[arg-type]
        raise _invalid(
            f"bad request body: lease_seconds: expected a number of seconds above 0, got {value!r}"
        )
    return float(value)  # type: ignore[arg-type]


def _holder(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_HOLDER:
        raise _invalid(
            f"bad request body: holder: expected a string of 1 to {MAX_HOLDER} characters, "
            f"got {str(value)[:40]!r}"
        )
    return value


def _attributes(toxic_type: str, value: object, *, base: Mapping[str, int]) -> dict[str, int]:
    known = ATTRIBUTES[toxic_type]
    if value is None:
        return {**known, **base}
    if not isinstance(value, Mapping):
        raise _invalid("bad request body: attributes: expected a JSON object")
    attributes = {**known, **base}
    for key, number in value.items():
        if key not in known:
            expected = ", ".join(known)
            raise _invalid(
                f"bad request body: attributes: {toxic_type} has no attribute {key!r} "
                f"(it has {expected})"
            )
        if not _number(number) or number < 0 or not float(number).is_integer():
            raise _invalid(
                f"bad request body: attributes.{key}: expected a whole number >= 0, got {number!r}"
            )
        attributes[key] = int(number)
    return attributes


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
