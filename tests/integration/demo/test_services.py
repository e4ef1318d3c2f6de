"""The demo services as real processes against a real Redis: lifecycle, orders, audit."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, cast

import grpc
import pytest
import redis
from grpc_health.v1 import health_pb2
from test_coordinator.demo.protos import trading_pb2, trading_pb2_grpc

from tests.conftest import free_port
from tests.integration.services import MODULES, Launcher, stop_process, wait_until

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SMALL_ORDER = {"symbol": "AAPL", "side": "buy", "quantity": 10, "price": 100.0}
BIG_ORDER = {"symbol": "AAPL", "side": "sell", "quantity": 100_000, "price": 100.0}


def entries(store: redis.Redis, stream: str) -> list[tuple[str, dict[str, str]]]:
    return cast(list[tuple[str, dict[str, str]]], store.xrange(stream))


def events(store: redis.Redis, source: str, event_type: str) -> list[dict[str, str]]:
    return [
        fields
        for _, fields in entries(store, "audit:events")
        if fields["source"] == source and fields["event_type"] == event_type
    ]


def order_seqs(store: redis.Redis) -> list[int]:
    return [int(fields["seq"]) for _, fields in entries(store, "audit:orders")]


@pytest.mark.parametrize("name", list(MODULES))
def test_service_registers_heartbeats_and_stops_cleanly(
    name: str, launcher: Launcher, store: redis.Redis
) -> None:
    extra = ["--heartbeat-interval", "0.2", "--registration-ttl", "3"]
    if name == "order-gateway":
        extra += ["--risk", f"127.0.0.1:{free_port()}", "--load-rate", "0"]
    service = launcher.start(name, *extra)
    key = f"registry:services:{name}"

    assert service.grpc_health("") == SERVING
    assert service.grpc_health(name) == SERVING
    assert service.http("GET", "/api/v1/health") == (200, {"status": "SERVING", "service": name})
    registration = store.hgetall(key)
    assert registration["name"] == name
    assert registration["host"] == "127.0.0.1"
    assert registration["pid"] == str(service.proc.pid)
    assert int(registration["grpc_port"]) == service.grpc_port
    assert int(registration["http_port"]) == service.http_port
    assert float(registration["registered_at"]) <= float(registration["last_heartbeat"])
    assert abs(time.time() - float(registration["last_heartbeat"])) < 5
    assert 0 < store.pttl(key) <= 3000
    beat = float(registration["last_heartbeat"])
    wait_until(lambda: float(store.hget(key, "last_heartbeat") or 0) > beat, "a heartbeat")
    [started] = events(store, name, "service_started")
    assert started["pid"] == str(service.proc.pid)

    assert service.stop() == 0
    assert not store.exists(key)
    assert len(events(store, name, "service_stopping")) == 1


def test_service_is_not_ready_until_registered(tmp_path: Path) -> None:
    launcher = Launcher(f"127.0.0.1:{free_port()}", tmp_path)
    try:
        service = launcher.start("risk-monitor", wait=False)

        def answer() -> tuple[int, Any] | None:
            try:
                return service.http("GET", "/api/v1/health")
            except OSError:
                return None

        assert wait_until(answer, "an HTTP answer") == (
            503,
            {"status": "NOT_SERVING", "service": "risk-monitor"},
        )
        assert service.grpc_health("") == NOT_SERVING
        assert service.stop() == 0
    finally:
        launcher.close()


def test_risk_monitor_checks_notional(launcher: Launcher) -> None:
    risk = launcher.start("risk-monitor", "--max-notional", "5000")
    with grpc.insecure_channel(risk.grpc_address) as channel:
        stub = trading_pb2_grpc.RiskServiceStub(channel)  # type: ignore[no-untyped-call]
        small = trading_pb2.OrderRequest(
            order_id="1", symbol="X", side="buy", quantity=50, price=100
        )
        big = trading_pb2.OrderRequest(order_id="2", symbol="X", side="buy", quantity=51, price=100)
        assert stub.CheckOrder(small, timeout=2) == trading_pb2.RiskDecision(approved=True)
        decision = stub.CheckOrder(big, timeout=2)
    assert not decision.approved
    assert "exceeds limit" in decision.reason
    assert risk.http("GET", "/api/v1/risk/stats")[1] == {
        "max_notional": 5000.0,
        "approved": 1,
        "rejected": 1,
    }


def test_gateway_records_every_order_and_degrades_without_risk(
    launcher: Launcher, store: redis.Redis
) -> None:
    risk = launcher.start("risk-monitor")
    gateway = launcher.start("order-gateway", "--risk", risk.grpc_address, "--load-rate", "50")

    def counts() -> dict[str, int]:
        counts: dict[str, int] = gateway.http("GET", "/api/v1/orders/stats")[1]["counts"]
        return counts

    wait_until(lambda: counts()["accepted"] >= 10, "accepted orders from the load driver")
    status, placed = gateway.http("POST", "/api/v1/orders", SMALL_ORDER)
    assert (status, placed["status"], placed["reason"]) == (200, "accepted", "")
    status, placed = gateway.http("POST", "/api/v1/orders", BIG_ORDER)
    assert (status, placed["status"]) == (422, "rejected")
    assert "exceeds limit" in placed["reason"]
    assert gateway.http("POST", "/api/v1/orders", {"symbol": "AAPL"})[0] == 400

    assert risk.stop() == 0
    wait_until(lambda: counts()["risk_unavailable"] >= 5, "orders without the risk monitor")
    status, placed = gateway.http("POST", "/api/v1/orders", SMALL_ORDER)
    assert (status, placed["status"]) == (503, "risk_unavailable")
    assert gateway.http("GET", "/api/v1/health")[0] == 200
    assert gateway.grpc_health("order-gateway") == SERVING

    accepted = counts()["accepted"]
    launcher.start("risk-monitor", grpc_port=risk.grpc_port)
    wait_until(lambda: counts()["accepted"] > accepted + 5, "accepted orders after recovery")

    assert gateway.stop() == 0
    seqs = order_seqs(store)
    assert seqs == list(range(1, len(seqs) + 1))
    assert int(store.get("orders:seq") or 0) == len(seqs)
    statuses = {fields["status"] for _, fields in entries(store, "audit:orders")}
    assert statuses == {"accepted", "rejected", "risk_unavailable"}


def test_correlator_counts_orders_and_reports_gaps(launcher: Launcher, store: redis.Redis) -> None:
    unreachable_risk = f"127.0.0.1:{free_port()}"
    gateway = launcher.start("order-gateway", "--risk", unreachable_risk, "--load-rate", "100")
    correlator = launcher.start("audit-correlator")

    def summary(service: Any = correlator) -> dict[str, Any]:
        result: dict[str, Any] = service.http("GET", "/api/v1/audit/summary")[1]
        return result

    wait_until(lambda: summary()["orders_seen"] >= 20, "the correlator to see orders")
    assert gateway.stop() == 0
    total = store.xlen("audit:orders")
    wait_until(
        lambda: (
            summary()["orders_seen"] == total
            and summary()["events_seen"] == store.xlen("audit:events")
        ),
        "the correlator to catch up",
    )
    assert summary() == {
        "orders_seen": total,
        "last_seq": total,
        "missing_seqs": [],
        "duplicate_seqs": [],
        "events_seen": store.xlen("audit:events"),
    }

    status, found = correlator.http(
        "GET", "/api/v1/audit/events?source=order-gateway&event_type=service_started"
    )
    assert status == 200
    assert [event["pid"] for event in found] == [str(gateway.proc.pid)]
    assert found[0]["id"]
    fault = {"event_type": "fault_injected", "source": "test", "message": "kill", "attempt": 1}
    status, created = correlator.http("POST", "/api/v1/audit/events", fault)
    assert status == 201
    [recorded] = wait_until(
        lambda: correlator.http("GET", "/api/v1/audit/events?event_type=fault_injected")[1],
        "the posted event",
    )
    assert recorded["id"] == created["id"]
    assert (recorded["message"], recorded["attempt"]) == ("kill", "1")
    assert correlator.http("POST", "/api/v1/audit/events", {"message": "x"})[0] == 400

    [(lost_id, _)] = [(i, f) for i, f in entries(store, "audit:orders") if f["seq"] == "7"]
    store.xdel("audit:orders", lost_id)
    assert correlator.stop() == 0
    fresh = launcher.start("audit-correlator")
    wait_until(lambda: summary(fresh)["orders_seen"] == total - 1, "a fresh correlator to read")
    assert summary(fresh)["missing_seqs"] == [7]
    assert summary(fresh)["last_seq"] == total


def test_correlator_rides_out_a_redis_restart(tmp_path: Path) -> None:
    binary = shutil.which("redis-server")
    assert binary is not None
    port = free_port()
    command = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]

    def start_redis() -> tuple[subprocess.Popen[bytes], redis.Redis]:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=port, decode_responses=True)
        wait_until(lambda: _pings(client), "redis to answer")
        return proc, client

    launcher = Launcher(f"127.0.0.1:{port}", tmp_path)
    server, client = start_redis()
    try:
        correlator = launcher.start("audit-correlator", "--heartbeat-interval", "0.2")

        def orders_seen() -> int:
            seen: int = correlator.http("GET", "/api/v1/audit/summary")[1]["orders_seen"]
            return seen

        client.xadd("audit:orders", {"seq": 1, "status": "accepted"})
        wait_until(lambda: orders_seen() == 1, "the first order")
        client.close()
        stop_process(server)
        wait_until(lambda: "cannot read audit streams" in correlator.log.read_text(), "the outage")
        assert correlator.http("GET", "/api/v1/health")[0] == 200

        server, client = start_redis()
        client.xadd("audit:orders", {"seq": 2, "status": "accepted"})
        wait_until(lambda: orders_seen() == 2, "an order written after the restart")
        wait_until(lambda: client.exists("registry:services:audit-correlator"), "re-registration")
        assert correlator.stop() == 0
    finally:
        launcher.close()
        client.close()
        stop_process(server)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False
