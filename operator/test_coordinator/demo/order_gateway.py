"""Order gateway: checks orders with the risk monitor and records each one in the audit stream."""

from __future__ import annotations

import asyncio
import functools
import random
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import grpc
from aiohttp import web
from pydantic import BaseModel, Field, ValidationError
from redis.typing import EncodableT

from test_coordinator.demo.protos import trading_pb2, trading_pb2_grpc
from test_coordinator.demo.runtime import (
    REDIS_ERRORS,
    Outage,
    Runtime,
    address,
    run_service,
    service_parser,
)

NAME = "order-gateway"
ORDERS_STREAM = "audit:orders"
SEQ_KEY = "orders:seq"
STATUSES = ("accepted", "rejected", "risk_unavailable")
HTTP_STATUS = {"accepted": 200, "rejected": 422, "risk_unavailable": 503}

# Issuing the sequence number and writing its audit event in one script keeps "exactly one
# event per sequence number" true even when the gateway is killed in the middle of an order.
_RECORD_SCRIPT = """
local seq = redis.call('INCR', KEYS[1])
redis.call('XADD', KEYS[2], '*', 'seq', seq, unpack(ARGV))
return seq
"""

# Reconnect quickly once the risk monitor is back; gRPC's default backoff grows to minutes.
_CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]

_SYMBOLS = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOG")


class Order(BaseModel):
    symbol: str = Field(min_length=1, max_length=16)
    side: Literal["buy", "sell"]
    quantity: int = Field(gt=0)
    price: float = Field(gt=0)


@dataclass(frozen=True)
class Placed:
    seq: int
    order_id: str
    status: str
    reason: str


class Gateway:
    def __init__(self, runtime: Runtime, risk: str, risk_timeout: float) -> None:
        self._record = runtime.redis.register_script(_RECORD_SCRIPT)
        self._channel = grpc.aio.insecure_channel(risk, options=_CHANNEL_OPTIONS)
        self._stub = trading_pb2_grpc.RiskServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._risk_timeout = risk_timeout
        self._risk = Outage(runtime.log, lost="risk monitor unavailable", back="risk monitor back")
        self.counts: Counter[str] = Counter()
        self.last_seq = 0

    async def place(self, order: Order) -> Placed:
        """Checks and records one order; raises a Redis error if it could not be recorded."""
        order_id = uuid.uuid4().hex
        status, reason = await self._check(order_id, order)
        fields: dict[str, EncodableT] = {
            "order_id": order_id,
            "symbol": order.symbol,
            "side": order.side,
            "quantity": order.quantity,
            "price": order.price,
            "status": status,
            "reason": reason,
            "timestamp": time.time(),
        }
        args = [item for pair in fields.items() for item in pair]
        seq = int(await self._record(keys=[SEQ_KEY, ORDERS_STREAM], args=args))
        self.counts[status] += 1
        self.last_seq = max(self.last_seq, seq)
        return Placed(seq=seq, order_id=order_id, status=status, reason=reason)

    async def _check(self, order_id: str, order: Order) -> tuple[str, str]:
        request = trading_pb2.OrderRequest(
            order_id=order_id,
            symbol=order.symbol,
            side=order.side,
            quantity=order.quantity,
            price=order.price,
        )
        try:
            decision = await self._stub.CheckOrder(request, timeout=self._risk_timeout)
        except grpc.aio.AioRpcError as exc:
            self._risk.failed(code=exc.code().name)
            return "risk_unavailable", f"risk monitor: {exc.code().name}"
        self._risk.succeeded()
        return ("accepted", "") if decision.approved else ("rejected", decision.reason)

    async def close(self) -> None:
        await self._channel.close()


def random_order(rng: random.Random) -> Order:
    # About one order in twenty is far too large, so the risk monitor has something to reject.
    oversized = rng.random() < 0.05
    return Order(
        symbol=rng.choice(_SYMBOLS),
        side=rng.choice(("buy", "sell")),
        quantity=1_000_000 if oversized else rng.randint(1, 100),
        price=round(rng.uniform(10.0, 500.0), 2),
    )


async def drive_load(gateway: Gateway, rate: float, runtime: Runtime) -> None:
    """Places rate orders per second through the same path as HTTP orders, one at a time."""
    rng = random.Random()
    interval = 1.0 / rate
    next_at = time.monotonic()
    redis = Outage(runtime.log, lost="cannot record orders", back="recording orders again")
    while True:
        try:
            await gateway.place(random_order(rng))
        except REDIS_ERRORS as exc:
            redis.failed(error=str(exc))
        else:
            redis.succeeded()
        # After a stall, carry on at the rate instead of bursting to catch up.
        next_at = max(next_at + interval, time.monotonic())
        await asyncio.sleep(next_at - time.monotonic())


async def setup(runtime: Runtime, *, risk: str, load_rate: float, risk_timeout: float) -> None:
    gateway = Gateway(runtime, risk, risk_timeout)
    runtime.on_stop(gateway.close)
    if load_rate > 0:
        runtime.run_in_background(functools.partial(drive_load, gateway, load_rate, runtime))

    async def post_order(request: web.Request) -> web.Response:
        try:
            order = Order.model_validate(await request.json())
        except (ValueError, ValidationError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        try:
            placed = await gateway.place(order)
        except REDIS_ERRORS as exc:
            return web.json_response({"error": f"cannot record order: {exc}"}, status=503)
        return web.json_response(asdict(placed), status=HTTP_STATUS[placed.status])

    async def stats(request: web.Request) -> web.Response:
        counts = {status: gateway.counts[status] for status in STATUSES}
        return web.json_response({"counts": counts, "last_seq": gateway.last_seq})

    runtime.app.router.add_post("/api/v1/orders", post_order)
    runtime.app.router.add_get("/api/v1/orders/stats", stats)


def main(argv: Sequence[str] | None = None) -> None:
    parser = service_parser(__doc__ or NAME)
    parser.add_argument("--risk", type=address, required=True, metavar="HOST:PORT")
    parser.add_argument("--load-rate", type=float, default=20.0, help="orders/s; 0 disables")
    parser.add_argument("--risk-timeout", type=float, default=0.3, metavar="SECONDS")
    args = parser.parse_args(argv)
    host, port = args.risk
    run_service(
        NAME,
        args,
        functools.partial(
            setup, risk=f"{host}:{port}", load_rate=args.load_rate, risk_timeout=args.risk_timeout
        ),
    )


if __name__ == "__main__":
    main()
