"""Risk monitor: approves an order when its notional stays within a limit."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence

import grpc
from aiohttp import web

from test_coordinator.demo.protos import trading_pb2, trading_pb2_grpc
from test_coordinator.demo.runtime import Runtime, run_service, service_parser

NAME = "risk-monitor"


class RiskServicer(trading_pb2_grpc.RiskServiceServicer):
    def __init__(self, max_notional: float) -> None:
        self.max_notional = max_notional
        self.counts: Counter[str] = Counter()

    async def CheckOrder(
        self, request: trading_pb2.OrderRequest, context: grpc.aio.ServicerContext
    ) -> trading_pb2.RiskDecision:
        decision = self.decide(request)
        self.counts["approved" if decision.approved else "rejected"] += 1
        return decision

    def decide(self, order: trading_pb2.OrderRequest) -> trading_pb2.RiskDecision:
        if order.quantity <= 0 or order.price <= 0:
            return trading_pb2.RiskDecision(reason="quantity and price must be positive")
        notional = order.quantity * order.price
        if notional > self.max_notional:
            return trading_pb2.RiskDecision(
                reason=f"notional {notional:.2f} exceeds limit {self.max_notional:.2f}"
            )
        return trading_pb2.RiskDecision(approved=True)


async def setup(runtime: Runtime, *, max_notional: float) -> None:
    servicer = RiskServicer(max_notional)
    trading_pb2_grpc.add_RiskServiceServicer_to_server(servicer, runtime.grpc_server)  # type: ignore[no-untyped-call]

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "max_notional": servicer.max_notional,
                "approved": servicer.counts["approved"],
                "rejected": servicer.counts["rejected"],
            }
        )

    runtime.app.router.add_get("/api/v1/risk/stats", stats)


def main(argv: Sequence[str] | None = None) -> None:
    parser = service_parser(__doc__ or NAME)
    parser.add_argument("--max-notional", type=float, default=1_000_000.0)
    args = parser.parse_args(argv)
    run_service(NAME, args, functools.partial(setup, max_notional=args.max_notional))


if __name__ == "__main__":
    main()
