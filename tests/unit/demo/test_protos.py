"""The committed gRPC modules must be what `make proto` generates from trading.proto."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import test_coordinator.demo.protos as protos
from test_coordinator.demo.protos import trading_pb2

PROTOS = Path(protos.__file__).parent
RELATIVE = Path("test_coordinator", "demo", "protos")
GENERATED = ("trading_pb2.py", "trading_pb2.pyi", "trading_pb2_grpc.py")


def test_generated_modules_match_the_proto(tmp_path: Path) -> None:
    (tmp_path / RELATIVE).mkdir(parents=True)
    shutil.copy(PROTOS / "trading.proto", tmp_path / RELATIVE / "trading.proto")
    out = str(tmp_path)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{out}",
            f"--python_out={out}",
            f"--pyi_out={out}",
            f"--grpc_python_out={out}",
            str(RELATIVE / "trading.proto"),
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    for name in GENERATED:
        fresh = (tmp_path / RELATIVE / name).read_text()
        if fresh != (PROTOS / name).read_text():
            pytest.fail(f"{RELATIVE / name} is stale: run `make proto` and commit the result")


def test_messages_round_trip() -> None:
    order = trading_pb2.OrderRequest(
        order_id="o-1", symbol="AAPL", side="buy", quantity=10, price=123.5
    )
    assert trading_pb2.OrderRequest.FromString(order.SerializeToString()) == order
    assert trading_pb2.DESCRIPTOR.package == "trading.v1"
    assert [m.name for m in trading_pb2.DESCRIPTOR.services_by_name["RiskService"].methods] == [
        "CheckOrder"
    ]
