"""Real clients of a port behind a fault proxy: what a network fault does to them, measured.

Shared by the local and compose tests of network faults; each talks to an echo service.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

__all__ = ["ECHO_SERVICE", "held", "is_reset", "open_connection", "round_trip", "stream_time"]

ECHO_SERVICE = str(Path(__file__).with_name("echo_service.py"))


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


async def open_connection(address: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(asyncio.open_connection(*_split(address)), 5)


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


async def round_trip(address: str, message: bytes = b"ping", *, timeout: float = 10) -> float:
    """Seconds for ``message`` to come back on a new connection."""
    reader, writer = await open_connection(address)
    try:
        began = time.monotonic()
        writer.write(message)
        assert await asyncio.wait_for(reader.readexactly(len(message)), timeout) == message
        return time.monotonic() - began
    finally:
        await close(writer)


async def stream_time(address: str, size: int) -> float:
    """Seconds to send ``size`` bytes and read them all back."""
    payload = bytes(range(256)) * (size // 256)
    reader, writer = await open_connection(address)
    try:
        began = time.monotonic()
        writer.write(payload)
        assert await asyncio.wait_for(reader.readexactly(len(payload)), 60) == payload
        return time.monotonic() - began
    finally:
        await close(writer)


async def held(
    address: str, *, quiet_for: float = 0.5
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection that is accepted but gets no answer for ``quiet_for`` seconds (a
    partition); returned open, with ``ping`` in flight, for the caller to see it pass later."""
    reader, writer = await open_connection(address)
    writer.write(b"ping")
    with contextlib.suppress(TimeoutError):
        answer = await asyncio.wait_for(reader.read(4), quiet_for)
        raise AssertionError(f"answered through a partition: {answer!r}")
    return reader, writer


async def is_reset(address: str) -> bool:
    """Whether a new connection is reset (or closed) instead of answering."""
    try:
        reader, writer = await open_connection(address)
    except ConnectionError:
        return True
    try:
        writer.write(b"ping")
        answer = await asyncio.wait_for(reader.read(4), 5)
    except ConnectionError:
        return True
    finally:
        await close(writer)
    return answer != b"ping"
