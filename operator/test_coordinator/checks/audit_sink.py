"""Writers of the coordinator's own audit events: to a Redis stream, or to the correlator's API.

They sit beside the checks, below the engine, because they do the I/O; the engine's
``AuditRecorder`` decides what to write and when. A write that does not land raises
``AuditSinkError`` with the reason; the recorder reports it and the run goes on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

import aiohttp
from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT

from test_coordinator.checks.audit_trail import audit_api_url
from test_coordinator.checks.base import (
    EndpointResolver,
    NoEndpoint,
    ProbeContext,
    describe_error,
    resolve,
)
from test_coordinator.checks.streams import UNREACHABLE, connect
from test_coordinator.scenario.model import Addressed, AuditApi, AuditSinkSpec, RedisStreamSink

__all__ = ["AuditSink", "AuditSinkError", "open_sink"]


class AuditSinkError(Exception):
    """An event that was not written, and why."""


class AuditSink(ABC):
    def __init__(self, resolver: EndpointResolver) -> None:
        self.context = ProbeContext(resolver=resolver)

    @property
    @abstractmethod
    def description(self) -> str:
        """Where events go, for the report: ``stream audit:events on redis``."""

    @abstractmethod
    async def write(self, event: Mapping[str, str]) -> None: ...


class RedisStreamWriter(AuditSink):
    def __init__(self, spec: RedisStreamSink, resolver: EndpointResolver) -> None:
        super().__init__(resolver)
        self.spec = spec

    @property
    def description(self) -> str:
        return f"stream {self.spec.stream} on {_where(self.spec.redis)}"

    async def write(self, event: Mapping[str, str]) -> None:
        try:
            endpoint = (await resolve(self.spec.redis, self.context, default_port="redis"))[0]
            # A connection per event: a run writes a handful, and none may reuse a connection
            # that died with a restarted Redis.
            fields: dict[FieldT, EncodableT] = {name: value for name, value in event.items()}
            async with connect(endpoint) as client:
                await client.xadd(self.spec.stream, fields)
        except NoEndpoint as exc:
            raise AuditSinkError(str(exc)) from exc
        except UNREACHABLE as exc:
            raise AuditSinkError(describe_error(exc)) from exc
        except RedisError as exc:
            raise AuditSinkError(str(exc)) from exc


class HttpWriter(AuditSink):
    """``POST`` a JSON object (``event_type``, ``source``, ``message``…), as the correlator takes
    its events."""

    def __init__(self, spec: AuditApi, resolver: EndpointResolver) -> None:
        super().__init__(resolver)
        self.spec = spec

    @property
    def description(self) -> str:
        return f"POST {self.spec.url or f'{self.spec.path} on {_where(self.spec)}'}"

    async def write(self, event: Mapping[str, str]) -> None:
        try:
            url = await audit_api_url(self.spec, self.context)
            async with (
                aiohttp.ClientSession() as session,
                session.post(url, json=dict(event), allow_redirects=False) as response,
            ):
                if not 200 <= response.status < 300:
                    body = (await response.text(errors="replace"))[:80]
                    raise AuditSinkError(f"HTTP {response.status} {body}".strip())
        except NoEndpoint as exc:
            raise AuditSinkError(str(exc)) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise AuditSinkError(describe_error(exc)) from exc


def open_sink(spec: AuditSinkSpec, resolver: EndpointResolver) -> AuditSink:
    if spec.redis_stream is not None:
        return RedisStreamWriter(spec.redis_stream, resolver)
    assert spec.http is not None  # the model allows exactly one
    return HttpWriter(spec.http, resolver)


def _where(spec: Addressed) -> str:
    if spec.address is not None:
        return spec.address
    return f"{spec.target}" + (f" port {spec.port}" if spec.port is not None else "")
