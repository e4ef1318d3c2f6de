"""The data path: one accepted connection, its upstream connection, and the bytes between them.

Built for speed where no toxic applies: each socket reads straight into a buffer of its own
(``asyncio.BufferedProtocol``, no ``bytes`` per read) and hands a view of it to the other
socket's transport, which usually sends it at once. Only when the transport keeps part of it
(the peer reads slower) does the buffer change hands and a new one get allocated. A buffer
starts small, so that thousands of idle request/response connections stay cheap, and doubles
whenever a read fills it, up to ``MAX_BUFFER``.

When a toxic applies to a direction, its chunks are copied into a queue, each due at the time
latency and bandwidth say; the queue delivers in order, and a full queue pauses the reading
side, as a slow network would.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import struct
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from test_coordinator.proxy.toxics import Stream, Toxic

__all__ = ["Connection", "Effects", "effects_of"]

log = logging.getLogger(__name__)

INITIAL_BUFFER = 16 * 1024
MAX_BUFFER = 1024 * 1024
# A transport's write buffer this full pauses the reading side (asyncio's default is 64 KiB,
# which large reads would cross on every partial send).
WRITE_HIGH, WRITE_LOW = 2 * MAX_BUFFER, MAX_BUFFER // 2
# A toxic's queue this full pauses the reading side; it holds as much as a fast network's buffers.
QUEUE_HIGH, QUEUE_LOW = 1024 * 1024, 256 * 1024
# Bandwidth is paced in slices of a tenth of a second's worth, so the rate holds within a chunk.
SLICES_PER_SECOND = 10

Address = tuple[str, int]

# Why a socket does not read, as bits: reading resumes when none is left.
_SINK_FULL, _QUEUE_FULL, _HELD = 1, 2, 4


@dataclass(frozen=True)
class Effects:
    """What the toxics that apply do to one direction of one connection."""

    held: bool = False
    latency: float = 0.0  # seconds
    jitter: float = 0.0  # seconds
    rate: float = 0.0  # bytes per second; 0 = unlimited


NO_EFFECTS = Effects()
# A connection's timed actions: (toxic name, "close" or "reset", delay in seconds).
Timer = tuple[str, str, float]


def effects_of(toxics: Iterable[Toxic]) -> tuple[dict[Stream, Effects], set[Timer]]:
    """Each direction's effects and the timed actions of the toxics that apply to a connection."""
    effects: dict[Stream, Effects] = {"upstream": NO_EFFECTS, "downstream": NO_EFFECTS}
    timers: set[Timer] = set()
    for toxic in toxics:
        these, attributes = effects[toxic.stream], toxic.attributes
        if toxic.type == "latency":
            these = replace(
                these,
                latency=these.latency + attributes["latency"] / 1000,
                jitter=these.jitter + attributes["jitter"] / 1000,
            )
        elif toxic.type == "bandwidth" and attributes["rate"] > 0:
            rate = attributes["rate"] * 1000.0
            these = replace(these, rate=min(these.rate or rate, rate))
        elif toxic.type == "timeout":
            these = replace(these, held=True)
            if attributes["timeout"] > 0:
                timers.add((toxic.name, "close", attributes["timeout"] / 1000))
        elif toxic.type == "reset_peer":
            timers.add((toxic.name, "reset", attributes["timeout"] / 1000))
        effects[toxic.stream] = these
    return effects, timers


class Connection:
    """A client's connection and the proxy's connection to the upstream, joined both ways.

    ``client`` reads what the client sends (the ``upstream`` stream, in Toxiproxy's words) and
    ``server`` what the upstream answers (``downstream``).
    """

    def __init__(
        self,
        upstream: Address,
        *,
        on_open: Callable[[Connection], None],
        on_closed: Callable[[Connection], None],
    ) -> None:
        self.client = _Endpoint(self, "upstream")
        self.server = _Endpoint(self, "downstream")
        self.client.peer, self.server.peer = self.server, self.client
        self.client.connecting = True  # nowhere to send to until the upstream answers
        self.closed = False
        self._upstream = upstream
        self._on_open = on_open
        self._on_closed = on_closed
        self._draws: dict[str, float] = {}
        self._timers: dict[Timer, asyncio.TimerHandle] = {}
        self._connecting: asyncio.Task[None] | None = None

    def accepted(self) -> None:
        """The client is connected: the proxy applies its toxics, and the upstream is reached."""
        self._on_open(self)
        if self.closed:
            return
        self._connecting = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        host, port = self._upstream
        loop = asyncio.get_running_loop()
        try:
            await loop.create_connection(lambda: self.server, host, port)
        except OSError as error:
            log.info("upstream %s:%s unreachable (%s): closing the client", host, port, error)
            self.close()
            return
        if self.closed:  # closed while connecting: the new socket goes too
            self.server.close_transport()
            return
        self.client.peer_connected()

    def apply(self, toxics: Iterable[Toxic]) -> None:
        """Let the toxics that apply to this connection (by their toxicity) take effect."""
        if self.closed:
            return
        applying = [toxic for toxic in toxics if self._draw(toxic.name) < toxic.toxicity]
        effects, timers = effects_of(applying)
        self.client.set_effects(effects["upstream"])
        self.server.set_effects(effects["downstream"])
        for timer in set(self._timers) - timers:
            self._timers.pop(timer).cancel()
        loop = asyncio.get_running_loop()
        for timer in timers - set(self._timers):
            _, action, delay = timer
            act = self.reset if action == "reset" else self.close
            self._timers[timer] = loop.call_later(delay, act)

    def _draw(self, toxic: str) -> float:
        """One draw per toxic and connection: a toxicity of 0.3 affects the same 30% throughout.

        The toxics ``NAME_upstream`` and ``NAME_downstream`` (Toxiproxy's default names) are
        one toxic set both ways, and share their draw: with toxicity 0.3 each, 30% of the
        connections are affected both ways, not 51% one way or the other.
        """
        key = toxic.removesuffix("_upstream").removesuffix("_downstream")
        draw = self._draws.get(key)
        if draw is None:
            draw = self._draws[key] = random.random()
        return draw

    def half_closed(self) -> None:
        if self.client.eof_forwarded and self.server.eof_forwarded:
            self.close()

    def close(self) -> None:
        """Close both sockets, after what their transports still buffer has been sent."""
        if self._finish():
            self.client.close_transport()
            self.server.close_transport()

    def abort(self) -> None:
        """Close both sockets at once, dropping what their transports still buffer."""
        self._finish()
        self.client.abort_transport()
        self.server.abort_transport()

    async def wait_closed(self) -> None:
        """Until both sockets are closed (a graceful close waits for buffered data to leave)."""
        for endpoint in (self.client, self.server):
            await endpoint.wait_lost()

    def reset(self) -> None:
        """Reset both sockets: RST (SO_LINGER 0), nothing buffered sent."""
        if self._finish():
            self.client.reset_transport()
            self.server.reset_transport()

    def _finish(self) -> bool:
        if self.closed:
            return False
        self.closed = True
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
        self._on_closed(self)
        return True


class _Endpoint(asyncio.BufferedProtocol):
    """One socket of a connection: what it reads goes to its peer's transport."""

    def __init__(self, connection: Connection, stream: Stream) -> None:
        self.connection = connection
        self.stream = stream
        self.peer: _Endpoint = self
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self._lost_waiter: asyncio.Future[None] | None = None
        self.connecting = False
        self.eof_forwarded = False
        self._buffer = bytearray(INITIAL_BUFFER)
        self._view = memoryview(self._buffer)
        self._plain = False  # nothing in the way: the fast path
        self._paused_for = 0
        self._effects = NO_EFFECTS
        self._sink_full = False
        self._eof_pending = False
        self._queue: deque[tuple[float, bytes | memoryview]] = deque()
        self._queued = 0
        self._last_due = 0.0
        self._next_free = 0.0
        self._timer: asyncio.TimerHandle | None = None

    # -- asyncio's calls ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=WRITE_HIGH, low=WRITE_LOW)
        if self._paused_for:
            transport.pause_reading()
        if self.stream == "upstream":  # the client's socket: a connection was accepted
            self.connection.accepted()
        self._update_plain()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._view

    def buffer_updated(self, nbytes: int) -> None:
        if self._plain:
            sink = self.peer.transport
            assert sink is not None
            sink.write(self._view[:nbytes])
            if sink.get_write_buffer_size():
                self._new_buffer(len(self._buffer))  # the transport keeps a view of this one
            elif nbytes == len(self._buffer) and nbytes < MAX_BUFFER:
                self._new_buffer(nbytes * 2)
        else:
            self._enqueue(bytes(self._view[:nbytes]))

    def eof_received(self) -> bool:
        self._eof_pending = True
        self._forward_eof_when_due()
        return True  # keep the socket open: the other direction may still be sending

    def pause_writing(self) -> None:
        self.peer._sink_full = True
        self.peer._pause(_SINK_FULL)

    def resume_writing(self) -> None:
        self.peer._sink_full = False
        self.peer._resume(_SINK_FULL)
        self.peer._schedule()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self._lost_waiter is not None and not self._lost_waiter.done():
            self._lost_waiter.set_result(None)
        if self._timer is not None:
            self._timer.cancel()
        self.connection.close()

    # -- the connection's calls ----------------------------------------------------------

    def peer_connected(self) -> None:
        self.connecting = False
        self._update_plain()
        self._schedule()

    def set_effects(self, effects: Effects) -> None:
        if effects == self._effects:
            return
        self._effects = effects
        if effects.held:
            self._pause(_HELD)
        else:
            self._resume(_HELD)
        self._update_plain()
        self._schedule()

    def close_transport(self) -> None:
        self._drop_queue()
        if self.transport is not None:
            self.transport.close()

    def abort_transport(self) -> None:
        self._drop_queue()
        if self.transport is not None and not self.lost:
            self.transport.abort()

    async def wait_lost(self) -> None:
        if self.transport is None or self.lost:
            return
        if self._lost_waiter is None:
            self._lost_waiter = asyncio.get_running_loop().create_future()
        await self._lost_waiter

    def reset_transport(self) -> None:
        self._drop_queue()
        if self.transport is None or self.transport.is_closing():
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()

    # -- the slow path: toxics -----------------------------------------------------------

    def _update_plain(self) -> None:
        """Back to the fast path once nothing is in the way; what was queued goes first."""
        if self._effects != NO_EFFECTS or self.connecting or self.peer.transport is None:
            self._plain = False
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        sink = self.peer.transport
        while self._queue:  # bounded by QUEUE_HIGH
            sink.write(self._queue.popleft()[1])
        self._queued = 0
        self._resume(_QUEUE_FULL)
        self._plain = True
        self._forward_eof_when_due()

    def _enqueue(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        effects = self._effects
        due = loop.time()
        if effects.latency or effects.jitter:
            jitter = random.uniform(-effects.jitter, effects.jitter) if effects.jitter else 0.0
            due += max(0.0, effects.latency + jitter)
        due = max(due, self._last_due)  # a stream stays in order, whatever the jitter
        if effects.rate:
            size = max(1, int(effects.rate / SLICES_PER_SECOND))
            view = memoryview(data)
            for start in range(0, len(data), size):
                piece = view[start : start + size]
                due = max(due, self._next_free)
                self._queue.append((due, piece))
                self._next_free = due + len(piece) / effects.rate
        else:
            self._queue.append((due, data))
        self._last_due = due
        self._queued += len(data)
        if self._queued > QUEUE_HIGH:
            self._pause(_QUEUE_FULL)
        self._schedule()

    def _schedule(self) -> None:
        if self._timer is not None or not self._queue or self._holding():
            return
        loop = asyncio.get_running_loop()
        due = self._queue[0][0]
        if due <= loop.time():
            self._deliver()
        else:
            self._timer = loop.call_at(due, self._deliver)

    def _deliver(self) -> None:
        self._timer = None
        if self._holding() or self.connection.closed:
            return
        sink = self.peer.transport
        assert sink is not None
        now = asyncio.get_running_loop().time()
        while self._queue and self._queue[0][0] <= now and not self._sink_full:
            _, data = self._queue.popleft()
            self._queued -= len(data)
            sink.write(data)
        if self._queued <= QUEUE_LOW:
            self._resume(_QUEUE_FULL)
        self._forward_eof_when_due()
        self._schedule()

    def _holding(self) -> bool:
        return self._effects.held or self.connecting or self._sink_full

    def _forward_eof_when_due(self) -> None:
        if not self._eof_pending or self._queue or self._effects.held or self.connecting:
            return
        self._eof_pending = False
        self.eof_forwarded = True
        sink = self.peer.transport
        if sink is not None and sink.can_write_eof():
            sink.write_eof()
        self.connection.half_closed()

    def _drop_queue(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._queue.clear()
        self._queued = 0

    # -- reading ---------------------------------------------------------------------------

    def _new_buffer(self, size: int) -> None:
        self._buffer = bytearray(size)
        self._view = memoryview(self._buffer)

    def _pause(self, reason: int) -> None:
        if not self._paused_for and self.transport is not None:
            self.transport.pause_reading()
        self._paused_for |= reason

    def _resume(self, reason: int) -> None:
        if not self._paused_for & reason:
            return
        self._paused_for &= ~reason
        if not self._paused_for and self.transport is not None:
            self.transport.resume_reading()
