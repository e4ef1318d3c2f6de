"""Audit correlator: reads the audit streams from the start and reports gaps in order numbers."""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import time
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from aiohttp import web
from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT, KeyT, StreamIdT

from test_coordinator.demo.order_gateway import ORDERS_STREAM
from test_coordinator.demo.runtime import (
    EVENTS_STREAM,
    REDIS_ERRORS,
    Outage,
    Runtime,
    run_service,
    service_parser,
)

NAME = "audit-correlator"
MAX_LISTED = 100
MAX_KEPT_EVENTS = 10_000


class Correlator:
    def __init__(self) -> None:
        self.last_ids: dict[KeyT, StreamIdT] = {ORDERS_STREAM: "0-0", EVENTS_STREAM: "0-0"}
        self.seqs: set[int] = set()
        self.duplicates: set[int] = set()
        self.orders_seen = 0
        self.last_seq = 0
        self.events_seen = 0
        self.events: deque[dict[str, str]] = deque(maxlen=MAX_KEPT_EVENTS)

    def ingest(self, stream: str, entry_id: str, fields: dict[str, str]) -> None:
        self.last_ids[stream] = entry_id
        if stream == EVENTS_STREAM:
            self.events_seen += 1
            self.events.append({"id": entry_id, **fields})
            return
        self.orders_seen += 1
        try:
            seq = int(fields["seq"])
        except (KeyError, ValueError):
            return  # not written by a gateway; counted, but it has no place in the sequence
        if seq in self.seqs:
            self.duplicates.add(seq)
        self.seqs.add(seq)
        self.last_seq = max(self.last_seq, seq)

    def summary(self) -> dict[str, Any]:
        missing = (seq for seq in range(1, self.last_seq + 1) if seq not in self.seqs)
        return {
            "orders_seen": self.orders_seen,
            "last_seq": self.last_seq,
            "missing_seqs": list(itertools.islice(missing, MAX_LISTED)),
            "duplicate_seqs": sorted(self.duplicates)[:MAX_LISTED],
            "events_seen": self.events_seen,
        }

    def find_events(self, source: str | None, event_type: str | None) -> list[dict[str, str]]:
        return [
            event
            for event in self.events
            if (source is None or event.get("source") == source)
            and (event_type is None or event.get("event_type") == event_type)
        ]

    async def consume(self, redis: Redis, runtime: Runtime) -> None:
        delay = 0.1
        outage = Outage(
            runtime.log, lost="cannot read audit streams", back="reading audit streams again"
        )
        while True:
            try:
                response = await redis.xread(self.last_ids, count=1000, block=1000)
            except REDIS_ERRORS as exc:
                outage.failed(error=str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            outage.succeeded()
            delay = 0.1
            streams: Iterable[Any] = response.items() if isinstance(response, dict) else response
            for stream, entries in streams:
                for entry_id, fields in entries:
                    self.ingest(stream, entry_id, fields)


def _encode(value: Any) -> EncodableT:
    return value if isinstance(value, str) else json.dumps(value)


async def setup(runtime: Runtime) -> None:
    correlator = Correlator()
    runtime.run_in_background(functools.partial(correlator.consume, runtime.redis, runtime))

    async def summary(request: web.Request) -> web.Response:
        return web.json_response(correlator.summary())

    async def list_events(request: web.Request) -> web.Response:
        query = request.query
        return web.json_response(
            correlator.find_events(query.get("source"), query.get("event_type"))
        )

    async def post_event(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not all(
            isinstance(body.get(key), str) and body[key] for key in ("event_type", "source")
        ):
            return web.json_response(
                {"error": "expected a JSON object with string event_type and source"}, status=400
            )
        event: dict[FieldT, EncodableT] = {"timestamp": time.time()}
        event.update((str(key), _encode(value)) for key, value in body.items())
        try:
            entry_id = await runtime.redis.xadd(EVENTS_STREAM, event)
        except REDIS_ERRORS as exc:
            return web.json_response({"error": f"cannot record event: {exc}"}, status=503)
        return web.json_response({"id": entry_id}, status=201)

    runtime.app.router.add_get("/api/v1/audit/summary", summary)
    runtime.app.router.add_get("/api/v1/audit/events", list_events)
    runtime.app.router.add_post("/api/v1/audit/events", post_event)


def main(argv: Sequence[str] | None = None) -> None:
    args = service_parser(__doc__ or NAME).parse_args(argv)
    run_service(NAME, args, setup)


if __name__ == "__main__":
    main()
