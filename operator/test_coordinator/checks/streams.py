"""Redis streams as the audit checks and the audit sink use them: entries read in pages, bounded.

A Redis that cannot be reached is ``Unreachable``: for an audit check that means it could not
look (an Inconclusive result), which differs from a Redis that answers something wrong.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from test_coordinator.checks.base import split_host_port

__all__ = [
    "MAX_ENTRIES",
    "UNREACHABLE",
    "Entry",
    "TooManyEntries",
    "connect",
    "entry_seconds",
    "last_entry_id",
    "read_entries",
]

MAX_ENTRIES = 1_000_000
"""More entries than a check reads in one observation: a run's trail, not a year's."""

_PAGE = 10_000

UNREACHABLE: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError, OSError)
"""What a Redis that cannot be reached raises (refused, reset, timed out, unknown host)."""

Entry = tuple[str, dict[str, str]]


class TooManyEntries(Exception):
    def __init__(self, stream: str, limit: int) -> None:
        super().__init__(f"{stream} holds more than {limit} entries to read; not verified")


def connect(endpoint: str) -> aioredis.Redis:
    host, port = split_host_port(endpoint)
    # No retries: the check's polling is the retry loop; the sink reports a failed write.
    return aioredis.Redis(host=host, port=port, decode_responses=True, retry=Retry(NoBackoff(), 0))


async def last_entry_id(client: aioredis.Redis, stream: str) -> str | None:
    """The id of the newest entry, or None when the stream is empty or does not exist."""
    newest = _entries(await client.xrevrange(stream, count=1))
    return newest[0][0] if newest else None


async def read_entries(
    client: aioredis.Redis, stream: str, start: str = "-", *, limit: int = MAX_ENTRIES
) -> list[Entry]:
    """Entries from ``start`` (an id, included) to the newest, oldest first."""
    entries: list[Entry] = []
    while True:
        page = _entries(await client.xrange(stream, min=start, max="+", count=_PAGE))
        entries += page
        if len(entries) > limit:
            raise TooManyEntries(stream, limit)
        if len(page) < _PAGE:
            return entries
        start = f"({page[-1][0]}"  # exclusive: the next page begins after this one


def _entries(reply: Any) -> list[Entry]:
    # The client is made with decode_responses, so these are str already; its types cannot
    # say so.
    return [
        (_text(entry_id), {_text(name): _text(value) for name, value in (fields or {}).items()})
        for entry_id, fields in reply or []
    ]


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def entry_seconds(entry_id: str) -> float | None:
    """The Redis server's clock when the entry was added (unix seconds), from its id."""
    milliseconds, _, _ = entry_id.partition("-")
    return int(milliseconds) / 1000 if milliseconds.isdigit() else None
